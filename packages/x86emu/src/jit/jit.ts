/**
 * The block compiler's front: `Cpu.run` hands it the decode at RIP at every instruction boundary
 * where a block may run (after the loop's event checks; fetched once for both, `Cpu.fetchFirst`);
 * it runs a compiled block when one starts there and the checks `Cpu.step` makes per instruction
 * are known to pass for the whole block, else it counts the boundary toward compiling and lets the
 * interpreter step that decode. Blocks hang on the decoded instruction they start at
 * (`Insn.jitBlock`), so everything that drops decodes (a write to a code frame, a TLB flush on
 * CR3/CR0/CR4/INVLPG changing which frame RIP maps to, a mode change re-keying the decode) drops
 * or bypasses the compiled block with it. The cache is bounded: when it holds `MAX_BLOCKS`
 * blocks, all are dropped (QEMU's `tb_flush` when its code buffer fills) and hot code recompiles.
 */
import type { JitTuning } from '../api/cpu-options.js';
import type { Cpu } from '../cpu/cpu.js';
import { crossPageOk, type PageCode, switchCodePage, switchCodePage64 } from '../cpu/fetch.js';
import type { Insn } from '../decoder/insn.js';
import { holdAsDoubles } from '../double-fields.js';
import { Flag } from '../state.js';
import { BAILED, type JitBlock } from './block.js';
import { compileRegion } from './compile.js';
import {
  collectRegion,
  FORWARD_REGION_BLOCKS,
  MAX_REGION_BLOCKS,
  REGION_BLOCKS,
  type RegionBlock,
} from './region.js';
import { notRep, ROW_KIND } from './rows.js';
import { WA } from './wasm/api.js';
import { type CompileQueue, compileQueue, compileWorkerUnavailable } from './wasm/async-compile.js';
import { WASM_HOT, WasmBatch } from './wasm/batch.js';
import {
  installWasm,
  madeWasmBackend,
  type PreparedWasm,
  prepareWasm,
  type WasmRegionSpec,
} from './wasm/compile.js';

const TWO32 = 0x100000000;

/**
 * Entries of an instruction boundary before a block is compiled there (`X86EMU_JIT_HOT`
 * overrides). Compiling costs about a millisecond a block (the wasm backend's: ~0.4 ms of wall time
 * a region, a third of it ours, plus V8's tier-up of the functions that run on; README, "When to
 * compile on the engines") and a new function starts slow in V8,
 * so a block pays only after thousands of runs: measured on the first 10^8 instructions of
 * Debian's kernel (bare Cpu, CPU seconds; interpreter alone 7.7), a threshold of 32 took 17.1
 * (4,456 blocks), 500 took 13.9, 4,096 took 12.4, 20,000 took 11.1; hot loops reach any of
 * them at once.
 */
export const HOT = 1000;
/**
 * What a boundary reached from a compiled block's exit (`lookup`, `lookup64`) counts toward
 * compiling a block there, where the interpreter's boundaries count 1. The run loop then fetches
 * the same decode and `blockAt` counts it once more: such code compiles after a quarter of `hot`
 * visits (1,250 at the engines' 5,000). Code next to compiled code pays for compiling early where
 * cold code does not: on Debian's whole bare boot (wasm backend, threshold 20,000) counting those
 * visits once took 2.3 % more CPU time in every pair, counting them 4 in all 1.5 % less in every
 * pair, while a threshold of 5,000 for everything was then slower (README, "Kernel code, sixth
 * round"; measured at load 3.5-12.5: on a quiet machine 5,000 is the engines' threshold now,
 * engine-policy.ts).
 * The wasm backend's only (`Jit.exitVisit`): the JS backend, whose compiles cost more, took 1–8 %
 * more on the same boot with it, and counts such a visit 1 (2 in all) as before.
 */
export const EXIT_VISIT = 3;
/** Compiled blocks kept before the cache is flushed. */
export const MAX_BLOCKS = 4096;
/**
 * Instructions the interpreter runs from a block start that count as one visit toward compiling
 * a block there (`Jit.runUnit`, `X86EMU_JIT_RUN_UNIT`; 0 counts visits alone): a visit counts
 * the larger of 1 and its straight run's length over this, so the threshold weighs what the
 * interpreter spends there. Visits alone, a block of 1,500 instructions run 600 times (0.9 M
 * instructions interpreted, some 0.1 s) never compiled at a threshold of 1000 while a block of
 * three run 1000 times did (Debian's `sha256_update`, `blake2s_compress_generic`, ...). The wasm
 * backend's default (its compiles are cheap); the JS backend counts visits alone (0), as the
 * software engine does (engine-policy.ts: measured no better there). README, "When to compile".
 */
export const RUN_UNIT = 8;
/** Instructions of one run counted at most (an interrupt's handler or a long REP after the start). */
const MAX_RUN = 2048;
/** `JitTuning.earlyWindow`'s default: instructions within which `early` visits compile a block. */
export const EARLY_WINDOW = 2_000_000;

/** The number in environment variable `name`, or `fallback` where it is unset or not a number ≥ 0. */
function envNumber(name: string, fallback: number): number {
  const v = typeof process !== 'undefined' ? process.env?.[name] : undefined;
  const n = v === undefined || v === '' ? Number.NaN : Number(v);
  return n >= 0 ? n : fallback;
}

