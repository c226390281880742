/**
 * One TCP connection of `-netdev user`'s NAT (user-nat.ts), libslirp's `tcp_input`/`tcp_output`
 * reduced to what a virtual link needs: the guest's side is a TCP peer we terminate here (RFC
 * 9293), the host's side a Node socket. Bytes the guest sends in order are written to the
 * socket and acknowledged; a segment out of order is dropped with a duplicate ACK (the guest
 * retransmits: the link neither reorders nor loses, except when a ring is full). Bytes from the
 * socket are kept until the guest acknowledges them, sent within its window in MSS-sized
 * segments, and sent again from the first unacknowledged byte when no ACK comes for
 * `RTO_MS` (go-back-N, as tcp_timers' retransmit does with a fixed timer).
 *
 * Two ways to open: `fromGuest` (the guest's SYN to HOST:PORT: the socket connects first, then
 * the SYN-ACK goes back, or an RST if the host refuses, as libslirp's `tcp_fconnect`) and
 * `toGuest` (`hostfwd=`: an accepted host socket becomes our SYN to the guest's port; the
 * guest's RST closes the host socket). No window scaling, SACK or timestamps are offered, so
 * the guest's window is its 16-bit field as sent. Sequence numbers are compared modulo 2^32.
 */
import type { Socket } from 'node:net';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../devices/net/inet.js';

/** The MSS we offer the guest: 1500 − 20 (IP) − 20 (TCP), as libslirp's IF_MTU − headers. */
export const NAT_MSS = 1460;
/** The window we advertise: what the guest may send before we ACK (the socket buffers it). */
const RCV_WINDOW = 65535;
/** Host bytes held for the guest beyond which the host socket is paused (back-pressure). */
const SND_BUF_HIGH = 256 * 1024;
/** Retransmission timeout: the link is local, so a loss is a full ring, not congestion. */
export const RTO_MS = 200;
/** SYNs (or SYN-ACKs) sent before a connection that never completes is given up. */
const MAX_SYN_TRIES = 6;

/** A segment for the guest: `emit` wraps it in IPv4 and Ethernet. */
export interface TcpSegmentOut {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data?: Uint8Array;
  mss?: number;
}

/** A segment from the guest, its header fields decoded. */
export interface TcpSegmentIn {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
  /** The MSS option of a SYN, if any. */
  mss?: number;
}

