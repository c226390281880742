/**
 * THE opcode table: one row per instruction form of the one-byte map (0x000–0x0FF), the
 * two-byte map (0x100–0x1FF, i.e. 0F xx) and the three-byte maps (0x200–0x2FF: 0F 38 xx,
 * 0x300–0x3FF: 0F 3A xx), in the operand notation of SDM Vol. 2 Appendix A. The decoder derives
 * ModRM / immediate / moffs layout from `operands`, the interpreter's dispatch maps `mnemonic` to
 * a handler, and the tests derive encodings from the rows. Opcodes without a row raise #UD.
 *
 * Operand notation used by the decoder:
 *   E* (ModRM r/m), G* (ModRM reg), M* (memory-only r/m: register form is #UD), R* (register-only
 *   r/m), S (segment register in reg), C / D (control / debug register in reg);
 *   Ib, Iw, Iz (16/32 by operand size), Iv (16/32/64), IbS (sign-extended Ib), Jb, Jz, Ap (far
 *   pointer), O* (moffs of address size). Fixed registers (AL, eAX, DX, …) need no bytes.
 *   SIMD (SDM Vol. 2 A.2.1): V (XMM register in ModRM.reg), W (XMM register or memory in r/m),
 *   U (XMM register in r/m: the memory form is #UD), P (MMX register in reg), Q (MMX register or
 *   memory in r/m), N (MMX register in r/m: memory form #UD); sizes q (8 bytes), dq (16), d, y
 *   (4, or 8 with REX.W), ps/pd/ss/sd (packed/scalar single/double). A register-only operand
 *   (U, N) and a memory-only one (M) may share an opcode: MOVHLPS Vq,Uq and MOVLPS Vq,Mq are 0F 12.
 * Mandatory prefix (`pfx`, SDM Vol. 2 2.1.2 and the "NP/66/F3/F2" column of the opcode maps): a
 * row with `pfx` matches only with that prefix in front of 0F (F2/F3 take precedence over 66;
 * 'NP': none of the three). A 66 that selects a row is not an operand-size prefix (its operand
 * size is 32, or 64 with REX.W); F3/F2 rows keep 66 as the operand size (66 F3 0F B8 is a 16-bit
 * POPCNT). Rows without `pfx` match whatever prefix is present (66 is then the operand size), and
 * a `pfx` row for the same opcode overrides them for its prefix. Add a SIMD row with `sse()`:
 *   sse('66', 0x16f, 'MOVDQA', 'Vdq,Wdq');  sse('NP', 0x171, 'PSRLW', 'Nq,Ib', '', 2);
 * Attributes: `lock` (LOCK allowed with a memory destination), `i64` (invalid in 64-bit mode),
 * `d64` (64-bit default operand size in 64-bit mode), `f64` (operand size forced to 64 in 64-bit
 * mode, 66H ignored: near branches, as Intel does), `o64` (only in 64-bit mode: replaces the `i64`
 * row of the same opcode there, e.g. 63H ARPL → MOVSXD).
 * VEX (C4/C5) and EVEX (62) encodings are #UD: in 64-bit mode C4/C5/62 are invalid rows, outside it
 * their register forms (mod = 3, what VEX/EVEX look like) are the memory-only LES/LDS/BOUND.
 */

export interface OpcodeRow {
  /** 0x00–0xFF one-byte map, 0x100–0x1FF two-byte map (0F xx), 0x200–0x2FF 0F 38 xx, 0x300–0x3FF 0F 3A xx. */
  op: number;
  /** Mandatory prefix of a SIMD row ('NP': none of 66/F2/F3); undefined: prefixes are not part of the opcode. */
  pfx?: MandatoryPrefix;
  /** ModRM.reg for group opcodes (SDM Vol. 2 Table A-6); undefined: any. */
  ext?: number;
  /** With `ext`: this row is the register form (mod = 3) with this r/m (e.g. 0F 01 C1 VMCALL). */
  rm?: number;
  /** Only the register form (mod = 3) of a group opcode (used where memory forms differ). */
  mod3?: boolean;
  mnemonic: string;
  operands: string;
  attrs?: string;
  /**
   * RFLAGS bits the SDM leaves undefined after this instruction (any operand values), for
   * differential testers to mask. Count-dependent cases are noted in `UNDEFINED_FLAGS_NOTES`.
   */
  undefinedFlags?: number;
}

/** The mandatory-prefix column of the SDM's opcode maps. */
export type MandatoryPrefix = 'NP' | '66' | 'F3' | 'F2';

const rows: OpcodeRow[] = [];
function r(
  op: number,
  mnemonic: string,
  operands = '',
  attrs = '',
  ext?: number,
  rm?: number,
  mod3?: boolean,
): void {
  rows.push({ op, mnemonic, operands, attrs, ext, rm, mod3 });
}
/** A row selected by its mandatory prefix (SIMD forms): see the header. */
function sse(
  pfx: MandatoryPrefix,
  op: number,
  mnemonic: string,
  operands: string,
  attrs = '',
  ext?: number,
): void {
  rows.push({ op, pfx, mnemonic, operands, attrs, ext });
}

