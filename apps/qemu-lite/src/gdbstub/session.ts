/**
 * The machine thread's side of debugging: a `DebugTarget` over the running machine, and the
 * hooks the vCPU loop calls (`service` at the top of each turn, `debugExit` on KVM_EXIT_DEBUG).
 *
 * While the debugger (gdb, or the monitor's `stop`) holds the vCPU, `service` blocks, serving
 * the channel, until something resumes it. Software breakpoints are INT3 bytes patched into guest
 * RAM under KVM_GUESTDBG_USE_SW_BP (hidden from the debugger's reads, `sw-breakpoints.ts`) where
 * the engine turns INT3 into KVM_EXIT_DEBUG. Hardware breakpoints (Z1) and write or access
 * watchpoints (Z2, Z4) take DR0–DR3 through KVM_GUESTDBG_USE_HW_BP on the same engines (the
 * engine keeps the guest's own DR0–DR7 apart, and a #DB that is not ours goes back to the guest
 * with KVM_GUESTDBG_INJECT_DB, as QEMU's kvm_handle_debug does); read watchpoints (Z3) are not
 * offered, as in QEMU (x86 breakpoints cannot tell reads from writes). Elsewhere (the host's
 * kvm-pvm, whose emulator runs the guest's CPL-0 code, delivers INT3 to the guest and checks no
 * data breakpoints), the vCPU runs under KVM_GUESTDBG_SINGLESTEP and every KVM_EXIT_DEBUG compares
 * the linear PC (kvm_run.debug.arch.pc) with the breakpoints and the watched bytes with their last
 * values (write watchpoints only). The guest's TF is never touched, and its own INT3 reaches it:
 * directly when no INT3 breakpoint is set, re-injected (KVM_GUESTDBG_INJECT_BP) when one is.
 *
 * `-smp`: one gdb thread per vCPU, all-stop as QEMU's stub. Where the vCPUs take turns on this
 * thread (the software engines) a stop holds them all at once (`service` blocks the one loop), a
 * resume says per vCPU whether it runs, steps or stays held (`holds`, which the loop asks before a
 * vCPU's turn), breakpoints and watchpoints are armed on every vCPU (QEMU's
 * kvm_update_guest_debug runs for each CPU), and the vCPU whose KVM_EXIT_DEBUG stopped the
 * machine is the one reported. Where each AP has a thread of its own (the host engine), a stop
 * holds the APs' threads out of KVM_RUN (`VcpuThreads.hold`: a kick, then they wait) before
 * anything touches their vCPUs, as QEMU's run_on_cpu makes a vCPU thread leave KVM_RUN; an AP's
 * KVM_EXIT_DEBUG reaches `debugExit` through its mailbox; the monitor holds them for the length
 * of a command while the machine runs (a halted AP never leaves KVM_RUN by itself).
 */
import { existsSync } from 'node:fs';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { Vcpu } from '@kvm/core';
import { KVM_MP_STATE } from '@kvm/core';
import type { Machine } from '../machine/machine.js';
import { runMonitorCommand } from '../monitor/commands.js';
import type { MonitorSession } from '../monitor/session-api.js';
import { DEBUG_GEN, QUIT, QUIT_NONE, QUIT_USER, type SharedControl, WAKE } from '../vcpu/shared.js';
import type { DebugInput } from './channel.js';
import { type RegisterFile, readRegisterFile, writeRegisterFile } from './registers.js';
import {
  BP_HARDWARE,
  BP_SOFTWARE,
  type DebugTarget,
  GDB_SIGINT,
  GDB_SIGTRAP,
  GdbStub,
  type StopEvent,
  VCPU_CONTINUE,
  VCPU_HOLD,
  VCPU_STEP,
  WP_ACCESS,
  WP_READ,
  WP_WRITE,
} from './stub.js';
import { SoftwareBreakpoints } from './sw-breakpoints.js';

