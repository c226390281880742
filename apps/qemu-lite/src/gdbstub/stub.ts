/**
 * The GDB stub's protocol half: packets from gdb in, replies out, with the machine behind a
 * `DebugTarget`. It knows one thread per vCPU (thread ids count from 1, as QEMU's: thread n is
 * vCPU n − 1) and the x86-64 register layout of `registers.ts`. All-stop mode, as QEMU's system
 * stub: execution control is the target's, `resume` says what each vCPU does (stay stopped, run,
 * step one instruction), and the target calls `reportStop` with the vCPU that stopped (a
 * breakpoint, a step, Ctrl-C) once every vCPU is stopped again. That vCPU becomes the thread gdb
 * reads and resumes (QEMU's gdb_vm_state_change sets c_cpu and g_cpu to it).
 */
import {
  encodePacket,
  escapeBinary,
  fromHex,
  type PacketEvent,
  PacketReader,
  toHex,
  unescapeBinary,
} from './packet.js';
import {
  allRegisterBytes,
  G_PACKET_BYTES,
  REGISTERS,
  type RegisterFile,
  registerBytes,
  setAllRegisterBytes,
  setRegisterBytes,
} from './registers.js';
import { targetXml } from './target-xml.js';

/** Z/z types (gdb manual, "Packets"): 0 software, 1 hardware breakpoint, 2 write, 3 read, 4 access watchpoint. */
export const BP_SOFTWARE = 0;
export const BP_HARDWARE = 1;
export const WP_WRITE = 2;
export const WP_READ = 3;
export const WP_ACCESS = 4;

/** Why the vCPU stopped, for the stop reply. */
export type StopEvent =
  | { kind: 'signal'; signal: number }
  | { kind: 'breakpoint'; type: typeof BP_SOFTWARE | typeof BP_HARDWARE }
  | { kind: 'watchpoint'; type: number; address: bigint };

/** gdb's signal numbers: SIGINT for Ctrl-C, SIGTRAP for breakpoints and steps. */
export const GDB_SIGINT = 2;
export const GDB_SIGTRAP = 5;

/** What `resume` asks of one vCPU (gdb's vCont actions: none, `c`, `s`). */
export const VCPU_HOLD = 0;
export const VCPU_CONTINUE = 1;
export const VCPU_STEP = 2;

/** What the stub needs of the machine. Addresses are guest virtual (linear with CS base 0). */
export interface DebugTarget {
  /** vCPU count (threads 1..n). */
  readonly vcpus: number;
  readRegisters(vcpu: number): RegisterFile;
  writeRegisters(vcpu: number, file: RegisterFile): void;
  /** Bytes at `gva`, or null where a page is not mapped or not RAM (breakpoints hidden). */
  readMemory(vcpu: number, gva: bigint, length: number): Uint8Array | null;
  writeMemory(vcpu: number, gva: bigint, data: Uint8Array): boolean;
  /**
   * Z/z: a breakpoint or watchpoint for every vCPU, its address translated by `vcpu`'s page tables
   * (the Hg thread's, as QEMU's handle_insert_bp passes gdbserver_state.g_cpu). true: inserted or
   * removed; false: refused (E); null: this type is not supported (empty reply).
   */
  insertPoint(vcpu: number, type: number, gva: bigint, kind: number): boolean | null;
  removePoint(vcpu: number, type: number, gva: bigint, kind: number): boolean | null;
  /** Whether a vCPU is halted (HLT, or an AP waiting for SIPI), for `qThreadExtraInfo`. */
  isHalted(vcpu: number): boolean;
  /**
   * Runs the vCPUs, `actions[i]` (VCPU_HOLD, VCPU_CONTINUE, VCPU_STEP) for vCPU i; at least one
   * is not VCPU_HOLD. The target calls `reportStop` when one stops, with every vCPU stopped.
   */
  resume(actions: Uint8Array): void;
  /** Stops a running vCPU (Ctrl-C); the target reports SIGINT. */
  interrupt(): void;
  /** `k`: end the machine. */
  kill(): void;
  /** `D`: forget breakpoints, run on without the debugger. */
  detach(): void;
  /** gdb's `monitor LINE` (qRcmd): a monitor command's output (QEMU runs its HMP there). */
  monitor?(line: string): string;
}

