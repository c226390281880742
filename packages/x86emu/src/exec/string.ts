/**
 * String instructions with REP/REPE/REPNE (SDM Vol. 1 7.3.9, Vol. 2 REP). Each iteration
 * commits (E)SI/(E)DI/(E)CX, so a fault midway leaves the registers describing the iterations
 * done and RIP at the instruction, as the SDM requires. A long REP yields every 4096 iterations
 * (RIP stays at the instruction) so interrupts are honoured between iterations, and every
 * iteration counts against `run(budget)` (`Cpu.repQuota`/`chargeIterations`): a REP with a count
 * of 2^32 stops at the budget with the registers showing its progress, as an interrupt taken
 * between iterations would (SDM Vol. 2 REP: "the instruction is resumed when the interrupt
 * handler returns"), and resumes in the next run.
 */
import { InterceptKind } from '../api/intercepts.js';
import { SF_EXPDOWN, TLB_MASK } from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { PFERR } from '../paging/walker.js';
import { Flag } from '../state.js';
import { aluOp } from './alu.js';

/** Iterations a REP runs before it yields to the run loop's budget. */
export const CHUNK = 4096;

// The string instruction kinds, shared with the 64-bit forms (exec/long/string64.ts).
export const MOVS = 0;
export const CMPS = 1;
export const STOS = 2;
export const LODS = 3;
export const SCAS = 4;
export const INS = 5;
export const OUTS = 6;

function idx(cpu: Cpu, r: number, ad: number): number {
  return ad === 2 ? cpu.state.gpr[r] & 0xffff : cpu.state.gpr[r];
}
function step(cpu: Cpu, r: number, ad: number, delta: number): void {
  const g = cpu.state.gpr;
  if (ad === 2) g[r] = (g[r] & 0xffff0000) | ((g[r] + delta) & 0xffff);
  else g[r] = g[r] + delta;
}

function once(cpu: Cpu, i: Insn, kind: number, size: number, delta: number): void {
  const ad = i.adSize;
  const srcSeg = i.seg >= 0 ? i.seg : 3;
  switch (kind) {
    case MOVS: {
      const v = cpu.read(srcSeg, idx(cpu, 6, ad), size);
      cpu.write(0, idx(cpu, 7, ad), size, v);
      step(cpu, 6, ad, delta);
      step(cpu, 7, ad, delta);
      return;
    }
    case CMPS: {
      // ES:[EDI] first, as the real CPU (string64.ts).
      const b = cpu.read(0, idx(cpu, 7, ad), size);
      const a = cpu.read(srcSeg, idx(cpu, 6, ad), size);
      aluOp(cpu, 7, a, b, size);
      step(cpu, 6, ad, delta);
      step(cpu, 7, ad, delta);
      return;
    }
    case STOS:
      cpu.write(0, idx(cpu, 7, ad), size, cpu.getReg(0, size, 0));
      step(cpu, 7, ad, delta);
      return;
    case LODS:
      cpu.setReg(0, size, 0, cpu.read(srcSeg, idx(cpu, 6, ad), size));
      step(cpu, 6, ad, delta);
      return;
    case SCAS:
      aluOp(cpu, 7, cpu.getReg(0, size, 0), cpu.read(0, idx(cpu, 7, ad), size), size);
      step(cpu, 7, ad, delta);
      return;
    case INS: {
      // The destination is checked before the port is read (SDM INS: faults leave the port unread).
      const lin = cpu.segAddr(0, idx(cpu, 7, ad), size, true);
      cpu.probeWrite(lin, size);
      const v = cpu.portIn(cpu.state.gpr[2] & 0xffff, size);
      cpu.write(0, idx(cpu, 7, ad), size, v);
      step(cpu, 7, ad, delta);
      return;
    }
    default: {
      const v = cpu.read(srcSeg, idx(cpu, 6, ad), size);
      cpu.portOut(cpu.state.gpr[2] & 0xffff, size, v);
      step(cpu, 6, ad, delta);
      return;
    }
  }
}

const FAST_CHUNKS = 64;

/**
 * Largest element count from offset `off` that stays inside segment `seg`'s limit and inside
 * one page at linear `lin` (0 when the segment is expand-down or the first element crosses a
 * page: the element-by-element path handles those, faults included).
 */