/** KVM_GUESTDBG_* (<linux/kvm.h>). */
const KVM_GUESTDBG_ENABLE = 0x1;
const KVM_GUESTDBG_SINGLESTEP = 0x2;
const KVM_GUESTDBG_USE_SW_BP = 0x10000;
const KVM_GUESTDBG_USE_HW_BP = 0x20000;
const KVM_GUESTDBG_INJECT_DB = 0x40000;
const KVM_GUESTDBG_INJECT_BP = 0x80000;
/** kvm_run.debug.arch.exception: #DB (a step or a debug register of ours), #BP (an INT3 of ours). */
const DB_VECTOR = 1;
const BP_VECTOR = 3;
const PAGE = 4096;
/** DR7: GE and bit 10, as QEMU's kvm_arch_update_guest_debug starts it (SDM Vol. 3B 18.2.4). */
const DR7_BASE = 0x600n;

/** A breakpoint or watchpoint in one of DR0–DR3 (SDM Vol. 3B 18.2). */
interface DebugRegSlot {
  type: number;
  gva: bigint;
  length: number;
}

/** DR7's R/W bits for a slot: 00 execute, 01 write, 11 read or write. */
function drRw(type: number): bigint {
  return type === BP_HARDWARE ? 0n : type === WP_WRITE ? 1n : 3n;
}

/** DR7's LEN bits: 1, 2, 8, 4 bytes are 00, 01, 10, 11 (an instruction breakpoint: 00). */
function drLen(slot: DebugRegSlot): bigint {
  if (slot.type === BP_HARDWARE) return 0n;
  return slot.length === 1 ? 0n : slot.length === 2 ? 1n : slot.length === 8 ? 2n : 3n;
}

interface Watchpoint {
  gva: bigint;
  length: number;
  /** Where the bytes are, resolved when the watchpoint was set (the guest's mapping then). */
  gpa: number;
  last: Uint8Array;
}

/**
 * Whether breakpoints can be INT3s on `engine`: the software engines intercept #BP for
 * KVM_GUESTDBG_USE_SW_BP; the host's KVM does too, but not kvm-pvm, whose instruction emulator
 * (where CPL-0 guest code runs) delivers INT3 to the guest (packages/host/src/testing's case).
 */
export function engineTrapsInt3(engine: string): boolean {
  return engine !== 'host' || !existsSync('/sys/module/kvm_pvm');
}

export interface SessionOutput {
  /** Bytes for gdb's socket. */
  gdb(text: string): void;
  /** Monitor output. */
  monitor(text: string): void;
  /** Flush the machine's buffered serial output (before blocking). */
  flush(): void;
}

export class DebugSession implements DebugTarget {
  private machine: Machine;
  private seenGen = 0;
  private stopped: boolean;
  /** What each vCPU does while the machine runs (VCPU_HOLD, VCPU_CONTINUE, VCPU_STEP). */
  private actions: Uint8Array;
  /** The vCPU the last stop is reported on (Ctrl-C and the monitor's `stop`: the last one's). */
  private stopVcpu = 0;
  /** The monitor's current vCPU (`cpu N`). */
  private monitorCpu = 0;
  /** The KVM_SET_GUEST_DEBUG control last set on each vCPU (-1: not yet on this vCPU). */
  private guestDebug: number[];
  /** Breakpoints checked by single-stepping (all of them where INT3 cannot be used). */
  private readonly breakpoints = new Map<bigint, number>();
  /** Z0 breakpoints as INT3 in guest RAM, where `useInt3`. */
  private readonly int3: SoftwareBreakpoints;
  private readonly watchpoints: Watchpoint[] = [];
  /** Z1/Z2/Z4 in DR0–DR3, where the engine has KVM_GUESTDBG_USE_HW_BP (`useInt3`'s engines). */
  private readonly debugRegs: (DebugRegSlot | null)[] = [null, null, null, null];
  /** The debugreg[] last given to KVM_SET_GUEST_DEBUG on each vCPU, as a key. */
  private debugRegsKey: string[];
  private stub: GdbStub | null = null;

