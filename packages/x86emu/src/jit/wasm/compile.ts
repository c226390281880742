/**
 * The wasm backend (opt-in: `jit: { backend: 'wasm' }` or `X86EMU_JIT_BACKEND=wasm`): a region
 * (../region.ts) becomes one WebAssembly function, v86's design — registers and lazy flags in
 * locals, blocks as a `br_table` in a loop, memory through the TLB probed inline in wasm memory —
 * behind the same `JitBlock` contract as the JS backend, so `Jit.enter`, chaining and the
 * exactness rules (../README.md) are unchanged. Outside 64-bit mode: the forms emit.ts compiles
 * inline, every other instruction as a call of the interpreter's handler (handler-call.ts); in
 * 64-bit mode the forms emit64.ts compiles inline (i64 register locals), the rest the same way
 * (compile64.ts).
 *
 * One call of a compiled function: the wrapper calls it with the budget's room, the flat-segment
 * masks, the TLB's privilege class at this CPL (arena.ts TLB_USER) and the CS limit; the function loads EAX…EDI into locals from
 * the CPU's registers, which live in its memory (arena.ts `moveRegisters`: nothing to copy), runs,
 * stores them in place, the flag record and its status into the exchange area and
 * returns 0 (left at `next`) or 1 (a fault at instruction `k`, raised by a JS import: the wrapper
 * sets `startEip` and rethrows it, as the JS backend's catch does; a #PF it returns as a status,
 * `unwinding` set, as the JS backend's unwind tail does: handler-call.ts `faultStatus`).
 */
import { GUEST_FAULT, SF_FLAT, SF_LONG, SF_R, SF_W, Unwind } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import { LF_INC, LF_NONE, PARITY } from '../../cpu/lazy-flags.js';
import type { Insn } from '../../decoder/insn.js';
import { OPCODE_TABLE } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { JitBlock } from '../block.js';
import { PEND_DYN, PEND_MAT } from '../flags.js';
import type { RegionBlock } from '../region.js';
import { ROW_KIND } from '../rows.js';
import { isSharedMemory, WA, type WasmImports, type WasmMemory } from './api.js';
import {
  exchangeMemory,
  isWasmPhysicalMemory,
  moveRegisters,
  moveSse,
  moveTlb,
  REG,
  SSE_OK,
  ST_EXITREQ,
  ST_FA,
  ST_FD,
  ST_FO,
  ST_FP,
  ST_FR,
  ST_FS,
  ST_K,
  ST_N,
  ST_NEXT,
  ST_SEGB,
  ST_VHI,
  TLB_USER,
} from './arena.js';
import { Chain } from './chain.js';
import {
  type Generated64,
  generate64,
  handler64Import,
  type Region64,
  type Site64,
  wrap64,
} from './compile64.js';
import {
  afterMemory,
  allocLocals,
  emitInsnWasm,
  exitNormal,
  flagBits,
  goTo,
  PARAMS,
  type WasmCtx,
} from './emit.js';
import { emitSseWasm } from './emit-sse.js';
import { buildImportHub, buildModule, FuncWriter, I32, Op } from './encode.js';
import { EXIT_KIND_NAMES, exitCensusOn, readExitCensus } from './exit-census.js';
import {
  emitHandlerCall,
  emitStoreLocals,
  faultStatus,
  type HandlerSite,
  handlerImport,
} from './handler-call.js';

const ARITH = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.OF;

