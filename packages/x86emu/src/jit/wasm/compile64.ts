/**
 * 64-bit mode in the wasm backend: a region (../region.ts) becomes one wasm function, as outside
 * 64-bit mode (compile.ts), its blocks a `br_table` in a loop (a jump to a later block a `br` to
 * it: emit.ts goTo), with the sixteen registers in i64
 * locals loaded from the CPU's registers in wasm memory (arena.ts REG/REG_HIGH) and the forms of
 * emit64.ts inline: MOV/LEA/MOVSXD/MOVZX/MOVSX, ADD/OR/AND/SUB/XOR/CMP/TEST, INC/DEC with 32- and
 * 64-bit operands and 64-bit addressing, PUSH/POP r64, CALL rel32, RET, Jcc/JMP; memory through
 * the TLB probed inline. Every other instruction calls its handler through the import `h64`, entered
 * as `Cpu.step` and the JS backend (../compile.ts) enter it: the registers the function holds
 * stored and its flag record made current first, `startEip` and RIP[31:0] set (`startRipHi` set by
 * `Jit.lookup64`), the instructions retired before it counted in `runCount` while it runs, the
 * registers reloaded after. RIP[63:32] is the same for the whole function (a region is one page);
 * a branch whose target leaves it is its handler's.
 */
import { GUEST_FAULT } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import type { Insn } from '../../decoder/insn.js';
import { OPCODE_TABLE } from '../../decoder/opcode-table.js';
import type { CpuState } from '../../state.js';
import { JitBlock } from '../block.js';
import { PEND_DYN } from '../flags.js';
import type { RegionBlock } from '../region.js';
import { REP_IN_BLOCK, ROW_KIND } from '../rows.js';
import {
  REG,
  REG_HIGH,
  SSE_OK,
  ST_CUR,
  ST_EXITREQ,
  ST_FP,
  ST_K,
  ST_N,
  ST_NEXT,
  ST_NEXTHI,
  ST_NTOT,
  ST_REPLAST,
  ST_REPX,
  ST_SEGB,
  TLB_USER,
} from './arena.js';
import { type Chain, chainSig } from './chain.js';
import {
  afterMemory,
  allocLocals,
  exitFault,
  exitNormal,
  goTo,
  type Locals,
  P_ROOM,
  PARAMS,
} from './emit.js';
import { emitSseWasm64 } from './emit-sse.js';
import { allocLocals64, type Ctx64, emitInsn64Wasm, type Locals64 } from './emit64.js';
import { FuncWriter, Op } from './encode.js';
import { directExitKind, ExitKind, emitExitCount } from './exit-census.js';
import { emitLoadFlagRecord, emitStoreFlagRecord, execSite, faultStatus } from './handler-call.js';

/** The import's index (after handler-call.ts IMP_HANDLER). */
export const IMP_HANDLER64 = 5;

/** One call site of `h64`: the instruction, its RIP[31:0] and the next one's, and RIP[63:32]. */
export interface Site64 {
  insn: Insn;
  eip: number;
  next: number;
  hi: number;
  /** A REP MOVS/STOS (../rows.ts REP_IN_BLOCK): its extra iterations go to ST_REPX (`emitRepCall64`). */
  rep?: boolean;
}

/** A 64-bit region's function and what its wrapper needs. */
export interface Generated64 {
  f: FuncWriter;
  eips: number[];
  end: number;
  /** Segments the inline memory path tests. */
  segs64: number;
  /** Whether it holds SSE forms inline (emit-sse.ts: the call sets SSE_OK), and how many. */
  sse: boolean;
  sseForms: number;
}

/**
 * Registers an instruction may name (a superset: the function holds these in locals, loaded at its
 * entry), in bits 15:0, and of those the ones an inline form may write (stored at its exits and
 * before a handler call), in bits 31:16. A byte operand 4…7 without a REX prefix is AH, CH, DH or
 * BH, bits 15:8 of RAX…RBX (SDM Vol. 1 3.4.1.1), not SPL…DIL: its register is 0…3; a shift by CL
 * reads RCX, which no field names. Before this was counted, a region naming DH alone (Debian's
 * kernel: `test dh, 0x38; jz` at 98 M instructions) read 0 from a local never loaded, and a write
 * to CH, DH or BH was never stored (tools/linux/lockstep.mjs found it). An inline form writes only
 * the registers its ModRM reg or r/m field (or its opcode) names, RAX (eAX forms, CDQE), RSP (the
 * stack forms) and RBP (LEAVE); a register named only as a base or an index is read, never
 * written: not stored (a hop of a chain stored every register it held before, ~10 instructions a
 * function on the kernel), and a handler call reloads every register after it, so a register
 * never written inline is the CPU's all along.
 */
