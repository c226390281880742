/**
 * Whether the arithmetic flags an instruction of a block writes can be observed: a look ahead
 * through the rest of the block for the instruction that next reads them or writes all six. The
 * rotates' flags (ROL/ROR set CF and OF, keep SF/ZF/AF/PF: SDM Vol. 2 RCL/RCR/ROL/ROR) cost the
 * interpreter a materialization of every other flag; in hashing code (SHA-256's message schedule
 * in the kernel and in busybox: `rol ecx, 15; rol eax, 13; mov r8d, r14d; ror esi, 7; xor eax,
 * ecx`) the next ALU instruction overwrites them all, and then they need not be built at all.
 *
 * Exact by construction: only instructions that can neither fault nor exit count as passing the
 * flags on untouched (register-to-register moves, LEA, NOT, rotates and shifts by a constant), so
 * no exception, interrupt or handler in between can see them (a compiled block looks at events
 * only at memory accesses and handler calls); anything else, and the block's end, counts as a
 * reader.
 */
import type { Insn } from '../decoder/insn.js';
import { OPCODE_TABLE } from '../decoder/opcode-table.js';

/** ALU operations that write CF, PF, AF, ZF, SF and OF and read none of them. */
const FULL_WRITERS: ReadonlySet<string> = new Set(['ADD', 'SUB', 'AND', 'OR', 'XOR', 'CMP', 'TEST']);
/** Instructions that touch no arithmetic flag and, in their register forms, cannot fault. */
const NEUTRAL: ReadonlySet<string> = new Set(['MOVZX', 'MOVSX', 'MOVSXD', 'NOT', 'BSWAP']);
/** MOV's general-register forms (not moffs, which address memory without a ModRM, nor Sreg). */
const MOV_REG: ReadonlySet<string> = new Set([
  'Eb,Gb',
  'Ev,Gv',
  'Gb,Eb',
  'Gv,Ev',
  'Zb,Ib',
  'Zv,Iv',
  'Eb,Ib',
  'Ev,Iz',
]);
const SHIFTS: ReadonlySet<string> = new Set(['SHL', 'SHR', 'SAL', 'SAR']);
const ROTATES: ReadonlySet<string> = new Set(['ROL', 'ROR']);

/**
 * True when the flags written by `insns[j]` are overwritten by a later instruction of the block
 * before anything can read or observe them.
 */
export function flagsDeadAfter(insns: readonly Insn[], j: number): boolean {
  for (let k = j + 1; k < insns.length; k++) {
    const i = insns[k];
    if (i.row < 0 || i.lock || i.rep !== 0) return false;
    const row = OPCODE_TABLE[i.row];
    const m = row.mnemonic;
    const reg = !i.hasModrm || i.mod === 3;
    if (m === 'LEA') continue;
    if (!reg) return false;
    if (FULL_WRITERS.has(m)) return true;
    if (NEUTRAL.has(m) || (m === 'MOV' && MOV_REG.has(row.operands))) continue;
    const byImm = row.operands.endsWith(',Ib') || row.operands.endsWith(',1');
    if (!byImm) return false;
    const count = (row.operands.endsWith(',1') ? 1 : i.imm) & (i.opSize === 8 ? 0x3f : 0x1f);
    // A count of 0 changes no flag; otherwise a shift writes all six (AF as x86emu leaves it) and
    // a rotate CF and OF only, passing the rest on.
    if (count === 0 || ROTATES.has(m)) continue;
    if (SHIFTS.has(m)) return true;
    return false;
  }
  return false;
}