const PACKET_SIZE = 0x4000;

export class GdbStub {
  private readonly reader = new PacketReader();
  private noAck = false;
  private running = false;
  private lastStop: StopEvent = { kind: 'signal', signal: GDB_SIGTRAP };
  /** Hg (registers, memory) and Hc (step) thread, 1-based. */
  private gThread = 1;
  private cThread = 1;
  /** The thread of the last stop, named in stop replies. */
  private stopThread = 1;
  private regs: RegisterFile | null = null;

  constructor(
    private readonly target: DebugTarget,
    private readonly send: (text: string) => void,
  ) {}

  /** Whether gdb let the vCPU run (and waits for a stop reply). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Bytes from gdb. */
  feed(bytes: Uint8Array): void {
    this.reader.feed(bytes, (e) => this.onEvent(e));
  }

  /** The target stopped (vCPU `vcpu` stopped, the others with it): send the stop reply gdb waits for. */
  reportStop(event: StopEvent, vcpu = this.gThread - 1): void {
    this.lastStop = event;
    this.regs = null;
    this.stopThread = vcpu + 1;
    this.gThread = vcpu + 1;
    this.cThread = vcpu + 1;
    if (!this.running) return;
    this.running = false;
    this.reply(this.stopReply());
  }

  /** The machine ended while gdb was attached: `W` with its status (gdb ends the session). */
  reportExit(status: number): void {
    this.running = false;
    this.reply(`W${(status & 0xff).toString(16).padStart(2, '0')}`);
  }

  private onEvent(e: PacketEvent): void {
    switch (e.kind) {
      case 'interrupt':
        if (this.running) this.target.interrupt();
        return;
      case 'bad-checksum':
        if (!this.noAck) this.send('-');
        return;
      case 'packet':
        if (!this.noAck) this.send('+');
        this.handle(e.payload);
        return;
      default:
        return; // acks of our replies: gdb resends on its own timeout, nothing to track here
    }
  }

  private reply(payload: string): void {
    this.send(encodePacket(payload));
  }

  private stopReply(): string {
    const e = this.lastStop;
    const thread = `thread:${this.stopThread.toString(16).padStart(2, '0')};`;
    switch (e.kind) {
      case 'signal':
        return `T${e.signal.toString(16).padStart(2, '0')}${thread}`;
      case 'breakpoint':
        return `T05${thread}${e.type === BP_SOFTWARE ? 'swbreak' : 'hwbreak'}:;`;
      case 'watchpoint': {
        const name = e.type === WP_WRITE ? 'watch' : e.type === WP_READ ? 'rwatch' : 'awatch';
        return `T05${thread}${name}:${e.address.toString(16)};`;
      }
    }
  }

  private registers(): RegisterFile {
    this.regs ??= this.target.readRegisters(this.gThread - 1);
    return this.regs;
  }

  private handle(p: string): void {
    if (this.running && p !== 'vCont?') {
      // Only Ctrl-C is meaningful while the guest runs (all-stop mode); gdb sends nothing else.
      return;
    }
    let r: string | undefined;
    try {
      r = this.dispatch(p);
    } catch {
      // An ioctl the engine refused (a register file it cannot give, …): an error reply, never
      // a thrown exception in the machine's thread.
      this.regs = null;
      r = 'E05';
    }
    if (r !== undefined) this.reply(r);
  }

