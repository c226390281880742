/**
 * The stack of a privilege change (SDM Vol. 3 6.12.1, 5.8.5): SS:ESP for the new level from the
 * current TSS, the checks of that stack segment, and system pushes onto it.
 */
import * as C from './consts.js';
import type { Cpu } from './cpu.js';

/** Writes `v` below `sp` on a stack with base `base` (a system push at privilege `cpl`); returns the new sp. */
export function pushSys(
  cpu: Cpu,
  base: number,
  sp: number,
  mask: number,
  size: number,
  v: number,
  cpl: number,
): number {
  const nsp = (sp - size) & mask;
  cpu.linWriteSys((base + nsp) >>> 0, size, v, cpl);
  return nsp >>> 0;
}

export function tssStack(cpu: Cpu, dpl: number, ext: number): void {
  const s = cpu.state;
  const trType = s.segAttr[7] & 0xf;
  const is32 = trType === 0xb || trType === 0x9;
  const off = is32 ? 4 + dpl * 8 : 2 + dpl * 4;
  const need = is32 ? off + 5 : off + 3;
  if (need > s.segLimit[7]) cpu.raise(C.TS, (s.segSel[7] & 0xfffc) | ext, true);
  const base = s.segBase[7];
  if (is32) {
    cpu.tssEsp = cpu.linRead((base + off) >>> 0, 4, 0);
    cpu.tssSs = cpu.linRead((base + off + 4) >>> 0, 2, 0);
  } else {
    cpu.tssEsp = cpu.linRead((base + off) >>> 0, 2, 0);
    cpu.tssSs = cpu.linRead((base + off + 2) >>> 0, 2, 0);
  }
}

/** Checks the stack segment of a privilege change (SDM Vol. 3 6.12.1: #TS cases). Returns descriptor low; high in descHi. */
export function loadStackForPrivilege(cpu: Cpu, ssSel: number, dpl: number, ext: number): number {
  if ((ssSel & 0xfffc) === 0) cpu.raise(C.TS, ext, true);
  const lo = cpu.readDescriptorLo(ssSel, ext, C.TS);
  const hi = cpu.descHi;
  const t = (hi >>> 8) & 0x1f;
  if ((ssSel & 3) !== dpl || ((hi >>> 13) & 3) !== dpl || (t & 0x1a) !== 0x12)
    cpu.raise(C.TS, (ssSel & 0xfffc) | ext, true);
  if (!(hi & 0x8000)) cpu.raise(C.SS, (ssSel & 0xfffc) | ext, true);
  return lo;
}