  constructor(
    machine: Machine,
    private readonly control: SharedControl,
    private readonly port: MessagePort,
    private readonly output: SessionOutput,
    startStopped: boolean,
    /**
     * Whether the engine turns an INT3 into KVM_EXIT_DEBUG under KVM_GUESTDBG_USE_SW_BP, and
     * arms debugreg[] under KVM_GUESTDBG_USE_HW_BP (the same engines: the software ones, a KVM
     * with VT-x/AMD-V; not kvm-pvm).
     */
    private readonly useInt3: boolean,
  ) {
    this.machine = machine;
    this.stopped = startStopped;
    this.int3 = new SoftwareBreakpoints(machine.ram);
    this.actions = new Uint8Array(this.vcpus).fill(VCPU_CONTINUE);
    this.guestDebug = new Array(this.vcpus).fill(-1);
    this.debugRegsKey = new Array(this.vcpus).fill('');
  }

  /**
   * The vCPUs the debugger sees: every one where they take turns on this thread; vCPU 0 alone
   * where the APs run on threads of their own (they cannot be held from here).
   */
  get vcpus(): number {
    return this.machine.vcpus.length;
  }

  /** The APs' threads are held out of KVM_RUN (host engine; always true elsewhere). */
  private apsHeld = false;
  /** APs whose thread did not leave KVM_RUN when held: their vCPU must not be touched. */
  private readonly unreachable = new Set<number>();

  /** Holds every AP's thread (host engine, -smp): their vCPUs are then ours to read and set. */
  private holdAps(): void {
    const threads = this.machine.apThreads;
    this.apsHeld = true;
    if (!threads) return;
    this.unreachable.clear();
    for (let i = 1; i < this.machine.vcpus.length; i++) if (!threads.hold(i)) this.unreachable.add(i);
  }

  /** Lets the APs' threads run again, those whose action is not VCPU_HOLD. */
  private releaseAps(): void {
    const threads = this.machine.apThreads;
    if (!threads) return;
    this.apsHeld = false;
    for (let i = 1; i < this.machine.vcpus.length; i++) if (this.actions[i] !== VCPU_HOLD) threads.release(i);
  }

  /** Runs `f` with the APs held, if they are not already (a monitor command while the guest runs). */
  private withApsHeld<T>(f: () => T): T {
    if (this.apsHeld || !this.machine.apThreads) return f();
    this.holdAps();
    try {
      return f();
    } finally {
      if (!this.stopped) this.releaseAps();
    }
  }

  /** vCPU `index`, which must not be an AP still in KVM_RUN (see `holdAps`). */
  private vcpuAt(index: number): Vcpu {
    if (this.unreachable.has(index)) throw new Error(`vCPU ${index} did not leave KVM_RUN`);
    return this.machine.vcpus[index];
  }