/** a − b as a signed 32-bit difference: > 0 when a is after b (RFC 9293 §3.4's comparisons). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

type State = 'connecting' | 'syn-sent' | 'syn-received' | 'established' | 'closed';

export class NatTcpConnection {
  private state: State;
  /** RFC 9293's SND.UNA, SND.NXT, RCV.NXT and the guest's window (SND.WND). */
  private sndUna: number;
  private sndNxt: number;
  private rcvNxt = 0;
  private sndWnd = 0;
  private mss = 536;
  /** Host bytes from SND.UNA on (sent but unacknowledged, then not yet sent). */
  private sndBuf: Uint8Array = new Uint8Array(0);
  /** The host closed its side: a FIN follows the last byte. */
  private hostFin = false;
  private finSent = false;
  private guestFin = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private synTries = 0;
  private paused = false;

  private constructor(
    private readonly socket: Socket,
    private readonly emit: (seg: TcpSegmentOut) => void,
    private readonly onClosed: () => void,
    state: State,
  ) {
    this.state = state;
    // A random initial sequence number (RFC 9293 §3.4.1) from the host's generator.
    this.sndUna = (Math.random() * 0x100000000) >>> 0;
    this.sndNxt = this.sndUna;
    socket.on('data', (chunk: Buffer) => this.hostData(chunk));
    socket.on('end', () => {
      this.hostFin = true;
      this.output();
    });
    socket.on('error', () => this.abort());
    socket.on('close', () => {
      if (this.state !== 'closed' && !this.hostFin) this.abort();
    });
  }

  /**
   * The guest's SYN: `socket` is connecting to the host's address; the SYN-ACK goes when it
   * connects, an RST when it fails.
   */
  static fromGuest(
    syn: TcpSegmentIn,
    socket: Socket,
    emit: (seg: TcpSegmentOut) => void,
    onClosed: () => void,
  ): NatTcpConnection {
    const c = new NatTcpConnection(socket, emit, onClosed, 'connecting');
    c.rcvNxt = (syn.seq + 1) >>> 0;
    c.sndWnd = syn.window;
    c.mss = Math.min(syn.mss ?? 536, NAT_MSS);
    socket.once('connect', () => {
      if (c.state !== 'connecting') return;
      c.state = 'syn-received';
      c.sendSyn();
    });
    return c;
  }

  /** `hostfwd=`: `socket` was accepted on the host; our SYN goes to the guest's port. */
  static toGuest(socket: Socket, emit: (seg: TcpSegmentOut) => void, onClosed: () => void): NatTcpConnection {
    const c = new NatTcpConnection(socket, emit, onClosed, 'syn-sent');
    // Nothing for the guest until it accepts.
    socket.pause();
    c.paused = true;
    c.sendSyn();
    return c;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** A segment from the guest for this connection. */
  input(seg: TcpSegmentIn): void {
    if (this.state === 'closed') return;
    if (seg.flags & TCP_RST) {
      this.close(true);
      return;
    }
    if (this.state === 'connecting') return; // the guest's SYN again: the SYN-ACK is on its way
    if (this.state === 'syn-sent') {
      // RFC 9293 §3.10.7.3: a SYN-ACK acknowledging our SYN completes the open.
      if ((seg.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK) || seg.ack !== this.sndNxt) return;
      this.rcvNxt = (seg.seq + 1) >>> 0;
      this.sndUna = seg.ack;
      this.sndWnd = seg.window;
      this.mss = Math.min(seg.mss ?? 536, NAT_MSS);
      this.state = 'established';
      this.stopTimer();
      this.sendAck();
      this.resume();
      return;
    }
    if (seg.flags & TCP_SYN) {
      // The guest did not see our SYN-ACK: send it again.
      if (this.state === 'syn-received' && seqDiff(seg.seq, this.rcvNxt) === -1) this.sendSyn();
      return;
    }
    if (!(seg.flags & TCP_ACK)) return;
    this.ack(seg);
    if ((this.state as State) === 'closed') return; // ack() may have closed it
    this.receive(seg);
    this.output();
    this.maybeDone();
  }

  /** Closes both sides at once (qemu-lite is stopping): an RST to the guest. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, window: 0 });
    this.close(true);
  }

  private ack(seg: TcpSegmentIn): void {
    if (this.state === 'syn-received') {
      if (seg.ack !== this.sndNxt) return;
      this.state = 'established';
      this.sndUna = seg.ack;
      this.stopTimer();
    }
    const acked = seqDiff(seg.ack, this.sndUna);
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    this.sndWnd = seg.window;
    if (acked <= 0 || acked > inFlight) return;
    // Our FIN takes a sequence number after the data (RFC 9293 §3.4).
    const dataAcked = Math.min(acked, this.sndBuf.length);
    this.sndBuf = this.sndBuf.subarray(dataAcked);
    this.sndUna = seg.ack;
    if (this.paused && this.sndBuf.length < SND_BUF_HIGH / 2) this.resume();
    if (this.sndUna === this.sndNxt) this.stopTimer();
    else this.startTimer();
  }

  private receive(seg: TcpSegmentIn): void {
    let data = seg.data;
    let seq = seg.seq;
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (data.length === 0 && !fin) return;
    // Bytes we already have are trimmed; a gap means a lost segment: a duplicate ACK asks again.
    const old = seqDiff(this.rcvNxt, seq);
    if (old < 0) {
      this.sendAck();
      return;
    }
    if (old > 0) {
      if (old > data.length || (old === data.length && !fin) || (this.guestFin && fin)) {
        this.sendAck();
        return;
      }
      data = data.subarray(old);
      seq = this.rcvNxt;
    }
    if (data.length > 0 && !this.guestFin) {
      this.socket.write(data);
      this.rcvNxt = (this.rcvNxt + data.length) >>> 0;
    }
    if (fin && !this.guestFin) {
      this.guestFin = true;
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.socket.end();
    }
    this.sendAck();
  }

  private hostData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    const merged = new Uint8Array(this.sndBuf.length + chunk.length);
    merged.set(this.sndBuf, 0);
    merged.set(chunk, this.sndBuf.length);
    this.sndBuf = merged;
    if (this.sndBuf.length >= SND_BUF_HIGH && !this.paused) {
      this.socket.pause();
      this.paused = true;
    }
    this.output();
  }

  /** Sends what the guest's window allows, then the FIN once the host is done and all is sent. */
  private output(): void {
    if (this.state !== 'established') return;
    const limit = Math.min(this.sndBuf.length, Math.max(this.sndWnd, 0));
    let sent = seqDiff(this.sndNxt, this.sndUna);
    while (sent < limit) {
      const n = Math.min(this.mss, limit - sent);
      const data = this.sndBuf.subarray(sent, sent + n);
      this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_ACK | TCP_PSH, window: RCV_WINDOW, data });
      this.sndNxt = (this.sndNxt + n) >>> 0;
      sent += n;
    }
    if (this.hostFin && !this.finSent && sent === this.sndBuf.length) {
      this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_FIN | TCP_ACK, window: RCV_WINDOW });
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.finSent = true;
    }
    if (this.sndNxt !== this.sndUna) this.startTimer();
  }

  /** Both FINs exchanged and ours acknowledged: the connection is over (the guest keeps TIME-WAIT). */
  private maybeDone(): void {
    if (this.guestFin && this.finSent && this.sndUna === this.sndNxt) this.close(false);
  }

  private sendSyn(): void {
    const flags = this.state === 'syn-sent' ? TCP_SYN : TCP_SYN | TCP_ACK;
    this.emit({ seq: this.sndUna, ack: this.rcvNxt, flags, window: RCV_WINDOW, mss: NAT_MSS });
    this.sndNxt = (this.sndUna + 1) >>> 0;
    this.synTries++;
    this.startTimer();
  }

  private sendAck(): void {
    this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_ACK, window: RCV_WINDOW });
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.timeout(), RTO_MS);
    this.timer.unref?.();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private timeout(): void {
    this.timer = undefined;
    if (this.state === 'closed') return;
    if (this.state === 'syn-sent' || this.state === 'syn-received') {
      if (this.synTries >= MAX_SYN_TRIES) {
        this.destroy();
        return;
      }
      this.sendSyn();
      return;
    }
    if (this.sndNxt === this.sndUna) return;
    // Go back to the first unacknowledged byte (and the FIN, if that was all).
    this.sndNxt = this.sndUna;
    this.finSent = false;
    this.output();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** The guest's RST or an error on the host's side (which the guest hears as an RST). */
  private abort(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'connecting')
      this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, window: 0 });
    else this.emit({ seq: 0, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, window: 0 });
    this.close(true);
  }

  private close(reset: boolean): void {
    this.state = 'closed';
    this.stopTimer();
    if (reset) this.socket.destroy();
    else this.socket.end();
    this.onClosed();
  }
}
