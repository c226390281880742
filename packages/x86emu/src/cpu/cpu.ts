/**
 * The interpreter: one x86 CPU over the caller's physical memory, port I/O, MSRs, CPUID and
 * interrupt controller. Memory reaches the CPU through a software TLB (linear page → host view
 * with precomputed permissions) and instructions through a decode cache keyed by physical
 * address. Guest faults unwind the current instruction by throwing one shared sentinel object,
 * except on the hot paths (a #PF of a MOV, the commonest exits), which end the instruction with
 * `unwinding` set instead: V8 charges microseconds for a throw that crosses several frames.
 *
 * This file holds the state, the constructor and the wiring; the methods live by concern in this
 * folder, each file a class of `this: Cpu` methods that `installMethods` puts on `Cpu.prototype`
 * (so calls stay `cpu.read(...)`, with no wrapper in between):
 *   run-loop.ts          run(), step32/step64, checkEvents, finishUnwind, REP budget, TSC
 *   intercept-asks.ts    asking the virtualization hooks (intercept, interceptExits)
 *   debug.ts             DR7 breakpoints (instruction, data, I/O) and the #DB traps
 *   faults.ts            raise/gp0/ud/pageFault, software interrupts
 *   segments.ts          descriptors, segment loads, segment-check flags
 *   mode.ts              mode and paging changes, stateChanged, TLB flushes, INVLPG
 *   linear-memory.ts     linRead/linWrite (TLB, MMIO, #AC, data breakpoints), 64-bit linear addresses
 *   segmented-memory.ts  read/write/readOrFault/writeOrFault/read64/write64 with limit checks
 *   stack.ts             push/pop/peek outside 64-bit mode
 *   flags.ts             RFLAGS from lazy flags, conditions, setFlags/getFlags
 *   registers.ts         getReg/setReg, effective addresses (ea, ea64, eaHalves)
 *   port-io.ts           I/O permission bitmap, portIn/portOut
 *   fetch.ts             instruction fetch and the decode cache (CpuCodeCache: invalidateCode…)
 *   control-regs.ts      MOV to/from CRn (CpuControlRegs: writeCr, readCr)
 * and, as functions taking the Cpu: tlb.ts (the TLB), event-delivery*.ts, stack-switch.ts and
 * task-switch.ts (interrupts, exceptions, task switches).
 */
import type { CpuOptions, PagingOverride } from '../api/cpu-options.js';
import { ExitInfo, type Intercepts } from '../api/intercepts.js';
import type { PhysicalMemory } from '../api/physical-memory.js';
import type { CpuidOps, InterruptControllerOps, MsrOps, PortIoOps, RandomOps } from '../api/platform.js';
import { Insn } from '../decoder/insn.js';
import { holdAsDoubles } from '../double-fields.js';
import { Jit, jitDefault } from '../jit/jit.js';
import type { NestedPaging } from '../paging/nested.js';
import { WalkResult } from '../paging/walker.js';
import type { LockedMemory } from '../smp/locked-memory.js';
import { CpuState } from '../state.js';
import * as C from './consts.js';
import { Unwind } from './consts.js';
import { CpuControlRegs } from './control-regs.js';
import { CpuDebug } from './debug.js';
import { defaultCpuid, nullIo, nullMsr } from './defaults.js';
import { CpuFaults } from './faults.js';
import { CpuCodeCache, type PageCode } from './fetch.js';
import { CpuFlags } from './flags.js';
import { installMethods } from './install-methods.js';
import { CpuInterceptAsks } from './intercept-asks.js';
import { LF_NONE } from './lazy-flags.js';
import { CpuLinearMemory } from './linear-memory.js';
import { CpuMode } from './mode.js';
import { CpuPortIo } from './port-io.js';
import { defaultRandom } from './random-source.js';
import { CpuRegisters } from './registers.js';
import { CpuRunLoop } from './run-loop.js';
import { CpuSegmentedMemory } from './segmented-memory.js';
import { CpuSegments } from './segments.js';
import { CpuStack } from './stack.js';

export { Unwind };