function elementsInPage(cpu: Cpu, seg: number, off: number, lin: number, size: number, want: number): number {
  if (cpu.segFlags[seg] & SF_EXPDOWN) return 0;
  const byLimit = Math.floor((cpu.state.segLimit[seg] - off + 1) / size);
  const byPage = Math.floor((4096 - (lin & 0xfff)) / size);
  const byWrap = Math.floor((4294967296 - off) / size);
  return Math.max(0, Math.min(want, byLimit, byPage, byWrap));
}

/**
 * A REP MOVS chunk's bytes, source and destination each inside one page, on host views; false
 * (nothing copied) where the element loop must do it: the source is not host RAM, or the
 * destination starts less than an element past the source (each element then reads bytes the
 * previous one just wrote, which a byte loop does not reproduce).
 */
export function copyInPage(
  cpu: Cpu,
  sLin: number,
  dLin: number,
  acc: number,
  size: number,
  dView: Uint8Array,
  dO: number,
  bytes: number,
): boolean {
  // The destination's translation may have evicted the source's (same TLB slot), and back.
  const sPa = cpu.translate(sLin, acc);
  const sView = cpu.tlbView[(sLin >>> 12) & TLB_MASK];
  if (sView === null) return false;
  const dPa = cpu.translate(dLin, acc | PFERR.WRITE);
  const d = dPa - sPa;
  if (d > 0 && d < size) return false;
  const sO = sLin & 0xfff;
  // Not overlapping, or the destination before the source: a memmove is the element loop's result
  // (TypedArray.set copies as memmove within one buffer; another frame never overlaps).
  if (d <= 0 || d >= bytes) dView.set(sView.subarray(sO, sO + bytes), dO);
  // A forward byte loop: with the destination at least an element past the source, every byte it
  // reads is the one the element loop would read.
  else for (let k = 0; k < bytes; k++) dView[dO + k] = sView[sO + k];
  return true;
}

/**
 * Stores `bytes` bytes at offset `o` of `view`: the `size`-byte element whose bytes are `lo` then
 * `hi` (little-endian), repeated; REP STOS's chunk. One `fill` when its bytes are all equal (the
 * kernel's clear_page and memset of 0: `rep stosq` of 0), else the first element doubled by
 * `copyWithin` (both native, where this was a JavaScript loop of a byte an iteration).
 */