/**
 * `Jit.seqEnd` after the straight-line instruction at `key` (its seqEnd coordinates), `length`
 * bytes long, that the interpreter steps: the boundary after it when that lies in the same page,
 * else -1. A block never runs into the next page (region.ts `collect`), so code reached there by
 * falling through is a block's start and counts; not counted, the rest of a loop body after an
 * instruction straddling a page end (never in a block: fetch.ts keeps no decode of it) stayed
 * interpreted for good (Debian's module signature check: mpihelp_submul_1, sha256_update).
 */
export function seqAfter(key: number, length: number): number {
  return (key & 0xfff) + length < 4096 ? key + length : -1;
}

/**
 * Whether block `b`, entered at page offset `off` of the code page, may run as far as its
 * instructions reach: within the page always; past its end (an instruction straddling it, which
 * fetch.ts keeps, ends the block: region.ts `collect`) only while the next page maps the frame
 * that instruction was decoded from (fetch.ts crossPageOk). No walk: false leaves the boundary to
 * the interpreter's fetch.
 */
function crossOk(cpu: Cpu, b: JitBlock, off: number): boolean {
  return off + (b.endEip - b.eip) <= 4096 || crossPageOk(cpu);
}

/** Tuning of one `Jit` (tests make it eager and small). */
export type JitOptions = JitTuning;
/** `jitHits` of a decode where no block can start (never compiled). */
const NEVER = -0x40000000;
/**
 * `jitHits` of a block start whose module is being compiled off this thread (`asyncCompile`):
 * negative, so that neither `blockAt` (which counts up to exactly `hot`), nor `lookup` (up to
 * `hot`), nor the wasm batch (`WasmBatch.take`) compiles it again meanwhile; visits count up from
 * it by at most `EXIT_VISIT` each, nowhere near 0. Installing the block, or dropping the module,
 * ends it.
 */
const PENDING = -0x20000000;
/**
 * Modules in flight to the compile worker at most; past it a compile is made here, synchronously,
 * as without the worker (a burst of new code outruns one worker thread).
 */
export const MAX_IN_FLIGHT = 16;
/** A module whose reply has not come after this long (ms) means the worker is lost: compile here from then on. */
const LOST_MS = 10_000;

/** A module in flight to the compile worker: what it holds, the decodes its blocks go on, when it left. */
interface InFlight {
  p: PreparedWasm;
  specs: WasmRegionSpec[];
  owners: Insn[];
  t: number;
}
/** Closes a collected `Jit`'s channel to the compile worker. */
const closer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<CompileQueue>((q) => q.close())
    : null;

/**
 * The default of `CpuOptions.jit`: on, unless the environment variable `X86EMU_JIT` is `0` (the
 * interpreter only, for every CPU whose options do not say).
 */
export function jitDefault(): boolean {
  return typeof process === 'undefined' || process.env?.X86EMU_JIT !== '0';
}

/**
 * The default the software engine's silicon models (vmx, svm) use for their guest CPU: on, as on
 * a bare `Cpu`, unless `X86EMU_JIT=0`; `-accel vmx,jit=off` selects the interpreter. The engines
 * compile later than a bare `Cpu` (`engine-policy.ts`): at the bare threshold a kernel's cold
 * paths compiled faster than they ran, which once looked like a hang in Debian's boot.
 */
export function engineJitDefault(): boolean {
  return jitDefault();
}

