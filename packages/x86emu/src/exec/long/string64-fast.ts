/**
 * REP MOVS / REP STOS in 64-bit mode a page at a time on host views (DF = 0): the kernel's
 * memset/memcpy/clear_page (`rep stosb`, `rep movsq`, ...) without an element-by-element loop.
 * The architectural result is the element loop's (string64.ts `once`): registers end where it
 * would leave them, the first element of each chunk goes through the ordinary segment, canonical
 * and #PF checks (a fault is raised exactly where the element loop would raise it, CR2 included),
 * and writes to frames with decoded code invalidate them through the TLB's write path (tlb.ts).
 */
import { TLB_MASK } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { PFERR } from '../../paging/walker.js';
import { copyInPage, fillElements, STOS } from '../string.js';
import { advanceIndex, indexOffset, TWO32 } from './operands64.js';

/**
 * Elements from linear `lin` (offset `off`) that stay in its page and, with a 32-bit address
 * size, below the offset's wrap at 2^32 (where the element loop's address jumps back to 0).
 */
function inPage(lin: number, off: number, ad: number, size: number, want: number): number {
  let n = Math.floor((4096 - (lin & 0xfff)) / size);
  if (ad === 4) n = Math.min(n, Math.floor((TWO32 - off) / size));
  return Math.min(n, want);
}

/**
 * One page-bounded chunk of REP MOVS / REP STOS in 64-bit mode, DF = 0: at most `max` elements
 * of `size` bytes; returns how many were done (registers updated), 0 when the chunk is not
 * eligible (MMIO, an element crossing a page, a MOVS whose destination overlaps its source by
 * less than an element: the element loop reads bytes it has just written there).
 */
export function fastChunk64(cpu: Cpu, i: Insn, kind: number, size: number, max: number): number {
  const s = cpu.state;
  const ad = i.adSize;
  const count = ad === 4 ? s.gpr[1] : s.gprHigh[1] * TWO32 + s.gpr[1];
  const acc = cpu.state.cpl === 3 ? PFERR.USER : 0;
  const copy = kind !== STOS;
  // MOVS reads its source before it writes its destination: the source's checks come first.
  const srcSeg = i.seg >= 0 ? i.seg : 3;
  const sOff = copy ? indexOffset(cpu, 6, ad) : 0;
  const sLin = copy ? cpu.segAddr(srcSeg, sOff, size, false) : 0;
  if (copy) cpu.translate(sLin, acc);
  const dOff = indexOffset(cpu, 7, ad);
  // The ES base is ignored in 64-bit mode (SDM Vol. 1 3.3.7.1); segAddr knows.
  const dLin = cpu.segAddr(0, dOff, size, true);
  let n = inPage(dLin, dOff, ad, size, Math.min(count, max));
  if (copy && n !== 0) n = inPage(sLin, sOff, ad, size, n);
  if (n === 0) return 0;
  cpu.translate(dLin, acc | PFERR.WRITE);
  const dIdx = (dLin >>> 12) & TLB_MASK;
  const dView = cpu.tlbView[dIdx];
  if (dView === null) return 0;
  const dO = dLin & 0xfff;
  const bytes = n * size;
  if (!copy) fillElements(dView, dO, bytes, size, s.gpr[0], s.gprHigh[0]);
  else {
    if (!copyInPage(cpu, sLin, dLin, acc, size, dView, dO, bytes)) return 0;
    advanceIndex(cpu, 6, ad, bytes);
  }
  advanceIndex(cpu, 7, ad, bytes);
  advanceIndex(cpu, 1, ad, -n);
  return n;
}
