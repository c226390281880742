/**
 * String instructions with REP/REPE/REPNE (SDM Vol. 1 7.3.9, Vol. 2 REP). Each iteration
 * commits (E)SI/(E)DI/(E)CX, so a fault midway leaves the registers describing the iterations
 * done and RIP at the instruction, as the SDM requires. A long REP yields every 4096 iterations
 * (RIP stays at the instruction) so interrupts and the budget are honoured between iterations.
 */
import { InterceptKind } from '../api/intercepts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';
import { aluOp } from './alu.js';

const CHUNK = 4096;

const MOVS = 0;
const CMPS = 1;
const STOS = 2;
const LODS = 3;
const SCAS = 4;
const INS = 5;
const OUTS = 6;

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
      const a = cpu.read(srcSeg, idx(cpu, 6, ad), size);
      const b = cpu.read(0, idx(cpu, 7, ad), size);
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
    for (let n = 0; n < CHUNK; n++) {
      const count = ad === 2 ? g[1] & 0xffff : g[1];
      if (count === 0) return;
      once(cpu, i, kind, size, delta);
      if (ad === 2) g[1] = (g[1] & 0xffff0000) | ((count - 1) & 0xffff);
      else g[1] = count - 1;
      if (compares) {
        const zf = cpu.getZF();
        // REPE stops when ZF = 0, REPNE when ZF = 1.
        if (i.rep === 1 ? !zf : zf) return;
      }
    }
    if ((ad === 2 ? g[1] & 0xffff : g[1]) !== 0) cpu.state.rip[0] = cpu.startEip;
  };
}