export class Jit {
  /** Decodes that own a compiled block, oldest first (for the cache flush). */
  private owners: Insn[] = [];
  readonly hot: number;
  readonly maxBlocks: number;
  readonly regionBlocks: number;
  /** Blocks of a 64-bit region that keeps its forward blocks (`forwardBlocks`). */
  readonly forwardRegionBlocks: number;
  /** The code generator (`JitTuning.backend`, `X86EMU_JIT_BACKEND`): wasm is a prototype (wasm/). */
  readonly backend: 'js' | 'wasm';
  /**
   * Whether 64-bit regions keep their page's forward blocks, not only those on a loop through the
   * entry (region.ts `collectRegion`): the wasm backend's, unless `X86EMU_JIT_REGIONS=cyclic`.
   */
  readonly forwardBlocks: boolean;
  /** The wasm backend's module batch (wasm/batch.ts): warm block starts compiled with the next hot one. */
  readonly batch: WasmBatch | null;
  /** Entries at which a block start joins the wasm batch (a quarter of `hot`; 0 for the JS backend). */
  readonly warm: number;
  /** What a visit from a block's exit counts in `lookup` (`EXIT_VISIT` for wasm, else 1). */
  readonly exitVisit: number;
  /** Instructions of a run from a block start that count as a visit (`RUN_UNIT`; 0: visits alone). */
  readonly runUnit: number;
  /**
   * Visits that compile at once when they came within `earlyWindow` instructions of the first
   * (`JitTuning.early`; 0: off). A hot loop's block compiles after a few hundred visits in
   * microseconds, where code of a few thousand visits over the whole boot still waits for `hot`.
   */
  readonly early: number;
  readonly earlyWindow: number;
  /**
   * Visits at which a block start on its way to `early` (its visits so far within the window)
   * joins the wasm batch as `warm` ones do (half of `early`; 0: off, as with
   * `X86EMU_JIT_EARLY_NOTE=0`): the next compile takes it along. Early compiles, each of a module
   * of its own without it, cost Debian's boot on `-accel vmx` ~4 % (16 alternated pairs, lower in
   * 13; README "V8's shapes, the boundary, and compiling by rate").
   */
  readonly earlyNote: number;
  /** Why compiling is impossible here (code generation refused), or null. */
  unavailable: string | null = null;
  /**
   * The block start whose visit was counted last, while the interpreter runs on from it (null
   * after a block, or anything that ends that run), and the CPU's instruction count then
   * (`instructionsRetired + runCount`): the next counted boundary credits it with the run's
   * length (`settle`).
   */
  private runFrom: Insn | null = null;
  private runAt = 0;
  /**
   * The linear address (RIP[31:0] in 64-bit mode) just past the last boundary looked up when that
   * was a straight-line instruction the interpreter then stepped (-1 after a block or anything
   * else). A boundary there is the middle of a block, not a block's start: runs that end with a
   * block that did not fit the budget, and runs that start where the last one stopped, step
   * through the middle of hot blocks once each; counted, those boundaries compiled after `hot`
   * runs into blocks (and regions) only those tails entered — bench-int32: 17 of its 25 blocks.
   * Block starts are reached by branches, by a block's exit, or after an instruction that may not
   * be in a block, and count, as do boundaries after a page crossing (`seqAfter`). The
   * interpreter's straight runs (cpu/straight-run.ts), which step without a lookup per boundary,
   * set it where they stop.
   */
  seqEnd = -1;
  /**
   * Whether modules are compiled by the compile worker (`JitTuning.asyncCompile`, wasm backend
   * only; false once no worker can be had: `asyncUnavailable` says why).
   */
  asyncCompile: boolean;
  /** Why `asyncCompile` was asked for and is off, or null. */
  asyncUnavailable: string | null = null;
  /** Why the compile worker last failed to compile a module (then compiled here: `stats.asyncFailed`), or null. */
  asyncError: string | null = null;
  /** The channel to the compile worker (made at the first compile), its reply counter, and the modules in flight by id. */
  private queue: CompileQueue | null = null;
  private replies: Int32Array | null = null;
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;
  /** Post-to-install times of the modules installed (ms), in order: `asyncStats`' latency. */
  readonly compileLatencies: number[] = [];

  constructor(options: JitOptions = {}) {
    const env = typeof process !== 'undefined' ? Number(process.env?.X86EMU_JIT_HOT) : Number.NaN;
    this.maxBlocks = Math.max(1, options.maxBlocks ?? MAX_BLOCKS);
    this.regionBlocks = Math.max(1, Math.min(MAX_REGION_BLOCKS, options.regionBlocks ?? REGION_BLOCKS));
    this.forwardRegionBlocks = Math.max(
      1,
      Math.min(
        MAX_REGION_BLOCKS,
        options.forwardRegionBlocks ?? options.regionBlocks ?? FORWARD_REGION_BLOCKS,
      ),
    );
    const be = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_BACKEND : undefined;
    this.backend = (options.backend ?? be) === 'wasm' ? 'wasm' : 'js';
    const wasm = this.backend === 'wasm';
    const regionsEnv = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_REGIONS : undefined;
    this.forwardBlocks = wasm && regionsEnv !== 'cyclic';
    this.hot = Math.max(1, options.hot ?? (env > 0 ? env : wasm ? WASM_HOT : HOT));
    this.batch = wasm ? new WasmBatch() : null;
    this.warm = wasm && this.hot >= 8 ? this.hot >> 2 : 0;
    this.exitVisit = wasm ? EXIT_VISIT : 1;
    const unit = typeof process !== 'undefined' ? Number(process.env?.X86EMU_JIT_RUN_UNIT) : Number.NaN;
    this.runUnit = Math.max(0, options.runUnit ?? (unit >= 0 ? unit : wasm ? RUN_UNIT : 0));
    const early = Math.max(0, options.early ?? envNumber('X86EMU_JIT_EARLY', 0));
    this.early = early < this.hot ? early : 0;
    const note = this.early > 0 && this.warm > 0 && envNumber('X86EMU_JIT_EARLY_NOTE', 1) !== 0;
    this.earlyNote = note ? Math.max(1, this.early >> 1) : 0;
    this.earlyWindow = Math.max(0, options.earlyWindow ?? envNumber('X86EMU_JIT_EARLY_WINDOW', EARLY_WINDOW));
    const asyncEnv = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_ASYNC : undefined;
    this.asyncCompile = wasm && (options.asyncCompile ?? asyncEnv === '1');
    // Instruction counts and RIPs that pass 2^31, milliseconds: doubles from the start (double-fields.ts).
    holdAsDoubles(this, ['runAt', 'seqEnd']);
    holdAsDoubles(this.stats, ['instructions', 'compileMs', 'sourceBytes']);
  }
  readonly stats = {
    /** Blocks compiled, and the time spent compiling them (ms). */
    compiled: 0,
    compileMs: 0,
    /** Entries into compiled code from the run loop, and the instructions retired there (faulting runs not counted). */
    entries: 0,
    instructions: 0,
    /** Compiled functions called (a chain of blocks counts each; a region's jumps inside it none). */
    runs: 0,
    /** Of those, the ones chained to through a direct exit's link, without a lookup. */
    linked: 0,
    /** Entries made by the interpreter's straight runs where they met a block (`enterFromRun`). */
    runEntries: 0,
    /** Cache flushes (the cache was full). */
    flushes: 0,
    /** Generated source held by live blocks (bytes): the code cache's size. */
    sourceBytes: 0,
    /**
     * `asyncCompile`: modules posted to the compile worker, installed from it, the most in flight
     * at once, regions dropped because their code changed (or the cache was flushed) while in
     * flight, modules the worker failed to compile (compiled again here), and compiles made here
     * because `MAX_IN_FLIGHT` were in flight.
     */
    asyncPosted: 0,
    asyncInstalled: 0,
    asyncMaxInFlight: 0,
    asyncStale: 0,
    asyncFailed: 0,
    asyncSync: 0,
  };