function regsOf(blocks: RegionBlock[]): number {
  let r = 0;
  for (let b = 0; b < blocks.length; b++) r |= blockRegs(blocks[b]);
  const w = r >>> 16;
  return ((r | w) & 0xffff) | (w << 16);
}

/**
 * `regsOf` of one block: the registers it may name in bits 15:0, those it may write in bits 31:16
 * (RAX and RSP always, as `regsOf` counts them: the eAX and stack forms name them implicitly).
 */
function blockRegs(blk: RegionBlock): number {
  const base = 1 | (1 << 4); // RAX (eAX forms), RSP (the stack forms)
  let r = base | (base << 16);
  const insns = blk.insns;
  for (let n = 0; n < insns.length; n++) r |= insnRegs(insns[n]);
  return r;
}

/** `blockRegs` of one instruction, without RAX and RSP where it does not name them. */
function insnRegs(i: Insn): number {
  let m = 0;
  let w = 0;
  const base = i.base;
  const index = i.index;
  if (base >= 0 && base < 16) m |= 1 << base;
  if (index >= 0 && index < 16) m |= 1 << index;
  if (i.row < 0) return m;
  const k = ROW_REGS[i.row];
  // The ModRM reg field where the row's operands name a general register there (G), the r/m
  // field where they do (E, R, Z: the register in the opcode) and it is a register (mod 3, or
  // no ModRM): a group's extension in reg, the r/m bits of a memory operand (its base and index
  // are above) or an XMM register are none, and a function holding one loaded it and stored it
  // for nothing at every entry, exit and handler call.
  if ((k & ROW_REG_GPR) !== 0) {
    const reg = i.reg;
    w |= 1 << reg;
    if (i.rex === 0 && reg >= 4 && reg < 8) w |= 1 << (reg - 4);
  }
  if ((k & ROW_RM_GPR) !== 0 && (!i.hasModrm || i.mod === 3)) {
    const rm = i.rm;
    w |= 1 << rm;
    if (i.rex === 0 && rm >= 4 && rm < 8) w |= 1 << (rm - 4);
  }
  // The shifts by CL name RCX only implicitly (emit64.ts shiftCl reads it from its local), LEAVE
  // RBP (emit64.ts inlines it: before, a region whose LEAVE was its only mention of RBP read 0
  // from a local never loaded, and Debian took a #PF at linear 0 in native_flush_tlb_one_user).
  if ((k & ROW_RCX) !== 0) m |= 2;
  if ((k & ROW_RBP) !== 0) w |= 1 << 5;
  return m | w | (w << 16);
}

/**
 * The registers each block's head may find written inline since the function's entry (bits 15:0):
 * those of every block before it on a path from the entry inside the function (the jumps `goTo`
 * makes: a branch's or CALL's target, the fall-through; a loop's back edge too). A handler call
 * stores only these and what its own block wrote before it (`Gen64.wm`), then reloads every
 * register it holds: the others' locals still hold what the prologue or an earlier handler call
 * loaded, the CPU's.
 */
function writtenBefore(blocks: RegionBlock[], region: Map<number, [number, number]>): number[] {
  const own = blocks.map((b) => blockRegs(b) >>> 16);
  const into = own.map(() => 0);
  const succ: number[][] = blocks.map((b) => {
    let end = b.eip;
    for (const i of b.insns) end += i.length;
    const last = b.insns[b.insns.length - 1];
    const s: number[] = [];
    const to = (eip: number): void => {
      const t = region.get(eip);
      if (t !== undefined) s.push(t[0]);
    };
    to(end);
    if (last.row >= 0) {
      const m = OPCODE_TABLE[last.row].mnemonic;
      if (m === 'JCC' || m === 'JMP' || m === 'CALL') to(end + last.imm);
    }
    return s;
  });
  // A block alone may loop to itself: its head then finds its own writes (a handler call at its
  // start stored nothing else before, and reloaded the CPU's stale value over them).
  for (let changed = true; changed; ) {
    changed = false;
    for (let b = 0; b < blocks.length; b++)
      for (const t of succ[b]) {
        const w = into[t] | into[b] | own[b];
        if (w !== into[t]) {
          into[t] = w;
          changed = true;
        }
      }
  }
  return into;
}