/** Memory access mode of the CPU: normal (TLB) or through `X86EmulateOps` (emulate()). */
export interface LinearOps {
  read(lin: number, size: number): number;
  write(lin: number, size: number, value: number): void;
  fetch(lin: number): number;
  /**
   * Atomic compare-exchange of `size` (1, 2, 4, 8) bytes: true when memory held old (lo, hi)
   * and now holds new; false with the current contents in `curLo` / `curHi`.
   */
  cmpxchg(lin: number, size: number, oldLo: number, oldHi: number, newLo: number, newHi: number): boolean;
  curLo: number;
  curHi: number;
  portIn(port: number, size: number): number;
  portOut(port: number, size: number, value: number): void;
}

/** The methods each concern's file defines for `Cpu` (installed on its prototype below). */
export interface Cpu
  extends CpuRunLoop,
    CpuInterceptAsks,
    CpuDebug,
    CpuSegments,
    CpuMode,
    CpuLinearMemory,
    CpuSegmentedMemory,
    CpuStack,
    CpuFlags,
    CpuRegisters,
    CpuPortIo,
    CpuFaults,
    CpuCodeCache,
    CpuControlRegs {}

/**
 * What the wasm backend's jump cache (jit/wasm/chain.ts) must hear of: each call voids the entries
 * it names and makes a compiled function running now leave after the instruction.
 */
export interface CodeChainOps {
  /** Any translation or code byte may have changed (a full TLB flush, a code write, revalidateCode). */
  flushAll(): void;
  /** Non-global translations may have changed (tlbFlushNonGlobal: a CR3 load). */
  flushNonGlobal(): void;
  /** The translation of linear `gva` may have changed (INVLPG): entries in its 2 MiB go. */
  invlpg(gva: number): void;
  /**
   * The decodes of `page` are dropped (a write to its frame, its bytes found changed, the next
   * page of its straddling decodes dropped or remapped: fetch.ts `invalidateCodePage`): entries
   * for functions made from them go.
   */
  dropPage(page: PageCode): void;
}

export class Cpu {
  readonly state: CpuState;
  /**
   * `state.gpr` and `state.gprHigh`, one load closer for the hot paths; re-pointed with them by
   * `moveRegisters`.
   */
  readonly gpr: Uint32Array;
  readonly gprHigh: Uint32Array;
  readonly exit = new ExitInfo();
  readonly memory: PhysicalMemory;
  io: PortIoOps;
  msr: MsrOps;
  cpuidOps: CpuidOps;
  /** RDRAND's and RDSEED's generator (`CpuOptions.random`). */
  random: RandomOps;
  /** SERIALIZE revalidates the decoded code: other threads write this CPU's RAM (smp/code-sync.ts). */
  serializeRevalidates = false;
  interrupts: InterruptControllerOps | null;
  /** FERR# (x87 errors with CR0.NE = 0; see `CpuOptions.ferr`) and its current level. */
  ferr: ((asserted: boolean) => void) | null;
  ferrAsserted = false;
  intercepts: Intercepts | null;
  interceptMask = 0;
  /** Instructions executed so far in the current `run()` (RDTSC adds it to `state.tsc`). */
  runCount = 0;
  /**
   * Where the current `run()` stops: its budget, lowered by the extra iterations of REP string
   * instructions (each iteration counts as an instruction against the budget).
   */
  runLimit = 0;
  /** Instructions completed since construction. */
  instructionsRetired = 0;
  /** Counters for observability. */
  readonly stats = {
    tlbMisses: 0,
    tlbFlushes: 0,
    decodes: 0,
    codeInvalidations: 0,
    exceptions: 0,
    interrupts: 0,
    /** Intercept hooks that asked to exit. */
    intercepts: 0,
  };

  // ---- lazy flags
  lfOp = LF_NONE;
  lfDst = 0;
  lfSrc = 0;
  lfRes = 0;
  lfSize = 4;
  lfAux = 0;
  /** High half of a 64-bit result (LF_ARITH64 only). */
  lfResHi = 0;

