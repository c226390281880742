/**
 * The flags the SDM leaves undefined, per instruction, as data (SDM Vol. 2, each instruction's
 * "Flags Affected"; Vol. 1 Appendix A). A flag in the mask is not compared. Where it depends on
 * the operand size or the shift count, `undefinedFlags` computes it from the values the case
 * starts with (cases with such an instruction hold that instruction alone).
 */
import { OPCODE_TABLE } from '@kvm/x86emu';

export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const OF = 1 << 11;
const ALL6 = CF | PF | AF | ZF | SF | OF;

const SHIFTS = new Set(['SHL', 'SAL', 'SHR', 'SAR']);
const ROTATES = new Set(['ROL', 'ROR', 'RCL', 'RCR']);
const DOUBLE_SHIFTS = new Set(['SHLD', 'SHRD']);

/**
 * Fixed masks by mnemonic, taken from x86emu's opcode table (each row's `undefinedFlags`: one
 * source of truth for these SDM facts). Shifts and rotates are left out: their masks depend on
 * the count, and `undefinedFlags` below computes them per case.
 */
export const UNDEFINED_FLAGS: Readonly<Record<string, number>> = Object.fromEntries(
  OPCODE_TABLE.filter(
    (row) =>
      row.undefinedFlags !== undefined &&
      !SHIFTS.has(row.mnemonic) &&
      !ROTATES.has(row.mnemonic) &&
      !DOUBLE_SHIFTS.has(row.mnemonic),
  ).map((row) => [row.mnemonic, row.undefinedFlags as number]),
);

/**
 * The undefined flags of one instruction given its shift count (already read from CL or the
 * immediate; ignored for other instructions) and operand size in bits.
 */
export function undefinedFlags(mnemonic: string, bits: number, count: number): number {
  const fixed = UNDEFINED_FLAGS[mnemonic] ?? 0;
  // The count is masked to 5 bits, 6 for 64-bit operands (SDM SAL/SAR/SHL/SHR: "IA-32e mode").
  const c = count & (bits === 64 ? 0x3f : 0x1f);
  if (SHIFTS.has(mnemonic)) {
    if (c === 0) return 0;
    // AF undefined for a non-zero count; OF only defined for 1-bit shifts; CF undefined for
    // SHL/SHR when the count is at least the operand size (SDM SAL/SAR/SHL/SHR).
    let m = AF | (c === 1 ? 0 : OF);
    if (c >= bits) m |= CF | OF;
    return m;
  }
  if (ROTATES.has(mnemonic)) {
    if (c === 0) return 0;
    // OF is defined only for 1-bit rotates (SDM RCL/RCR/ROL/ROR).
    return c === 1 ? 0 : OF;
  }
  if (DOUBLE_SHIFTS.has(mnemonic)) {
    if (c === 0) return 0;
    // A count above the operand size leaves the result and all flags undefined: the generator
    // avoids it. AF undefined; OF defined only for 1-bit shifts.
    return c > bits ? ALL6 : AF | (c === 1 ? 0 : OF);
  }
  return fixed;
}

/** True when the instruction leaves some flag undefined for some operands. */
export function mayLeaveFlagsUndefined(mnemonic: string): boolean {
  return (
    mnemonic in UNDEFINED_FLAGS ||
    SHIFTS.has(mnemonic) ||
    ROTATES.has(mnemonic) ||
    DOUBLE_SHIFTS.has(mnemonic)
  );
}