/** What registers an opcode row's operands name (`regsOf`), by row. */
const ROW_REG_GPR = 1;
const ROW_RM_GPR = 2;
const ROW_RCX = 4;
const ROW_RBP = 8;
const ROW_REGS = Uint8Array.from(OPCODE_TABLE, (row) => {
  const ops = row.operands;
  let k = 0;
  if (ops.includes('G')) k |= ROW_REG_GPR;
  if (/(^|,)[ERZ]/.test(ops)) k |= ROW_RM_GPR;
  if (ops.endsWith(',CL')) k |= ROW_RCX;
  if (row.mnemonic === 'LEAVE') k |= ROW_RBP;
  return k;
});

/** Emits the stores of the register locals written (`regs` bits 31:16: regsOf) and of the flag record. */
function emitStore64(c: Ctx64, regs: number): void {
  const { f, l } = c;
  const q = c.q.q;
  for (let r = 0; r < 16; r++) {
    if (!(regs & (1 << (r + 16)))) continue;
    // i64.store32 stores the low half as it is: no wrap to i32 first (2 bytes a register).
    f.i32(0)
      .get(q[r])
      .mem(Op.i64Store32, REG + 4 * r);
    f.i32(0)
      .get(q[r])
      .i64(32, 0)
      .op(Op.i64ShrU)
      .mem(Op.i64Store32, REG_HIGH + 4 * r);
  }
  emitStoreFlagRecord(f, l);
}

/** Emits the loads of the register locals held (`regs` bits 15:0: regsOf) from the CPU's registers. */
function emitLoad64(c: Ctx64, regs: number): void {
  const { f } = c;
  const q = c.q.q;
  for (let r = 0; r < 16; r++) {
    if (!(regs & (1 << r))) continue;
    f.i32(0).mem(Op.i64Load32U, REG + 4 * r);
    f.i32(0)
      .mem(Op.i64Load32U, REG_HIGH + 4 * r)
      .i64(32, 0)
      .op(Op.i64Shl)
      .op(Op.i64Or);
    f.set(q[r]);
  }
}

/**
 * Emits the call of the handler of site `site` at the current instruction (`ends`: it ends the
 * block, or the function must leave after it anyway); afterwards the flags are in the CPU.
 */
function emitHandlerCall64(c: Gen64, site: number, ends: boolean, used: number): void {
  emitSiteCall64(c, site, used, 0);
  if (ends) {
    emitLeaveAfter(c);
    return;
  }
  c.f.get(c.l.t).open(Op.if);
  emitLeaveAfter(c);
  c.f.end();
}

/**
 * Emits the call of site `site`'s handler with the registers in `used` stored before it and
 * loaded after it, `before` instructions of the block counted retired besides the function's
 * (`l.n`); a fault leaves the function. Leaves ST_EXITREQ (the import's request) in `l.t`.
 */
function emitSiteCall64(c: Gen64, site: number, used: number, before: number): void {
  const { f, l } = c;
  // The registers written so far on any path here: the others are the CPU's already.
  emitStore64(c, (used & 0xffff) | (c.wm << 16));
  f.i32(site).get(l.n);
  if (before !== 0) f.i32(before).op(Op.i32Add);
  f.callImport(IMP_HANDLER64);
  f.i32(0).set(l.fp);
  emitLoad64(c, used);
  c.pend = 0;
  f.i32(0).mem(Op.i32Load, ST_EXITREQ).tee(l.t).i32(1).op(Op.i32Eq).open(Op.if);
  exitFault(c);
  f.end();
}