/** What one `Cpu`'s wasm code shares: its memory, the exchange views, the imports' state. */
export class WasmBackend {
  readonly memory: WasmMemory;
  /** RAM frames reachable inline (0 when the CPU's memory is not a `WasmPhysicalMemory`). */
  readonly ramPages: number;
  /** Whether `memory` is shared (the software engine's `sharedMemory` arena): the modules' import says so. */
  readonly sharedMemory: boolean;
  readonly u32: Uint32Array;
  /** The code page of the running function (an import's exit test) and the fault an import caught. */
  pc: PageCode | null = null;
  fault: unknown = null;
  readonly imports: WasmImports;
  /**
   * The handler call sites of every module made since the last `dropCode` (`h`'s and `h64`'s site
   * numbers index these): the imports are the import hub's, one pair for all modules, not a
   * closure over each module's sites.
   */
  readonly sites: HandlerSite[] = [];
  readonly sites64: Site64[] = [];
  /** Bumped by `dropCode`: a module prepared before it has site numbers that no longer hold. */
  epoch = 0;
  /**
   * The import hub's table (encode.ts `buildImportHub`): the imports every module calls through,
   * their wrappers compiled once (null where no wasm can be made).
   */
  readonly importTable: unknown = null;
  /** Records a fault an import caught (the function then leaves at that instruction). */
  readonly caught: (e: unknown) => number;
  /**
   * Why this environment makes no wasm code (the embedder refuses to compile it: a page whose
   * Content-Security-Policy lacks 'wasm-unsafe-eval'), or null; then every region goes to the JS
   * backend. Probed once with a module known to be valid, so that a module of ours that fails to
   * compile is still an error.
   */
  readonly unavailable: string | null;
  /**
   * Whether 64-bit regions go to wasm (compile64.ts, emit64.ts), else to the JS backend: by default
   * where RAM is in wasm memory (`ramPages` > 0: the inline memory path), where the bare Debian boot
   * ran 11 % faster than with the JS backend at the engines' threshold (../README.md "The wasm
   * backend on the kernel"); `X86EMU_JIT_WASM64=1` or `=0` forces it on or off.
   */
  long: boolean;
  /**
   * The table of 64-bit functions, the jump cache and the dispatch loop that chains them in wasm
   * (chain.ts), where 64-bit regions go to wasm; `X86EMU_JIT_CHAIN=0` turns chaining off (one
   * function a call, as before it).
   */
  readonly chain: Chain<Region64> | null;
  /**
   * Called with each module's bytes and its regions (entry RIP[31:0], RIP[63:32], 64-bit mode,
   * instructions, the blocks as generated), before it is compiled: how tools/linux/lockstep.mjs
   * dumps the wasm of a block that diverged, and bench/generate64.mjs records a boot's regions.
   * Null (the default) costs one test per module.
   */
  onModule:
    | ((
        bytes: Uint8Array,
        regions: { eip: number; hi: number; long: boolean; insns: number; blocks: RegionBlock[] }[],
      ) => void)
    | null = null;
  /**
   * The exit census (exit-census.ts, `X86EMU_JIT_CENSUS=1`; null when off): 64-bit functions
   * compiled from then on count their exits by kind in the memory (`exitCensus`), and the handler
   * calls of 64-bit functions are counted here by opcode-table row.
   */
  readonly census: Uint32Array | null = exitCensusOn() ? new Uint32Array(OPCODE_TABLE.length) : null;

  /**
   * What the census counted so far (null when it is off): the 64-bit functions' exits by kind, and
   * their handler calls by instruction form ("MNEMONIC operands"), most first.
   */
  exitCensus(): {
    exits: { kind: string; count: number }[];
    handlers: { form: string; count: number }[];
  } | null {
    const census = this.census;
    if (census === null) return null;
    const counts = readExitCensus(this.memory);
    // Rows of one form (an opcode and its aliases) add up.
    const byForm = new Map<string, number>();
    census.forEach((count, row) => {
      if (count === 0) return;
      const form = `${OPCODE_TABLE[row].mnemonic} ${OPCODE_TABLE[row].operands}`.trim();
      byForm.set(form, (byForm.get(form) ?? 0) + count);
    });
    const handlers = [...byForm].map(([form, count]) => ({ form, count })).sort((a, b) => b.count - a.count);
    return { exits: EXIT_KIND_NAMES.map((kind, k) => ({ kind, count: counts[k] })), handlers };
  }
  readonly stats = {
    /** Regions compiled to wasm (of which in 64-bit mode), and those left to the JS backend (64-bit mode unless `long`, no wasm here). */
    compiled: 0,
    compiled64: 0,
    rejected: 0,
    /** Instructions compiled as a call of the interpreter's handler (handler-call.ts). */
    handlerSites: 0,
    /** Of those, SSE forms in 64-bit functions compiled inline, their handler only where the inline path's checks fail (emit-sse.ts sseInline64). */
    sseInline64: 0,
    /** Modules made, their bytes, and the time to generate, compile and instantiate them (ms). */
    modules: 0,
    bytes: 0,
    compileMs: 0,
    /** Memory accesses that went through `Cpu.read`/`Cpu.write` (not the inline TLB path). */
    slowAccesses: 0,
  };

