/**
 * The host's side (the real CPU, or KVM's instruction emulator where the host's KVM emulates the
 * mode: referee.ts): one VM with one vCPU on the host's /dev/kvm (@kvm/host), reused for
 * every case (KVM_SET_REGS / KVM_SET_SREGS and a fresh memory image between cases). Port I/O
 * is answered with `ioValue`, MMIO reads with open bus (all ones) and MMIO writes dropped — what
 * x86emu's `FlatPhysicalMemory` does above RAM. A watchdog thread kicks a guest that does not
 * stop in time.
 */
import { Worker } from 'node:worker_threads';
import {
  KVM_EXIT,
  type Kvm,
  type KvmCpuidEntry2,
  KvmError,
  type KvmRegs,
  type KvmSregs,
  type Vcpu,
  type Vm,
} from '@kvm/core';
import { openHostKvm } from '@kvm/host';
import { defaultCpuid } from '@kvm/x86emu';
import { baseState, CODE, RAM_SIZE } from './layout.js';

/** Where `resetExtraState` runs its guest routine (inside the HLT sled). */
const RESET_ROUTINE = 0xa000;

import { fpuFromKvm, fpuToKvm } from './fpu-state.js';
import { fromKvm, type MachineState, toKvmRegs, toKvmSregs } from './machine-state.js';
import { IO_LOG_MAX, ioValue, type Outcome } from './outcome.js';

const EINTR = 4;
/** Exits (I/O, MMIO) one case may take before it counts as runaway. */
const MAX_EXITS = 4096;