/**
 * Emits the function's leaving after the current instruction: at the RIP its handler left (a
 * branch's target; its own start when a lost LOCK race runs it again; after a REP, where it
 * stopped), the instruction counted.
 */
function emitLeaveAfter(c: Ctx64): void {
  const { f, l } = c;
  f.get(l.n)
    .i32(c.j + 1)
    .op(Op.i32Add)
    .set(l.n);
  f.i32(0).mem(Op.i32Load, ST_NEXT).set(l.next);
  f.i32(0).mem(Op.i32Load, ST_NEXTHI).set(c.q.nh);
  c.census?.(0, ExitKind.Handler);
  f.br('exit');
}

/**
 * Emits the call of a REP MOVS/STOS's handler (site `site`) at the current instruction, which goes
 * on after it in the function (and the chain) as the interpreter's run goes on after a REP it
 * finished: the handler runs with `runCount` at this instruction (the `j` before it in the block
 * counted too: its quota, `Cpu.repQuota`, is exact), its iterations beyond the first (what
 * `chargeIterations` takes off `runLimit`) come back in ST_REPLAST and leave the function's room.
 * It leaves after the REP (RIP where the handler left it) when the import asked (a fault; events
 * due, the code page written, a REP yielded half done: its `repInsn` changes `chainSig`) or when
 * the rest of the block no longer fits the room.
 */
function emitRepCall64(c: Gen64, site: number, used: number): void {
  const { f, l } = c;
  emitSiteCall64(c, site, used, c.j);
  f.get(P_ROOM).i32(0).mem(Op.i32Load, ST_REPLAST).op(Op.i32Sub).set(P_ROOM);
  f.get(l.t);
  f.get(P_ROOM).get(l.n).op(Op.i32Sub).i32(c.length).op(Op.i32LtS);
  f.op(Op.i32Or).open(Op.if);
  emitLeaveAfter(c);
  f.end();
}

/**
 * Generates the function of 64-bit region `blocks` (entry first, RIP[63:32] `hi`); the handler
 * calls it makes are added to the module's `sites`. Result 0: left at ST_NEXT/ST_NEXTHI, 1: a
 * fault at instruction ST_K, the ST_N before it retired.
 */