// 00–3F: the eight ALU operations in their six forms (SDM Vol. 2 Table A-2).
const alu = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
for (let i = 0; i < 8; i++) {
  const b = i * 8;
  const lk = i === 7 ? '' : 'lock';
  r(b + 0, alu[i], 'Eb,Gb', lk);
  r(b + 1, alu[i], 'Ev,Gv', lk);
  r(b + 2, alu[i], 'Gb,Eb');
  r(b + 3, alu[i], 'Gv,Ev');
  r(b + 4, alu[i], 'AL,Ib');
  r(b + 5, alu[i], 'eAX,Iz');
}
r(0x06, 'PUSH_SEG', 'ES', 'i64');
r(0x07, 'POP_SEG', 'ES', 'i64');
r(0x0e, 'PUSH_SEG', 'CS', 'i64');
r(0x16, 'PUSH_SEG', 'SS', 'i64');
r(0x17, 'POP_SEG', 'SS', 'i64');
r(0x1e, 'PUSH_SEG', 'DS', 'i64');
r(0x1f, 'POP_SEG', 'DS', 'i64');
r(0x27, 'DAA', '', 'i64');
r(0x2f, 'DAS', '', 'i64');
r(0x37, 'AAA', '', 'i64');
r(0x3f, 'AAS', '', 'i64');
for (let i = 0; i < 8; i++) {
  r(0x40 + i, 'INC', 'Zv', 'i64');
  r(0x48 + i, 'DEC', 'Zv', 'i64');
  r(0x50 + i, 'PUSH', 'Zv', 'd64');
  r(0x58 + i, 'POP', 'Zv', 'd64');
}
r(0x60, 'PUSHA', '', 'i64');
r(0x61, 'POPA', '', 'i64');
r(0x62, 'BOUND', 'Gv,Ma', 'i64');
r(0x63, 'ARPL', 'Ew,Gw', 'i64');
r(0x63, 'MOVSXD', 'Gv,Ed', 'o64');
r(0x68, 'PUSH', 'Iz', 'd64');
r(0x69, 'IMUL3', 'Gv,Ev,Iz');
r(0x6a, 'PUSH', 'IbS', 'd64');
r(0x6b, 'IMUL3', 'Gv,Ev,IbS');
r(0x6c, 'INS', 'Yb,DX');
r(0x6d, 'INS', 'Yz,DX');
r(0x6e, 'OUTS', 'DX,Xb');
r(0x6f, 'OUTS', 'DX,Xz');
for (let i = 0; i < 16; i++) r(0x70 + i, 'JCC', 'Jb', 'f64');
for (let e = 0; e < 8; e++) {
  const lk = e === 7 ? '' : 'lock';
  r(0x80, alu[e], 'Eb,Ib', lk, e);
  r(0x81, alu[e], 'Ev,Iz', lk, e);
  r(0x82, alu[e], 'Eb,Ib', `${lk} i64`, e);
  r(0x83, alu[e], 'Ev,IbS', lk, e);
}
r(0x84, 'TEST', 'Eb,Gb');
r(0x85, 'TEST', 'Ev,Gv');
r(0x86, 'XCHG', 'Eb,Gb', 'lock');
r(0x87, 'XCHG', 'Ev,Gv', 'lock');
r(0x88, 'MOV', 'Eb,Gb');
r(0x89, 'MOV', 'Ev,Gv');
r(0x8a, 'MOV', 'Gb,Eb');
r(0x8b, 'MOV', 'Gv,Ev');
r(0x8c, 'MOV_FROM_SEG', 'Ev,S');
r(0x8d, 'LEA', 'Gv,M');
r(0x8e, 'MOV_TO_SEG', 'S,Ew');
r(0x8f, 'POP', 'Ev', 'd64', 0);
r(0x90, 'NOP', '');
for (let i = 1; i < 8; i++) r(0x90 + i, 'XCHG', 'Zv,eAX');
r(0x98, 'CBW', '');
r(0x99, 'CWD', '');
r(0x9a, 'CALLF', 'Ap', 'i64');
r(0x9b, 'WAIT', '');
r(0x9c, 'PUSHF', '', 'd64');
r(0x9d, 'POPF', '', 'd64');
r(0x9e, 'SAHF', '');
r(0x9f, 'LAHF', '');
r(0xa0, 'MOV', 'AL,Ob');
r(0xa1, 'MOV', 'eAX,Ov');
r(0xa2, 'MOV', 'Ob,AL');
r(0xa3, 'MOV', 'Ov,eAX');
r(0xa4, 'MOVS', 'Yb,Xb');
r(0xa5, 'MOVS', 'Yv,Xv');
r(0xa6, 'CMPS', 'Xb,Yb');
r(0xa7, 'CMPS', 'Xv,Yv');
r(0xa8, 'TEST', 'AL,Ib');
r(0xa9, 'TEST', 'eAX,Iz');
r(0xaa, 'STOS', 'Yb,AL');
r(0xab, 'STOS', 'Yv,eAX');
r(0xac, 'LODS', 'AL,Xb');
r(0xad, 'LODS', 'eAX,Xv');
r(0xae, 'SCAS', 'AL,Yb');
r(0xaf, 'SCAS', 'eAX,Yv');
for (let i = 0; i < 8; i++) {
  r(0xb0 + i, 'MOV', 'Zb,Ib');
  r(0xb8 + i, 'MOV', 'Zv,Iv');
}
const shifts = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];
for (let e = 0; e < 8; e++) {
  r(0xc0, shifts[e], 'Eb,Ib', '', e);
  r(0xc1, shifts[e], 'Ev,Ib', '', e);
  r(0xd0, shifts[e], 'Eb,1', '', e);
  r(0xd1, shifts[e], 'Ev,1', '', e);
  r(0xd2, shifts[e], 'Eb,CL', '', e);
  r(0xd3, shifts[e], 'Ev,CL', '', e);
}
r(0xc2, 'RET', 'Iw', 'f64');
r(0xc3, 'RET', '', 'f64');
r(0xc4, 'LES', 'Gz,Mp', 'i64');
r(0xc5, 'LDS', 'Gz,Mp', 'i64');
r(0xc6, 'MOV', 'Eb,Ib', '', 0);
r(0xc7, 'MOV', 'Ev,Iz', '', 0);
r(0xc8, 'ENTER', 'Iw,Ib', 'd64');
r(0xc9, 'LEAVE', '', 'd64');
r(0xca, 'RETF', 'Iw');
r(0xcb, 'RETF', '');
r(0xcc, 'INT3', '');
r(0xcd, 'INT', 'Ib');
r(0xce, 'INTO', '', 'i64');
r(0xcf, 'IRET', '');
r(0xd4, 'AAM', 'Ib', 'i64');
r(0xd5, 'AAD', 'Ib', 'i64');
r(0xd6, 'SALC', '', 'i64');
r(0xd7, 'XLAT', '');
// x87 (D8–DF), SDM Vol. 2 Tables: memory forms by ModRM.reg, register forms
// (mod = 3) by reg and, where the table does, by r/m; the handlers are exec/x87. The register
// forms the SDM leaves blank but every CPU executes as another instruction are included, as
// QEMU decodes them: D9 D8+i, DF D0+i, DF D8+i (FSTP), DC D0+i/D8+i, DE D0+i (FCOM/FCOMP),
// DD C8+i, DF C8+i (FXCH), DF C0+i (FFREEP). Other blank encodings are #UD.
const x87Arith = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'];
const x87IArith = ['FIADD', 'FIMUL', 'FICOM', 'FICOMP', 'FISUB', 'FISUBR', 'FIDIV', 'FIDIVR'];
const x87ArithP = ['FADDP', 'FMULP', 'FCOMP', '', 'FSUBRP', 'FSUBP', 'FDIVRP', 'FDIVP'];
const x87ArithSti = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUBR', 'FSUB', 'FDIVR', 'FDIV'];
for (let e = 0; e < 8; e++) {
  r(0xd8, x87Arith[e], 'Md', '', e);
  r(0xd8, x87Arith[e], e < 2 || e > 3 ? 'ST0,STi' : 'STi', '', e, undefined, true);
  r(0xda, x87IArith[e], 'Md', '', e);
  r(0xdc, x87Arith[e], 'Mq', '', e);
  r(0xdc, x87ArithSti[e], e < 2 || e > 3 ? 'STi,ST0' : 'STi', '', e, undefined, true);
  r(0xde, x87IArith[e], 'Mw', '', e);
  if (e !== 3) r(0xde, x87ArithP[e], e === 2 ? 'STi' : 'STi,ST0', '', e, undefined, true);
}
r(0xde, 'FCOMPP', '', '', 3, 1);
const x87Reg = (op: number, ext: number, mnemonic: string, operands = 'STi') =>
  r(op, mnemonic, operands, '', ext, undefined, true);
