/**
 * String instructions in 64-bit mode (SDM Vol. 1 7.3.9.1, Vol. 2 REP): RSI/RDI/RCX with a
 * 64-bit address size (ESI/EDI/ECX, zero-extended on update, with 67H), elements of 1, 2, 4 or 8
 * bytes, the ES base ignored. Same iteration contract as the legacy forms (string.ts): registers
 * commit per element, a long REP yields every 4096 elements and counts against the budget, and
 * under `emulate()` one element per call.
 */
import { InterceptKind } from '../../api/intercepts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { aluOp } from '../alu.js';
import { CHUNK, CMPS, INS, LODS, MOVS, OUTS, SCAS, STOS } from '../string.js';
import { alu64 } from './alu64.js';
import { advanceIndex, indexOffset, readM64, writeM64 } from './operands64.js';
import { fastChunk64 } from './string64-fast.js';

/** Pages a REP MOVS/STOS does on host views per call before the element loop's yield rules. */
const FAST_CHUNKS = 64;

function count(cpu: Cpu, ad: number): boolean {
  const s = cpu.state;
  return ad === 4 ? s.gpr[1] !== 0 : (s.gpr[1] | s.gprHigh[1]) !== 0;
}

function load(cpu: Cpu, seg: number, o: number, size: number): void {
  if (size === 8) readM64(cpu, seg, o);
  else {
    cpu.lo64 = cpu.read(seg, o, size);
    cpu.hi64 = 0;
  }
}
function store(cpu: Cpu, seg: number, o: number, size: number, lo: number, hi: number): void {
  if (size === 8) writeM64(cpu, seg, o, lo, hi);
  else cpu.write(seg, o, size, lo);
}
/** Compares accumulator-side (a) with b, setting flags as CMP a, b. */
function compare(cpu: Cpu, size: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (size === 8) alu64(cpu, 7, aLo, aHi, bLo, bHi);
  else aluOp(cpu, 7, aLo, bLo, size);
}

function once(cpu: Cpu, i: Insn, kind: number, size: number, delta: number): void {
  const s = cpu.state;
  const ad = i.adSize;
  const src = i.seg >= 0 ? i.seg : 3;
  switch (kind) {
    case MOVS:
      load(cpu, src, indexOffset(cpu, 6, ad), size);
      store(cpu, 0, indexOffset(cpu, 7, ad), size, cpu.lo64, cpu.hi64);
      advanceIndex(cpu, 6, ad, delta);
      advanceIndex(cpu, 7, ad, delta);
      return;
    case CMPS: {
      // ES:[RDI] is read first: when both operands fault, CR2 is the destination's (the real CPU
      // in x86-difftest, seed 7 case 3054; QEMU's gen_cmps loads it first too).
      load(cpu, 0, indexOffset(cpu, 7, ad), size);
      const bLo = cpu.lo64;
      const bHi = cpu.hi64;
      load(cpu, src, indexOffset(cpu, 6, ad), size);
      compare(cpu, size, cpu.lo64, cpu.hi64, bLo, bHi);
      advanceIndex(cpu, 6, ad, delta);
      advanceIndex(cpu, 7, ad, delta);
      return;
    }
    case STOS:
      store(
        cpu,
        0,
        indexOffset(cpu, 7, ad),
        size,
        size === 8 ? s.gpr[0] : cpu.getReg(0, size, 0),
        s.gprHigh[0],
      );
      advanceIndex(cpu, 7, ad, delta);
      return;
    case LODS:
      load(cpu, src, indexOffset(cpu, 6, ad), size);
      if (size === 8) {
        s.gpr[0] = cpu.lo64;
        s.gprHigh[0] = cpu.hi64;
      } else cpu.setReg(0, size, 0, cpu.lo64);
      advanceIndex(cpu, 6, ad, delta);
      return;
    case SCAS:
      load(cpu, 0, indexOffset(cpu, 7, ad), size);
      compare(cpu, size, size === 8 ? s.gpr[0] : cpu.getReg(0, size, 0), s.gprHigh[0], cpu.lo64, cpu.hi64);
      advanceIndex(cpu, 7, ad, delta);
      return;
    case INS: {
      const o = indexOffset(cpu, 7, ad);
      cpu.probeWrite(cpu.segAddr(0, o, size, true), size);
      cpu.write(0, o, size, cpu.portIn(s.gpr[2] & 0xffff, size));
      advanceIndex(cpu, 7, ad, delta);
      return;
    }
    default:
      cpu.portOut(s.gpr[2] & 0xffff, size, cpu.read(src, indexOffset(cpu, 6, ad), size));
      advanceIndex(cpu, 6, ad, delta);
  }
}

export function makeString64(row: OpcodeRow): Handler {
  const kind = ['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'INS', 'OUTS'].indexOf(row.mnemonic);
  const byte = /[XY]b/.test(row.operands);
  const compares = kind === CMPS || kind === SCAS;
  const io = kind === INS || kind === OUTS;
  return (cpu, i) => {
    const s = cpu.state;
    // INS/OUTS move at most 4 bytes: REX.W is ignored there (SDM INS/OUTS).
    const size = byte ? 1 : io && i.opSize === 8 ? 4 : i.opSize;
    if (io) {
      const port = s.gpr[2] & 0xffff;
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
        x.linearAddress = s.gpr[kind === INS ? 7 : 6];
        cpu.intercept(InterceptKind.Io);
      }
    }
    const delta = s.rflags[0] & Flag.DF ? -size : size;
    if (i.rep === 0) {
      once(cpu, i, kind, size, delta);
      return;
    }
    const ad = i.adSize;
    const quota = cpu.linearOps !== null ? 1 : cpu.repQuota();
    let done = 0;
    if (
      (kind === MOVS || kind === STOS) &&
      delta > 0 &&
      cpu.linearOps === null &&
      cpu.dbgData === 0 &&
      !cpu.acEnabled
    ) {
      // Bulk path (string64-fast.ts): whole pages at a time, the element loop's result.
      for (let k = 0; k < FAST_CHUNKS && count(cpu, ad) && done < quota; k++) {
        const n = fastChunk64(cpu, i, kind, size, quota - done);
        if (n === 0) break;
        done += n;
      }
    }
    const limit = Math.min(quota, done + CHUNK);
    let finished = false;
    for (; done < limit; done++) {
      if (!count(cpu, ad)) {
        finished = true;
        break;
      }
      once(cpu, i, kind, size, delta);
      advanceIndex(cpu, 1, ad, -1);
      if (compares) {
        const zf = cpu.getZF();
        if (i.rep === 1 ? !zf : zf) {
          done++;
          finished = true;
          break;
        }
      }
    }
    cpu.chargeIterations(done);
    if (!finished && count(cpu, ad)) {
      // Yield between iterations with RIP at the instruction (RF = 1, SDM Vol. 3 17.3.1.1).
      s.rip[0] = cpu.startEip;
      s.rip[1] = cpu.startRipHi;
      s.rflags[0] |= Flag.RF;
      // Continue from this decoded form, not from the (possibly overwritten) bytes (Cpu.repInsn).
      if (cpu.linearOps === null) cpu.repInsn = i;
    }
  };
}
