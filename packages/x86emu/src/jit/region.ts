/**
 * Regions: the basic blocks one compiled function holds. From the block at the entry, the targets
 * of its direct branches (Jcc/JMP rel: constant targets) and its fall-through are followed while
 * they lie in the same decoded page, so that a loop nest or an if/else of one page runs as one
 * function (v86 compiles a page's blocks into one wasm function the same way), jumping between
 * its blocks without returning to the run loop, its registers and flags kept in locals.
 * Everything else (indirect branches, CALL, RET, code not decoded yet, other pages) leaves it.
 */
import type { PageCode } from '../cpu/fetch.js';
import type { Insn } from '../decoder/insn.js';
import { OPCODE_TABLE } from '../decoder/opcode-table.js';
import { notRep, ROW_KIND, repInBlock } from './rows.js';

/** Longest block, in instructions. */
export const MAX_BLOCK = 48;

/**
 * The instructions of a block starting at `first` (EIP `eip`, page offset `off` of `page`): up
 * to a branch, an instruction not allowed in blocks, one not decoded yet, or the page end.
 */
export function collect(page: PageCode, first: Insn, eip: number, off: number, long = false): Insn[] {
  const out: Insn[] = [];
  let insn: Insn | undefined = first;
  let e = eip;
  let o = off;
  while (insn !== undefined && out.length < MAX_BLOCK) {
    const kind = insn.row >= 0 ? ROW_KIND[insn.row] : 0;
    if (kind === 0 || insn.modeKey !== first.modeKey) break;
    // REP MOVS/STOS in 64-bit code (rows.ts REP_IN_BLOCK), where both backends run them; no other REP.
    if (!notRep(insn.rep, insn.row) && !(long && repInBlock(insn.rep, insn.row))) break;
    // EIP past 2^32 wraps in the interpreter's RIP store (carries into RIP[63:32] in 64-bit
    // mode): leave such code to it.
    if (e + insn.length > 0xffffffff) break;
    out.push(insn);
    if (kind === 2) break;
    e += insn.length;
    o += insn.length;
    if (o >= 4096) break;
    insn = page.insns[o];
  }
  return out;
}

/** At most this many blocks and instructions in a region (`JitTuning.regionBlocks` picks fewer). */
export const MAX_REGION_BLOCKS = 24;
/**
 * Blocks a region holds by default (`JitTuning.regionBlocks`), of which only those on a loop
 * through its entry are kept (`onCycle`), except in the wasm backend's 64-bit regions, which keep
 * their forward blocks too (`collectRegion`'s `cyclic`): bench-int32's CRC loop nest (three
 * blocks) runs as one function. 1 (a block alone, looping in itself) measured 7–10 % slower there; 24, which takes
 * in a whole outer loop nest, 2.5–3× slower (README).
 */
export const REGION_BLOCKS = 4;
/**
 * Blocks of a 64-bit region that keeps its forward blocks (the wasm backend's: `collectRegion`'s
 * `cyclic` false, `JitTuning.forwardRegionBlocks`): the blocks a function reaches in its page
 * without leaving it, each a hop of the chain saved (wasm/chain.ts). With V8's compiler threads
 * behind the vCPU thread (qemu-lite's host-thread.ts) Debian's boot to the shell on `-accel vmx`
 * took 7.29 s at 16 against 7.62 at 4 (medians of five alternated pairs, lower in four; the vCPU
 * thread's CPU 6.76 against 7.15 s), at about 0.6 CPU s more on V8's threads for the tier-up of
 * the larger functions; 24 was no better (README, "Regions of sixteen blocks").
 */
export const FORWARD_REGION_BLOCKS = 16;
export const MAX_REGION_INSNS = 400;

const TWO32 = 0x100000000;

export interface RegionBlock {
  /** EIP of the first instruction, its page offset, its instructions. */
  eip: number;
  off: number;
  insns: Insn[];
}

/**
 * The constant target of a direct Jcc/JMP rel that ends a block (EIP `eip` of the branch, `len`
 * its length), or -1: another operand size, a target in another 4 GiB (64-bit mode: RIP[63:32]
 * is the block's) — the function leaves there.
 */
