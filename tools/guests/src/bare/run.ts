/**
 * `runOnBareCpu`: boots a guest image on the bare machine (x86emu's `Cpu` alone, see
 * `machine.ts`) with qemu-lite's multiboot loader, runs it to its debug-exit, triple fault or
 * time limit, and returns the same report `runGuestReport` gives for a VMM run.
 *
 * The run loop is the vCPU loop of a VMM with the hypervisor taken out: run the CPU for a slice
 * that ends at the PIT's next IRQ 0 deadline, raise the edges that are due, and on HLT skip
 * virtual time to the next deadline (nothing else can wake the CPU on this machine).
 */
import { readFileSync } from 'node:fs';
import { Flag, StopReason } from '@kvm/x86emu';
import { type GuestInfo, guestByName } from '../manifest.js';
import { loadQemuLite } from '../qemu-lite.js';
import { type ParsedReport, parseReport, type SkippedCheck } from '../report.js';
import { DEFAULT_TIMEOUT_MS, type Ending, type GuestReport, judge } from '../runner.js';
import { applyEntryState, stateToSregs } from './entry-state.js';
import { BareMachine, type BareMachineOptions, NS_PER_INSTRUCTION } from './machine.js';

/** Longest slice between looks at the clock (instructions). */
const MAX_SLICE = 1 << 20;

export interface BareRunOptions {
  /** Kernel command line (multiboot cmdline), e.g. `iterations=20`. */
  append?: string;
  /** Wall-clock limit; default the runner's 30 s. */
  timeoutMs?: number;
  /** Stop after this many retired instructions (ending 'timeout'); default unlimited. */
  maxInstructions?: number;
  /** RAM size; default the guest's manifest `memory`. */
  memory?: string;
  /** MSRs and CPUID beyond x86emu's own (see `BareMachineOptions`). */
  msr?: BareMachineOptions['msr'];
  cpuid?: BareMachineOptions['cpuid'];
  /** x86emu's block compiler on or off; default x86emu's default (`X86EMU_JIT`). */
  jit?: boolean;
  /** The block compiler's code generator; 'wasm' with RAM in wasm memory (`BareMachineOptions.backend`). */
  backend?: 'js' | 'wasm';
}

export interface BareReport extends Omit<GuestReport, 'accel' | 'vmm'> {
  readonly accel: 'x86emu';
  /** No VMM: the guest ran on the interpreter with qemu-lite's devices around it. */
  readonly vmm: 'bare';
  /** Guest instructions retired (exact: the interpreter counts each one). */
  readonly instructions: number;
  /** Virtual time at the end, ns (instructions plus halted time). */
  readonly virtualNs: number;
  /**
   * x86emu's counters at the end (TLB misses, decodes, exceptions, interrupts, …); with the block
   * compiler, also `jitBlocks` (compiled), `jitInstructions` (retired in compiled code),
   * `jitCompileMs`, `jitSourceBytes` (the code cache's generated source) and `jitFlushes`.
   */
  readonly cpuStats: Readonly<Record<string, number>>;
}

function resolve(guest: string | GuestInfo): GuestInfo {
  if (typeof guest !== 'string') return guest;
  const info = guestByName(guest);
  if (!info) throw new Error(`no guest named ${guest} (see GUESTS in @kvm/guests)`);
  return info;
}

export async function runOnBareCpu(
  guest: string | GuestInfo,
  opts: BareRunOptions = {},
): Promise<BareReport> {
  const info = resolve(guest);
  const ql = await loadQemuLite();
  const image = new Uint8Array(readFileSync(info.image));
  const ramSize = ql.parseSize(opts.memory ?? info.memory);
  const m = new BareMachine(ql, {
    ramSize,
    msr: opts.msr,
    cpuid: opts.cpuid,
    jit: opts.jit,
    backend: opts.backend,
  });
  const loaded = ql.loadMultiboot(
    image,
    { ram: m.ram, ramSize, e820: ql.buildE820(ramSize) },
    { cmdline: opts.append ?? '' },
  );
  const cpu = m.cpu;
  applyEntryState(cpu.state, loaded.entry.sregs(stateToSregs(cpu.state)), loaded.entry.regs);
  cpu.stateChanged();

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxInstructions = opts.maxInstructions ?? Number.POSITIVE_INFINITY;
  const t0 = performance.now();
  let ending: Ending | undefined;
  let detail: string | undefined;
  while (ending === undefined) {
    if (m.exitStatus !== undefined) {
      ending = 'debug-exit';
      break;
    }
    if (performance.now() - t0 > timeoutMs || cpu.instructionsRetired >= maxInstructions) {
      ending = 'timeout';
      break;
    }
    let now = m.nowNs();
    m.pit.poll(now);
    const untilIrq = Math.ceil((m.pit.nextDeadline() - now) / NS_PER_INSTRUCTION);
    const budget = Math.max(1, Math.min(MAX_SLICE, untilIrq, maxInstructions - cpu.instructionsRetired));
    const why = cpu.run(budget);
    switch (why) {
      case StopReason.Budget:
      case StopReason.Requested:
        break;
      case StopReason.Hlt: {
        if (m.exitStatus !== undefined) break;
        // The CPU takes the interrupt on the next run() if one can be delivered now.
        if (cpu.state.rflags[0] & Flag.IF && m.pic.hasInterrupt()) break;
        const deadline = m.pit.nextDeadline();
        if ((cpu.state.rflags[0] & Flag.IF) === 0 || !Number.isFinite(deadline)) {
          ending = 'other';
          detail = `HLT at 0x${cpu.state.rip[0].toString(16)} with ${
            cpu.state.rflags[0] & Flag.IF ? 'no timer running' : 'IF=0'
          }: nothing on this machine can wake the CPU`;
          break;
        }
        now = m.nowNs();
        if (deadline > now) m.idleNs += deadline - now;
        break;
      }
      case StopReason.Shutdown:
        ending = 'shutdown';
        detail = 'triple fault';
        break;
      default:
        // Intercept and Exception need hooks the bare CPU does not install.
        ending = 'failure';
        detail = `x86emu stopped with reason ${why}`;
    }
  }
  const wallMs = performance.now() - t0;
  const serial = m.serialText();
  const report: ParsedReport = parseReport(serial);
  const status = ending === 'debug-exit' ? (m.exitStatus ?? 0) : 0;
  const skipped: SkippedCheck[] = report.skipped;
  return {
    guest: info.name,
    accel: 'x86emu',
    vmm: 'bare',
    status,
    ending,
    detail,
    passed: report.passed,
    failed: report.failed,
    skipped,
    summary: report.summary,
    ok: judge(info.expect, ending, status, report),
    expected: info.expect,
    serial,
    stats: undefined,
    wallMs,
    instructions: cpu.instructionsRetired,
    virtualNs: m.nowNs(),
    cpuStats: {
      ...cpu.stats,
      ...(cpu.jit
        ? {
            jitBlocks: cpu.jit.stats.compiled,
            jitInstructions: cpu.jit.stats.instructions,
            jitCompileMs: cpu.jit.stats.compileMs,
            jitSourceBytes: cpu.jit.stats.sourceBytes,
            jitFlushes: cpu.jit.stats.flushes,
          }
        : {}),
    },
  };
}