  /**
   * A straight run of the interpreter (cpu/straight-run.ts) reached `insn`, a decode of the code
   * page with no block on it, by a branch: counts the visit as `blockAt` would have at the run
   * loop's boundary and returns true for the run to go on; false, counting nothing, where the
   * visit must be `blockAt`'s own (it compiles at `hot`, notes the wasm batch's candidates at
   * `warm`).
   */
  visitTarget(cpu: Cpu, insn: Insn): boolean {
    if (this.unavailable !== null) return true;
    // Modules the compile worker has finished: one may hold the block for `insn`, `blockAt`'s to run.
    this.poll(cpu);
    if (insn.jitBlock !== null) return false;
    const n = insn.jitHits + 1;
    if (n === this.hot || n === this.warm || n === this.early || n === this.earlyNote) return false;
    if (n === 1) insn.jitSince = cpu.instructionsRetired + cpu.runCount;
    insn.jitHits = n;
    if (this.runFrom !== null) this.settle(cpu);
    this.runFrom = insn;
    this.runAt = cpu.instructionsRetired + cpu.runCount;
    return true;
  }

  /** Whether `insn`'s `early` visits came within `earlyWindow` instructions of its first. */
  private soon(cpu: Cpu, insn: Insn): boolean {
    return cpu.instructionsRetired + cpu.runCount - insn.jitSince <= this.earlyWindow;
  }

  /**
   * Credits the block start counted last (`runFrom`) with the instructions the interpreter ran
   * from it since (up to `MAX_RUN`): its visit counts the larger of 1 and that over `runUnit`. The
   * credit stops one short of the next threshold (`warm`, then `hot`), so that the compile and the
   * wasm batch's note stay with a visit of the start itself (`blockAt`, `visitTarget`), where its
   * page and mode are at hand.
   */
  private settle(cpu: Cpu): void {
    const from = this.runFrom as Insn;
    this.runFrom = null;
    const unit = this.runUnit;
    if (unit === 0) return;
    let run = cpu.instructionsRetired + cpu.runCount - this.runAt;
    if (run > MAX_RUN) run = MAX_RUN;
    const credit = ((run / unit) | 0) - 1;
    const h = from.jitHits;
    if (credit <= 0 || h < 0 || from.jitBlock !== null) return;
    const lim = h < this.warm - 1 ? this.warm - 1 : this.hot - 1;
    if (h < lim) from.jitHits = Math.min(h + credit, lim);
  }

  /** Live compiled blocks. */
  get blocks(): number {
    return this.owners.length;
  }

  /**
   * Runs the compiled block hanging on `insn`, the decode at RIP the run loop has just fetched
   * (`Cpu.fetchFirst`, under `Cpu.fetchFirstOk`'s conditions), and the blocks chained after it,
   * if there is one and it fits the budget; else returns false to let the interpreter step `insn`
   * (`blockAt` counts the boundary toward compiling). Never throws except as the block's
   * instructions do (guest faults unwind as from `step()`, with `runCount` and `startEip` set for
   * `Cpu.run`'s handler).
   */
  enter(cpu: Cpu, insn: Insn): boolean {
    let b = this.blockAt(cpu, insn);
    if (b === null) return false;
    // The interpreter's run from the last counted start ends here (the block's instructions are not its).
    if (this.runFrom !== null) this.settle(cpu);
    // Chain: the next block runs straight away while nothing asks for the run loop's checks
    // (irqCheck covers events, interrupts, HLT and stop requests; the budget is checked per block).
    const count0 = cpu.runCount;
    this.stats.entries++;
    do {
      this.stats.runs++;
      this.seqEnd = -1;
      const next: Insn | undefined = b.run(cpu);
      if (next === BAILED) {
        // It left before an instruction for the interpreter (block.ts BAILED): step it now if
        // nothing ran, else after the run loop's checks (the lookup would find the same block).
        if (cpu.runCount === count0) return false;
        break;
      }
      if (cpu.irqCheck) break;
      const linked: JitBlock | null = next !== undefined ? this.link(cpu, next) : null;
      if (linked !== null) {
        this.stats.linked++;
        b = linked;
      } else b = this.lookup(cpu);
    } while (b !== null);
    this.stats.instructions += cpu.runCount - count0;
    return true;
  }

