/**
 * Which instructions a compiled block may hold. A block runs without the run loop's checks
 * between its instructions, so it holds only instructions that cannot change what those checks
 * look at: no mode, segment, control/debug register, RFLAGS.TF/VM, interrupt-shadow or
 * privilege changes, nothing that may set RFLAGS.IF (CLI, which clears it, may: an interrupt
 * that was not deliverable before it is not after it), no REP (each iteration counts against the
 * budget) but REP MOVS/STOS in 64-bit code (`REP_IN_BLOCK`: the block accounts for them). An
 * intercepted instruction (SDM Vol. 3 25.1.3 lists what may exit) only where its exit unwinds like
 * a fault (PUSHF under SVM's PUSHF intercept): the run loop's catch then has RIP at it. Everything
 * else runs in the interpreter.
 */
import { OPCODE_TABLE } from '../decoder/opcode-table.js';

/** Mnemonics allowed inside a block (by the interpreter's handler, or specialised). */
const STRAIGHT = new Set([
  'ADD',
  'OR',
  'ADC',
  'SBB',
  'AND',
  'SUB',
  'XOR',
  'CMP',
  'TEST',
  'INC',
  'DEC',
  'NOT',
  'NEG',
  'MUL',
  'IMUL',
  'DIV',
  'IDIV',
  'IMUL2',
  'IMUL3',
  'XADD',
  'CMPXCHG',
  'CMPXCHG8B',
  'CBW',
  'CWD',
  'ROL',
  'ROR',
  'RCL',
  'RCR',
  'SHL',
  'SHR',
  'SAL',
  'SAR',
  'SHLD',
  'SHRD',
  'BT',
  'BTS',
  'BTR',
  'BTC',
  'BSF',
  'BSR',
  'BSWAP',
  'SETCC',
  'CMOVCC',
  'MOV',
  'MOVZX',
  'MOVSX',
  // 63H in 64-bit mode (ARPL is its own row outside it); emit64.ts inlines the REX.W form.
  'MOVSXD',
  'LEA',
  'XCHG',
  'NOP',
  'PUSH',
  'POP',
  'ENTER',
  'LEAVE',
  'LAHF',
  'SAHF',
  'CLC',
  'STC',
  'CMC',
  'CLD',
  'STD',
  // Kernel code around its critical sections, each interpreted alone between two blocks until
  // now: Debian's boot ran 105,000 each of native_save_fl (PUSHF; POP RAX; RET) and
  // pv_native_irq_disable (CLI; RET), and sync_core's MOV r, SS / MOV r, CS / PUSHF before its
  // IRETQ 108,000 times (text_poke_early). By their handlers (#GP for CLI at CPL > IOPL, #UD for
  // a selector past GS, SVM's PUSHF intercept: all unwind like a fault).
  'CLI',
  'PUSHF',
  'MOV_FROM_SEG',
  // sync_core's choice where CPUID says SERIALIZE (every text patch at boot: 114,000 IRETQs to
  // themselves before, each ending the chain). By its handler, which ends the run where other
  // threads write the RAM (exec/system.ts).
  'SERIALIZE',
  'MOVS',
  'STOS',
  'LODS',
  'CMPS',
  'SCAS',
]);

/**
 * The eight ALU operations in the order of the group-1 opcodes' ModRM.reg field (80H–83H /0–/7:
 * ADD, OR, ADC, SBB, AND, SUB, XOR, CMP), the index both emitters hand to the interpreter's ALU.
 */
export const ALU_OPS: readonly string[] = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

/** Near branches: the last instruction of a block (they set RIP themselves). */
const BRANCH = new Set([
  'JCC',
  'JMP',
  'JMP_IND',
  'CALL',
  'CALL_IND',
  'RET',
  'LOOP',
  'LOOPE',
  'LOOPNE',
  'JCXZ',
]);