r(0xd9, 'FLD', 'Md', '', 0);
r(0xd9, 'FST', 'Md', '', 2);
r(0xd9, 'FSTP', 'Md', '', 3);
r(0xd9, 'FLDENV', 'M', '', 4);
r(0xd9, 'FLDCW', 'Mw', '', 5);
r(0xd9, 'FNSTENV', 'M', '', 6);
r(0xd9, 'FNSTCW', 'Mw', '', 7);
x87Reg(0xd9, 0, 'FLD');
x87Reg(0xd9, 1, 'FXCH');
r(0xd9, 'FNOP', '', '', 2, 0);
x87Reg(0xd9, 3, 'FSTP');
const d9 = [
  ['FCHS', 'FABS', '', '', 'FTST', 'FXAM', '', ''],
  ['FLD1', 'FLDL2T', 'FLDL2E', 'FLDPI', 'FLDLG2', 'FLDLN2', 'FLDZ', ''],
  ['F2XM1', 'FYL2X', 'FPTAN', 'FPATAN', 'FXTRACT', 'FPREM1', 'FDECSTP', 'FINCSTP'],
  ['FPREM', 'FYL2XP1', 'FSQRT', 'FSINCOS', 'FRNDINT', 'FSCALE', 'FSIN', 'FCOS'],
];
for (let e = 4; e < 8; e++) for (let m = 0; m < 8; m++) if (d9[e - 4][m]) r(0xd9, d9[e - 4][m], '', '', e, m);
['FCMOVB', 'FCMOVE', 'FCMOVBE', 'FCMOVU'].forEach((m, e) => {
  x87Reg(0xda, e, m, 'ST0,STi');
});
r(0xda, 'FUCOMPP', '', '', 5, 1);
r(0xdb, 'FILD', 'Md', '', 0);
r(0xdb, 'FISTTP', 'Md', '', 1);
r(0xdb, 'FIST', 'Md', '', 2);
r(0xdb, 'FISTP', 'Md', '', 3);
r(0xdb, 'FLD', 'Mt', '', 5);
r(0xdb, 'FSTP', 'Mt', '', 7);
['FCMOVNB', 'FCMOVNE', 'FCMOVNBE', 'FCMOVNU'].forEach((m, e) => {
  x87Reg(0xdb, e, m, 'ST0,STi');
});
['FNENI', 'FNDISI', 'FNCLEX', 'FNINIT', 'FNSETPM'].forEach((m, rm) => {
  r(0xdb, m, '', '', 4, rm);
});
x87Reg(0xdb, 5, 'FUCOMI', 'ST0,STi');
x87Reg(0xdb, 6, 'FCOMI', 'ST0,STi');
r(0xdd, 'FLD', 'Mq', '', 0);
r(0xdd, 'FISTTP', 'Mq', '', 1);
r(0xdd, 'FST', 'Mq', '', 2);
r(0xdd, 'FSTP', 'Mq', '', 3);
r(0xdd, 'FRSTOR', 'M', '', 4);
r(0xdd, 'FNSAVE', 'M', '', 6);
r(0xdd, 'FNSTSW', 'Mw', '', 7);
['FFREE', 'FXCH', 'FST', 'FSTP', 'FUCOM', 'FUCOMP'].forEach((m, e) => {
  x87Reg(0xdd, e, m);
});
r(0xdf, 'FILD', 'Mw', '', 0);
r(0xdf, 'FISTTP', 'Mw', '', 1);
r(0xdf, 'FIST', 'Mw', '', 2);
r(0xdf, 'FISTP', 'Mw', '', 3);
r(0xdf, 'FBLD', 'Mt', '', 4);
r(0xdf, 'FILD', 'Mq', '', 5);
r(0xdf, 'FBSTP', 'Mt', '', 6);
r(0xdf, 'FISTP', 'Mq', '', 7);
['FFREEP', 'FXCH', 'FSTP', 'FSTP'].forEach((m, e) => {
  x87Reg(0xdf, e, m);
});
r(0xdf, 'FNSTSW_AX', '', '', 4, 0);
x87Reg(0xdf, 5, 'FUCOMIP', 'ST0,STi');
x87Reg(0xdf, 6, 'FCOMIP', 'ST0,STi');
r(0xe0, 'LOOPNE', 'Jb', 'f64');
r(0xe1, 'LOOPE', 'Jb', 'f64');
r(0xe2, 'LOOP', 'Jb', 'f64');
r(0xe3, 'JCXZ', 'Jb', 'f64');
r(0xe4, 'IN', 'AL,Ib');
r(0xe5, 'IN', 'eAX,Ib');
r(0xe6, 'OUT', 'Ib,AL');
r(0xe7, 'OUT', 'Ib,eAX');
r(0xe8, 'CALL', 'Jz', 'f64');
r(0xe9, 'JMP', 'Jz', 'f64');
r(0xea, 'JMPF', 'Ap', 'i64');
r(0xeb, 'JMP', 'Jb', 'f64');
r(0xec, 'IN', 'AL,DX');
r(0xed, 'IN', 'eAX,DX');
r(0xee, 'OUT', 'DX,AL');
r(0xef, 'OUT', 'DX,eAX');
r(0xf1, 'INT1', '');
r(0xf4, 'HLT', '');
r(0xf5, 'CMC', '');
const grp3 = ['TEST', 'TEST', 'NOT', 'NEG', 'MUL', 'IMUL', 'DIV', 'IDIV'];
for (let e = 0; e < 8; e++) {
  const ops = e < 2 ? ['Eb,Ib', 'Ev,Iz'] : ['Eb', 'Ev'];
  const lk = e === 2 || e === 3 ? 'lock' : '';
  r(0xf6, grp3[e], ops[0], lk, e);
  r(0xf7, grp3[e], ops[1], lk, e);
}
r(0xf8, 'CLC', '');
r(0xf9, 'STC', '');
r(0xfa, 'CLI', '');
r(0xfb, 'STI', '');
r(0xfc, 'CLD', '');
r(0xfd, 'STD', '');
r(0xfe, 'INC', 'Eb', 'lock', 0);
r(0xfe, 'DEC', 'Eb', 'lock', 1);
r(0xff, 'INC', 'Ev', 'lock', 0);
r(0xff, 'DEC', 'Ev', 'lock', 1);
r(0xff, 'CALL_IND', 'Ev', 'f64', 2);
r(0xff, 'CALLF_IND', 'Mp', '', 3);
r(0xff, 'JMP_IND', 'Ev', 'f64', 4);
r(0xff, 'JMPF_IND', 'Mp', '', 5);
r(0xff, 'PUSH', 'Ev', 'd64', 6);