/** Thread body: waits on word 0 (odd = a run is in progress); kicks when one run lasts too long. */
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const a = new Int32Array(workerData.sab);
import(workerData.hostUrl).then(({ kickHostVcpu }) => {
  for (;;) {
    const g = Atomics.load(a, 0);
    if (g < 0) return;
    if ((g & 1) === 0) { Atomics.wait(a, 0, g); continue; }
    if (Atomics.wait(a, 0, g, Atomics.load(a, 2)) === 'timed-out') {
      Atomics.store(a, 1, g);
      kickHostVcpu(workerData.handle);
      Atomics.wait(a, 0, g);
    }
  }
});
`;

/** CPUID.80000001H:EDX bits KVM needs before it accepts IA-32e state (SDM Vol. 2 CPUID). */
const CPUID_EXT_SYSCALL = 1 << 11;
const CPUID_EXT_LM = 1 << 29;

/**
 * x86emu's default CPUID leaves as KVM_SET_CPUID2 entries. `longMode`: also LM and SYSCALL,
 * without which KVM refuses EFER.LME/SCE in KVM_SET_SREGS (kvm_valid_efer), for the IA-32e
 * modes while x86emu's own table does not advertise them yet.
 */
function x86emuCpuid(longMode: boolean): KvmCpuidEntry2[] {
  const out = new Uint32Array(4);
  return [0, 1, 0x80000000, 0x80000001, 0x80000008].map((leaf) => {
    defaultCpuid.cpuid(leaf, 0, out);
    if (leaf === 0x80000001 && longMode) out[3] = (out[3] | CPUID_EXT_LM | CPUID_EXT_SYSCALL) >>> 0;
    // KVM refuses a table whose linear-address width (0x80000008 EAX[15:8]) is not 48 or 57
    // (kvm_check_cpuid); outside long mode the width does not matter.
    if (leaf === 0x80000008) out[0] = (out[0] & ~0xff00) | (48 << 8);
    return { function: leaf, index: 0, flags: 0, eax: out[0], ebx: out[1], ecx: out[2], edx: out[3] };
  });
}

export interface HostSideOptions {
  /** Wall-clock limit of one case before the watchdog kicks it (ms). */
  timeoutMs?: number;
  /** The run includes IA-32e modes: the guest's CPUID advertises long mode (see `x86emuCpuid`). */
  longMode?: boolean;
}

export class HostSide {
  readonly ram: Uint8Array;
  private readonly kvm: Kvm;
  private readonly vm: Vm;
  private readonly vcpu: Vcpu;
  private readonly regs: KvmRegs;
  private readonly sregs: KvmSregs;
  private readonly sync = new Int32Array(new SharedArrayBuffer(12));
  private readonly timeoutMs: number;
  private readonly watchdog: Worker;
  private generation = 0;
  private readonly io: number[] = [];

  constructor(options: HostSideOptions = {}) {
    this.kvm = openHostKvm();
    this.vm = this.kvm.createVm();
    const memory = this.vm.allocateMemory(RAM_SIZE);
    this.ram = new Uint8Array(memory.buffer);
    this.vm.setUserMemoryRegion({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize: BigInt(RAM_SIZE),
      userspaceAddr: memory.userspaceAddr,
    });
    this.vcpu = this.vm.createVcpu(0);
    // The guest sees x86emu's CPUID, so that feature-dependent behaviour (which CR4 bits are
    // reserved, NX, PSE…) is judged against the same features on both sides.
    this.vcpu.setCpuid2(x86emuCpuid(options.longMode ?? false));
    this.regs = this.vcpu.getRegs();
    this.sregs = this.vcpu.getSregs();
    const hostUrl = new URL('../node_modules/@kvm/host/dist/index.js', import.meta.url).href;
    this.watchdog = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      workerData: {
        sab: this.sync.buffer,
        hostUrl,
        handle: this.vcpu.kickHandle(),
      },
    });
    this.watchdog.unref();
    this.timeoutMs = options.timeoutMs ?? 100;
    this.sync[2] = this.timeoutMs;
  }

  /**
   * Runs one case: `image` becomes guest RAM, `init` the vCPU state. `patient`: allow 20 times
   * the usual time before calling it a runaway (a second chance for a case the other side
   * finished, in case the host was merely slow).
   */
  run(init: MachineState, image: Uint8Array, patient = false): Outcome {
    this.sync[2] = patient ? this.timeoutMs * 20 : this.timeoutMs;
    this.ram.set(image);
    toKvmRegs(init, this.regs);
    toKvmSregs(init, this.sregs);
    this.vcpu.setSregs(this.sregs);
    this.vcpu.setRegs(this.regs);
    if (init.fpu) {
      // KVM_SET_FPU, not guest code: kvm-pvm's CPL-0 emulator lacks XRSTOR and LDMXCSR. It writes
      // the legacy FXSAVE area only, leaving XSTATE_BV alone: a component the last save found in
      // its init state (XSAVEOPT's init optimization) would come back as zeros (measured: XMM0–1
      // read 0 after the first case). A CPL-3 run that dirties x87 and SSE state first sets both.
      this.primeFpu(init, image);
      this.ram.set(image);
      this.vcpu.setSregs(this.sregs);
      this.vcpu.setRegs(this.regs);
      const k = this.vcpu.getFpu();
      fpuToKvm(init.fpu, k);
      this.vcpu.setFpu(k);
    }
    this.io.length = 0;
    this.generation = (this.generation + 2) & 0x3fffffff;
    const running = this.generation | 1;
    Atomics.store(this.sync, 0, running);
    Atomics.notify(this.sync, 0);
    let kind: Outcome['kind'] = 'runaway';
    let detail: string | undefined;
    try {
      kind = this.loop(running);
    } catch (e) {
      kind = 'unsupported';
      detail = e instanceof Error ? e.message : String(e);
    }
    Atomics.store(this.sync, 0, this.generation);
    Atomics.notify(this.sync, 0);
    if (kind === 'unsupported' && detail === undefined) detail = this.exitDetail();
    const state = fromKvm(this.vcpu.getRegs(), this.vcpu.getSregs());
    if (init.fpu) state.fpu = fpuFromKvm(this.vcpu.getFpu());
    if (kind !== 'hlt' && kind !== 'shutdown') this.completePending();
    return { kind, detail, state, ram: this.ram, io: this.io };
  }

  /** Runs MOV EAX, 1; MOVD XMM0, EAX; FLD1 at CPL 3 from `init`: x87 and SSE state not in init. */
  private primeFpu(init: MachineState, image: Uint8Array): void {
    const code = [0xb8, 1, 0, 0, 0, 0x66, 0x0f, 0x6e, 0xc0, 0xd9, 0xe8, 0xf4];
    // The harness enters the case's code at CODE (its IRETQ frame is in the image).
    const primed = image.slice();
    primed.set(code, CODE);
    this.run({ ...init, fpu: undefined }, primed);
    toKvmRegs(init, this.regs);
    toKvmSregs(init, this.sregs);
  }

  private loop(running: number): Outcome['kind'] {
    const run = this.vcpu.kvmRun;
    for (let exits = 0; exits < MAX_EXITS; exits++) {
      let reason: number;
      try {
        reason = this.vcpu.run();
      } catch (e) {
        if (e instanceof KvmError && e.errno === EINTR) {
          // A kick meant for this run means runaway; a late one for an earlier run is harmless.
          if (Atomics.load(this.sync, 1) === running) return 'runaway';
          exits--;
          continue;
        }
        throw e;
      }
      switch (reason) {
        case KVM_EXIT.HLT:
          return 'hlt';
        case KVM_EXIT.SHUTDOWN:
          return 'shutdown';
        case KVM_EXIT.IO: {
          const io = run.io;
          const dir = io.direction;
          for (let i = 0; i < io.count; i++) {
            const item = this.io.length >>> 2;
            const value = dir === 0 ? ioValue(io.port, io.size, item) : io.valueAt(i);
            if (dir === 0) io.setValueAt(i, value);
            if (this.io.length < IO_LOG_MAX) this.io.push(dir, io.port, io.size, value);
          }
          break;
        }
        case KVM_EXIT.MMIO: {
          const mmio = run.mmio;
          if (!mmio.isWrite) mmio.data.fill(0xff);
          break;
        }
        default:
          return 'unsupported';
      }
    }
    return 'runaway';
  }

  /**
   * A case that ended on an I/O or MMIO exit (budget of exits used up) leaves the instruction
   * half done: KVM completes it at the next KVM_RUN, whatever KVM_SET_REGS says in between, which
   * would leak into the next case. KVM_RUN with `immediate_exit` completes it without running
   * the guest (Documentation/virt/kvm/api.rst, KVM_RUN: immediate_exit).
   */
  private completePending(): void {
    const run = this.vcpu.kvmRun;
    run.immediateExit = 1;
    try {
      this.vcpu.run();
    } catch {
      // EINTR is the expected answer.
    }
    run.immediateExit = 0;
  }

  /**
   * Puts back the vCPU state KVM_SET_REGS/SREGS do not cover and a case may have changed (x86emu
   * starts each case from its power-on values, SDM Vol. 3 Table 9-1): DR0–DR3/DR6/DR7 (through a
   * tiny guest routine: @kvm/core has no KVM_SET_DEBUGREGS), the SYSENTER MSRs, and the x87/SSE
   * state (FCW 0x40, tags all valid-zero, MXCSR 0x1F80).
   */
  resetExtraState(): void {
    const code = [
      0x31,
      0xc0, // xor eax, eax
      0x0f,
      0x23,
      0xc0,
      0x0f,
      0x23,
      0xc8,
      0x0f,
      0x23,
      0xd0,
      0x0f,
      0x23,
      0xd8, // mov dr0..dr3, eax
      0xb8,
      0xf0,
      0x0f,
      0xff,
      0xff,
      0x0f,
      0x23,
      0xf0, // mov eax, 0xffff0ff0; mov dr6, eax
      0xb8,
      0x00,
      0x04,
      0x00,
      0x00,
      0x0f,
      0x23,
      0xf8, // mov eax, 0x400; mov dr7, eax
      0xf4, // hlt
    ];
    const image = this.ram.slice();
    image.set(code, RESET_ROUTINE);
    const s = baseState('pm32');
    s.eip = RESET_ROUTINE;
    // DR7.GD makes the first MOV DR raise #DB (which clears GD): run it again then.
    for (let tries = 0; tries < 3; tries++) {
      const o = this.run(s, image);
      if (o.kind === 'hlt' && o.state.eip === RESET_ROUTINE + code.length) break;
    }
    this.vcpu.setMsrs([0x174, 0x175, 0x176].map((index) => ({ index, data: 0n })));
    const fpu = this.vcpu.getFpu();
    fpu.fpr.fill(0);
    fpu.xmm.fill(0);
    fpu.fcw = 0x40;
    fpu.fsw = 0;
    fpu.ftwx = 0xff;
    fpu.lastOpcode = 0;
    fpu.lastIp = 0n;
    fpu.lastDp = 0n;
    fpu.mxcsr = 0x1f80;
    this.vcpu.setFpu(fpu);
  }

  private exitDetail(): string {
    const r = this.vcpu.kvmRun;
    return `KVM exit reason ${r.exitReason}`;
  }

  close(): void {
    Atomics.store(this.sync, 0, -1);
    Atomics.notify(this.sync, 0);
    void this.watchdog.terminate();
    this.vm.close();
    this.kvm.close();
  }
}