export function generate64(
  blocks: RegionBlock[],
  sites: Site64[],
  ramPages: number,
  hi: number,
  census = false,
): Generated64 {
  const f = new FuncWriter(PARAMS);
  const l = allocLocals(f);
  const q = allocLocals64(f);
  const region = new Map<number, [number, number]>();
  for (let b = 0; b < blocks.length; b++) region.set(blocks[b].eip, [b, blocks[b].insns.length]);
  const used = regsOf(blocks);
  const c = new Gen64(f, l, q, region, ramPages, hi, sites, used);
  if (census) c.census = exitCounter(c, blocks[0].eip >>> 12);
  const wIn = writtenBefore(blocks, region);
  const eips: number[] = [];
  let end = 0;
  let sseForms = 0;
  // The prologue: the registers in, the flag record the previous function of a chain left (chain.ts;
  // `fp` 0, flags in the CPU, at a chain's start), RIP[63:32] of every exit but a RET's and a
  // handler's.
  emitLoad64(c, used);
  emitLoadFlagRecord(f, l);
  f.i32(hi | 0).set(q.nh);
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
    // A block's head is reached from the run loop (flags in the CPU) and maybe from a jump.
    c.pend = PEND_DYN;
    c.eip = blk.eip;
    c.next = blk.eip;
    c.length = blk.insns.length;
    c.k = k;
    c.insns = blk.insns;
    c.insn = blk.insns[0];
    c.wm = wIn[b] | 1 | (1 << 4);
    c.blk = b;
    let ended = false;
    for (let j = 0; j < blk.insns.length; j++) {
      const i: Insn = blk.insns[j];
      if (j > 0) c.wm |= insnRegs(blk.insns[j - 1]) >>> 16;
      c.insn = i;
      c.eip = c.next;
      c.next = c.eip + i.length;
      c.j = j;
      c.k = k;
      eips.push(c.eip);
      k++;
      if (i.rep !== 0 && REP_IN_BLOCK[i.row] === 1) {
        emitRepCall64(c, sites.length, used);
        sites.push({ insn: i, eip: c.eip, next: c.next, hi, rep: true });
        continue;
      }
      if (!emitInsn64Wasm(c, i, OPCODE_TABLE[i.row], out)) {
        // SSE register forms inline, their handler where their checks fail (emit-sse.ts).
        const site = sites.length;
        if (emitSseWasm64(c, i, OPCODE_TABLE[i.row], () => emitHandlerCall64(c, site, false, used))) {
          sites.push({ insn: i, eip: c.eip, next: c.next, hi });
          sseForms++;
          continue;
        }
        const ends = ROW_KIND[i.row] === 2;
        emitHandlerCall64(c, sites.length, ends, used);
        sites.push({ insn: i, eip: c.eip, next: c.next, hi });
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
    if (!ended) {
      if (region.has(c.next)) goTo(c, c.next, false);
      else exitNormal(c, c.next, blk.insns.length);
    }
    f.op(Op.unreachable);
    if (b < n - 1) f.end();
  }
  f.end(); // loop
  f.end(); // exit
  emitStore64(c, used);
  const st = (off: number, local: number): void => void f.i32(0).get(local).mem(Op.i32Store, off);
  st(ST_N, l.n);
  st(ST_NEXT, l.next);
  st(ST_NEXTHI, q.nh);
  st(ST_K, l.k);
  f.get(l.kind);
  return { f, eips, end, segs64: c.segs, sse: sseForms > 0, sseForms };
}

/**
 * The emit context of one 64-bit function: one object, its per-block and per-instruction fields
 * set as `generate64` goes. A fresh object spread from a base for every block, with two closures
 * for the handler calls, cost a quarter of `generate64`'s own time on a boot's regions
 * (bench/generate64.mjs) and made the emitters' reads of it slow.
 */
class Gen64 implements Ctx64 {
  pend = PEND_DYN;
  eip = 0;
  next = 0;
  j = 0;
  k = 0;
  length = 0;
  segs = 0;
  insns: readonly Insn[] = [];
  /** The instruction being emitted: the site `handler` and `call` record. */
  insn: Insn | null = null;
  /**
   * Registers that may have been written inline before the current instruction (`writtenBefore`,
   * RAX and RSP always): what a handler call stores.
   */
  wm = 0;
  /** The block being emitted (emit.ts `goTo`: a jump to a later one is a `br` to it). */
  blk = 0;
  /** The exit census's counter (exit-census.ts), where it is on. */
  census: ((to: number, why: number) => void) | undefined = undefined;
  constructor(
    readonly f: FuncWriter,
    readonly l: Locals,
    readonly q: Locals64,
    readonly region: Map<number, [number, number]>,
    readonly ramPages: number,
    readonly hi: number,
    readonly sites: Site64[],
    /** The registers the function holds and writes (`regsOf`). */
    readonly used: number,
  ) {}
  handler(): void {
    emitHandlerCall64(this, this.sites.length, true, this.used);
    this.sites.push({ insn: this.insn as Insn, eip: this.eip, next: this.next, hi: this.hi });
  }
  call(): void {
    emitHandlerCall64(this, this.sites.length, false, this.used);
    this.sites.push({ insn: this.insn as Insn, eip: this.eip, next: this.next, hi: this.hi });
  }
}

/** The census's count of an exit of `c` (its kind from the instruction when `why` is -1). */
function exitCounter(c: Gen64, entryPage: number): (to: number, why: number) => void {
  return (to, why) => {
    const mnemonic = c.insn === null ? '' : OPCODE_TABLE[c.insn.row].mnemonic;
    emitExitCount(c.f, why >= 0 ? why : directExitKind(mnemonic, to, c.next, entryPage));
  };
}

/**
 * The import `h64(site, n)` of a module whose 64-bit call sites are `sites` (`n`: instructions of
 * this call retired before it; the chain's functions before it retired ST_NTOT more): the flag
 * record made current (`storeFlags`), RIP[63:32] and `startRipHi` the function's, the handler run,
 * the RIP it left in ST_NEXT/ST_NEXTHI. `caught` records a fault and sets EXITREQ 1. The function
 * leaves after it (EXITREQ 2) when events are due, a REP yielded half done (RIP at it), the code
 * page changed, or anything the chain relies on did (`chain`: chain.ts `chainSig`, `runLimit`;
 * FS's and GS's bases stored again): looked at after instructions that may change them, not
 * after straight-line ones (../rows.ts ROW_KIND 1, no REP).
 */
export function handler64Import(
  cpu: Cpu,
  sites: Site64[],
  u32: Uint32Array,
  storeFlags: (cpu: Cpu, u: Uint32Array) => void,
  caught: (e: unknown) => void,
  page: () => unknown,
  chain: Chain<Region64> | null,
  census: Uint32Array | null = null,
): (site: number, n: number) => void {
  return (site: number, n: number): void => {
    storeFlags(cpu, u32);
    if (chain !== null) chain.stats.calls++;
    const h = sites[site];
    if (census !== null) census[h.insn.row]++;
    const rip = cpu.state.rip;
    rip[1] = h.hi;
    cpu.startRipHi = h.hi;
    if (h.rep === true) {
      // The budget the REP strings before it in this call used is off `runLimit` while it runs
      // (its quota); what it used itself is reported, and `runLimit` left as the chain began.
      const lim = cpu.runLimit;
      const was = u32[ST_REPX >> 2];
      cpu.runLimit = lim - was;
      let ok: boolean;
      try {
        ok = execSite(cpu, h, n + u32[ST_NTOT >> 2], caught);
      } finally {
        const x = lim - was - cpu.runLimit;
        cpu.runLimit = lim;
        u32[ST_REPX >> 2] = was + x;
        u32[ST_REPLAST >> 2] = x;
      }
      if (!ok) return;
    } else if (!execSite(cpu, h, n + u32[ST_NTOT >> 2], caught)) return;
    u32[ST_NEXT >> 2] = rip[0];
    u32[ST_NEXTHI >> 2] = rip[1];
    const i = h.insn;
    if (ROW_KIND[i.row] === 1 && i.rep === 0) {
      // A straight-line instruction (../rows.ts: no segment, control or debug register, TF/RF,
      // shadow, privilege or mode change, no REP) leaves FS's and GS's bases, `chainSig` and
      // `runLimit` as they were: 1.1 M of Debian's 1.9 M handler calls to the power-off (PUSHF,
      // MOV r, Sreg, BSF, CLI, MUL, DIV, CMPXCHG, ...) computed them again for nothing.
      if (cpu.irqCheck || cpu.codePage !== page()) u32[ST_EXITREQ >> 2] = 2;
      return;
    }
    storeSegBases(u32, cpu.state);
    if (
      cpu.irqCheck ||
      cpu.repInsn !== null ||
      cpu.codePage !== page() ||
      (chain !== null && (chainSig(cpu) !== chain.sig || cpu.runLimit !== chain.limit))
    )
      u32[ST_EXITREQ >> 2] = 2;
  };
}

/** FS's and GS's bases into ST_SEGB, where the inline FS: and GS: operands read them (emit64.ts). */
function storeSegBases(u: Uint32Array, s: CpuState): void {
  const b = s.segBase;
  const h = s.segBaseHigh;
  const i = ST_SEGB >> 2;
  u[i] = b[4];
  u[i + 1] = h[4];
  u[i + 2] = b[5];
  u[i + 3] = h[5];
}

type WasmFn = (room: number, srm: number, swm: number, rp: number, wp: number, lim: number) => number;

/** What the call of one 64-bit function needs besides the CPU. */
interface Backend64 {
  u32: Uint32Array;
  pc: PageCode | null;
  fault: unknown;
  /** The table, jump cache and dispatch loop (chain.ts), or null: one function a call. */
  chain: Chain<Region64> | null;
}

export class Region64 {
  /** Its slot in the chain's table (-1: none now). */
  slot = -1;
  constructor(
    readonly be: Backend64,
    readonly fn: WasmFn,
    readonly eips: Uint32Array,
    readonly page: PageCode,
    readonly page0: number,
    readonly hi: number,
    readonly segs: number,
    readonly storeFlags: (cpu: Cpu, u: Uint32Array) => void,
    /** Whether it holds SSE forms inline (SSE_OK). */
    readonly sse: boolean,
    /** Instructions of its entry block (the budget's test at a hop). */
    readonly len: number,
    /**
     * Whether its code runs past its page's end (an instruction straddling it: region.ts, fetch.ts
     * crossPageOk): valid only while the next page maps the same frame, which `Jit` checks at each
     * entry from JavaScript; its jump cache entry is filled only where every change to that page
     * voids it (chain.ts `fill`).
     */
    readonly crosses: boolean,
  ) {}
}

/**
 * One call (`JitBlock.run`'s contract): one function for every 64-bit region, as runWasm; with a
 * chain (chain.ts) the dispatch loop runs it and the functions after it, and what follows is about
 * the last one that ran (`ST_CUR`), with the instructions of all counted.
 */
function runWasm64(w: Region64, cpu: Cpu): Insn | undefined {
  const be = w.be;
  const u = be.u32;
  const s = cpu.state;
  u[ST_EXITREQ >> 2] = 0;
  u[ST_REPX >> 2] = 0;
  // The flags are in the CPU (the prologue loads the record: chain.ts).
  u[ST_FP >> 2] = 0;
  storeSegBases(u, s);
  be.pc = w.page;
  // The segments inline, the TLB's privilege class (arena.ts TLB_USER), SSE usable: constant for
  // the call (chainSig: no instruction compiled inline changes them, a handler that does ends it).
  const sig = chainSig(cpu);
  const srm = sig & 63;
  const swm = (sig >>> 6) & 63;
  const cls = s.cpl === 3 ? TLB_USER : 0;
  u[SSE_OK >> 2] = (sig >>> 13) & 1;
  const ch = be.chain;
  let last = w;
  let kind: number;
  if (ch !== null) {
    ch.sig = sig;
    ch.limit = cpu.runLimit;
    const slot = ch.slotOf(w, w.fn);
    const user = cls !== 0;
    ch.fill(s.rip[0], s.rip[1], user, slot, w.len, w.crosses, w.page);
    ch.running = true;
    try {
      kind = ch.run(
        slot,
        cpu.runLimit - cpu.runCount,
        srm,
        swm,
        cls,
        ch.tag(true, user),
        ch.tag(false, user),
      );
    } finally {
      ch.running = false;
    }
    last = ch.regions[u[ST_CUR >> 2]] as Region64;
    cpu.runCount += u[ST_NTOT >> 2];
  } else kind = w.fn(cpu.runLimit - cpu.runCount, srm, swm, cls, cls, 0);
  w.storeFlags(cpu, u);
  cpu.runCount += u[ST_N >> 2];
  // REP strings' iterations beyond the first: budget, not retired instructions (chargeIterations).
  cpu.runLimit -= u[ST_REPX >> 2];
  if (kind !== 0) {
    cpu.startEip = last.eips[u[ST_K >> 2]];
    cpu.startRipHi = last.hi;
    s.rip[1] = last.hi;
    const e = be.fault;
    be.fault = null;
    if (e === GUEST_FAULT) return faultStatus(cpu);
    throw e;
  }
  const rip = s.rip;
  const next = u[ST_NEXT >> 2];
  const hi = u[ST_NEXTHI >> 2];
  rip[0] = next;
  rip[1] = hi;
  // A REP yielded half done (Jit.link would not see it): the interpreter's step goes on with it.
  if (hi !== last.hi || cpu.codePage !== last.page || cpu.repInsn !== null) return undefined;
  const o = next - last.page0;
  return o >= 0 && o < 4096 ? last.page.insns[o] : undefined;
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
  storeFlags: (cpu: Cpu, u: Uint32Array) => void,
): JitBlock {
  const eip0 = blocks[0].eip;
  const w = new Region64(
    be,
    fn,
    Uint32Array.from(g.eips),
    page,
    eip0 - blocks[0].off,
    hi,
    g.segs64,
    storeFlags,
    g.sse,
    blocks[0].insns.length,
    g.end - (eip0 - blocks[0].off) > 4096,
  );
  const run = (cpu: Cpu): Insn | undefined => runWasm64(w, cpu);
  return new JitBlock(eip0, hi, g.end, blocks[0].insns.length, run, bytes, blocks.length);
}
