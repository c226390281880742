/**
 * The engines qemu-lite can run on, by `-accel` name: a table, so that adding the software
 * engine is one row. Each row opens a `Kvm` (the only thing the VMM talks to) and knows how
 * another thread kicks one of its vCPUs out of `run()`.
 */
import type { Kvm, SoftKvmOptions, VcpuKickHandle } from '@kvm/core';
import { hostKvmAvailability, kickHostVcpu, openHostKvm } from '@kvm/host';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';

export interface EngineEntry {
  /** Canonical name, what `Kvm.engine` reports. */
  readonly name: string;
  /** Every `-accel` spelling that selects it. */
  readonly aliases: readonly string[];
  readonly description: string;
  /** Whether it can be used here, and if not, why in words a person can act on. */
  availability(): { available: boolean; reason?: string };
  /**
   * Opens the engine's system handle (`icountShift`: QEMU's -icount, software engines only).
   * Throws (KvmError or EngineUnavailableError) with the reason.
   */
  open(options?: EngineOpenOptions): Kvm;
  /**
   * Each vCPU runs on its own thread (the host engine: KVM_RUN blocks its thread); otherwise the
   * vCPUs of a `-smp` machine take turns on the machine's thread (`vcpu/vcpu-turns.ts`).
   */
  readonly threadPerVcpu: boolean;
  /** Makes the vCPU behind `handle` leave `run()` promptly; callable from any thread. */
  kick(handle: VcpuKickHandle): void;
}

export interface EngineOpenOptions {
  /** `-icount` (software engines). */
  icountShift?: number | 'auto' | null;
  /** vCPUs the machine will make (default 1). */
  cpus?: number;
  /** x86emu's block compiler (software engines; undefined: the engine's default, off). */
  jit?: boolean;
  /** The compiler's code generator (software engines; undefined: `defaultJitBackend()`, wasm). */
  jitBackend?: 'js' | 'wasm';
  /** Guest RAM the machine will allocate: with `jitBackend: 'wasm'`, the size of the wasm arena. */
  ramSize?: number;
  /** RDRAND's and RDSEED's seed (software engines; undefined: the host's generator). */
  randomSeed?: number;
  /** AMD nested paging (the SVM engine; undefined: `SVM_NPT_DEFAULT`, on as kvm-amd's `npt`). */
  npt?: boolean;
  /** Intel EPT with VPID (the VMX engine; undefined: `VMX_EPT_DEFAULT`). */
  ept?: boolean;
}

/** An engine that exists in the command line but not in this build. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/**
 * The software engine's kick protocol: its handle carries a shared Int32Array flag that the
 * run loop checks between instruction batches; setting it makes `run()` return EINTR.
 */
function kickSoftVcpu(handle: VcpuKickHandle): void {
  const flag = handle.flag;
  if (flag instanceof Int32Array) {
    Atomics.store(flag, 0, 1);
    // A KVM_RUN halted in the kernel sleeps on the flag (`haltBlocks`, below).
    Atomics.notify(flag, 0);
  }
}

/**
 * Instructions in one vCPU's turn when several share the thread (the run budget, which the engine
 * counts over the turn's KVM_RUNs: a turn lasts through its userspace exits, `vcpu-turns.ts`). Shorter
 * turns cost entries; longer ones let a vCPU spin away its whole turn on a lock whose holder
 * waits for its own: with tools/guests' `smp` (-smp 4, iter=5000, vmx) 2,000,000 took 99 s,
 * 200,000 8.7 s, 50,000 4.2 s and 10,000 5.0 s on this machine.
 */
export const SMP_TURN_INSTRUCTIONS = 50_000;

/**
 * The software engine's options for qemu-lite: host time or -icount. A halted vCPU may sleep in
 * KVM_RUN only while it is the thread's one vCPU; several take turns on the thread, so a halt
 * returns EINTR instead and the turn passes on (`vcpu/vcpu-turns.ts`) after at most
 * SMP_TURN_INSTRUCTIONS.
 */
function softOptions(o: EngineOpenOptions | undefined): SoftKvmOptions {
  const icountShift = o?.icountShift;
  const haltBlocks = (o?.cpus ?? 1) <= 1;
  const runBudget = haltBlocks ? undefined : SMP_TURN_INSTRUCTIONS;
  return icountShift === null || icountShift === undefined
    ? { haltBlocks, tscClock: 'host', runBudget }
    : { haltBlocks, tscClock: 'instructions', icountShift, runBudget };
}

/**
 * Whether `-accel svm` pages with AMD nested paging when `npt=` is not given (`npt=on|off`
 * chooses): on, as kvm-amd loads with npt=1 where the part has NPT. The guest's CR3 switches,
 * #PF and page-table writes then need no exit (bench-ctxsw32 about 1.2x the bare x86emu instead
 * of 6x with shadow paging; tools/guests/README.md). Exported so that tools/guests asserts each
 * guest's outcome for the paging the engine actually ran (cr3oob: MOV CR3 with a bad PAE PDPTE
 * is #GP with PDPTE registers, a #PF at the first walk through it under NPT, which has none).
 */