export function fillElements(
  view: Uint8Array,
  o: number,
  bytes: number,
  size: number,
  lo: number,
  hi: number,
): void {
  const b0 = lo & 0xff;
  let uniform = true;
  for (let b = 1; b < size && uniform; b++)
    uniform = ((b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff) === b0;
  if (uniform) {
    view.fill(b0, o, o + bytes);
    return;
  }
  for (let b = 0; b < size; b++) view[o + b] = (b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff;
  for (let done = size; done < bytes; ) {
    const c = Math.min(done, bytes - done);
    view.copyWithin(o + done, o, o + c);
    done += c;
  }
}

/**
 * One page-bounded chunk of REP MOVS / REP STOS (DF = 0, 32-bit addressing) on host views.
 * The first element goes through the ordinary checks (segment, #PF with the right CR2), so a
 * fault happens exactly where the element-by-element loop would raise it. At most `max` elements;
 * returns how many were done, 0 when the chunk is not eligible (MMIO, page-crossing element,
 * expand-down segment).
 */
function fastChunk(cpu: Cpu, i: Insn, kind: number, size: number, max: number): number {
  const g = cpu.state.gpr;
  const count = g[1];
  const acc = cpu.dataAccess(false);
  const copy = kind !== STOS;
  // MOVS reads its source before it writes its destination: the source's segment and page checks
  // come first, as in the element loop (\`once\`). A null FS source in compatibility mode is #GP(0)
  // even when the destination page is read-only (found by the compat32 difftest).
  const srcSeg = i.seg >= 0 ? i.seg : 3;
  const sOff = g[6];
  const sLin = copy ? cpu.segAddr(srcSeg, sOff, size, false) : 0;
  if (copy) cpu.translate(sLin, acc);
  const dOff = g[7];
  const dLin = cpu.segAddr(0, dOff, size, true);
  let n = elementsInPage(cpu, 0, dOff, dLin, size, Math.min(count, max));
  if (copy && n !== 0) n = elementsInPage(cpu, srcSeg, sOff, sLin, size, n);
  if (n === 0) return 0;
  cpu.translate(dLin, acc | PFERR.WRITE);
  const dView = cpu.tlbView[(dLin >>> 12) & TLB_MASK];
  if (dView === null) return 0;
  const dO = dLin & 0xfff;
  if (!copy) fillElements(dView, dO, n * size, size, g[0], 0);
  else {
    if (!copyInPage(cpu, sLin, dLin, acc, size, dView, dO, n * size)) return 0;
    g[6] = sOff + n * size;
  }
  g[7] = dOff + n * size;
  g[1] = count - n;
  return n;
}

export function makeString(row: OpcodeRow): Handler {
  const kind = ['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'INS', 'OUTS'].indexOf(row.mnemonic);
  const byte = /[XY]b/.test(row.operands);
  const compares = kind === CMPS || kind === SCAS;
  const io = kind === INS || kind === OUTS;
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize === 2 ? 2 : 4;
    if (io) {
      const port = cpu.state.gpr[2] & 0xffff;
      cpu.checkIoPermission(port, size);
      if (cpu.wantsIntercept(InterceptKind.Io)) {
        const x = cpu.exit;
        x.port = port;
        x.ioSize = size;
        x.ioIn = kind === INS;
        x.ioString = true;
        x.ioRep = i.rep !== 0;
        x.ioAddressSize = i.adSize;
        x.ioImmediate = false;
        x.segment = kind === INS ? 0 : i.seg >= 0 ? i.seg : 3;
        x.linearAddress = (cpu.state.segBase[x.segment] + idx(cpu, kind === INS ? 7 : 6, i.adSize)) >>> 0;
        cpu.intercept(InterceptKind.Io);
      }
    }
    const delta = cpu.state.rflags[0] & Flag.DF ? -size : size;
    if (i.rep === 0) {
      once(cpu, i, kind, size, delta);
      return;
    }
    const g = cpu.state.gpr;
    const ad = i.adSize;
    // Under emulate() one iteration per call, as KVM emulates string MMIO/PIO: a later iteration
    // that needs userspace must not replay device accesses of earlier ones. Under run() what is
    // left of the budget (at least one iteration, so the instruction always progresses).
    const quota = cpu.linearOps !== null ? 1 : cpu.repQuota();
    let done = 0;
    if (
      (kind === MOVS || kind === STOS) &&
      delta > 0 &&
      ad === 4 &&
      cpu.linearOps === null &&
      cpu.dbgData === 0 &&
      !cpu.acEnabled
    ) {
      // Bulk path: whole pages at a time, same architectural result (registers advance per chunk).
      for (let k = 0; k < FAST_CHUNKS && g[1] !== 0 && done < quota; k++) {
        const n = fastChunk(cpu, i, kind, size, quota - done);
        if (n === 0) break;
        done += n;
      }
    }
    const limit = Math.min(quota, done + CHUNK);
    let finished = false;
    for (; done < limit; done++) {
      const count = ad === 2 ? g[1] & 0xffff : g[1];
      if (count === 0) {
        finished = true;
        break;
      }
      once(cpu, i, kind, size, delta);
      if (ad === 2) g[1] = (g[1] & 0xffff0000) | ((count - 1) & 0xffff);
      else g[1] = count - 1;
      if (compares) {
        const zf = cpu.getZF();
        // REPE stops when ZF = 0, REPNE when ZF = 1.
        if (i.rep === 1 ? !zf : zf) {
          done++;
          finished = true;
          break;
        }
      }
    }
    cpu.chargeIterations(done);
    if (!finished && (ad === 2 ? g[1] & 0xffff : g[1]) !== 0) {
      // Yield between iterations: an interrupt taken here pushes RF = 1 (SDM Vol. 3 17.3.1.1).
      cpu.state.rip[0] = cpu.startEip;
      cpu.state.rflags[0] |= Flag.RF;
      // Continue from this decoded form, not from the (possibly overwritten) bytes (Cpu.repInsn).
      if (cpu.linearOps === null) cpu.repInsn = i;
    }
  };
}
