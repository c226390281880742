/**
 * x86emu's side, through its public API only: a `Cpu` over RAM the size of the host VM's
 * (above it: open bus, as the host side answers MMIO), port I/O answered with `ioValue`,
 * default CPUID/MSRs. Reused for every case.
 *
 * RDRAND and RDSEED read `CpuOptions.random`: here a seeded sequence started afresh at each run
 * from the case's initial registers (`randomSeedOf`), so that x86emu's side of a case is the same
 * on every run (the reproducer, the blame's shorter re-runs, the classifier's trace). The host's
 * values are its CPU's own and never equal: a garbage case that reaches RDRAND is placed by
 * replaying it with the host's values (known-garbage64.ts), generated cases do not contain it.
 *
 * `run(budget)` bounds instructions and REP iterations alike. As a safety net against a
 * regression there (a REP with a huge count over memory outside RAM, or ports, once ran for
 * hours), the memory and port slow paths count their calls and, past a limit, abort the run
 * by throwing `BudgetExceeded`: the case is then reported as x86emu exceeding its budget,
 * never as a hang of the tester.
 */
import {
  Cpu,
  jitDefault,
  type PhysicalMemory,
  type PortIoOps,
  type RandomOps,
  StopReason,
  seededRandom,
} from '@kvm/x86emu';
import { RAM_SIZE } from './layout.js';
import { fromCpuState, type MachineState, toCpuState } from './machine-state.js';
import type { Outcome } from './outcome.js';
import { IO_LOG_MAX, ioValue } from './outcome.js';

/** Instructions one case may retire before it counts as runaway. */
export const EMU_BUDGET = 200_000;
/** Slow-path memory accesses and port accesses one case may make before it is aborted. */
export const SLOW_PATH_LIMIT = 1 << 21;

class BudgetExceeded extends Error {}

/** Flat RAM at physical 0 and open bus above, counting slow-path accesses. */
class RamWithOpenBus implements PhysicalMemory {
  readonly bytes = new Uint8Array(RAM_SIZE);
  private readonly views: Uint8Array[] = [];
  slowCalls = 0;

  constructor() {
    for (let p = 0; p < RAM_SIZE >>> 12; p++) this.views.push(this.bytes.subarray(p << 12, (p + 1) << 12));
  }
  pageView(pfn: number): Uint8Array | null {
    return pfn >= 0 && pfn < this.views.length ? this.views[pfn] : null;
  }
  private tick(): void {
    if (++this.slowCalls > SLOW_PATH_LIMIT) throw new BudgetExceeded('slow-path limit');
  }
  read8(pa: number): number {
    this.tick();
    return pa < RAM_SIZE ? this.bytes[pa] : 0xff;
  }
  read16(pa: number): number {
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }
  read32(pa: number): number {
    return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0;
  }
  write8(pa: number, value: number): void {
    this.tick();
    if (pa < RAM_SIZE) this.bytes[pa] = value;
  }
  write16(pa: number, value: number): void {
    this.write8(pa, value & 0xff);
    this.write8(pa + 1, (value >>> 8) & 0xff);
  }
  write32(pa: number, value: number): void {
    this.write16(pa, value & 0xffff);
    this.write16(pa + 2, (value >>> 16) & 0xffff);
  }
}

/** One instruction x86emu began at CPL 3 (`EmuSide.trace`), with the GPRs and RFLAGS before it. */
export interface EmuStep {
  rip: number;
  ripHigh: number;
  gpr: number[];
  gprHigh: number[];
  rflags: number;
}

/** What x86emu did with a case at CPL 3, one instruction at a time (`EmuSide.trace`). */
export interface EmuTrace {
  /** The CPL-3 instructions it began, in order: the last one is where it faulted, if it did. */
  steps: EmuStep[];
  /** The GPRs (low and high halves) before the last step: the registers its fault saw. */
  lastGpr: number[];
  lastGprHigh: number[];
  /** False when the trace stopped at its step limit (a loop still running). */
  complete: boolean;
  /** The `run(1)` calls it made: its cost (a REP's iterations are one step but many calls). */
  calls: number;
  /** How the run ended (RAM: the side's own view, valid until its next run). */
  end: Outcome;
}