export const SVM_NPT_DEFAULT: boolean = true;

/**
 * Whether `-accel vmx` pages with Intel EPT when `ept=` is not given (`ept=on|off` chooses): on,
 * as kvm-intel loads with ept=1 where the part has EPT. The guest's CR3 switches, INVLPG and #PF
 * then need no exit (bench-ctxsw32 about 1.4x the bare x86emu instead of 4x with shadow paging;
 * packages/vmx/README.md); ept=off runs the shadow MMU. Exported for tools/guests, as
 * `SVM_NPT_DEFAULT`.
 */
export const VMX_EPT_DEFAULT: boolean = true;

/**
 * The compiler's code generator when `jit=` names none: `X86EMU_JIT_BACKEND` if it says `js` or
 * `wasm`, else wasm wherever WebAssembly exists (the JS backend where it does not: `node
 * --jitless`). Wasm since 2026-12-06: Debian's boot on `-accel vmx,ept=off` took 21.3-22.4 CPU s
 * to the shell and 31.6-33.9 to the power-off with it against 24.7-26.4 and 39.8-42.0 with the JS
 * backend, in each of three alternated pairs at load 5-6 (x86emu's src/jit/README.md, "The
 * engines' default backend").
 */
export function defaultJitBackend(): 'js' | 'wasm' {
  const env = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_BACKEND : undefined;
  if (env === 'js' || env === 'wasm') return env;
  return typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'object' ? 'wasm' : 'js';
}

/**
 * The x86emu options for a silicon model: its compiler's code generator (`jit=js|wasm`, else
 * `defaultJitBackend`); with the wasm backend, a wasm arena as large as the machine's RAM (the VMM
 * allocates nothing else as guest memory), so that all of it is reachable from compiled code; and
 * RDRAND's seed (`-seed`).
 */
function x86emuOptions(o: EngineOpenOptions | undefined): {
  jit?: boolean;
  jitBackend?: 'js' | 'wasm';
  wasmRamBytes?: number;
  randomSeed?: number;
} {
  const jitBackend = o?.jitBackend ?? (o?.jit === false ? undefined : defaultJitBackend());
  return { jit: o?.jit, jitBackend, wasmRamBytes: o?.ramSize, randomSeed: o?.randomSeed };
}

/** A row for the software engine on one vendor's silicon model. */
function softEngine(
  name: 'vmx' | 'svm',
  vendor: string,
  open: (options?: EngineOpenOptions) => Kvm,
): EngineEntry {
  return {
    name,
    aliases: [name],
    description: `the software engine on the ${vendor} silicon model (@kvm/${name})`,
    availability: () => ({ available: true }),
    open,
    kick: kickSoftVcpu,
    threadPerVcpu: false,
  };
}

export const ENGINES: readonly EngineEntry[] = [
  {
    name: 'host',
    aliases: ['kvm', 'host'],
    description: "the host kernel's /dev/kvm (@kvm/host)",
    availability: () => hostKvmAvailability(),
    open: () => openHostKvm(),
    kick: (handle) => kickHostVcpu(handle),
    threadPerVcpu: true,
  },
  // The vCPU thread owns one vCPU: a HLT in the kernel may sleep in KVM_RUN until a kick, as
  // on Linux, so the loop is the same on every engine. Guest time follows host time, as under
  // QEMU's TCG: the TSC at a nominal 1 GHz, with the PIT, RTC and PM timer on the same clock.
  // With -icount the clock is virtual instead (the TSC counts instructions, halts skip ahead).
  softEngine('vmx', 'Intel VMX', (o) =>
    createVmxKvm({ ...softOptions(o), ...x86emuOptions(o), ept: o?.ept ?? VMX_EPT_DEFAULT }),
  ),
  softEngine('svm', 'AMD SVM', (o) =>
    createSvmKvm({ ...softOptions(o), ...x86emuOptions(o), npt: o?.npt ?? SVM_NPT_DEFAULT }),
  ),
];

/** The engine an `-accel` name selects, or undefined. */
export function engineByName(accel: string): EngineEntry | undefined {
  return ENGINES.find((e) => e.aliases.includes(accel));
}

/** Every accepted `-accel` spelling, for messages. */
export const ACCEL_NAMES: readonly string[] = ENGINES.flatMap((e) => e.aliases);

/**
 * The engine to use when `-accel` was not given: the host's /dev/kvm where it is usable;
 * otherwise an error that says why and how to choose.
 */
export function defaultEngine(): EngineEntry {
  const host = ENGINES[0];
  const availability = host.availability();
  if (availability.available) return host;
  throw new EngineUnavailableError(
    `no -accel given and the host engine cannot be used: ${availability.reason}. ` +
      `Choose an engine with -accel ${ACCEL_NAMES.join('|')}.`,
  );
}