  // ---- derived mode
  /** CR0.PE = 1. */
  prot = false;
  /** RFLAGS.VM = 1 in protected mode. */
  v86 = false;
  /** CS.D: default operand/address size 32 (false in 64-bit mode). */
  def32 = false;
  /** EFER.LMA: IA-32e mode (SDM Vol. 3 2.2.1). */
  lma = false;
  /** 64-bit mode: IA-32e with CS.L = 1 (SDM Vol. 3 5.2.1); compatibility mode when lma && !long64. */
  long64 = false;
  /** Decode key of the current mode: bit 0 CS.D, bit 1 64-bit mode (`Insn.modeKey`). */
  modeKey = 0;
  /** SS.B: 32-bit stack pointer. */
  ss32 = false;
  /** Paging format in effect (0 none, 1 32-bit, 2 PAE) and walk control bits. */
  pagingMode = 0;
  walkCtl = 0;
  pagingRoot = 0;
  readonly pdptes = new Float64Array(4);
  override: PagingOverride | null = null;
  /**
   * Nested paging (AMD NPT): when set, the guest's own paging state translates linear →
   * guest-physical and `nested` translates every guest-physical address to host-physical
   * (`paging/nested.ts`, `cpu/tlb-nested.ts`). Set with the TLB flushed (`stateChanged`).
   */
  nested: NestedPaging | null = null;
  /** Per segment register: SF_* flags. */
  readonly segFlags = new Uint8Array(8);
  /**
   * Of ES–GS (`Seg` 0–5), the ones a 64-bit wasm function may access inline, as `segFlags` says
   * (flat, long mode, and readable or writable): bit `seg` for reads, `6 + seg` for writes. Kept
   * by `updateSegFlags` for `chainSig` (jit/wasm/chain.ts), which reads it at every entry into
   * compiled code and after every handler a function calls.
   */
  segInline = 0;

  // ---- software TLB (direct-mapped by linear page number)
  /** Tag (`tlbTagOf`): the page-number bits above the index; -1 when empty. */
  readonly tlbTag = new Int32Array(C.TLB_SIZE).fill(-1);
  readonly tlbPerm = new Uint8Array(C.TLB_SIZE);
  readonly tlbPfn = new Float64Array(C.TLB_SIZE);
  readonly tlbView: (Uint8Array | null)[] = new Array(C.TLB_SIZE).fill(null);
  /** The entry caches part of a 2 MiB/4 MiB/1 GiB page (INVLPG drops the whole page). */
  readonly tlbLarge = new Uint8Array(C.TLB_SIZE);
  /** A 1 GiB page has been cached since the last full flush (INVLPG then flushes everything). */
  tlbHas1G = false;
  /**
   * The 2 MiB/4 MiB spans (linear page number / 512, / 1024 with 32-bit paging) where a large
   * page has been cached since the last full flush: INVLPG scans a span's entries only then, and
   * drops the span from the set.
   */
  readonly tlbLargeSpans = new Set<number>();
  /**
   * Indices of the non-global entries filled since the last flush, so that a flush clears those
   * instead of all 4096 (a CR3 switch flushes; a guest touches a few pages between two).
   * `tlbUsedCount` above `TLB_USED_MAX` means "too many to list": scan them all (tlb.ts).
   */
  readonly tlbUsed = new Uint16Array(C.TLB_USED_MAX);
  tlbUsedCount = 0;
  /**
   * `tlbUsed` for the global entries, apart so that a CR3 load (which keeps them) looks only at
   * the others.
   */
  readonly tlbUsedGlobal = new Uint16Array(C.TLB_USED_MAX);
  tlbUsedGlobalCount = 0;
  /**
   * The wasm backend's side of this TLB (jit/wasm/arena.ts: read and write tags per privilege
   * class, addends), kept in step by tlb.ts; null when no wasm code reaches this CPU's RAM inline.
   * `tlbWasmFrames`: frames below it are RAM in that memory at byte `tlbWasmRam + pfn * 4096`.
   */
  tlbWasm: Int32Array | null = null;
  tlbWasmFrames = 0;
  tlbWasmRam = 0;
  /**
   * The wasm backend's jump cache (jit/wasm/chain.ts), told by tlb.ts and fetch.ts wherever what
   * code a RIP runs may change; null without 64-bit chaining.
   */
  chainOps: CodeChainOps | null = null;
  readonly walk = new WalkResult();