// Two-byte map (0F xx), SDM Vol. 2 Table A-3.
const T = 0x100;
r(T + 0x00, 'SLDT', 'Ew', '', 0);
r(T + 0x00, 'STR', 'Ew', '', 1);
r(T + 0x00, 'LLDT', 'Ew', '', 2);
r(T + 0x00, 'LTR', 'Ew', '', 3);
r(T + 0x00, 'VERR', 'Ew', '', 4);
r(T + 0x00, 'VERW', 'Ew', '', 5);
r(T + 0x01, 'SGDT', 'Ms', '', 0);
r(T + 0x01, 'SIDT', 'Ms', '', 1);
r(T + 0x01, 'LGDT', 'Ms', '', 2);
r(T + 0x01, 'LIDT', 'Ms', '', 3);
r(T + 0x01, 'SMSW', 'Ew', '', 4);
r(T + 0x01, 'LMSW', 'Ew', '', 6);
r(T + 0x01, 'INVLPG', 'Mb', '', 7);
r(T + 0x01, 'VMCALL', '', '', 0, 1);
r(T + 0x01, 'XGETBV', '', '', 2, 0);
r(T + 0x01, 'XSETBV', '', '', 2, 1);
r(T + 0x01, 'MONITOR', '', '', 1, 0);
r(T + 0x01, 'MWAIT', '', '', 1, 1);
r(T + 0x01, 'SERIALIZE', '', '', 5, 0);
r(T + 0x01, 'VMMCALL', '', '', 3, 1);
r(T + 0x01, 'SWAPGS', '', '', 7, 0);
r(T + 0x01, 'RDTSCP', '', '', 7, 1);
r(T + 0x01, 'SMSW', 'Ew', '', 4, undefined, true);
r(T + 0x01, 'LMSW', 'Ew', '', 6, undefined, true);
r(T + 0x02, 'LAR', 'Gv,Ew');
r(T + 0x03, 'LSL', 'Gv,Ew');
r(T + 0x05, 'SYSCALL', '');
r(T + 0x06, 'CLTS', '');
r(T + 0x07, 'SYSRET', '');
r(T + 0x08, 'INVD', '');
r(T + 0x09, 'WBINVD', '');
r(T + 0x0b, 'UD2', '');
r(T + 0x0d, 'NOP', 'Ev');
for (let i = 0x18; i <= 0x1f; i++) r(T + i, 'NOP', 'Ev');
r(T + 0x20, 'MOV_FROM_CR', 'Rd,C');
r(T + 0x21, 'MOV_FROM_DR', 'Rd,D');
r(T + 0x22, 'MOV_TO_CR', 'C,Rd');
r(T + 0x23, 'MOV_TO_DR', 'D,Rd');
r(T + 0x30, 'WRMSR', '');
r(T + 0x31, 'RDTSC', '');
r(T + 0x32, 'RDMSR', '');
r(T + 0x33, 'RDPMC', '');
r(T + 0x34, 'SYSENTER', '');
r(T + 0x35, 'SYSEXIT', '');
for (let i = 0; i < 16; i++) {
  r(T + 0x40 + i, 'CMOVCC', 'Gv,Ev');
  r(T + 0x80 + i, 'JCC', 'Jz', 'f64');
  r(T + 0x90 + i, 'SETCC', 'Eb');
}
r(T + 0xa0, 'PUSH_SEG', 'FS', 'd64');
r(T + 0xa1, 'POP_SEG', 'FS', 'd64');
r(T + 0xa2, 'CPUID', '');
r(T + 0xa3, 'BT', 'Ev,Gv');
r(T + 0xa4, 'SHLD', 'Ev,Gv,Ib');
r(T + 0xa5, 'SHLD', 'Ev,Gv,CL');
r(T + 0xa8, 'PUSH_SEG', 'GS', 'd64');
r(T + 0xa9, 'POP_SEG', 'GS', 'd64');
r(T + 0xab, 'BTS', 'Ev,Gv', 'lock');
r(T + 0xac, 'SHRD', 'Ev,Gv,Ib');
r(T + 0xad, 'SHRD', 'Ev,Gv,CL');
// 66/F2/F3 0F AE /0, /1: #UD (SDM Vol. 2 3.1.1.1 NP; an AMD EPYC gives #UD natively for every
// prefixed form, whatever the addressing).
sse('NP', T + 0xae, 'FXSAVE', 'M', '', 0);
sse('NP', T + 0xae, 'FXRSTOR', 'M', '', 1);
sse('NP', T + 0xae, 'LDMXCSR', 'Md', '', 2); // 66/F2/F3 0F AE /2, /3: #UD (SDM Vol. 2 3.1.1.1 NP; the CPU)
sse('NP', T + 0xae, 'STMXCSR', 'Md', '', 3);
// With 66/F3 these memory forms are other instructions (PTWRITE F3 /4, CLWB 66 /6, CLFLUSHOPT
// 66 /7) that x86emu does not have: #UD there.
sse('NP', T + 0xae, 'XSAVE', 'M', '', 4);
r(T + 0xae, 'XRSTOR', 'M', '', 5);
sse('NP', T + 0xae, 'XSAVEOPT', 'M', '', 6);
sse('NP', T + 0xae, 'CLFLUSH', 'Mb', '', 7);
r(T + 0xae, 'LFENCE', '', '', 5, undefined, true);
r(T + 0xae, 'MFENCE', '', '', 6, undefined, true);
r(T + 0xae, 'SFENCE', '', '', 7, undefined, true);
r(T + 0xaf, 'IMUL2', 'Gv,Ev');
r(T + 0xb0, 'CMPXCHG', 'Eb,Gb', 'lock');
r(T + 0xb1, 'CMPXCHG', 'Ev,Gv', 'lock');
r(T + 0xb2, 'LSS', 'Gz,Mp');
r(T + 0xb3, 'BTR', 'Ev,Gv', 'lock');
r(T + 0xb4, 'LFS', 'Gz,Mp');
r(T + 0xb5, 'LGS', 'Gz,Mp');
r(T + 0xb6, 'MOVZX', 'Gv,Eb');
r(T + 0xb7, 'MOVZX', 'Gv,Ew');
r(T + 0xba, 'BT', 'Ev,Ib', '', 4);
r(T + 0xba, 'BTS', 'Ev,Ib', 'lock', 5);
r(T + 0xba, 'BTR', 'Ev,Ib', 'lock', 6);
r(T + 0xba, 'BTC', 'Ev,Ib', 'lock', 7);
r(T + 0xbb, 'BTC', 'Ev,Gv', 'lock');
r(T + 0xbc, 'BSF', 'Gv,Ev');
r(T + 0xbd, 'BSR', 'Gv,Ev');
r(T + 0xbe, 'MOVSX', 'Gv,Eb');
r(T + 0xbf, 'MOVSX', 'Gv,Ew');
r(T + 0xc0, 'XADD', 'Eb,Gb', 'lock');
r(T + 0xc1, 'XADD', 'Ev,Gv', 'lock');
r(T + 0xc7, 'CMPXCHG8B', 'Mq', 'lock', 1);
// The register forms of /6 and /7 (their memory forms are VMX instructions: #UD here).
r(T + 0xc7, 'RDRAND', 'Rv', '', 6, undefined, true);
r(T + 0xc7, 'RDSEED', 'Rv', '', 7, undefined, true);
for (let i = 0; i < 8; i++) r(T + 0xc8 + i, 'BSWAP', 'Zd');