export function directTarget(i: Insn, eip: number, long: boolean): number {
  const row = OPCODE_TABLE[i.row];
  if ((row.mnemonic !== 'JCC' && row.mnemonic !== 'JMP') || (row.operands !== 'Jb' && row.operands !== 'Jz'))
    return -1;
  const next = eip + i.length;
  if (long) {
    const t = next + i.imm;
    return t >= 0 && t < TWO32 ? t : -1;
  }
  if (i.opSize !== 4) return -1;
  return (next + i.imm) >>> 0;
}

/**
 * The blocks of the region entered at `first` (EIP `eip`, page offset `off`), the entry first, in
 * the order found (breadth first), then, where `cyclic`, only those on a loop through the entry
 * (`onCycle`). A block's successors are its branch's targets and its fall-through (after a Jcc,
 * or where it stopped at the length bound before an instruction that may be in a block) inside
 * the page, already decoded in the same mode. The wasm backend keeps
 * the forward blocks of 64-bit regions too (`cyclic` false, `Jit.forwardBlocks`): 72 % of its
 * 64-bit functions' exits went to a block of the same page, each a hop of the chain; Debian on
 * `-accel vmx` reached the shell in 8.72 s instead of 9.42 (README "The hop without the jump
 * cache").
 */
export function collectRegion(
  page: PageCode,
  first: Insn,
  eip: number,
  off: number,
  long: boolean,
  maxBlocks = MAX_REGION_BLOCKS,
  cyclic = true,
): RegionBlock[] {
  const out: RegionBlock[] = [];
  const seen = new Set<number>();
  const queue: [number, number][] = [[eip, off]];
  seen.add(eip);
  let total = 0;
  while (queue.length > 0 && out.length < maxBlocks) {
    const [e, o] = queue.shift() as [number, number];
    const insn = page.insns[o];
    if (insn === undefined || insn.modeKey !== first.modeKey) continue;
    const insns = collect(page, insn, e, o, long);
    if (insns.length === 0 || total + insns.length > MAX_REGION_INSNS) continue;
    total += insns.length;
    out.push({ eip: e, off: o, insns });
    let end = e;
    for (const i of insns) end += i.length;
    const last = insns[insns.length - 1];
    const branchEip = end - last.length;
    const t = directTarget(last, branchEip, long);
    const mnemonic = OPCODE_TABLE[last.row].mnemonic;
    const targets: number[] = [];
    if (t >= 0) targets.push(t);
    // Falls through: a Jcc, or a block cut short before an instruction that may start one.
    if ((t >= 0 && mnemonic === 'JCC') || ROW_KIND[last.row] === 1) targets.push(end);
    for (const to of targets) {
      const to_off = o + (to - e);
      if (to_off < 0 || to_off >= 4096 || seen.has(to) || to > 0xffffffff) continue;
      seen.add(to);
      queue.push([to, to_off]);
    }
  }
  return cyclic ? onCycle(out, long) : out;
}

/** EIPs a block of a region goes on to inside the page: its branch's constant target, its fall-through. */
function successors(b: RegionBlock, long: boolean): number[] {
  let end = b.eip;
  for (const i of b.insns) end += i.length;
  const last = b.insns[b.insns.length - 1];
  const t = directTarget(last, end - last.length, long);
  const out: number[] = [];
  if (t >= 0) out.push(t);
  if ((t >= 0 && OPCODE_TABLE[last.row].mnemonic === 'JCC') || ROW_KIND[last.row] === 1) out.push(end);
  return out;
}

/**
 * The entry and the blocks from which it is reached again: the loops through the entry, whose
 * jumps stay inside the function. Blocks only left to (a loop's exit, the code after it) are
 * not kept: they made functions several times larger, and a large function is slow in V8 in
 * two ways measured on bench-int32 — TurboFan took 0.4–0.65 s (on the loaded 2-core machine)
 * to compile each 20–30 KiB function, and compiled it again after every deopt at an exit taken
 * for the first time ("insufficient type feedback"), running it unoptimized meanwhile.
 */
function onCycle(blocks: RegionBlock[], long: boolean): RegionBlock[] {
  if (blocks.length <= 1) return blocks;
  const succ = blocks.map((b) => successors(b, long));
  const back = new Set<number>([blocks[0].eip]);
  for (let changed = true; changed; ) {
    changed = false;
    blocks.forEach((b, n) => {
      if (!back.has(b.eip) && succ[n].some((t) => back.has(t))) {
        back.add(b.eip);
        changed = true;
      }
    });
  }
  return blocks.filter((b, n) => n === 0 || back.has(b.eip));
}