  // ---- decode cache (physical page → decoded instructions by page offset)
  readonly codePages = new Map<number, PageCode>();
  /**
   * By TLB index: the decode cache of the frame that entry maps, once a fetch used it (null until
   * then; a refill of the entry clears it). A call or return to a page fetched from before finds
   * its decodes without the Map lookup by frame (fetch.ts setCodePage).
   */
  readonly tlbCode: (PageCode | null)[] = new Array<PageCode | null>(C.TLB_SIZE).fill(null);
  codeLpn = -1;
  /**
   * The code page's linear address as a 64-bit RIP would hold it (RIP[63:32] sign-extended from
   * bit 47, and RIP[31:12]): a 64-bit fetch tests its page with two compares (fetch.ts).
   */
  codeRipHi = -1;
  codeEipPage = -1;
  codePage: PageCode | null = null;
  codeView: Uint8Array | null = null;
  codePfn = 0;
  /** The code page was checked for a CPL-3 (user) fetch. */
  codeUser = false;
  readonly scratchInsn = new Insn();
  readonly codePool: PageCode[] = [];
  /** Bumped by `revalidateCode`: a page decoded at an older epoch is compared before reuse. */
  codeEpoch = 0;

  // ---- current instruction
  /** Length of the instruction being executed (0 until decoded). */
  lastInsnLength = 0;
  /**
   * A REP string instruction that yielded between iterations inside `run()` (RIP at it): the next
   * step continues it from this decoded form instead of fetching again. The CPU decodes a REP
   * once and iterates without re-reading its bytes, so a REP MOVS that overwrites its own code
   * finishes as decoded (the long64 difftest, `f3 47 a5` with DF = 1); only an event delivered
   * between iterations restarts it from memory ("the instruction is restarted", SDM Vol. 2 REP;
   * Vol. 3 11.6), so `deliverEvent` and `run()` drop it.
   */
  repInsn: Insn | null = null;
  /** EIP of the instruction being executed (faults restore it), and the high half of its RIP. */
  startEip = 0;
  startRipHi = 0;
  /** Linear address of the start of the instruction being decoded. */
  fetchLin = 0;
  fetchEip = 0;
  /** Set by handlers when the instruction changed something that may unblock an interrupt. */
  irqCheck = true;
  stopRequested = -1;
  /**
   * `Unwind.Fault`/`Unwind.Exit` when a handler ended the instruction early without throwing
   * (`readOrFault`, `writeOrFault`, `interceptExits`): the handler returned at once, and the run
   * loop restores RIP and delivers the fault or stops, exactly as its catch does for a throw.
   * Set together with `irqCheck`, so a compiled block returns after the handler.
   */
  unwinding = 0;

  // ---- fault being raised
  faultVector = 0;
  faultError = 0;
  faultHasError = false;
  faultAddress = 0;
  /** Event being delivered (for double-fault classification), -1 when none. */
  deliveringVector = -1;
  deliveringType = -1;
  deliveringError = 0;
  deliveringHasError = false;

  /** CR0.AM and RFLAGS.AC both set: misaligned CPL-3 data accesses raise #AC(0) (SDM Vol. 3 6.15, Interrupt 17). */
  acEnabled = false;

  // ---- debug registers (SDM Vol. 3 17.2): enabled breakpoints by kind, hits of this instruction
  /** Bit n: DRn is an enabled instruction breakpoint. */
  dbgExec = 0;
  /** Bit n: DRn is an enabled data breakpoint (write, or read/write). */
  dbgData = 0;
  /** The current instruction delivered a software interrupt: no single-step trap after it. */
  noStepTrap = false;
  /** Data breakpoints hit by the current instruction (reported as a #DB trap after it). */
  dbgHit = 0;
  /** The pending event is a #DB trap of this processor's own (`singleStepTrap`), not an injection. */
  pendingIsTrap = false;
  /** Bit n: DRn is an enabled I/O breakpoint (RW = 10 with CR4.DE = 1). */
  dbgIo = 0;