  constructor(readonly cpu: Cpu) {
    const m = cpu.memory;
    if (isWasmPhysicalMemory(m) && (m.tlbOwner === null || m.tlbOwner === cpu)) {
      m.tlbOwner = cpu;
      this.memory = m.wasm;
      this.ramPages = m.wasmFrames;
      moveTlb(cpu, m.wasm, m.wasmFrames);
    } else {
      this.memory = exchangeMemory();
      this.ramPages = 0;
    }
    this.sharedMemory = isSharedMemory(this.memory);
    moveRegisters(cpu, this.memory);
    moveSse(cpu, this.memory);
    const env = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_WASM64 : undefined;
    this.long = env === '1' || (env !== '0' && this.ramPages > 0);
    // The exchange area, and SSE_OK, the generations, ST_REPX and ST_SEGB beyond the registers (arena.ts).
    this.u32 = new Uint32Array(this.memory.buffer, 0, (ST_SEGB >> 2) + 4);
    this.unavailable = probe();
    const chainEnv = typeof process !== 'undefined' ? process.env?.X86EMU_JIT_CHAIN : undefined;
    this.chain =
      this.long && this.unavailable === null && chainEnv !== '0'
        ? new Chain<Region64>(cpu, this.memory)
        : null;
    const u32 = this.u32;
    const done = (): void => {
      if (cpu.irqCheck || cpu.codePage !== this.pc) u32[ST_EXITREQ >> 2] = 2;
    };
    const caught = (e: unknown): number => {
      this.fault = e;
      u32[ST_EXITREQ >> 2] = 1;
      return 0;
    };
    this.caught = caught;
    // A #PF of a slow access (readOrFault & co.: recorded, `unwinding` set, nothing thrown) leaves
    // the function as a caught #PF would, and runWasm returns it as a status (faultStatus).
    const pageFault = (): number => {
      cpu.unwinding = Unwind.None;
      return caught(GUEST_FAULT);
    };
    this.imports = {
      env: {
        m: this.memory,
        rd: (seg: number, a: number, size: number): number => {
          this.stats.slowAccesses++;
          try {
            const v = cpu.readOrFault(seg, a >>> 0, size);
            if (cpu.unwinding !== 0) return pageFault();
            done();
            return v;
          } catch (e) {
            return caught(e);
          }
        },
        wr: (seg: number, a: number, size: number, v: number): void => {
          this.stats.slowAccesses++;
          try {
            cpu.writeOrFault(seg, a >>> 0, size, v >>> 0);
            if (cpu.unwinding !== 0) return void pageFault();
            done();
          } catch (e) {
            caught(e);
          }
        },
        fl: (fp: number, fo: number, fd: number, fs: number, fr: number, fa: number): number =>
          fp === 0 ? cpu.getFlags() : flagBits(fo, fd, fs, fr, fa),
        // 64-bit mode (emit64.ts): the address as halves, `Cpu.ea64`'s signed number rebuilt from
        // them (exact wherever it can be canonical; further out only "not canonical" matters).
        rq: (seg: number, lo: number, hi: number, size: number): number => {
          this.stats.slowAccesses++;
          try {
            const off = (hi | 0) * 4294967296 + (lo >>> 0);
            if (size === 8) {
              cpu.read64OrFault(seg, off);
              if (cpu.unwinding !== 0) return pageFault();
              u32[ST_VHI >> 2] = cpu.hi64;
              done();
              return cpu.lo64;
            }
            const v = cpu.readOrFault(seg, off, size);
            if (cpu.unwinding !== 0) return pageFault();
            done();
            return v;
          } catch (e) {
            return caught(e);
          }
        },
        wq: (seg: number, lo: number, hi: number, size: number, vl: number, vh: number): void => {
          this.stats.slowAccesses++;
          try {
            const off = (hi | 0) * 4294967296 + (lo >>> 0);
            if (size === 8) cpu.write64OrFault(seg, off, vl >>> 0, vh >>> 0);
            else cpu.writeOrFault(seg, off, size, vl >>> 0);
            if (cpu.unwinding !== 0) return void pageFault();
            done();
          } catch (e) {
            caught(e);
          }
        },
        gp: (): void => {
          try {
            cpu.gp0();
          } catch (e) {
            caught(e);
          }
        },
        h: handlerImport(cpu, this.sites, u32, storeFlags, caught, () => this.pc),
        h64: handler64Import(
          cpu,
          this.sites64,
          u32,
          storeFlags,
          caught,
          () => this.pc,
          this.chain,
          this.census,
        ),
      },
    };
    if (this.unavailable === null && WA !== undefined)
      this.importTable = new WA.Instance(new WA.Module(buildImportHub(IMPORTS)), this.imports).exports.it;
  }

