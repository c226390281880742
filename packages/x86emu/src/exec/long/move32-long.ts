/**
 * MOV with 32-bit operands in 64-bit mode, one handler per form (see alu32-long.ts for why): a
 * register destination zero-extends into the 64-bit register (SDM Vol. 1 3.4.1.1), a memory
 * operand goes through the 64-bit effective address.
 */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { readM32, writeM32 } from './mem-slot64.js';

/** MOV r/m32, r32 (89). */
const MOV_EV_GV: Handler = (cpu, i) => {
  const s = cpu.state;
  if (i.mod === 3) {
    s.gpr[i.rm] = s.gpr[i.reg];
    s.gprHigh[i.rm] = 0;
  } else writeM32(cpu, i, s.gpr[i.reg] | 0);
};
/** MOV r32, r/m32 (8B). */
const MOV_GV_EV: Handler = (cpu, i) => {
  const s = cpu.state;
  s.gpr[i.reg] = i.mod === 3 ? s.gpr[i.rm] : readM32(cpu, i);
  s.gprHigh[i.reg] = 0;
};
/** MOV r32, imm32 (B8+r). */
const MOV_ZV_IV: Handler = (cpu, i) => {
  cpu.state.gpr[i.rm] = i.imm;
  cpu.state.gprHigh[i.rm] = 0;
};
/** MOV r/m32, imm32 (C7 /0). */
const MOV_EV_IZ: Handler = (cpu, i) => {
  if (i.mod === 3) {
    cpu.state.gpr[i.rm] = i.imm;
    cpu.state.gprHigh[i.rm] = 0;
  } else writeM32(cpu, i, i.imm);
};

/** The 64-bit-mode handler of a MOV row with 32-bit operands, or null where the legacy one serves. */
export function makeMov32Long(row: OpcodeRow): Handler | null {
  if (row.mnemonic !== 'MOV') return null;
  switch (row.operands) {
    case 'Ev,Gv':
      return MOV_EV_GV;
    case 'Gv,Ev':
      return MOV_GV_EV;
    case 'Zv,Iv':
      return MOV_ZV_IV;
    case 'Ev,Iz':
      return MOV_EV_IZ;
    default:
      return null;
  }
}