// SIMD integer, moves and MMX (SDM Vol. 2 Tables, with the mandatory prefix of each
// form). The SSE floating-point arithmetic rows are in their own block below.
// Moves.
const X38 = T + 0x100; // 0F 38 map
sse('NP', T + 0x10, 'MOVUPS', 'Vps,Wps');
sse('66', T + 0x10, 'MOVUPD', 'Vpd,Wpd');
sse('F3', T + 0x10, 'MOVSS', 'Vss,Wss');
sse('F2', T + 0x10, 'MOVSD', 'Vsd,Wsd');
sse('NP', T + 0x11, 'MOVUPS', 'Wps,Vps');
sse('66', T + 0x11, 'MOVUPD', 'Wpd,Vpd');
sse('F3', T + 0x11, 'MOVSS', 'Wss,Vss');
sse('F2', T + 0x11, 'MOVSD', 'Wsd,Vsd');
sse('NP', T + 0x12, 'MOVLPS', 'Vq,Mq');
sse('NP', T + 0x12, 'MOVHLPS', 'Vq,Uq');
sse('66', T + 0x12, 'MOVLPD', 'Vq,Mq');
sse('F2', T + 0x12, 'MOVDDUP', 'Vq,Wq');
sse('F3', T + 0x12, 'MOVSLDUP', 'Vdq,Wdq');
sse('NP', T + 0x13, 'MOVLPS', 'Mq,Vq');
sse('66', T + 0x13, 'MOVLPD', 'Mq,Vq');
sse('NP', T + 0x16, 'MOVHPS', 'Vdq,Mq');
sse('NP', T + 0x16, 'MOVLHPS', 'Vdq,Uq');
sse('66', T + 0x16, 'MOVHPD', 'Vdq,Mq');
sse('F3', T + 0x16, 'MOVSHDUP', 'Vdq,Wdq');
sse('NP', T + 0x17, 'MOVHPS', 'Mq,Vq');
sse('66', T + 0x17, 'MOVHPD', 'Mq,Vq');
sse('NP', T + 0x28, 'MOVAPS', 'Vps,Wps');
sse('66', T + 0x28, 'MOVAPD', 'Vpd,Wpd');
sse('NP', T + 0x29, 'MOVAPS', 'Wps,Vps');
sse('66', T + 0x29, 'MOVAPD', 'Wpd,Vpd');
sse('NP', T + 0x2b, 'MOVNTPS', 'Mps,Vps');
sse('66', T + 0x2b, 'MOVNTPD', 'Mpd,Vpd');
sse('NP', T + 0x50, 'MOVMSKPS', 'Gd,Ups');
sse('66', T + 0x50, 'MOVMSKPD', 'Gd,Upd');
sse('NP', T + 0x6e, 'MOVD', 'Pq,Ey');
sse('66', T + 0x6e, 'MOVD', 'Vdq,Ey');
sse('NP', T + 0x6f, 'MOVQ_MMX', 'Pq,Qq');
sse('66', T + 0x6f, 'MOVDQA', 'Vdq,Wdq');
sse('F3', T + 0x6f, 'MOVDQU', 'Vdq,Wdq');
sse('NP', T + 0x77, 'EMMS', '');
sse('NP', T + 0x7e, 'MOVD', 'Ey,Pq');
sse('66', T + 0x7e, 'MOVD', 'Ey,Vdq');
sse('F3', T + 0x7e, 'MOVQ_XMM', 'Vq,Wq');
sse('NP', T + 0x7f, 'MOVQ_MMX', 'Qq,Pq');
sse('66', T + 0x7f, 'MOVDQA', 'Wdq,Vdq');
sse('F3', T + 0x7f, 'MOVDQU', 'Wdq,Vdq');
sse('NP', T + 0xc3, 'MOVNTI', 'My,Gy');
sse('66', T + 0xd6, 'MOVQ_XMM', 'Wq,Vq');
sse('F3', T + 0xd6, 'MOVQ2DQ', 'Vdq,Nq');
sse('F2', T + 0xd6, 'MOVDQ2Q', 'Pq,Uq');
sse('NP', T + 0xd7, 'PMOVMSKB', 'Gd,Nq');
sse('66', T + 0xd7, 'PMOVMSKB', 'Gd,Udq');
sse('NP', T + 0xe7, 'MOVNTQ', 'Mq,Pq');
sse('66', T + 0xe7, 'MOVNTDQ', 'Mdq,Vdq');
sse('F2', T + 0xf0, 'LDDQU', 'Vdq,Mdq');
sse('NP', T + 0xf7, 'MASKMOVQ', 'Pq,Nq');
sse('66', T + 0xf7, 'MASKMOVDQU', 'Vdq,Udq');
sse('66', X38 + 0x2a, 'MOVNTDQA', 'Vdq,Mdq');

