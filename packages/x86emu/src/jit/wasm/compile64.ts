/**
 * 64-bit mode in the wasm backend, first step: a region's entry block becomes a wasm function
 * that runs each instruction through the interpreter's handler (an import, `h64`), with the
 * registers and lazy flags left in the CPU (no locals to exchange: a 64-bit register is two
 * halves there, `gpr`/`gprHigh`). What it saves over the interpreter is the per-instruction fetch,
 * decode-cache probe and run-loop checks (`Jit.mayRun` made them once for the block); what it
 * saves over the JS backend on cold code is the compile (batched wasm ~50 µs a region against
 * `new Function`'s ~400 µs: ../README.md "The wasm backend"). The handler is entered as `Cpu.step`
 * and the JS backend (../compile.ts) enter it: `startEip` and RIP[31:0] set, `startRipHi` set by
 * `Jit.lookup64`, the instructions retired before it counted in `runCount` while it runs.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import type { Insn } from '../../decoder/insn.js';
import { JitBlock } from '../block.js';
import type { RegionBlock } from '../region.js';
import { ROW_KIND } from '../rows.js';
import { ST_EXITREQ, ST_K, ST_N } from './arena.js';
import { PARAMS } from './emit.js';
import { FuncWriter, Op } from './encode.js';
import { execSite } from './handler-call.js';

/** The import's index (after handler-call.ts IMP_HANDLER). */
export const IMP_HANDLER64 = 5;

/** One call site of `h64`: the instruction, its RIP[31:0] and the next one's. */
export interface Site64 {
  insn: Insn;
  eip: number;
  next: number;
}

/** A 64-bit region's function and what its wrapper needs. */
export interface Generated64 {
  f: FuncWriter;
  eips: number[];
  end: number;
}

/**
 * The function of the entry block of `blocks` (the others stay with the run loop: every branch is
 * a handler here, so nothing jumps inside the function). Result 0: left normally (RIP in the CPU,
 * as the last handler left it), 1: a fault at instruction `k` (ST_K), the `n` before it retired.
 */
export function generate64(blocks: RegionBlock[], sites: Site64[]): Generated64 {
  const f = new FuncWriter(PARAMS);
  const n = f.local();
  const k = f.local();
  const kind = f.local();
  const t = f.local();
  const insns = blocks[0].insns;
  const eips: number[] = [];
  let eip = blocks[0].eip;
  f.open(Op.block, 'exit');
  for (let j = 0; j < insns.length; j++) {
    const i = insns[j];
    const next = eip + i.length;
    eips.push(eip);
    f.i32(sites.length).i32(j).call(IMP_HANDLER64);
    sites.push({ insn: i, eip, next });
    eip = next;
    // EXITREQ 1: the handler faulted (the import caught it); 2: an event check is due or the code
    // page is gone — leave after it, at the RIP it left.
    f.i32(0).mem(Op.i32Load, ST_EXITREQ).tee(t).i32(1).op(Op.i32Eq).open(Op.if);
    f.i32(j).set(n).i32(j).set(k).i32(1).set(kind).br('exit');
    f.end();
    if (ROW_KIND[i.row] === 2) {
      f.i32(j + 1)
        .set(n)
        .br('exit');
      break;
    }
    f.get(t).open(Op.if);
    f.i32(j + 1)
      .set(n)
      .br('exit');
    f.end();
    if (j === insns.length - 1)
      f.i32(j + 1)
        .set(n)
        .br('exit');
  }
  f.end();
  f.i32(0).get(n).mem(Op.i32Store, ST_N);
  f.i32(0).get(k).mem(Op.i32Store, ST_K);
  f.get(kind);
  return { f, eips, end: eip };
}

/**
 * The import `h64(site, n)` of a module whose 64-bit call sites are `sites` (`n`: instructions of
 * this call retired before it). `caught` records a fault and sets EXITREQ 1.
 */
export function handler64Import(
  cpu: Cpu,
  sites: Site64[],
  u32: Uint32Array,
  caught: (e: unknown) => void,
  page: () => unknown,
): (site: number, n: number) => void {
  return (site: number, n: number): void => {
    if (!execSite(cpu, sites[site], n, caught)) return;
    if (cpu.irqCheck || cpu.codePage !== page()) u32[ST_EXITREQ >> 2] = 2;
  };
}

type WasmFn = (room: number, srm: number, swm: number, rp: number, wp: number, lim: number) => number;

/** What the call of one 64-bit function needs besides the CPU. */
interface Backend64 {
  u32: Uint32Array;
  pc: PageCode | null;
  fault: unknown;
}

class Region64 {
  constructor(
    readonly be: Backend64,
    readonly fn: WasmFn,
    readonly eips: Uint32Array,
    readonly page: PageCode,
    readonly page0: number,
    readonly hi: number,
  ) {}
}

/** One call (`JitBlock.run`'s contract): one function for every 64-bit region, as runWasm. */
function runWasm64(w: Region64, cpu: Cpu): Insn | undefined {
  const be = w.be;
  const u = be.u32;
  u[ST_EXITREQ >> 2] = 0;
  be.pc = w.page;
  const kind = w.fn(cpu.runLimit - cpu.runCount, 0, 0, 0, 0, 0);
  cpu.runCount += u[ST_N >> 2];
  if (kind !== 0) {
    cpu.startEip = w.eips[u[ST_K >> 2]];
    cpu.startRipHi = w.hi;
    const e = be.fault;
    be.fault = null;
    throw e;
  }
  const rip = cpu.state.rip;
  if (rip[1] !== w.hi) return undefined;
  const o = rip[0] - w.page0;
  return o >= 0 && o < 4096 ? w.page.insns[o] : undefined;
}

/** The `JitBlock` around 64-bit function `fn` of region `blocks` (RIP[63:32] `hi`). */
export function wrap64(
  be: Backend64,
  fn: WasmFn,
  g: Generated64,
  blocks: RegionBlock[],
  page: PageCode,
  hi: number,
  bytes: number,
): JitBlock {
  const eip0 = blocks[0].eip;
  const w = new Region64(be, fn, Uint32Array.from(g.eips), page, eip0 - blocks[0].off, hi);
  const run = (cpu: Cpu): Insn | undefined => runWasm64(w, cpu);
  return new JitBlock(eip0, hi, g.end, blocks[0].insns.length, run, bytes, 1);
}