  get current(): Machine {
    return this.machine;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** After a reboot the vCPU may be a new one: debugging state goes with the machine. */
  setMachine(machine: Machine): void {
    if (machine === this.machine) return;
    this.machine = machine;
    this.int3.forget(machine.ram);
    this.guestDebug.fill(-1);
    this.debugRegsKey.fill('');
    this.apsHeld = false;
    this.unreachable.clear();
    this.withApsHeld(() => this.applyGuestDebug());
  }

  /**
   * Counts the turns this session did anything (took input, held the vCPU): the vCPU loop's sign
   * that guest RAM may have been written (`LoopDebugHooks.activity`).
   */
  activity = 0;

  /**
   * The vCPU loop's hook at the top of each turn. Returns false when the loop must go back to its
   * quit check (a quit or `k` arrived while the vCPU was held).
   */
  service(): boolean {
    const cells = this.control.cells;
    if (Atomics.load(cells, DEBUG_GEN) !== this.seenGen) this.drain();
    // -S: the APs' threads (host engine) started running; hold them with the BSP.
    if (this.stopped && !this.apsHeld) this.holdAps();
    if (!this.stopped && this.machine.apThreads && this.actions[0] === VCPU_HOLD) {
      // gdb runs some APs but not vCPU 0, whose KVM_RUN is this thread's: poll for their exits.
      const wake = Atomics.load(cells, WAKE);
      Atomics.wait(cells, WAKE, wake, 1);
      return false;
    }
    while (this.stopped) {
      this.activity++;
      if (Atomics.load(cells, QUIT) !== QUIT_NONE) return false;
      this.output.flush();
      const wake = Atomics.load(cells, WAKE);
      if (Atomics.load(cells, DEBUG_GEN) === this.seenGen) Atomics.wait(cells, WAKE, wake, 250);
      this.drain();
    }
    return Atomics.load(cells, QUIT) === QUIT_NONE && this.machine.stopReason() === undefined;
  }

  /** Whether vCPU `index` must sit out its turn: the debugger resumed others but not it. */
  holds(index: number): boolean {
    return !this.stopped && this.actions[index] === VCPU_HOLD;
  }

  /**
   * KVM_EXIT_DEBUG on vCPU `index`: a step finished; stop (every vCPU) if gdb stepped it, or a
   * breakpoint or watchpoint is hit.
   */
  debugExit(index = 0): void {
    const debug = this.machine.runs[index].debug;
    if (debug.exception === BP_VECTOR) {
      // Our INT3 (RIP is left on it): a breakpoint.
      if (this.int3.has(debug.pc)) {
        this.stop({ kind: 'breakpoint', type: BP_SOFTWARE }, index);
        return;
      }
      // The guest's own INT3, caught because USE_SW_BP is on for ours: #BP goes back to the
      // guest (KVM_GUESTDBG_INJECT_BP, which KVM queues as the trap the INT3 raised), as QEMU's
      // kvm_handle_debug passes on an exception that is not its breakpoint.
      this.machine.vcpus[index].setGuestDebug({
        control: this.guestDebug[index] | KVM_GUESTDBG_INJECT_BP,
        debugreg:
          this.guestDebug[index] & KVM_GUESTDBG_USE_HW_BP
            ? this.debugRegValues()
            : [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
      });
      return;
    }
    if (this.actions[index] === VCPU_STEP) {
      this.stop({ kind: 'signal', signal: GDB_SIGTRAP }, index);
      return;
    }
    const control = this.guestDebug[index];
    if (debug.exception === DB_VECTOR && control & KVM_GUESTDBG_USE_HW_BP) {
      // DR6.B0–B3: which of our debug registers fired (an instruction breakpoint stops on the
      // instruction, a watchpoint after the access).
      const hit = Number(debug.dr6 & 0xfn);
      for (let n = 0; n < 4; n++) {
        const slot = this.debugRegs[n];
        if (slot === null || !((hit >>> n) & 1)) continue;
        this.stop(
          slot.type === BP_HARDWARE
            ? { kind: 'breakpoint', type: BP_HARDWARE }
            : { kind: 'watchpoint', type: slot.type, address: slot.gva },
          index,
        );
        return;
      }
      if (!(control & KVM_GUESTDBG_SINGLESTEP)) {
        // Not ours: the guest's own #DB (its TF, INT1), which KVM hands over while the debugger
        // owns the debug registers; back to the guest, as QEMU's kvm_handle_debug re-injects it.
        this.machine.vcpus[index].setGuestDebug({
          control: control | KVM_GUESTDBG_INJECT_DB,
          debugreg: this.debugRegValues(),
        });
        return;
      }
    }
    const bp = this.breakpoints.get(debug.pc);
    if (bp !== undefined) {
      this.stop({ kind: 'breakpoint', type: bp === BP_HARDWARE ? BP_HARDWARE : BP_SOFTWARE }, index);
      return;
    }
    const ram = this.machine.ram;
    for (const w of this.watchpoints) {
      let changed = false;
      for (let i = 0; i < w.length; i++) {
        if (ram[w.gpa + i] !== w.last[i]) {
          changed = true;
          w.last[i] = ram[w.gpa + i];
        }
      }
      if (changed) {
        this.stop({ kind: 'watchpoint', type: WP_WRITE, address: w.gva }, index);
        return;
      }
    }
  }

  /** The machine ended: tell gdb (W packet). */
  machineEnded(status: number): void {
    if (this.stub?.isRunning || this.stub) this.stub?.reportExit(status);
  }

  /** Holds every vCPU (a debug exit on vCPU `index`, the monitor's `stop`, Ctrl-C). */
  stop(event: StopEvent, index = this.stopVcpu): void {
    this.stopped = true;
    if (!this.apsHeld) this.holdAps();
    this.stopVcpu = index;
    this.stub?.reportStop(event, index);
  }

  /** Lets every vCPU run (monitor `cont`). */
  cont(): void {
    this.resume(new Uint8Array(this.vcpus).fill(VCPU_CONTINUE));
  }

  /** Whether vCPU `index` is halted or waits for INIT/SIPI (KVM_GET_MP_STATE). */
  isHalted(index: number): boolean {
    try {
      const state = this.vcpuAt(index).getMpState();
      return (
        state === KVM_MP_STATE.HALTED ||
        state === KVM_MP_STATE.UNINITIALIZED ||
        state === KVM_MP_STATE.INIT_RECEIVED
      );
    } catch {
      return false;
    }
  }

  private drain(): void {
    this.activity++;
    this.seenGen = Atomics.load(this.control.cells, DEBUG_GEN);
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) return;
      const input = m.message as DebugInput;
      switch (input.kind) {
        case 'gdb-connect':
          this.stub = new GdbStub(this, (text) => this.output.gdb(text));
          // gdb attaches to a stopped target (QEMU stops the VM when gdb connects).
          if (!this.stopped) this.stop({ kind: 'signal', signal: GDB_SIGTRAP });
          break;
        case 'gdb-data':
          this.stub?.feed(input.data);
          break;
        case 'gdb-disconnect':
          if (this.stub) this.withApsHeld(() => this.detach());
          this.stub = null;
          break;
        case 'monitor':
          this.output.monitor(this.withApsHeld(() => runMonitorCommand(input.line, this.monitorSession)));
          break;
      }
    }
  }