// SSE floating point (SDM Vol. 2 Tables ): arithmetic, compares, conversions, SSE3 and
// SSE4.1; the handlers are exec/sse-fp. PS forms take no prefix, SS F3, PD 66, SD F2.
const X3A = T + 0x200; // 0F 3A map
const fpForms: [MandatoryPrefix, string, string][] = [
  ['NP', 'PS', 'Vps,Wps'],
  ['F3', 'SS', 'Vss,Wss'],
  ['66', 'PD', 'Vpd,Wpd'],
  ['F2', 'SD', 'Vsd,Wsd'],
];
for (const [op, name] of [
  [0x51, 'SQRT'],
  [0x58, 'ADD'],
  [0x59, 'MUL'],
  [0x5c, 'SUB'],
  [0x5d, 'MIN'],
  [0x5e, 'DIV'],
  [0x5f, 'MAX'],
] as const)
  for (const [pfx, sfx, ops] of fpForms) sse(pfx, T + op, name + sfx, ops);
for (const [pfx, sfx, ops] of fpForms) sse(pfx, T + 0xc2, `CMP${sfx}`, `${ops},Ib`);
sse('NP', T + 0x52, 'RSQRTPS', 'Vps,Wps');
sse('F3', T + 0x52, 'RSQRTSS', 'Vss,Wss');
sse('NP', T + 0x53, 'RCPPS', 'Vps,Wps');
sse('F3', T + 0x53, 'RCPSS', 'Vss,Wss');
sse('NP', T + 0x2e, 'UCOMISS', 'Vss,Wss');
sse('66', T + 0x2e, 'UCOMISD', 'Vsd,Wsd');
sse('NP', T + 0x2f, 'COMISS', 'Vss,Wss');
sse('66', T + 0x2f, 'COMISD', 'Vsd,Wsd');
sse('NP', T + 0x2a, 'CVTPI2PS', 'Vps,Qq');
sse('F3', T + 0x2a, 'CVTSI2SS', 'Vss,Ey');
sse('66', T + 0x2a, 'CVTPI2PD', 'Vpd,Qq');
sse('F2', T + 0x2a, 'CVTSI2SD', 'Vsd,Ey');
sse('NP', T + 0x2c, 'CVTTPS2PI', 'Pq,Wps');
sse('F3', T + 0x2c, 'CVTTSS2SI', 'Gy,Wss');
sse('66', T + 0x2c, 'CVTTPD2PI', 'Pq,Wpd');
sse('F2', T + 0x2c, 'CVTTSD2SI', 'Gy,Wsd');
sse('NP', T + 0x2d, 'CVTPS2PI', 'Pq,Wps');
sse('F3', T + 0x2d, 'CVTSS2SI', 'Gy,Wss');
sse('66', T + 0x2d, 'CVTPD2PI', 'Pq,Wpd');
sse('F2', T + 0x2d, 'CVTSD2SI', 'Gy,Wsd');
sse('NP', T + 0x5a, 'CVTPS2PD', 'Vpd,Wps');
sse('66', T + 0x5a, 'CVTPD2PS', 'Vps,Wpd');
sse('F3', T + 0x5a, 'CVTSS2SD', 'Vsd,Wss');
sse('F2', T + 0x5a, 'CVTSD2SS', 'Vss,Wsd');
sse('NP', T + 0x5b, 'CVTDQ2PS', 'Vps,Wdq');
sse('66', T + 0x5b, 'CVTPS2DQ', 'Vdq,Wps');
sse('F3', T + 0x5b, 'CVTTPS2DQ', 'Vdq,Wps');
sse('66', T + 0xe6, 'CVTTPD2DQ', 'Vdq,Wpd');
sse('F3', T + 0xe6, 'CVTDQ2PD', 'Vpd,Wq');
sse('F2', T + 0xe6, 'CVTPD2DQ', 'Vdq,Wpd');
sse('66', T + 0xd0, 'ADDSUBPD', 'Vpd,Wpd');
sse('F2', T + 0xd0, 'ADDSUBPS', 'Vps,Wps');
sse('66', T + 0x7c, 'HADDPD', 'Vpd,Wpd');
sse('F2', T + 0x7c, 'HADDPS', 'Vps,Wps');
sse('66', T + 0x7d, 'HSUBPD', 'Vpd,Wpd');
sse('F2', T + 0x7d, 'HSUBPS', 'Vps,Wps');
sse('66', X38 + 0x14, 'BLENDVPS', 'Vdq,Wdq');
sse('66', X38 + 0x15, 'BLENDVPD', 'Vdq,Wdq');
sse('66', X3A + 0x08, 'ROUNDPS', 'Vps,Wps,Ib');
sse('66', X3A + 0x09, 'ROUNDPD', 'Vpd,Wpd,Ib');
sse('66', X3A + 0x0a, 'ROUNDSS', 'Vss,Wss,Ib');
sse('66', X3A + 0x0b, 'ROUNDSD', 'Vsd,Wsd,Ib');
sse('66', X3A + 0x0c, 'BLENDPS', 'Vps,Wps,Ib');
sse('66', X3A + 0x0d, 'BLENDPD', 'Vpd,Wpd,Ib');
sse('66', X3A + 0x17, 'EXTRACTPS', 'Ed,Vdq,Ib');
sse('66', X3A + 0x21, 'INSERTPS', 'Vdq,Wd,Ib');
sse('66', X3A + 0x40, 'DPPS', 'Vps,Wps,Ib');
sse('66', X3A + 0x41, 'DPPD', 'Vpd,Wpd,Ib');