  /** The reply to packet `p`, or undefined when the reply comes later (a stop reply). */
  private dispatch(p: string): string | undefined {
    const c = p[0];
    switch (c) {
      case '?':
        return this.stopReply();
      case 'g':
        return toHex(allRegisterBytes(this.registers()));
      case 'G': {
        const bytes = fromHex(p.slice(1));
        if (!bytes || bytes.length !== G_PACKET_BYTES) return 'E22';
        const file = this.registers();
        const ok = setAllRegisterBytes(file, bytes);
        this.target.writeRegisters(this.gThread - 1, file);
        return ok ? 'OK' : 'E22';
      }
      case 'p': {
        const n = Number.parseInt(p.slice(1), 16);
        if (!(n >= 0 && n < REGISTERS.length)) return 'E22';
        return toHex(registerBytes(this.registers(), n));
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(p);
        const bytes = m ? fromHex(m[2]) : null;
        if (!m || !bytes) return 'E22';
        const file = this.registers();
        if (!setRegisterBytes(file, Number.parseInt(m[1], 16), bytes)) return 'E22';
        this.target.writeRegisters(this.gThread - 1, file);
        return 'OK';
      }
      case 'm': {
        const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
        if (!m) return 'E22';
        const length = Number.parseInt(m[2], 16);
        if (length > PACKET_SIZE / 2) return 'E22';
        const bytes = this.target.readMemory(this.gThread - 1, BigInt(`0x${m[1]}`), length);
        return bytes ? toHex(bytes) : 'E14';
      }
      case 'M': {
        const m = /^M([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(p);
        const bytes = m ? fromHex(m[3]) : null;
        if (!m || !bytes || bytes.length !== Number.parseInt(m[2], 16)) return 'E22';
        return this.target.writeMemory(this.gThread - 1, BigInt(`0x${m[1]}`), bytes) ? 'OK' : 'E14';
      }
      case 'X': {
        const colon = p.indexOf(':');
        const m = /^X([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p.slice(0, colon < 0 ? p.length : colon));
        if (!m || colon < 0) return 'E22';
        const bytes = unescapeBinary(p.slice(colon + 1));
        if (bytes.length !== Number.parseInt(m[2], 16)) return 'E22';
        if (bytes.length === 0) return 'OK'; // gdb's probe for X support
        return this.target.writeMemory(this.gThread - 1, BigInt(`0x${m[1]}`), bytes) ? 'OK' : 'E14';
      }
      case 'c':
      case 's':
        return this.resume(this.legacyActions(c === 's'), p.slice(1));
      case 'C':
      case 'S': {
        // The signal is the guest's business, not ours (QEMU ignores it too); the address likewise.
        const semi = p.indexOf(';');
        return this.resume(this.legacyActions(c === 'S'), semi < 0 ? '' : p.slice(semi + 1));
      }
      case 'v':
        return this.vPacket(p);
      case 'H': {
        const id = p.slice(2);
        // -1 (all threads) and 0 (any thread) leave the choice as it is, as QEMU's handle_set_thread.
        if (id === '-1' || id === '0') return 'OK';
        const n = /^[0-9a-fA-F]+$/.test(id) ? Number.parseInt(id, 16) : Number.NaN;
        if (!(n >= 1 && n <= this.target.vcpus)) return 'E22';
        if (p[1] === 'g') {
          this.gThread = n;
          this.regs = null;
        } else this.cThread = n;
        return 'OK';
      }
      case 'T': {
        // Thread alive: every vCPU is, for the machine's life.
        const n = /^T[0-9a-fA-F]+$/.test(p) ? Number.parseInt(p.slice(1), 16) : Number.NaN;
        return n >= 1 && n <= this.target.vcpus ? 'OK' : 'E22';
      }
      case 'Z':
      case 'z': {
        const m = /^[Zz]([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(p);
        if (!m) return 'E22';
        const type = Number(m[1]);
        const gva = BigInt(`0x${m[2]}`);
        const kind = Number.parseInt(m[3], 16);
        const vcpu = this.gThread - 1;
        const done =
          c === 'Z'
            ? this.target.insertPoint(vcpu, type, gva, kind)
            : this.target.removePoint(vcpu, type, gva, kind);
        return done === null ? '' : done ? 'OK' : 'E22';
      }
      case 'k':
        this.target.kill();
        return undefined; // no reply: the connection closes with the machine
      case 'D':
        this.target.detach();
        return 'OK';
      case 'q':
      case 'Q':
        return this.query(p);
      default:
        return '';
    }
  }

  /**
   * `c`/`s`: every vCPU runs, the Hc thread one instruction if stepping (QEMU's `s` steps c_cpu
   * and starts the whole VM).
   */
  private legacyActions(step: boolean): Uint8Array {
    const actions = new Uint8Array(this.target.vcpus).fill(VCPU_CONTINUE);
    if (step) actions[this.cThread - 1] = VCPU_STEP;
    return actions;
  }

  /** Resumes with `actions` per vCPU; `address`, if given, is the new RIP of the Hc thread. */
  private resume(actions: Uint8Array, address: string): string | undefined {
    if (address !== '') {
      if (!/^[0-9a-fA-F]+$/.test(address)) return 'E22';
      const file = this.target.readRegisters(this.cThread - 1);
      file.regs.rip = BigInt(`0x${address}`);
      this.target.writeRegisters(this.cThread - 1, file);
    }
    if (!actions.some((a) => a !== VCPU_HOLD)) return 'E22';
    this.running = true;
    this.regs = null;
    this.target.resume(actions);
    return undefined;
  }

  /**
   * `vCont;ACTION[:TID];…`: each vCPU takes the leftmost action whose thread id matches it (none
   * or -1: every thread); a vCPU no action matches stays stopped (gdb manual, "Packets").
   */
  private vCont(list: string): string | undefined {
    const n = this.target.vcpus;
    const actions = new Uint8Array(n);
    const assigned = new Uint8Array(n);
    for (const action of list.split(';')) {
      const [what, tid] = action.split(':');
      const kind =
        what[0] === 'c' || what[0] === 'C'
          ? VCPU_CONTINUE
          : what[0] === 's' || what[0] === 'S'
            ? VCPU_STEP
            : -1;
      if (kind < 0) return 'E22';
      let first = 0;
      let last = n - 1;
      if (tid !== undefined && tid !== '-1') {
        const t = /^[0-9a-fA-F]+$/.test(tid) ? Number.parseInt(tid, 16) : Number.NaN;
        if (!(t >= 1 && t <= n)) return 'E22';
        first = last = t - 1;
      }
      for (let i = first; i <= last; i++) {
        if (assigned[i]) continue;
        assigned[i] = 1;
        actions[i] = kind;
      }
    }
    return this.resume(actions, '');
  }

  private vPacket(p: string): string | undefined {
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p.startsWith('vCont;')) return this.vCont(p.slice(6));
    if (p.startsWith('vKill')) {
      this.target.kill();
      return 'OK';
    }
    if (p === 'vMustReplyEmpty') return '';
    return '';
  }

  private query(p: string): string {
    if (p.startsWith('qSupported')) {
      return `PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+`;
    }
    if (p === 'QStartNoAckMode') {
      this.noAck = true;
      return 'OK';
    }
    if (p.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
      if (!m) return 'E22';
      if (m[1] !== 'target.xml') return 'E00';
      const xml = targetXml();
      const offset = Number.parseInt(m[2], 16);
      const length = Number.parseInt(m[3], 16);
      const chunk = xml.slice(offset, offset + length);
      return `${offset + length >= xml.length ? 'l' : 'm'}${escapeBinary(chunk)}`;
    }
    if (p === 'qAttached') return '1';
    if (p === 'qC') return `QC${this.gThread.toString(16)}`;
    if (p === 'qfThreadInfo') {
      const ids: string[] = [];
      for (let i = 1; i <= this.target.vcpus; i++) ids.push(i.toString(16));
      return `m${ids.join(',')}`;
    }
    if (p === 'qsThreadInfo') return 'l';
    if (p.startsWith('qThreadExtraInfo,')) {
      const n = Number.parseInt(p.slice(17), 16);
      if (!(n >= 1 && n <= this.target.vcpus)) return 'E22';
      // QEMU's words: "CPU#<index> [running]" or "[halted ]" (the vCPU's own state, not gdb's).
      const state = this.target.isHalted(n - 1) ? 'halted ' : 'running';
      return toHex(new TextEncoder().encode(`CPU#${n - 1} [${state}]`));
    }
    if (p === 'qSymbol::') return 'OK';
    if (p.startsWith('qRcmd,')) {
      // gdb's `monitor LINE`: the output goes back as console output (O packets), then OK, as
      // QEMU's handle_query_rcmd sends it (gdb prints O packets while it waits for the reply).
      if (!this.target.monitor) return '';
      const hex = p.slice(6);
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) return 'E22';
      const text = this.target.monitor(new TextDecoder().decode(fromHex(hex)));
      const bytes = new TextEncoder().encode(text);
      // Each O packet within PacketSize: 2 hex digits a byte, the 'O' and the framing.
      for (let at = 0; at < bytes.length; at += (PACKET_SIZE - 8) >> 1)
        this.reply(`O${toHex(bytes.subarray(at, at + ((PACKET_SIZE - 8) >> 1)))}`);
      return 'OK';
    }
    return '';
  }
}