  /** Non-null while `emulate()` drives this CPU through ops. */
  linearOps: LinearOps | null = null;
  /**
   * Non-null when other threads share this CPU's RAM: LOCK'd read-modify-writes and XCHG with
   * memory go through its compare-exchange (src/smp/locked-memory.ts). Set once, before `run`.
   */
  lockedMemory: LockedMemory | null = null;
  /** The block compiler (`CpuOptions.jit`), or null: every instruction through `step()`. */
  jit: Jit | null;

  constructor(options: CpuOptions) {
    this.memory = options.memory;
    this.state = options.state ?? new CpuState();
    this.gpr = this.state.gpr;
    this.gprHigh = this.state.gprHigh;
    this.io = options.io ?? nullIo;
    this.msr = options.msr ?? nullMsr;
    this.cpuidOps = options.cpuid ?? defaultCpuid;
    this.random = options.random ?? defaultRandom();
    this.interrupts = options.interrupts ?? null;
    this.ferr = options.ferr ?? null;
    this.intercepts = options.intercepts ?? null;
    const jit = options.jit ?? jitDefault();
    this.jit = jit === false ? null : new Jit(jit === true ? {} : jit);
    // Fields that come to hold uint32 values (addresses, EIPs, lazy-flag operands with bit 31
    // set), 48-bit ones, counts past 2^31 or a budget the engines compute as a double: doubles
    // from the start (double-fields.ts).
    holdAsDoubles(this, [
      'runLimit',
      'instructionsRetired',
      'lfDst',
      'lfSrc',
      'lfRes',
      'lfResHi',
      'pagingRoot',
      'codeLpn',
      'codeRipHi',
      'codePfn',
      'startEip',
      'startRipHi',
      'fetchLin',
      'fetchEip',
      'faultAddress',
      'tssEsp',
      'descHi',
      'descAddr',
      'lo64',
      'hi64',
    ]);
    this.stateChanged();
  }

  /**
   * Moves the general registers into `lo`/`hi` (16 elements each, their values copied): the wasm
   * backend's memory (jit/wasm/arena.ts `moveRegisters`), so that compiled wasm code loads and
   * stores them in place. `state.gpr`/`gprHigh` and this CPU's `gpr`/`gprHigh` are re-pointed;
   * every handler, the JS backend's functions and the engines' register copies read them through
   * one of those at each use, so this is safe between two instructions.
   */
  moveRegisters(lo: Uint32Array, hi: Uint32Array): void {
    this.state.moveGprs(lo, hi);
    const w = this as { gpr: Uint32Array; gprHigh: Uint32Array };
    w.gpr = lo;
    w.gprHigh = hi;
  }

  /** Installs or removes the virtualization hooks. */
  setIntercepts(i: Intercepts | null): void {
    this.intercepts = i;
    this.interceptMask = i ? i.mask : 0;
  }

  /** Power-on reset (SDM Vol. 3 9.1.1). */
  reset(): void {
    this.state.reset();
    this.stateChanged();
  }

  // ---- scratch of the methods in other files
  /** SS and ESP for a privilege level, read from the TSS by the last `tssStack` (stack-switch.ts). */
  tssSs = 0;
  tssEsp = 0;
  /** High dword of the descriptor read by the last `readDescriptorLo` (segments.ts). */
  descHi = 0;
  /** Linear address of that descriptor. */
  descAddr = 0;
  /** Scratch outputs of the 64-bit operand helpers (exec/long/operands64.ts): low and high halves. */
  lo64 = 0;
  hi64 = 0;
}

installMethods(Cpu, CpuRunLoop);
installMethods(Cpu, CpuInterceptAsks);
installMethods(Cpu, CpuDebug);
installMethods(Cpu, CpuSegments);
installMethods(Cpu, CpuMode);
installMethods(Cpu, CpuLinearMemory);
installMethods(Cpu, CpuSegmentedMemory);
installMethods(Cpu, CpuStack);
installMethods(Cpu, CpuFlags);
installMethods(Cpu, CpuRegisters);
installMethods(Cpu, CpuPortIo);
installMethods(Cpu, CpuFaults);
installMethods(Cpu, CpuCodeCache);
installMethods(Cpu, CpuControlRegs);