// Packed integer (MMX NP Pq,Qq and SSE2 66 Vdq,Wdq forms of one opcode), logicals, unpacks, shuffles.
const M3A = T + 0x200; // 0F 3A map
function mmxSse(op: number, mnemonic: string, mmxOperands = 'Pq,Qq', sseOperands = 'Vdq,Wdq'): void {
  sse('NP', op, mnemonic, mmxOperands);
  sse('66', op, mnemonic, sseOperands);
}
const PACKED2: [number, string][] = [
  [0x63, 'PACKSSWB'],
  [0x64, 'PCMPGTB'],
  [0x65, 'PCMPGTW'],
  [0x66, 'PCMPGTD'],
  [0x67, 'PACKUSWB'],
  [0x68, 'PUNPCKHBW'],
  [0x69, 'PUNPCKHWD'],
  [0x6a, 'PUNPCKHDQ'],
  [0x6b, 'PACKSSDW'],
  [0x74, 'PCMPEQB'],
  [0x75, 'PCMPEQW'],
  [0x76, 'PCMPEQD'],
  [0xd1, 'PSRLW'],
  [0xd2, 'PSRLD'],
  [0xd3, 'PSRLQ'],
  [0xd4, 'PADDQ'],
  [0xd5, 'PMULLW'],
  [0xd8, 'PSUBUSB'],
  [0xd9, 'PSUBUSW'],
  [0xda, 'PMINUB'],
  [0xdb, 'PAND'],
  [0xdc, 'PADDUSB'],
  [0xdd, 'PADDUSW'],
  [0xde, 'PMAXUB'],
  [0xdf, 'PANDN'],
  [0xe0, 'PAVGB'],
  [0xe1, 'PSRAW'],
  [0xe2, 'PSRAD'],
  [0xe3, 'PAVGW'],
  [0xe4, 'PMULHUW'],
  [0xe5, 'PMULHW'],
  [0xe8, 'PSUBSB'],
  [0xe9, 'PSUBSW'],
  [0xea, 'PMINSW'],
  [0xeb, 'POR'],
  [0xec, 'PADDSB'],
  [0xed, 'PADDSW'],
  [0xee, 'PMAXSW'],
  [0xef, 'PXOR'],
  [0xf1, 'PSLLW'],
  [0xf2, 'PSLLD'],
  [0xf3, 'PSLLQ'],
  [0xf4, 'PMULUDQ'],
  [0xf5, 'PMADDWD'],
  [0xf6, 'PSADBW'],
  [0xf8, 'PSUBB'],
  [0xf9, 'PSUBW'],
  [0xfa, 'PSUBD'],
  [0xfb, 'PSUBQ'],
  [0xfc, 'PADDB'],
  [0xfd, 'PADDW'],
  [0xfe, 'PADDD'],
];
for (const [op, m] of PACKED2) mmxSse(T + op, m);
// The low-half unpacks of MMX read a 32-bit memory operand (SDM PUNPCKLBW "mm, mm/m32").
mmxSse(T + 0x60, 'PUNPCKLBW', 'Pq,Qd');
mmxSse(T + 0x61, 'PUNPCKLWD', 'Pq,Qd');
mmxSse(T + 0x62, 'PUNPCKLDQ', 'Pq,Qd');
sse('66', T + 0x6c, 'PUNPCKLQDQ', 'Vdq,Wdq');
sse('66', T + 0x6d, 'PUNPCKHQDQ', 'Vdq,Wdq');
sse('NP', T + 0x70, 'PSHUFW', 'Pq,Qq,Ib');
sse('66', T + 0x70, 'PSHUFD', 'Vdq,Wdq,Ib');
sse('F3', T + 0x70, 'PSHUFHW', 'Vdq,Wdq,Ib');
sse('F2', T + 0x70, 'PSHUFLW', 'Vdq,Wdq,Ib');
// Groups 12–14: shifts by an immediate of the register in ModRM.r/m (SDM Vol. 2 Table A-6).
for (const [op, ext, m] of [
  [0x71, 2, 'PSRLW'],
  [0x71, 4, 'PSRAW'],
  [0x71, 6, 'PSLLW'],
  [0x72, 2, 'PSRLD'],
  [0x72, 4, 'PSRAD'],
  [0x72, 6, 'PSLLD'],
  [0x73, 2, 'PSRLQ'],
  [0x73, 6, 'PSLLQ'],
] as const) {
  sse('NP', T + op, m, 'Nq,Ib', '', ext);
  sse('66', T + op, m, 'Udq,Ib', '', ext);
}
sse('66', T + 0x73, 'PSRLDQ', 'Udq,Ib', '', 3);
sse('66', T + 0x73, 'PSLLDQ', 'Udq,Ib', '', 7);
for (const [op, ps, pd] of [
  [0x14, 'UNPCKLPS', 'UNPCKLPD'],
  [0x15, 'UNPCKHPS', 'UNPCKHPD'],
  [0x54, 'ANDPS', 'ANDPD'],
  [0x55, 'ANDNPS', 'ANDNPD'],
  [0x56, 'ORPS', 'ORPD'],
  [0x57, 'XORPS', 'XORPD'],
] as const) {
  sse('NP', T + op, ps, 'Vps,Wps');
  sse('66', T + op, pd, 'Vpd,Wpd');
}
sse('NP', T + 0xc6, 'SHUFPS', 'Vps,Wps,Ib');
sse('66', T + 0xc6, 'SHUFPD', 'Vpd,Wpd,Ib');
// SSSE3 (0F 38 00–0B, 1C–1E; 0F 3A 0F), MMX and XMM forms.
const SSSE3: [number, string][] = [
  [0x00, 'PSHUFB'],
  [0x01, 'PHADDW'],
  [0x02, 'PHADDD'],
  [0x03, 'PHADDSW'],
  [0x04, 'PMADDUBSW'],
  [0x05, 'PHSUBW'],
  [0x06, 'PHSUBD'],
  [0x07, 'PHSUBSW'],
  [0x08, 'PSIGNB'],
  [0x09, 'PSIGNW'],
  [0x0a, 'PSIGND'],
  [0x0b, 'PMULHRSW'],
  [0x1c, 'PABSB'],
  [0x1d, 'PABSW'],
  [0x1e, 'PABSD'],
];
for (const [op, m] of SSSE3) mmxSse(X38 + op, m);
mmxSse(M3A + 0x0f, 'PALIGNR', 'Pq,Qq,Ib', 'Vdq,Wdq,Ib');
// SSE4.1 / SSE4.2 packed integer (66 0F 38).
const SSE41: [number, string][] = [
  [0x28, 'PMULDQ'],
  [0x29, 'PCMPEQQ'],
  [0x2b, 'PACKUSDW'],
  [0x37, 'PCMPGTQ'],
  [0x38, 'PMINSB'],
  [0x39, 'PMINSD'],
  [0x3a, 'PMINUW'],
  [0x3b, 'PMINUD'],
  [0x3c, 'PMAXSB'],
  [0x3d, 'PMAXSD'],
  [0x3e, 'PMAXUW'],
  [0x3f, 'PMAXUD'],
  [0x40, 'PMULLD'],
];
for (const [op, m] of SSE41) sse('66', X38 + op, m, 'Vdq,Wdq');
sse('NP', T + 0xc4, 'PINSRW', 'Pq,Ew,Ib');
sse('66', T + 0xc4, 'PINSRW', 'Vdq,Ew,Ib');
sse('NP', T + 0xc5, 'PEXTRW', 'Gd,Nq,Ib');
sse('66', T + 0xc5, 'PEXTRW', 'Gd,Udq,Ib');
sse('66', X38 + 0x10, 'PBLENDVB', 'Vdq,Wdq');
sse('66', X38 + 0x17, 'PTEST', 'Vdq,Wdq');
sse('66', X38 + 0x41, 'PHMINPOSUW', 'Vdq,Wdq');
// PMOVSX/PMOVZX read only the source elements they widen (8, 4 or 2 bytes of memory).
for (const [k, m, src] of [
  [0, 'BW', 'Wq'],
  [1, 'BD', 'Wd'],
  [2, 'BQ', 'Ww'],
  [3, 'WD', 'Wq'],
  [4, 'WQ', 'Wd'],
  [5, 'DQ', 'Wq'],
] as const) {
  sse('66', X38 + 0x20 + k, `PMOVSX${m}`, `Vdq,${src}`);
  sse('66', X38 + 0x30 + k, `PMOVZX${m}`, `Vdq,${src}`);
}
sse('66', M3A + 0x0e, 'PBLENDW', 'Vdq,Wdq,Ib');
sse('66', M3A + 0x42, 'MPSADBW', 'Vdq,Wdq,Ib');
// PEXTRB/W/D/Q and PINSRB/D/Q: a GPR (32-bit, 64-bit with REX.W for D/Q) or memory of the element size.
sse('66', M3A + 0x14, 'PEXTRB', 'Eb,Vdq,Ib');
sse('66', M3A + 0x15, 'PEXTRW', 'Ew,Vdq,Ib');
sse('66', M3A + 0x16, 'PEXTRD', 'Ey,Vdq,Ib');
sse('66', M3A + 0x20, 'PINSRB', 'Vdq,Eb,Ib');
sse('66', M3A + 0x22, 'PINSRD', 'Vdq,Ey,Ib');
// SSE4.2: string compares (66 0F 3A 60–63), CRC32 (F2 0F 38 F0/F1); POPCNT (F3 0F B8).
sse('66', M3A + 0x60, 'PCMPESTRM', 'Vdq,Wdq,Ib');
sse('66', M3A + 0x61, 'PCMPESTRI', 'Vdq,Wdq,Ib');
sse('66', M3A + 0x62, 'PCMPISTRM', 'Vdq,Wdq,Ib');
sse('66', M3A + 0x63, 'PCMPISTRI', 'Vdq,Wdq,Ib');
sse('F2', X38 + 0xf0, 'CRC32', 'Gy,Eb');
sse('F2', X38 + 0xf1, 'CRC32', 'Gy,Ev');
sse('F3', T + 0xb8, 'POPCNT', 'Gv,Ev');