  /**
   * `enter` for a straight run of the interpreter (cpu/straight-run.ts) that stopped in 64-bit mode
   * at `insn`, the code page's decode at RIP, because a block hangs on it: what the run loop would
   * do next (`Cpu.fetchFirst`'s bookkeeping, then `enter`) when `blockAt` would run the block;
   * else false, nothing done, and the run loop's own fetch and lookup follow as before (the same
   * counts, the same compiles). Returns what `enter` returns.
   */
  enterFromRun(cpu: Cpu, insn: Insn): boolean {
    const b = insn.jitBlock;
    const s = cpu.state;
    const eip = s.rip[0];
    if (b === null || b.eip !== eip || b.ripHi !== s.rip[1] || cpu.runLimit - cpu.runCount < b.length)
      return false;
    if (!crossOk(cpu, b, eip & 0xfff)) return false;
    cpu.startEip = eip;
    cpu.startRipHi = s.rip[1];
    cpu.lastInsnLength = 0;
    this.stats.runEntries++;
    return this.enter(cpu, insn);
  }

  /**
   * The block to run at RIP now, hanging on `insn`, the decode there; else null, counting the
   * boundary toward compiling a block (compiled at the threshold, and then run). Cold code pays
   * these few field tests on the decode it fetches anyway: no code-page test or decode lookup of
   * its own (what `lookup` does after a block's exit).
   */
  private blockAt(cpu: Cpu, insn: Insn): JitBlock | null {
    const s = cpu.state;
    const eip = s.rip[0];
    const long = cpu.long64;
    // seqEnd's coordinates: RIP[31:0] in 64-bit mode, else the linear address.
    const key = long ? eip : (s.segBase[1] + eip) >>> 0;
    const seq = key === this.seqEnd;
    this.seqEnd = ROW_KIND[insn.row] === 1 && notRep(insn.rep, insn.row) ? seqAfter(key, insn.length) : -1;
    // A boundary reached by stepping on is the same run; any other ends the last start's.
    if (!seq && this.runFrom !== null) this.settle(cpu);
    let b = insn.jitBlock;
    if (b === null) {
      // At the threshold the block compiles and runs at once; a boundary the interpreter reached
      // by stepping through straight-line code is not counted (`seqEnd`), nor a decode the fetch
      // did not keep (the CPU's scratch decode: across a page end, or no page view).
      if (seq || this.unavailable !== null || insn === cpu.scratchInsn) return null;
      const page = cpu.codePage;
      if (page === null) return null;
      this.poll(cpu);
      b = insn.jitBlock;
      if (b === null) {
        const n = ++insn.jitHits;
        if (n === 1) insn.jitSince = cpu.instructionsRetired + cpu.runCount;
        else if (n === this.early && this.soon(cpu, insn)) insn.jitHits = this.hot;
        if (insn.jitHits !== this.hot) {
          if (n === this.warm || (n === this.earlyNote && this.soon(cpu, insn)))
            this.batch?.note(cpu, insn, eip, key & 0xfff, page);
          this.runFrom = insn;
          this.runAt = cpu.instructionsRetired + cpu.runCount;
          return null;
        }
        this.compile(cpu, insn, eip, key, page);
        b = insn.jitBlock;
        if (b === null) return null;
      }
    }
    // What Cpu.step checks per instruction and fetchFirstOk did not: the budget has room; the CS
    // limit (SDM Vol. 3 5.3) outside 64-bit mode.
    if (b.eip !== eip || cpu.runLimit - cpu.runCount < b.length) return null;
    if (long ? b.ripHi !== s.rip[1] : b.endEip - 1 > s.segLimit[1]) return null;
    if (!crossOk(cpu, b, key & 0xfff)) return null;
    cpu.startRipHi = long ? s.rip[1] : 0;
    return b;
  }

  /**
   * The block compiled at `next`, the decode a block's direct exit returned (its target in the
   * same page, which the CPU still fetches from), if it may run now; else null (then `lookup`).
   * Less to check than `lookup`: the decode is the one at RIP's linear address, and of what
   * `mayRun` checks only the budget can have changed since the chain was entered — a block holds
   * no instruction that sets TF or RF, loads SS, raises an interrupt shadow, writes a debug
   * register or leaves a REP half done (rows.ts), and CPL and CS do not change inside it.
   */
  private link(cpu: Cpu, next: Insn): JitBlock | null {
    const b = next.jitBlock;
    if (b === null || next.modeKey !== cpu.modeKey || cpu.runLimit - cpu.runCount < b.length) return null;
    const s = cpu.state;
    if (b.eip !== s.rip[0] || (cpu.long64 ? b.ripHi !== s.rip[1] : b.endEip - 1 > s.segLimit[1])) return null;
    if (!crossOk(cpu, b, (cpu.long64 ? s.rip[0] : s.segBase[1] + s.rip[0]) & 0xfff)) return null;
    return b;
  }