/** A change `EmuSide.trace` makes to RFLAGS right after the CPL-3 step numbered `afterStep`. */
export interface FlagsEdit {
  afterStep: number;
  mask: number;
  value: number;
}

/** What `EmuSide.trace` changes in a run, for the classifier's replays. */
export interface TraceOptions {
  /** RFLAGS bits set after one step (the undefined-flags replay). */
  flags?: FlagsEdit;
  /** RDRAND's and RDSEED's bits for this run instead of the case's seeded sequence (the random-value replay). */
  random?: RandomOps;
}

/**
 * The seed of x86emu's RDRAND/RDSEED sequence for a case: a mix of its initial GPRs and RIP, so
 * that cases differ from each other and each one is the same on every run.
 */
export function randomSeedOf(init: MachineState): number {
  let h = 0x811c9dc5;
  const mix = (v: number): void => {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  };
  for (let i = 0; i < init.gpr.length; i++) {
    mix(init.gpr[i]);
    mix(init.gprHigh?.[i] ?? 0);
  }
  mix(init.eip);
  return h;
}

export class EmuSide {
  readonly memory = new RamWithOpenBus();
  private readonly io: number[] = [];
  private readonly cpu: Cpu;
  /** Where the `Cpu`'s RDRAND/RDSEED take their bits this run (`startRandom`). */
  private source: RandomOps = seededRandom(0);

  /** `jit: false` runs the interpreter alone (`trace` needs it: a compiled block runs whole). */
  constructor(options: { jit?: boolean } = {}) {
    const log = this.io;
    const memory = this.memory;
    const random: RandomOps = { random32: () => this.source.random32() };
    const ports: PortIoOps = {
      portIn(port, size) {
        if (++memory.slowCalls > SLOW_PATH_LIMIT) throw new BudgetExceeded('slow-path limit');
        const value = ioValue(port, size, log.length >>> 2);
        if (log.length < IO_LOG_MAX) log.push(0, port, size, value);
        return value;
      },
      portOut(port, size, value) {
        if (++memory.slowCalls > SLOW_PATH_LIMIT) throw new BudgetExceeded('slow-path limit');
        if (log.length < IO_LOG_MAX) log.push(1, port, size, value >>> 0);
      },
    };
    // With the block compiler on (x86emu's default, X86EMU_JIT), blocks compile at their first
    // visit, so that a case's straight-line code runs compiled (see run).
    this.cpu = new Cpu({
      memory: this.memory,
      io: ports,
      random,
      jit: (options.jit ?? true) && jitDefault() ? { hot: 1 } : false,
    });
  }

  /** The run's RDRAND/RDSEED bits: `random`, or the case's own seeded sequence from its start. */
  private startRandom(init: MachineState, random?: RandomOps): void {
    this.source = random ?? seededRandom(randomSeedOf(init));
  }

  /**
   * Runs a case. With the block compiler, twice: the first run decodes the case's code (a block
   * is made of instructions the interpreter has decoded), the second starts from the same state
   * with those decodes kept (the pages the first run changed dropped) and runs them compiled; the
   * second run's outcome is the answer.
   */
  run(init: MachineState, image: Uint8Array): Outcome {
    if (this.cpu.jit === null) return this.runOnce(init, image, true);
    this.runOnce(init, image, true);
    return this.runOnce(init, image, false);
  }

