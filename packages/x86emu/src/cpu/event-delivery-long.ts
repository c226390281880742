/**
 * Interrupt and exception delivery in IA-32e mode (SDM Vol. 3 6.14): 16-byte IDT gates to 64-bit
 * code segments, the stack from the 64-bit TSS (RSP0–2, or IST1–7 when the gate names one)
 * aligned down to 16 bytes, and SS:RSP, RFLAGS, CS:RIP (and the error code) always pushed as
 * 8-byte slots. A privilege change loads SS with a null selector at the new CPL. Task gates do
 * not exist in IA-32e mode (#GP).
 */
import { EventType } from '../api/intercepts.js';
import { Flag, SegAttr } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';

const TWO32 = 4294967296;
const TWO48 = 281474976710656;
const DESC_L = 1 << 21;
const DESC_D = 1 << 22;

/** Linear address of a 64-bit base (lo, hi) plus `off`, folded to 48 bits (`Cpu.lpnOf` convention). */
function linear(lo: number, hi: number, off: number): number {
  const v = (hi & 0xffff) * TWO32 + lo + off;
  return v >= TWO48 ? v - TWO48 : v;
}

/** New RSP halves while building the frame. */
let rspLo = 0;
let rspHi = 0;

function push8(cpu: Cpu, lo: number, hi: number, cpl: number): void {
  const l = rspLo - 8;
  if (l < 0) {
    rspLo = l + TWO32;
    rspHi = (rspHi - 1) >>> 0;
  } else rspLo = l;
  const h = rspHi | 0;
  if (h >= 0x8000 || h < -0x8000) cpu.raise(C.SS, 0, true);
  const lin = linear(rspLo, rspHi, 0);
  cpu.linWriteSys(lin, 4, lo, cpl);
  cpu.linWriteSys(cpu.linNext(lin, 4), 4, hi, cpl);
}

export function deliverLong(
  cpu: Cpu,
  type: number,
  vector: number,
  ec: number,
  hasError: boolean,
  instrLen: number,
  flags: number,
  ext: number,
): void {
  const s = cpu.state;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > s.dtLimit[1]) cpu.raise(C.GP, gateErr, true);
  const gAddr = linear(s.dtBase[1], s.dtBaseHigh[1], vector * 16);
  const w0 = cpu.linRead(gAddr, 4, 0);
  const w1 = cpu.linRead(cpu.linNext(gAddr, 4), 4, 0);
  const w2 = cpu.linRead(cpu.linNext(gAddr, 8), 4, 0);
  const gType = (w1 >>> 8) & 0x1f;
  if (gType !== 0x0e && gType !== 0x0f) cpu.raise(C.GP, gateErr, true);
  const cpl = s.cpl;
  // INT n / INT3 / INTO check the gate DPL against CPL (SDM Vol. 3 6.12.1.1); INT1 does not.
  if (
    (type === EventType.SoftwareInterrupt || type === EventType.SoftwareException) &&
    ((w1 >>> 13) & 3) < cpl
  )
    cpu.raise(C.GP, vector * 8 + 2, true);
  if (!(w1 & 0x8000)) cpu.raise(C.NP, gateErr, true);
  const sel = w0 >>> 16;
  const offLo = ((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0;
  const offHi = w2 >>> 0;
  const ist = w1 & 7;
  if ((sel & 0xfffc) === 0) cpu.raise(C.GP, ext, true);
  const dLo = cpu.readDescriptorLo(sel, ext);
  const dHi = cpu.descHi;
  const dType = (dHi >>> 8) & 0x1f;
  const dDpl = (dHi >>> 13) & 3;
  // The target must be a 64-bit code segment (L = 1, D = 0) (SDM Vol. 3 6.14.1).
  if ((dType & 0x18) !== 0x18 || dDpl > cpl || !(dHi & DESC_L) || dHi & DESC_D)
    cpu.raise(C.GP, (sel & 0xfffc) | ext, true);
  if (!(dHi & 0x8000)) cpu.raise(C.NP, (sel & 0xfffc) | ext, true);
  const oh = offHi | 0;
  if (oh >= 0x8000 || oh < -0x8000) cpu.raise(C.GP, ext, true);
  const newCpl = dType & 4 ? cpl : dDpl;
  // The stack: IST n, else RSPn on a privilege change, else the current one (SDM 6.14.4, 6.14.5).
  let tssOff = -1;
  if (ist !== 0) tssOff = 0x24 + (ist - 1) * 8;
  else if (newCpl < cpl) tssOff = 4 + newCpl * 8;
  if (tssOff >= 0) {
    if (tssOff + 7 > s.segLimit[7]) cpu.raise(C.TS, (s.segSel[7] & 0xfffc) | ext, true);
    const t = linear(s.segBase[7], s.segBaseHigh[7], tssOff);
    rspLo = cpu.linRead(t, 4, 0);
    rspHi = cpu.linRead(cpu.linNext(t, 4), 4, 0);
  } else {
    rspLo = s.gpr[4];
    rspHi = s.gprHigh[4];
  }
  // Aligned down to 16 bytes before the pushes (SDM 6.14.2).
  rspLo = (rspLo & 0xfffffff0) >>> 0;
  let retLo = s.rip[0] + instrLen;
  let retHi = s.rip[1];
  if (retLo >= TWO32) {
    retLo -= TWO32;
    retHi = (retHi + 1) >>> 0;
  }
  push8(cpu, s.segSel[2], 0, newCpl);
  push8(cpu, s.gpr[4], s.gprHigh[4], newCpl);
  push8(cpu, flags, 0, newCpl);
  push8(cpu, s.segSel[1], 0, newCpl);
  push8(cpu, retLo, retHi, newCpl);
  if (hasError) push8(cpu, ec, 0, newCpl);
  // Commit.
  if (newCpl !== cpl) {
    s.segSel[2] = newCpl;
    s.segBase[2] = 0;
    s.segBaseHigh[2] = 0;
    s.segLimit[2] = 0;
    s.segAttr[2] = SegAttr.UNUSABLE | (newCpl << SegAttr.DPL_SHIFT);
  }
  s.gpr[4] = rspLo;
  s.gprHigh[4] = rspHi;
  cpu.setDescAccessed(sel, dHi);
  s.cpl = newCpl;
  cpu.setSegFromDesc(1, (sel & 0xfffc) | newCpl, dLo, dHi);
  s.rip[0] = offLo;
  s.rip[1] = offHi;
  let nf = flags & ~(Flag.TF | Flag.NT | Flag.RF | Flag.VM);
  if (!(gType & 1)) nf &= ~Flag.IF; // interrupt gate clears IF; trap gate does not
  s.rflags[0] = nf;
  cpu.updateAc();
  cpu.updateMode();
  for (let r = 0; r < 6; r++) cpu.updateSegFlags(r);
}