  /**
   * The block to run at RIP now, or null (counting the boundary toward compiling one, by
   * `EXIT_VISIT`: the threshold's count may be passed, and compiles there).
   */
  private lookup(cpu: Cpu): JitBlock | null {
    if (cpu.long64) return this.lookup64(cpu);
    const s = cpu.state;
    const eip = s.rip[0];
    const lin = (s.segBase[1] + eip) >>> 0;
    let page = cpu.codePage;
    // The interpreter's decode-cache hit test (fetch.ts fetchDecode32), without fetching; on a
    // miss (a branch into another page) the code page is switched as that fetch would, if the
    // TLB grants it without a walk (switchCodePage: no #PF here).
    if (page === null || lin >>> 12 !== cpu.codeLpn || cpu.codeUser !== (s.cpl === 3)) {
      if (!switchCodePage(cpu, lin)) return null;
      page = cpu.codePage as PageCode;
    }
    const insn = page.insns[lin & 0xfff];
    if (insn === undefined || insn.modeKey !== cpu.modeKey) return null;
    // Modules the compile worker has finished (a load and a compare when there are none).
    this.poll(cpu);
    let b = insn.jitBlock;
    const seq = lin === this.seqEnd;
    this.seqEnd = ROW_KIND[insn.row] === 1 && notRep(insn.rep, insn.row) ? seqAfter(lin, insn.length) : -1;
    if (b === null) {
      // At the threshold the block compiles and runs at once; a boundary the interpreter reached
      // by stepping through straight-line code is not counted (`seqEnd`).
      if (seq || this.unavailable !== null) return null;
      const was = insn.jitHits;
      let n = was + this.exitVisit;
      if (was === 0) insn.jitSince = cpu.instructionsRetired + cpu.runCount;
      else if (was < this.early && n >= this.early && this.soon(cpu, insn)) n = this.hot;
      if (n < this.hot) {
        insn.jitHits = n;
        if (
          (was < this.warm && n >= this.warm) ||
          (was < this.earlyNote && n >= this.earlyNote && this.soon(cpu, insn))
        )
          this.batch?.note(cpu, insn, eip, lin & 0xfff, page);
        return null;
      }
      insn.jitHits = this.hot;
      this.compile(cpu, insn, eip, lin, page);
      b = insn.jitBlock;
      if (b === null) return null;
    }
    // What Cpu.step checks per instruction, for the whole block: no TF single-step, RF, debug
    // registers, STI/MOV-SS shadow or yielded REP; the budget has room; CS limit (SDM Vol. 3 5.3).
    if (b.eip !== eip || b.endEip - 1 > s.segLimit[1] || !this.mayRun(cpu, b)) return null;
    if (!crossOk(cpu, b, lin & 0xfff)) return null;
    cpu.startRipHi = 0;
    return b;
  }

  /**
   * lookup in 64-bit mode: RIP's linear address is RIP itself (CS.base 0, no limit); the code page
   * is tested as fetch.ts fetchDecode64 tests it (RIP[63:32] and RIP[31:12] against the page's),
   * and switched on a miss as in `lookup`, with RIP folded to 48 bits; a non-canonical RIP is the
   * interpreter's (#GP).
   */
  private lookup64(cpu: Cpu): JitBlock | null {
    const s = cpu.state;
    const eip = s.rip[0];
    const hi = s.rip[1];
    let page = cpu.codePage;
    if (
      page === null ||
      eip >>> 12 !== cpu.codeEipPage ||
      hi !== cpu.codeRipHi ||
      cpu.codeLpn === -1 ||
      cpu.codeUser !== (s.cpl === 3)
    ) {
      // A page the TLB grants and remembers the decodes of (a call or a return to code run
      // before): from RIP's halves, with no folded linear address (a number above 2^32, a heap
      // allocation per call in a kernel); else the folded address' path.
      if (!switchCodePage64(cpu)) {
        let lin = eip;
        if (hi !== 0) {
          const h = hi | 0;
          if (h >= 0x8000 || h < -0x8000) return null;
          lin = (h < 0 ? h + 0x10000 : h) * TWO32 + eip;
        }
        if (!switchCodePage(cpu, lin)) return null;
      }
      page = cpu.codePage as PageCode;
    }
    const insn = page.insns[eip & 0xfff];
    if (insn === undefined || insn.modeKey !== cpu.modeKey) return null;
    // Modules the compile worker has finished (a load and a compare when there are none).
    this.poll(cpu);
    let b = insn.jitBlock;
    const seq = eip === this.seqEnd;
    this.seqEnd = ROW_KIND[insn.row] === 1 && notRep(insn.rep, insn.row) ? seqAfter(eip, insn.length) : -1;
    if (b === null) {
      if (seq || this.unavailable !== null) return null;
      const was = insn.jitHits;
      let n = was + this.exitVisit;
      if (was === 0) insn.jitSince = cpu.instructionsRetired + cpu.runCount;
      else if (was < this.early && n >= this.early && this.soon(cpu, insn)) n = this.hot;
      if (n < this.hot) {
        insn.jitHits = n;
        if (
          (was < this.warm && n >= this.warm) ||
          (was < this.earlyNote && n >= this.earlyNote && this.soon(cpu, insn))
        )
          this.batch?.note(cpu, insn, eip, eip & 0xfff, page);
        return null;
      }
      insn.jitHits = this.hot;
      this.compile(cpu, insn, eip, eip, page);
      b = insn.jitBlock;
      if (b === null) return null;
    }
    if (b.eip !== eip || b.ripHi !== hi || !this.mayRun(cpu, b)) return null;
    if (!crossOk(cpu, b, eip & 0xfff)) return null;
    cpu.startRipHi = hi;
    return b;
  }

