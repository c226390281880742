/**
 * A minimal GDB remote-protocol client for tests that need exact packets (which thread a `Z`
 * goes through, say) where Debian's gdb decides them itself: one request at a time, acks on.
 */
import { connect, type Socket } from 'node:net';

function checksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum = (sum + body.charCodeAt(i)) & 0xff;
  return sum.toString(16).padStart(2, '0');
}

export class RspClient {
  private buffer = '';
  private waiting: ((reply: string) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      this.buffer += data;
      this.take();
    });
  }

  /** Connects to `address` ("HOST:PORT", as the stub's onGdbListening gives it). */
  static open(address: string): Promise<RspClient> {
    const at = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const socket = connect(Number(address.slice(at + 1)), address.slice(0, at), () =>
        resolve(new RspClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** Sends one packet and resolves with the reply's body (acks dropped). */
  ask(body: string, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${body}`)), timeoutMs);
      this.waiting = (reply) => {
        clearTimeout(timer);
        resolve(reply);
      };
      this.socket.write(`$${body}#${checksum(body)}`);
      this.take();
    });
  }

  /** Sends one packet that gets no reply (`k`). */
  send(body: string): void {
    this.socket.write(`$${body}#${checksum(body)}`);
  }

  close(): void {
    this.socket.end();
  }

  private take(): void {
    this.buffer = this.buffer.replace(/^\++/, '');
    const m = /^\$([^#]*)#[0-9a-fA-F]{2}/.exec(this.buffer);
    if (!m || !this.waiting) return;
    this.buffer = this.buffer.slice(m[0].length);
    this.socket.write('+');
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting(m[1]);
  }
}