  /**
   * Runs a case one instruction at a time (`run(1)`: one instruction, or one REP iteration) and
   * records where each CPL-3 instruction began, up to `maxSteps` of them; it stops when the case
   * leaves CPL 3 (an exception's delivery) or halts. For classifiers: which instructions x86emu
   * executed, and the registers the last one saw. Needs an `EmuSide` made with `jit: false`.
   * `options` changes the run (flags after one step, RDRAND's values) for the classifier's replays.
   */
  trace(init: MachineState, image: Uint8Array, maxSteps: number, options: TraceOptions = {}): EmuTrace {
    const cpu = this.cpu;
    const s = cpu.state;
    let edit = options.flags;
    this.startRandom(init, options.random);
    this.memory.bytes.set(image);
    this.memory.slowCalls = 0;
    this.io.length = 0;
    const steps: EmuStep[] = [];
    const lastGpr: number[] = [];
    const lastGprHigh: number[] = [];
    let complete = false;
    let calls = 0;
    let kind: Outcome['kind'] = 'runaway';
    try {
      toCpuState(init, s);
      cpu.invalidateCode(0, RAM_SIZE);
      cpu.stateChanged();
      let user = false;
      for (let n = 0; n < maxSteps + 16; n++) {
        if (s.cpl === 3) {
          user = true;
          if (steps.length >= maxSteps) break;
          const last = steps[steps.length - 1];
          // A REP's iterations (the same RIP again) count as one step; so does a jump to itself.
          if (!last || last.rip !== s.rip[0] || last.ripHigh !== s.rip[1])
            steps.push({
              rip: s.rip[0],
              ripHigh: s.rip[1],
              gpr: Array.from(cpu.gpr.subarray(0, 16)),
              gprHigh: Array.from(cpu.gprHigh.subarray(0, 16)),
              rflags: s.rflags[0],
            });
          for (let i = 0; i < 16; i++) {
            lastGpr[i] = cpu.gpr[i];
            lastGprHigh[i] = cpu.gprHigh[i];
          }
        } else if (user) {
          // The exception's delivery: its stub's HLT ends the run.
          const why = cpu.run(16);
          kind = why === StopReason.Hlt ? 'hlt' : why === StopReason.Shutdown ? 'shutdown' : 'runaway';
          complete = true;
          break;
        }
        const why = cpu.run(1);
        calls++;
        if (why !== StopReason.Budget) {
          kind = why === StopReason.Hlt ? 'hlt' : why === StopReason.Shutdown ? 'shutdown' : 'crash';
          complete = true;
          break;
        }
        if (edit && s.cpl === 3 && steps.length === edit.afterStep + 1) {
          // Only once: the next instruction starts a new step.
          s.rflags[0] = (s.rflags[0] & ~edit.mask) | (edit.value & edit.mask);
          cpu.stateChanged();
          edit = undefined;
        }
      }
    } catch (e) {
      if (!(e instanceof BudgetExceeded)) throw e;
      kind = 'budget';
    }
    const end: Outcome = {
      kind,
      state: fromCpuState(s, init.fpu !== undefined),
      ram: this.memory.bytes,
      io: this.io,
    };
    return { steps, lastGpr, lastGprHigh, complete, calls, end };
  }

  private runOnce(init: MachineState, image: Uint8Array, fresh: boolean): Outcome {
    if (!fresh) {
      // Decodes of a page whose bytes the image restores to other values are stale.
      // (set() below rewrites only the image's length.)
      const n = Math.min(RAM_SIZE, image.length);
      const b = Buffer.from(this.memory.bytes.buffer, this.memory.bytes.byteOffset, n);
      const im = Buffer.from(image.buffer, image.byteOffset, n);
      for (let p = 0; p < n; p += 4096) {
        const e = Math.min(p + 4096, n);
        if (b.compare(im, p, e, p, e) !== 0) this.cpu.invalidateCode(p, 4096);
      }
    }
    this.memory.bytes.set(image);
    this.memory.slowCalls = 0;
    this.io.length = 0;
    this.startRandom(init);
    let kind: Outcome['kind'];
    let detail: string | undefined;
    try {
      toCpuState(init, this.cpu.state);
      if (fresh) this.cpu.invalidateCode(0, RAM_SIZE);
      this.cpu.stateChanged();
      const why = this.cpu.run(EMU_BUDGET);
      kind =
        why === StopReason.Hlt
          ? 'hlt'
          : why === StopReason.Shutdown
            ? 'shutdown'
            : why === StopReason.Budget
              ? 'runaway'
              : 'crash';
      if (kind === 'crash') detail = `unexpected StopReason ${why}`;
    } catch (e) {
      if (e instanceof BudgetExceeded) {
        kind = 'budget';
        detail = `one instruction made over ${SLOW_PATH_LIMIT} memory/port accesses outside RAM within run(${EMU_BUDGET})`;
      } else {
        kind = 'crash';
        detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
      }
    }
    return {
      kind,
      detail,
      state: fromCpuState(this.cpu.state, init.fpu !== undefined),
      ram: this.memory.bytes,
      io: this.io,
    };
  }
}