  /**
   * Forgets every module's handler sites (`Jit.flush`: no block of them is kept) and voids the
   * chain's jump cache, the only other way to reach their functions; a module prepared before
   * (`PreparedWasm.epoch`) is no longer installed.
   */
  dropCode(): void {
    this.sites.length = 0;
    this.sites64.length = 0;
    this.epoch++;
    this.chain?.flushAll();
  }
}

/** An empty module (spec 5.5.16: magic and version alone) compiled as a test, or why it cannot be. */
function probe(): string | null {
  try {
    new WA.Module(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const backends = new WeakMap<Cpu, WasmBackend>();

/** The wasm backend of `cpu` if it has been made, else undefined (nothing made). */
export function madeWasmBackend(cpu: Cpu): WasmBackend | undefined {
  return backends.get(cpu);
}

/** The wasm backend of `cpu` (made at its first use). */
export function wasmBackend(cpu: Cpu): WasmBackend {
  let b = backends.get(cpu);
  if (b === undefined) {
    b = new WasmBackend(cpu);
    backends.set(cpu, b);
  }
  return b;
}

export const IMPORTS = [
  { name: 'rd', type: { params: [I32, I32, I32], results: [I32] } },
  { name: 'wr', type: { params: [I32, I32, I32, I32], results: [] } },
  { name: 'fl', type: { params: [I32, I32, I32, I32, I32, I32], results: [I32] } },
  { name: 'gp', type: { params: [], results: [] } },
  { name: 'h', type: { params: [I32, I32], results: [] } },
  { name: 'h64', type: { params: [I32, I32], results: [] } },
  { name: 'rq', type: { params: [I32, I32, I32, I32], results: [I32] } },
  { name: 'wq', type: { params: [I32, I32, I32, I32, I32, I32], results: [] } },
];
export const FUNC_TYPE = { params: [I32, I32, I32, I32, I32, I32], results: [I32] };

/** A region's function and what its wrapper needs. */
export interface Generated {
  f: FuncWriter;
  eips: number[];
  end: number;
  /** Segments the inline memory path tests (`WasmCtx.segs`). */
  segs: number;
  /** SSE forms inline (emit-sse.ts): the call sets SSE_OK. */
  sse: boolean;
}

/**
 * Generates the function of region `blocks` (entry first); the handler calls it makes are added
 * to the module's `sites`.
 */
function generate(blocks: RegionBlock[], ramPages: number, sites: HandlerSite[]): Generated {
  const f = new FuncWriter(PARAMS);
  const l = allocLocals(f);
  const region = new Map<number, [number, number]>();
  blocks.forEach((b, n) => {
    region.set(b.eip, [n, b.insns.length]);
  });
  const eips: number[] = [];
  let end = 0;
  let segs = 0;
  let sse = false;
  // Registers in: the CPU's own, in this memory (arena.ts moveRegisters).
  for (let r = 0; r < 8; r++)
    f.i32(0)
      .mem(Op.i32Load, REG + 4 * r)
      .set(l.r[r]);
  f.open(Op.block, 'exit');
  f.open(Op.loop, 'top');
  const n = blocks.length;
  for (let b = n - 1; b >= 0; b--) f.open(Op.block, `b${b}`);
  if (n > 1) {
    f.get(l.bb);
    f.brTable(blocks.map((_, b) => `b${b}`));
  }
  f.end();
  const out = { memory: false, branch: false };
  let k = 0;
  for (let b = 0; b < n; b++) {
    const blk = blocks[b];
    const c: WasmCtx = {
      f,
      l,
      // A block's head is reached from the run loop (flags in the CPU) and maybe from a jump
      // (flags in the locals): `fp` says at run time (a flag read there asks JS: IMP_FLAGS).
      pend: PEND_DYN,
      eip: blk.eip,
      next: blk.eip,
      j: 0,
      k,
      length: blk.insns.length,
      region,
      ramPages,
      segs: 0,
    };
    let ended = false;
    for (let j = 0; j < blk.insns.length; j++) {
      const i: Insn = blk.insns[j];
      c.eip = c.next;
      c.next = c.eip + i.length;
      c.j = j;
      c.k = k;
      eips.push(c.eip);
      k++;
      if (!emitInsnWasm(c, i, OPCODE_TABLE[i.row], out)) {
        // SSE forms inline, their handler where their checks fail (emit-sse.ts).
        if (emitSseWasm(c, i, OPCODE_TABLE[i.row], sites.length)) {
          sites.push({ insn: i, eip: c.eip, next: c.next });
          sse = true;
          continue;
        }
        // The interpreter's handler (every instruction a block may hold has one: rows.ts).
        const ends = ROW_KIND[i.row] === 2;
        emitHandlerCall(c, sites.length, ends);
        sites.push({ insn: i, eip: c.eip, next: c.next });
        if (ends) {
          ended = true;
          break;
        }
        continue;
      }
      if (out.branch) {
        ended = true;
        break;
      }
      if (out.memory) afterMemory(c);
    }
    end = Math.max(end, c.next);
    segs |= c.segs;
    if (!ended) {
      // Cut short before the next instruction: on to it (a block of the function, or out).
      if (region.has(c.next)) goTo(c, c.next, false);
      else exitNormal(c, c.next, blk.insns.length);
    }
    f.op(Op.unreachable);
    if (b < n - 1) f.end();
  }
  f.end(); // loop
  f.end(); // exit
  // Out: registers, flag record, status.
  emitStoreLocals({ f, l });
  const st = (off: number, local: number): void => void f.i32(0).get(local).mem(Op.i32Store, off);
  st(ST_N, l.n);
  st(ST_NEXT, l.next);
  st(ST_K, l.k);
  f.get(l.kind);
  return { f, eips, end, segs, sse };
}

/**
 * Stores the flag record the function left (if `fp`) into the CPU, as ../flags.ts FLUSH_DYN:
 * PEND_MAT built into RFLAGS (AF clear), any other kind as the interpreter's lazy record.
 */
function storeFlags(cpu: Cpu, u: Uint32Array): void {
  if (u[ST_FP >> 2] === 0) return;
  const fo = u[ST_FO >> 2];
  const fr = u[ST_FR >> 2];
  const fa = u[ST_FA >> 2];
  const fs = u[ST_FS >> 2];
  if (fo === PEND_MAT) {
    const s = cpu.state;
    s.rflags[0] =
      (s.rflags[0] & ~ARITH) |
      (PARITY[fr & 0xff] << 2) |
      (fr === 0 ? Flag.ZF : 0) |
      ((fr >>> 31) << 7) |
      fa |
      (fs << 11);
    cpu.lfOp = LF_NONE;
    return;
  }
  cpu.lfOp = fo;
  cpu.lfDst = u[ST_FD >> 2];
  cpu.lfSrc = fs;
  cpu.lfRes = fr;
  cpu.lfResHi = 0;
  cpu.lfSize = 4;
  if (fo >= LF_INC) cpu.lfAux = fa;
}

type WasmFn = (room: number, srm: number, swm: number, rp: number, wp: number, lim: number) => number;

/** What the call of one compiled function needs besides the CPU. */
class WasmRegion {
  constructor(
    readonly be: WasmBackend,
    readonly fn: WasmFn,
    /** EIP of each instruction, by its index in the function (the fault's `k`). */
    readonly eips: Uint32Array,
    readonly page: PageCode,
    /** The EIP at offset 0 of the page. */
    readonly page0: number,
    /** Segments whose flat-segment test its inline memory path reads. */
    readonly segs: number,
    /** Whether it holds SSE forms inline (emit-sse.ts: SSE_OK). */
    readonly sse: boolean,
  ) {}
}

/**
 * One call of a compiled function (`JitBlock.run`'s contract, ../block.ts): one function for
 * every region, so that V8 optimizes it once, not once per block (a closure per block measured
 * slower after a thousand runs: each was tiered up on its own).
 */
function runWasm(w: WasmRegion, cpu: Cpu): Insn | undefined {
  const be = w.be;
  const u = be.u32;
  const s = cpu.state;
  u[ST_EXITREQ >> 2] = 0;
  be.pc = w.page;
  const sf = cpu.segFlags;
  let srm = 0;
  let swm = 0;
  // Only the segments its inline memory path tests (most functions: DS, or DS and SS).
  for (let seg = 0, m = w.segs; m !== 0; seg++, m >>>= 1) {
    if ((m & 1) === 0) continue;
    if ((sf[seg] & (SF_R | SF_FLAT | SF_LONG)) === (SF_R | SF_FLAT)) srm |= 1 << seg;
    if ((sf[seg] & (SF_W | SF_FLAT | SF_LONG)) === (SF_W | SF_FLAT)) swm |= 1 << seg;
  }
  // The TLB's privilege class (arena.ts TLB_USER); with #AC checks on, no segment is inline.
  const cls = s.cpl === 3 ? TLB_USER : 0;
  if (cpu.acEnabled) srm = swm = 0;
  // CR0.EM, CR0.TS clear and CR4.OSFXSR set (exec/x87/fpu-checks.ts checkSse): no instruction a
  // block may hold changes CR0 or CR4, so this holds for the whole call.
  if (w.sse) u[SSE_OK >> 2] = (s.cr[0] & 12) === 0 && (s.cr[4] & 512) !== 0 ? 1 : 0;
  const kind = w.fn(cpu.runLimit - cpu.runCount, srm, swm, cls, cls, s.segLimit[1]);
  storeFlags(cpu, u);
  cpu.runCount += u[ST_N >> 2];
  if (kind !== 0) {
    cpu.startEip = w.eips[u[ST_K >> 2]];
    cpu.startRipHi = 0;
    const e = be.fault;
    be.fault = null;
    if (e === GUEST_FAULT) return faultStatus(cpu);
    throw e;
  }
  const next = u[ST_NEXT >> 2];
  s.rip[0] = next;
  const o = next - w.page0;
  return o >= 0 && o < 4096 ? w.page.insns[o] : undefined;
}

/** The `JitBlock` around compiled function `fn` of region `blocks` (decode page `page`). */
function wrap(
  be: WasmBackend,
  fn: WasmFn,
  g: Generated,
  blocks: RegionBlock[],
  page: PageCode,
  bytes: number,
): JitBlock {
  const eip0 = blocks[0].eip;
  const w = new WasmRegion(be, fn, Uint32Array.from(g.eips), page, eip0 - blocks[0].off, g.segs, g.sse);
  const run = (cpu: Cpu): Insn | undefined => runWasm(w, cpu);
  return new JitBlock(eip0, 0, g.end, blocks[0].insns.length, run, bytes, blocks.length);
}

/** A region to compile: its blocks (entry first), its decode page, its mode and RIP[63:32]. */
export interface WasmRegionSpec {
  blocks: RegionBlock[];
  page: PageCode;
  /** 64-bit mode (default: the CPU's now), and RIP[63:32] there. */
  long?: boolean;
  hi?: number;
}

/**
 * A module generated and encoded on this thread (`prepareWasm`), not yet compiled: its bytes for
 * `new WebAssembly.Module` (here or on the compile worker: async-compile.ts), and what
 * `installWasm` needs to make its blocks once it is.
 */
export interface PreparedWasm {
  readonly bytes: Uint8Array;
  /** Entries of the caller's list (`compileWasm`'s `list`). */
  readonly count: number;
  /** The regions in the module (function `f${n}`), their mode and RIP[63:32] resolved. */
  readonly regions: Required<WasmRegionSpec>[];
  /** Index in the caller's list of each region in the module. */
  readonly slots: number[];
  readonly gens: (Generated | Generated64)[];
  /** `WasmBackend.epoch` when its handler sites were numbered. */
  readonly epoch: number;
}

/**
 * Generates and encodes the regions `list` into one module's bytes (v86 batches a page's blocks the
 * same way); null where no wasm can be made here for any of them (the caller compiles them with the
 * JS backend). A region left out (64-bit regions unless `WasmBackend.long`) is the JS backend's.
 */
export function prepareWasm(cpu: Cpu, list: WasmRegionSpec[]): PreparedWasm | null {
  // No WebAssembly at all (node --jitless, some embedders): the JS backend compiles everything.
  if (WA === undefined) return null;
  const be = wasmBackend(cpu);
  if (be.unavailable !== null) {
    be.stats.rejected += list.length;
    return null;
  }
  const t0 = performance.now();
  const regions: Required<WasmRegionSpec>[] = [];
  const slots: number[] = [];
  list.forEach((r, n) => {
    const long = r.long ?? cpu.long64;
    // 64-bit regions to the JS backend (`WasmBackend.long`).
    if (long && !be.long) return;
    regions.push({ blocks: r.blocks, page: r.page, long, hi: r.hi ?? cpu.state.rip[1] });
    slots.push(n);
  });
  be.stats.rejected += list.length - regions.length;
  if (regions.length === 0) return null;
  const sites0 = be.sites.length + be.sites64.length;
  const gens = regions.map((r): Generated | Generated64 =>
    r.long
      ? generate64(r.blocks, be.sites64, be.ramPages, r.hi, be.census !== null)
      : generate(r.blocks, be.ramPages, be.sites),
  );
  be.stats.handlerSites += be.sites.length + be.sites64.length - sites0;
  const bytes = buildModule(
    be.ramPages === 0 ? 1 : be.ramPages / 16 + 1,
    IMPORTS,
    FUNC_TYPE,
    gens.map((g) => g.f),
    be.sharedMemory,
  );
  if (be.onModule !== null)
    be.onModule(
      bytes,
      regions.map((r) => ({
        eip: r.blocks[0].eip,
        hi: r.hi,
        long: r.long,
        insns: r.blocks.reduce((n, b) => n + b.insns.length, 0),
        blocks: r.blocks,
      })),
    );
  be.stats.compileMs += performance.now() - t0;
  return { bytes, count: list.length, regions, slots, gens, epoch: be.epoch };
}

/**
 * Instantiates `module`, compiled from `p.bytes`, and wraps its functions as blocks: an entry per
 * entry of `prepareWasm`'s list, null where the region is not in the module or `keep` (by that
 * index) refuses it (its code changed while the module was compiled elsewhere: ../jit.ts); all
 * null where the handler sites it was numbered against were dropped since (`dropCode`).
 */
export function installWasm(
  cpu: Cpu,
  p: PreparedWasm,
  module: object,
  keep: ((n: number) => boolean) | null = null,
): (JitBlock | null)[] {
  const be = wasmBackend(cpu);
  const out: (JitBlock | null)[] = new Array(p.count).fill(null);
  // Its handler sites were dropped since (`dropCode`): its calls would run other instructions' handlers.
  if (p.epoch !== be.epoch) return out;
  const t0 = performance.now();
  const inst = new WA.Instance(module, { env: { m: be.memory, it: be.importTable } });
  const exps = inst.exports as Record<string, WasmFn>;
  const size = p.bytes.length / p.gens.length;
  p.gens.forEach((g, n) => {
    const slot = p.slots[n];
    if (keep !== null && !keep(slot)) return;
    const r = p.regions[n];
    const fn = exps[`f${n}`];
    be.stats.compiled++;
    if ('segs' in g) {
      out[slot] = wrap(be, fn, g, r.blocks, r.page, size);
      return;
    }
    be.stats.compiled64++;
    be.stats.sseInline64 += g.sseForms;
    out[slot] = wrap64(be, fn, g, r.blocks, r.page, r.hi, size, storeFlags);
  });
  be.stats.modules++;
  be.stats.bytes += p.bytes.length;
  be.stats.compileMs += performance.now() - t0;
  return out;
}

/**
 * Compiles the regions `list` into one module, here and now (`prepareWasm`, `new
 * WebAssembly.Module`, `installWasm`); an entry gets null where no wasm can be made here (the
 * caller compiles it with the JS backend). 64-bit regions: compile64.ts.
 */
export function compileWasm(cpu: Cpu, list: WasmRegionSpec[]): (JitBlock | null)[] {
  const p = prepareWasm(cpu, list);
  if (p === null) return list.map(() => null);
  const t0 = performance.now();
  const module = new WA.Module(p.bytes);
  wasmBackend(cpu).stats.compileMs += performance.now() - t0;
  return installWasm(cpu, p, module);
}