  /** The monitor's view of the machine (`monitor/session-api.ts`). */
  private readonly monitorSession: MonitorSession = {
    machine: () => this.machine,
    isStopped: () => this.stopped,
    cpuCount: () => this.vcpus,
    cpuIndex: () => Math.min(this.monitorCpu, this.vcpus - 1),
    selectCpu: (index) => {
      if (!(Number.isInteger(index) && index >= 0 && index < this.vcpus)) return false;
      this.monitorCpu = index;
      return true;
    },
    isHalted: (index) => this.isHalted(index),
    readVirtual: (gva, length) => this.readMemory(Math.min(this.monitorCpu, this.vcpus - 1), gva, length),
    readPhysical: (gpa, length) => {
      const ram = this.machine.ram;
      return gpa + BigInt(length) <= BigInt(ram.length) ? ram.slice(Number(gpa), Number(gpa) + length) : null;
    },
    pause: () => {
      if (!this.stopped) this.stop({ kind: 'signal', signal: GDB_SIGINT });
    },
    resume: () => {
      if (this.stopped) this.cont();
    },
    reset: () => {
      this.machine.stop({ kind: 'reset', cause: 'system_reset (monitor)' });
      this.stopped = false;
    },
    // The ACPI power button, as QEMU's `qemu_system_powerdown_request`: PWRBTN_STS and the SCI for
    // the guest's OS to act on (devices/acpi-pm.ts); QEMU prints nothing, acted on or not.
    powerdown: () => {
      this.machine.acpiPm.powerButton();
    },
    quit: () => this.kill(),
  };

  /** debugreg[0..7] for KVM_SET_GUEST_DEBUG: the slots' addresses and DR7 enabling them (Gn). */
  private debugRegValues(): bigint[] {
    const out = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    let dr7 = DR7_BASE;
    for (let n = 0; n < 4; n++) {
      const slot = this.debugRegs[n];
      if (slot === null) continue;
      out[n] = slot.gva;
      dr7 |= (2n << BigInt(2 * n)) | ((drRw(slot.type) | (drLen(slot) << 2n)) << BigInt(16 + 4 * n));
    }
    out[7] = dr7;
    return out;
  }

