/**
 * Instruction classes of the generator (`--class`): `gp` (general purpose and system: what the
 * comparison has always covered), `x87` (D8–DF, WAIT, and the x87/SSE state forms FXSAVE/FXRSTOR/
 * XSAVE*), and `sse` (MMX, SSE–SSE4.2 rows: a mandatory prefix, the 0F 38/0F 3A maps, or an
 * MMX/XMM operand — the SDM's V/W/U/H/P/Q/N operand kinds — and MXCSR, fences, CLFLUSH, XGETBV).
 * Issue 11's rows land in OPCODE_TABLE as they are written; each row is classed by its shape, so
 * new rows need no list here.
 */
import type { OpcodeRow } from '@kvm/x86emu';

export type InsnClass = 'gp' | 'x87' | 'sse';
export const INSN_CLASSES: readonly InsnClass[] = ['gp', 'x87', 'sse'];

const X87_STATE = new Set(['WAIT', 'FXSAVE', 'FXRSTOR', 'XSAVE', 'XRSTOR', 'XSAVEOPT']);
const SSE_MISC = new Set([
  'LDMXCSR',
  'STMXCSR',
  'LFENCE',
  'MFENCE',
  'SFENCE',
  'CLFLUSH',
  'XGETBV',
  'XSETBV',
  'EMMS',
]);
/** An operand naming an MMX or XMM register or a SIMD memory operand (SDM Vol. 2 A.2.1). */
const SIMD_OPERAND = /^[VWUHPQN][a-z]/;

export function classOf(row: OpcodeRow): InsnClass {
  if ((row.op >= 0xd8 && row.op <= 0xdf) || X87_STATE.has(row.mnemonic)) return 'x87';
  if (row.pfx !== undefined || row.op >= 0x200 || SSE_MISC.has(row.mnemonic)) return 'sse';
  if (row.operands.split(',').some((t) => SIMD_OPERAND.test(t))) return 'sse';
  return 'gp';
}

/** `--class x87,sse` → the classes; `all` for every class. Throws on an unknown name. */
export function parseClasses(arg: string): InsnClass[] {
  if (arg === 'all') return [...INSN_CLASSES];
  const out = arg.split(',').map((s) => s.trim());
  for (const c of out)
    if (!INSN_CLASSES.includes(c as InsnClass))
      throw new Error(`unknown instruction class "${c}" (one of ${INSN_CLASSES.join(', ')}, all)`);
  return out as InsnClass[];
}