// Undefined flags by mnemonic (SDM Vol. 1 Appendix A, and each instruction's "Flags Affected").
const CF = 0x1;
const PF = 0x4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const OF = 0x800;
const UNDEFINED: Record<string, number> = {
  AND: AF,
  OR: AF,
  XOR: AF,
  TEST: AF,
  SHL: AF | OF,
  SHR: AF | OF,
  SAL: AF | OF,
  SAR: AF | OF,
  SHLD: AF | OF,
  SHRD: AF | OF,
  ROL: OF,
  ROR: OF,
  RCL: OF,
  RCR: OF,
  MUL: SF | ZF | AF | PF,
  IMUL: SF | ZF | AF | PF,
  IMUL2: SF | ZF | AF | PF,
  IMUL3: SF | ZF | AF | PF,
  DIV: CF | OF | SF | ZF | AF | PF,
  IDIV: CF | OF | SF | ZF | AF | PF,
  BSF: CF | OF | SF | AF | PF,
  BSR: CF | OF | SF | AF | PF,
  BT: OF | SF | AF | PF,
  BTS: OF | SF | AF | PF,
  BTR: OF | SF | AF | PF,
  BTC: OF | SF | AF | PF,
  DAA: OF,
  DAS: OF,
  AAA: OF | SF | ZF | PF,
  AAS: OF | SF | ZF | PF,
  AAM: OF | AF | CF,
  AAD: OF | AF | CF,
  // MOV to/from CRn and DRn leave the arithmetic flags undefined (SDM Vol. 2, their "Flags Affected").
  MOV_TO_CR: CF | PF | AF | ZF | SF | OF,
  MOV_FROM_CR: CF | PF | AF | ZF | SF | OF,
  MOV_TO_DR: CF | PF | AF | ZF | SF | OF,
  MOV_FROM_DR: CF | PF | AF | ZF | SF | OF,
};
for (const row of rows)
  if (UNDEFINED[row.mnemonic] !== undefined) row.undefinedFlags = UNDEFINED[row.mnemonic];

/**
 * Where "undefined" depends on operands: shifts and rotates define OF only for a count of 1 (a
 * count of 0 changes no flag); SHL/SHR leave CF undefined for counts ≥ the operand width; SHLD/SHRD
 * leave result and flags undefined for counts > the operand width (16-bit forms).
 */
export const UNDEFINED_FLAGS_NOTES =
  'shift/rotate OF only for count 1; SHL/SHR CF for count >= width; SHLD/SHRD all for count > width';

export const OPCODE_TABLE: readonly OpcodeRow[] = rows;

/** Prefix bytes (SDM Vol. 2 2.1.1); handled by the decoder, not rows. */
export const PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3] as const;