  /**
   * What Cpu.step checks per instruction, for the whole block: no TF single-step, RF, debug
   * registers, STI/MOV-SS shadow or yielded REP; the budget has room.
   */
  private mayRun(cpu: Cpu, b: JitBlock): boolean {
    return (
      cpu.runLimit - cpu.runCount >= b.length &&
      (cpu.state.rflags[0] & (Flag.TF | Flag.RF)) === 0 &&
      (cpu.state.interruptibility & 3) === 0 &&
      (cpu.dbgExec | cpu.dbgData) === 0 &&
      cpu.repInsn === null
    );
  }

  /** Blocks a region compiled now may hold: `forwardRegionBlocks` where it keeps its forward blocks. */
  private blocksOf(cpu: Cpu): number {
    return this.forwardBlocks && cpu.long64 ? this.forwardRegionBlocks : this.regionBlocks;
  }

  private compile(cpu: Cpu, insn: Insn, eip: number, lin: number, page: NonNullable<Cpu['codePage']>): void {
    const blocks = collectRegion(
      page,
      insn,
      eip,
      lin & 0xfff,
      cpu.long64,
      this.blocksOf(cpu),
      !(this.forwardBlocks && cpu.long64),
    );
    if (blocks.length === 0) {
      insn.jitHits = NEVER;
      return;
    }
    if (this.owners.length >= this.maxBlocks) this.flush(cpu);
    const t0 = performance.now();
    let b: JitBlock | null = null;
    try {
      if (this.batch !== null) {
        if (this.asyncCompile && this.post(cpu, insn, blocks, page)) {
          this.stats.compileMs += performance.now() - t0;
          return;
        }
        const r = this.batch.compile(cpu, blocks, page, this.blocksOf(cpu), this.forwardBlocks);
        b = r.first;
        for (const [i, rb] of r.riders)
          if (this.owners.length < this.maxBlocks) {
            i.jitBlock = rb;
            this.owners.push(i);
            this.stats.compiled++;
            this.stats.sourceBytes += rb.sourceBytes;
          }
      }
      b ??= compileRegion(blocks, page, cpu.long64, cpu.long64 ? cpu.state.rip[1] : 0);
    } catch (e) {
      // `new Function` refused (a page whose Content-Security-Policy forbids it): the interpreter
      // runs everything, and the run never throws for it.
      this.unavailable = e instanceof Error ? e.message : String(e);
      insn.jitHits = NEVER;
      return;
    }
    this.stats.compileMs += performance.now() - t0;
    this.stats.compiled++;
    this.stats.sourceBytes += b.sourceBytes;
    insn.jitBlock = b;
    this.owners.push(insn);
  }

  /**
   * `asyncCompile`: generates the module of region `blocks` (entry decode `insn`) and the wasm
   * batch's riders here, posts its bytes to the compile worker and marks their block starts
   * `PENDING`; the interpreter runs on meanwhile, and `receive` installs the blocks when the module
   * comes back. False, nothing done, where the compile must be made here now: no worker (then
   * never again), `MAX_IN_FLIGHT` modules in flight, or no wasm for the region.
   */
  private post(cpu: Cpu, insn: Insn, blocks: RegionBlock[], page: PageCode): boolean {
    let q = this.queue;
    if (q === null) {
      q = compileQueue();
      if (q === null) {
        this.asyncCompile = false;
        this.asyncUnavailable = compileWorkerUnavailable;
        return false;
      }
      this.queue = q;
      this.replies = q.replies;
      closer?.register(this, q, this);
    }
    if (q.inFlight >= MAX_IN_FLIGHT) {
      // The oldest module long overdue: the worker is gone (its thread died); compile here.
      let oldest = Number.POSITIVE_INFINITY;
      for (const f of this.inFlight.values()) oldest = Math.min(oldest, f.t);
      if (performance.now() - oldest > LOST_MS) {
        this.asyncUnavailable = 'the compile worker stopped answering';
        this.close();
      }
      this.stats.asyncSync++;
      return false;
    }
    const { specs, owners } = (this.batch as WasmBatch).take(
      cpu,
      insn,
      blocks,
      page,
      this.blocksOf(cpu),
      this.forwardBlocks,
    );
    const p = prepareWasm(cpu, specs);
    // No wasm for the region (64-bit code unless `WasmBackend.long`: the JS backend's, as riders
    // of its mode are), or not for its entry: compiled here.
    if (p === null || p.slots[0] !== 0) return false;
    const id = this.nextId++;
    for (const n of p.slots) owners[n].jitHits = PENDING;
    this.inFlight.set(id, { p, specs, owners, t: performance.now() });
    q.post(id, p.bytes);
    this.stats.asyncPosted++;
    if (q.inFlight > this.stats.asyncMaxInFlight) this.stats.asyncMaxInFlight = q.inFlight;
    return true;
  }

  /** Installs the modules the compile worker has finished: a load and a compare when there are none. */
  private poll(cpu: Cpu): void {
    const d = this.replies;
    if (d !== null && d[0] !== (this.queue as CompileQueue).taken) this.receive(cpu);
  }