  /**
   * KVM_SET_GUEST_DEBUG on every vCPU: the breakpoints and watchpoints on all of them, single-step
   * on the one gdb steps (and on all where breakpoints are checked by stepping).
   */
  private applyGuestDebug(): void {
    const checkEach = this.breakpoints.size > 0 || this.watchpoints.length > 0;
    let common = 0;
    if (this.int3.size > 0) common |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
    if (this.debugRegs.some((slot) => slot !== null)) common |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
    const debugreg =
      common & KVM_GUESTDBG_USE_HW_BP ? this.debugRegValues() : [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    const key = debugreg.join(',');
    for (let i = 0; i < this.vcpus; i++) {
      if (this.unreachable.has(i)) continue;
      const step = checkEach || this.actions[i] === VCPU_STEP;
      const control = common | (step ? KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP : 0);
      if (control === this.guestDebug[i] && key === this.debugRegsKey[i]) continue;
      this.machine.vcpus[i].setGuestDebug({ control, debugreg });
      this.guestDebug[i] = control;
      this.debugRegsKey[i] = key;
    }
  }

  /**
   * Z1/Z2/Z4 into a free one of DR0–DR3: a watched range must be 1, 2, 4 or 8 bytes, aligned
   * (SDM Vol. 3B 18.2.5); false when it is not, or when all four are taken (gdb then says it
   * cannot insert the point).
   */
  private insertDebugReg(type: number, gva: bigint, kind: number): boolean {
    const length = type === BP_HARDWARE ? 1 : kind;
    if (type !== BP_HARDWARE && (![1, 2, 4, 8].includes(length) || gva % BigInt(length) !== 0n)) return false;
    const n = this.debugRegs.indexOf(null);
    if (n < 0) return false;
    this.debugRegs[n] = { type, gva, length };
    return true;
  }

  private removeDebugReg(type: number, gva: bigint, kind: number): boolean {
    const length = type === BP_HARDWARE ? 1 : kind;
    const n = this.debugRegs.findIndex(
      (s) => s !== null && s.type === type && s.gva === gva && s.length === length,
    );
    if (n < 0) return false;
    this.debugRegs[n] = null;
    return true;
  }

  // --- DebugTarget ---

  readRegisters(index: number): RegisterFile {
    return readRegisterFile(this.vcpuAt(index));
  }

  writeRegisters(index: number, file: RegisterFile): void {
    writeRegisterFile(this.vcpuAt(index), file);
  }

  /**
   * The guest-physical address of `gva` through vCPU `index`'s page tables (KVM_TRANSLATE), or
   * -1.
   */
  translate(gva: bigint, index = 0): number {
    if (this.unreachable.has(index)) return -1;
    const vcpu = this.machine.vcpus[index];
    if (!vcpu.translate) return gva < BigInt(this.machine.ram.length) ? Number(gva) : -1;
    try {
      const t = vcpu.translate(gva);
      return t.valid ? Number(t.physicalAddress) : -1;
    } catch {
      return -1;
    }
  }

  /**
   * The guest RAM bytes behind [gva, gva + length) as vCPU `index` maps them, page by page; null
   * if any page is not RAM.
   */
  private access(
    index: number,
    gva: bigint,
    length: number,
    each: (gpa: number, offset: number, n: number) => void,
  ): boolean {
    const ram = this.machine.ram;
    let done = 0;
    while (done < length) {
      const at = gva + BigInt(done);
      const n = Math.min(length - done, PAGE - Number(at & 0xfffn));
      const gpa = this.translate(at, index);
      if (gpa < 0 || gpa + n > ram.length) return false;
      each(gpa, done, n);
      done += n;
    }
    return true;
  }

  readMemory(index: number, gva: bigint, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    const ram = this.machine.ram;
    const ok = this.access(index, gva, length, (gpa, offset, n) => {
      const chunk = out.subarray(offset, offset + n);
      chunk.set(ram.subarray(gpa, gpa + n));
      this.int3.hide(gpa, chunk);
    });
    return ok ? out : null;
  }

  writeMemory(index: number, gva: bigint, data: Uint8Array): boolean {
    const ram = this.machine.ram;
    return this.access(index, gva, data.length, (gpa, offset, n) => {
      const chunk = data.subarray(offset, offset + n);
      ram.set(chunk, gpa);
      this.int3.afterWrite(gpa, chunk);
    });
  }

  /**
   * Z0–Z4. Breakpoints are global (every vCPU); an INT3's byte and a stepped watchpoint's bytes
   * are found through vCPU `index`'s page tables (gdb's Hg thread: QEMU's kvm_insert_breakpoint
   * reads and patches memory through that CPU), which may map `gva` elsewhere than vCPU 0's.
   */
  insertPoint(index: number, type: number, gva: bigint, kind: number): boolean | null {
    if (this.useInt3 && (type === BP_HARDWARE || type === WP_WRITE || type === WP_ACCESS)) {
      if (!this.insertDebugReg(type, gva, kind)) return false;
    } else if (this.useInt3 && type === WP_READ) {
      return null;
    } else if (type === BP_SOFTWARE && this.useInt3) {
      if (!this.int3.insert(gva, this.translate(gva, index))) return false;
    } else if (type === BP_SOFTWARE || type === BP_HARDWARE) {
      this.breakpoints.set(gva, type);
    } else if (type === WP_WRITE) {
      // Write watchpoints only: a read leaves nothing to compare (rwatch/awatch need DR0–DR3).
      if (kind < 1 || kind > 8) return false;
      const gpa = this.translate(gva, index);
      if (gpa < 0 || gpa + kind > this.machine.ram.length || ((gpa + kind - 1) & ~0xfff) !== (gpa & ~0xfff))
        return false;
      this.watchpoints.push({ gva, length: kind, gpa, last: this.machine.ram.slice(gpa, gpa + kind) });
    } else if (type <= WP_ACCESS) {
      return null;
    } else return null;
    this.applyGuestDebug();
    return true;
  }

  removePoint(_index: number, type: number, gva: bigint, kind: number): boolean | null {
    if (this.useInt3 && (type === BP_HARDWARE || type === WP_WRITE || type === WP_ACCESS)) {
      if (!this.removeDebugReg(type, gva, kind)) return false;
    } else if (type === BP_SOFTWARE && this.int3.has(gva)) {
      this.int3.remove(gva);
    } else if (type === BP_SOFTWARE || type === BP_HARDWARE) {
      if (!this.breakpoints.delete(gva)) return false;
    } else if (type === WP_WRITE) {
      const i = this.watchpoints.findIndex((w) => w.gva === gva && w.length === kind);
      if (i < 0) return false;
      this.watchpoints.splice(i, 1);
    } else return null;
    this.applyGuestDebug();
    return true;
  }

  resume(actions: Uint8Array): void {
    this.actions.set(actions.subarray(0, this.actions.length));
    // Watched bytes are compared with what they hold now, not when they were set.
    for (const w of this.watchpoints) w.last.set(this.machine.ram.subarray(w.gpa, w.gpa + w.length));
    this.withApsHeld(() => this.applyGuestDebug());
    this.stopped = false;
    if (this.apsHeld) this.releaseAps();
  }

  interrupt(): void {
    this.stop({ kind: 'signal', signal: GDB_SIGINT });
  }

  kill(): void {
    Atomics.compareExchange(this.control.cells, QUIT, QUIT_NONE, QUIT_USER);
    this.stopped = false;
  }

  /** gdb's `monitor LINE`: QEMU's monitor, on the vCPUs as they are stopped now. */
  monitor(line: string): string {
    return this.withApsHeld(() => runMonitorCommand(line, this.monitorSession));
  }

  detach(): void {
    this.breakpoints.clear();
    this.int3.clear();
    this.watchpoints.length = 0;
    this.debugRegs.fill(null);
    this.actions.fill(VCPU_CONTINUE);
    this.applyGuestDebug();
    this.stopped = false;
    if (this.apsHeld) this.releaseAps();
  }
}