/**
 * Rows with a mandatory prefix (`sse()` rows: SSE through SSE4.2, MMX, POPCNT, CRC32) that may not be
 * in a block: state saves and loads (FXRSTOR, LDMXCSR and XRSTOR's kin rewrite MXCSR and the x87
 * and SIMD state wholesale: rare, and left to the interpreter's step) and CLFLUSH. Every other
 * SIMD row is straight-line: none changes what the run loop's checks look at, none is intercepted
 * (SDM Vol. 3 25.1.3; only exceptions — #UD, #NM, #GP, #XM — which unwind like any fault), and the
 * block compiler runs it by its handler or inlines it (emit-sse.ts).
 */
const SIMD_NOT_IN_BLOCKS = new Set([
  'FXSAVE',
  'FXRSTOR',
  'LDMXCSR',
  'STMXCSR',
  'XSAVE',
  'XSAVEOPT',
  'CLFLUSH',
]);

/**
 * The names in `lists` that no opcode-table row carries. The compiler picks rows by mnemonic, so
 * a misspelt or renamed name would silently keep its instruction out of every block.
 */
export function mnemonicsNotInTable(lists: Iterable<Iterable<string>>): string[] {
  const known = new Set(OPCODE_TABLE.map((row) => row.mnemonic));
  const missing: string[] = [];
  for (const list of lists) for (const name of list) if (!known.has(name)) missing.push(name);
  return missing;
}

/** The compiler's lists of mnemonics, for `mnemonicsNotInTable` (its test checks them all). */
export const JIT_MNEMONIC_LISTS: readonly Iterable<string>[] = [
  STRAIGHT,
  BRANCH,
  ALU_OPS,
  SIMD_NOT_IN_BLOCKS,
];

/** Per opcode-table row: 0 not in a block, 1 straight-line, 2 a branch that ends the block. */
export const ROW_KIND = new Uint8Array(OPCODE_TABLE.length);
/**
 * Per row: 1 where an F2/F3 prefix selects the row (a mandatory prefix: MOVDQU, ADDSD, CVTTSD2SI
 * …) rather than repeating it, so `Insn.rep` set does not make it a REP string.
 */
export const REP_IS_OPCODE = new Uint8Array(OPCODE_TABLE.length);
/**
 * Per row: 1 for the REP strings a 64-bit block may hold (REP MOVS, REP STOS: the kernel's memcpy,
 * memset, clear_page, copy_user). Their handler runs inside the compiled code (exec/long/string64.ts,
 * page-contiguous runs on host views), its iterations beyond the first charged to the compiled
 * code's room instead of ending it (wasm/compile64.ts `handler64Import`, ../compile.ts); a REP that
 * yields half done (budget, MMIO, DF = 1 past 4096 elements) leaves the block at itself, as the
 * interpreter leaves it to the next `step`.
 */
export const REP_IN_BLOCK = new Uint8Array(OPCODE_TABLE.length);
OPCODE_TABLE.forEach((row, n) => {
  if (STRAIGHT.has(row.mnemonic)) ROW_KIND[n] = 1;
  else if (BRANCH.has(row.mnemonic)) ROW_KIND[n] = 2;
  else if (row.pfx !== undefined && !SIMD_NOT_IN_BLOCKS.has(row.mnemonic)) ROW_KIND[n] = 1;
  if (row.pfx !== undefined) REP_IS_OPCODE[n] = 1;
  if (row.mnemonic === 'MOVS' || row.mnemonic === 'STOS') REP_IN_BLOCK[n] = 1;
});

/** `insn` is no REP string (no F2/F3 prefix, or one that selects its row). */
export const notRep = (rep: number, row: number): boolean => rep === 0 || REP_IS_OPCODE[row] === 1;
/** `insn` is a REP string that a block may hold (REP_IN_BLOCK; in 64-bit mode only). */
export const repInBlock = (rep: number, row: number): boolean => rep !== 0 && REP_IN_BLOCK[row] === 1;