  /**
   * Installs the modules the compile worker has finished (never blocks): a region's block goes on
   * its decode only if nothing of what it was made from changed while it was compiled elsewhere
   * (`current`); the rest are dropped and their starts count again from 0. Nothing the guest sees
   * depends on when a module comes: installed, a block is what a synchronous compile would have
   * made at its post; until then, or dropped, the interpreter runs its code.
   */
  private receive(cpu: Cpu): void {
    const q = this.queue;
    if (q === null) return;
    for (let r = q.take(); r !== undefined; r = q.take()) {
      const f = this.inFlight.get(r.id);
      // Dropped meanwhile (a flush: `dropInFlight`).
      if (f === undefined) continue;
      this.inFlight.delete(r.id);
      this.install(cpu, f, r.module, r.error);
    }
  }

  private install(cpu: Cpu, f: InFlight, module: object | null, error: string | null): void {
    const { p, specs, owners } = f;
    const ok = specs.map((sp, n) => owners[n].jitBlock === null && current(cpu, sp));
    let out: (JitBlock | null)[] | null = null;
    if (ok.some((k) => k)) {
      const t0 = performance.now();
      try {
        let m = module;
        if (m === null) {
          // V8 refused the bytes on the worker (a RangeError: code space, ...): made here, as a
          // synchronous compile would have been, with its fallbacks if it fails here too.
          this.stats.asyncFailed++;
          this.asyncError = error;
          m = new WA.Module(p.bytes);
        }
        if (this.owners.length >= this.maxBlocks) this.flush(cpu);
        out = installWasm(cpu, p, m, (n) => ok[n]);
      } catch (e) {
        // As a synchronous compile that throws (`compile`): the interpreter runs everything.
        this.unavailable = e instanceof Error ? e.message : String(e);
      }
      this.stats.compileMs += performance.now() - t0;
    }
    let installed = 0;
    for (const n of p.slots) {
      const o = owners[n];
      const b = out !== null ? out[n] : null;
      if (b !== null && this.owners.length < this.maxBlocks) {
        o.jitBlock = b;
        this.owners.push(o);
        this.stats.compiled++;
        this.stats.sourceBytes += b.sourceBytes;
        if (n > 0 && this.batch !== null) this.batch.stats.riders++;
        installed++;
      } else {
        if (o.jitBlock === null) o.jitHits = 0;
        this.stats.asyncStale++;
      }
    }
    if (installed > 0) this.stats.asyncInstalled++;
    this.compileLatencies.push(performance.now() - f.t);
  }

  /** Forgets the modules in flight (their replies are ignored); their block starts count again from 0. */
  private dropInFlight(): void {
    for (const f of this.inFlight.values())
      for (const n of f.p.slots) {
        const o = f.owners[n];
        if (o.jitBlock === null) o.jitHits = 0;
        this.stats.asyncStale++;
      }
    this.inFlight.clear();
  }

  /**
   * Blocks until every module in flight to the compile worker is back and installed, or `ms` have
   * passed; returns whether none is in flight. For tests and tools that must see the compiled
   * state at a point (the guest itself never waits).
   */
  drainCompiles(cpu: Cpu, ms = 10_000): boolean {
    const q = this.queue;
    if (q === null) return true;
    const end = performance.now() + ms;
    while (this.inFlight.size > 0) {
      const left = end - performance.now();
      if (left <= 0 || !q.wait(left)) break;
      this.receive(cpu);
    }
    return this.inFlight.size === 0;
  }

  /**
   * Ends compiling off this thread: the channel to the compile worker is closed, the modules in
   * flight dropped, and compiles are made here from now on. The `Jit` stays usable.
   */
  close(): void {
    const q = this.queue;
    if (q === null) return;
    this.dropInFlight();
    closer?.unregister(this);
    q.close();
    this.queue = null;
    this.replies = null;
    this.asyncCompile = false;
  }

  /**
   * Drops every compiled block (their decodes stay; hot code compiles again), and the modules in
   * flight; `cpu`'s wasm backend drops its handler sites and jump cache with them
   * (`WasmBackend.dropCode`: nothing can reach those functions after).
   */
  flush(cpu: Cpu): void {
    madeWasmBackend(cpu)?.dropCode();
    for (const i of this.owners) {
      i.jitBlock = null;
      i.jitHits = 0;
    }
    this.owners = [];
    this.batch?.clear();
    this.dropInFlight();
    this.stats.sourceBytes = 0;
    this.stats.flushes++;
  }
}

/**
 * Whether region `sp` is still what it was made from: its decode page is still the one the CPU
 * keeps for its frame (a write to the frame, `revalidateCode` finding it changed, or a straddling
 * decode's next page changing drops the page: fetch.ts `invalidateCodePage`), and every instruction
 * of its blocks is still the page's decode at its offset (a mode change re-decodes in place). Then
 * the block is exactly what a synchronous compile would have put on the decode at the post, and
 * whatever has dropped decodes since would have dropped it with them.
 */
function current(cpu: Cpu, sp: WasmRegionSpec): boolean {
  const page = sp.page;
  if (cpu.codePages.get(page.pfn) !== page) return false;
  for (const b of sp.blocks) {
    let o = b.off;
    for (const i of b.insns) {
      if (o >= 4096 || page.insns[o] !== i) return false;
      o += i.length;
    }
  }
  return true;
}
