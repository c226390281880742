/**
 * SHL/SAL/SHR/SAR of a 64-bit register by a constant (REX.W C1 /4 /5 /6 /7 ib, D1 /4 /5 /6 /7)
 * in compiled 64-bit-mode code, as exec/long/shift64.ts computes them: the count masked to 6
 * bits, each half a local (`rg`/`rh`), the flags the interpreter's LF_ARITH64 record (SF/ZF/PF
 * from the result, AF clear, CF the last bit out, OF MSB(result) ^ CF for SHL, MSB(operand) for
 * SHR, 0 for SAR: SDM Vol. 2 SAL/SAR/SHL/SHR). A count of 0 changes nothing: the handler.
 * Debian's kernel shifts 64-bit values by constants everywhere (page-table indices, pfn and
 * flag arithmetic): over 4 M handler calls from compiled blocks in the first 2×10^8 instructions.
 */
import type { Insn } from '../decoder/insn.js';
import type { Emitted } from './emit.js';
import { arith64, setReg64 } from './emit64.js';

/** Source for a shift of register `i.rm` by a constant, or null (memory, count 0: the handler). */
export function emitShift64(i: Insn, m: string, ops: string): Emitted | null {
  if (i.mod !== 3 || (ops !== 'Ev,Ib' && ops !== 'Ev,1')) return null;
  const c = (ops === 'Ev,1' ? 1 : i.imm) & 0x3f;
  if (c === 0) return null;
  const r = i.rm;
  let calc: string;
  if (m === 'SHL' || m === 'SAL') {
    // CF is bit 64 - c of the operand.
    const cf = c < 32 ? `((h >>> ${32 - c}) & 1)` : c === 32 ? '(h & 1)' : `((l >>> ${64 - c}) & 1)`;
    calc =
      c < 32
        ? `const cf = ${cf}; const rH = ((h << ${c}) | (l >>> ${32 - c})) >>> 0; const rl = (l << ${c}) >>> 0;`
        : `const cf = ${cf}; const rH = (l << ${c - 32}) >>> 0; const rl = 0;`;
    calc += ` ${arith64('rl', 'rH', 'cf', '((rH >>> 31) ^ cf)', '0')}`;
  } else {
    // SHR and SAR: CF is bit c - 1 of the operand.
    const sar = m === 'SAR';
    const cf = c <= 32 ? `((l >>> ${c - 1}) & 1)` : `((h >>> ${c - 33}) & 1)`;
    const hiOut = sar ? `((h | 0) >> ${Math.min(c, 31)}) >>> 0` : c < 32 ? `h >>> ${c}` : '0';
    const loOut =
      c < 32
        ? `((l >>> ${c}) | (h << ${32 - c})) >>> 0`
        : sar
          ? `((h | 0) >> ${c - 32}) >>> 0`
          : `h >>> ${c - 32}`;
    calc = `const cf = ${cf}; const rl = ${loOut}; const rH = ${hiOut}; ${arith64('rl', 'rH', 'cf', sar ? '0' : '(h >>> 31)', '0')}`;
  }
  return {
    code: `{ const l = rg${r}; const h = rh${r}; ${calc} ${setReg64(r, 'rl', 'rH')} }`,
    memory: false,
    branch: false,
  };
}
