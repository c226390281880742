/**
 * Test cases for the IA-32e modes. `long64`: x86emu's opcode table walked round robin as in the
 * legacy modes, encoded for 64-bit mode (REX prefixes, 16 registers, 64-bit and 32-bit
 * addressing, RIP-relative operands, 8-byte immediates and moffs, 64-bit stack), with register
 * values and addresses at the edges: 0, −1, sign boundaries, carries out of bits 31 and 63,
 * non-canonical and high-half addresses, pages that are not present, read-only or supervisor,
 * addresses above RAM. `compat32`: the legacy 32-bit encoder (generator.ts) on flat segments,
 * run from a 32-bit code segment of the IA-32e machine.
 */
import { OPCODE_TABLE, type OpcodeRow } from '@kvm/x86emu';
import { classOf, type InsnClass } from './classes.js';
import { mayLeaveFlagsUndefined, undefinedFlags } from './flags.js';
import { randomFpu, simd16 } from './fp-values.js';
import {
  EXCLUDED,
  formName,
  GARBAGE_EXCLUDED,
  generateCase,
  LEGACY_PREFIXES,
  pointer,
  SEQUENCE_FORMS,
  straightLineDecodes,
  straightLineMnemonics,
  type TestCase,
} from './generator.js';
import { CODE, CODE_MAX, DATA, DATA_END, STACK_TOP } from './layout.js';
import {
  baseState64,
  GDT64_SEL,
  type LongMode,
  PAGE64_NO_EXECUTE,
  PAGE64_NOT_PRESENT,
  PAGE64_READ_ONLY,
  PAGE64_SUPERVISOR,
} from './layout64.js';
import type { MachineState } from './machine-state.js';
import { Prng } from './prng.js';

/** Rows not generated in the IA-32e modes beyond `EXCLUDED`, and why. */
export const EXCLUDED_LONG: Readonly<Record<string, string>> = {
  INT: 'kvm-pvm raises #UD for INT n at CPL 3 (measured: INT 80h through a DPL-3 gate, and INT 0Dh, which must be #GP(6Ah))',
  SYSCALL: 'enters CPL 0 through LSTAR/STAR, which the harness does not set up',
  SYSRET: 'CPL 0 only (#GP at CPL 3 is all it could show), and it needs STAR',
  SYSENTER: 'vendor-dependent in 64-bit mode (#UD on AMD, valid on Intel; SDM SYSENTER, APM SYSENTER)',
  SYSEXIT: 'vendor-dependent in 64-bit mode (#UD on AMD; SDM SYSEXIT, APM SYSEXIT)',
  RDTSCP: 'timing-dependent',
  // Measured with a DPL-3 data descriptor at 0x38 in the guest's GDT: MOV FS, 0x3B then FS:[0]
  // faults at its base (segment loads use the guest's GDT), but VERR 0x3B leaves ZF = 0 and LSL/LAR
  // fail: these four run on the CPU against the host's own GDT.
  LAR: "kvm-pvm runs it at CPL 3 against the host's GDT, not the guest's (measured)",
  LSL: "kvm-pvm runs it at CPL 3 against the host's GDT, not the guest's (measured)",
  VERR: "kvm-pvm runs it at CPL 3 against the host's GDT, not the guest's (measured)",
  VERW: "kvm-pvm runs it at CPL 3 against the host's GDT, not the guest's (measured)",
};

/** One 32-bit seed per (run seed, case number, mode). */
function caseSeed64(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/**
 * The rows walked in 64-bit mode: the legacy generator's rows, minus `EXCLUDED_LONG`, minus
 * 40h–4Fh (INC/DEC r in the table: REX prefixes in 64-bit mode, SDM Vol. 2 2.2.1) and C4h/C5h.
 */
export const FORMS64: readonly OpcodeRow[] = OPCODE_TABLE.filter(
  (r) =>
    // x87 state forms (FNSAVE, FLDCW…) are excluded from the legacy modes only: the long64
    // harness sets and compares the x87/SSE state (layout64.ts).
    (!(r.mnemonic in EXCLUDED) || (classOf(r) === 'x87' && !EXCLUDED[r.mnemonic].startsWith('x87 arith'))) &&
    !(r.mnemonic in EXCLUDED_LONG) &&
    !(r.op >= 0x40 && r.op <= 0x4f) &&
    // C4/C5 are VEX prefixes in 64-bit mode, not LES/LDS (SDM Vol. 2 2.3.5).
    r.op !== 0xc4 &&
    r.op !== 0xc5 &&
    !(r.mnemonic === 'PUSH_SEG' && (r.operands === 'FS' || r.operands === 'GS')),
);

/**
 * Why PUSH FS/GS is not generated and MOV from a segment register reads only CS and SS in 64-bit
 * mode: on kvm-pvm the FS/GS selectors CPL-3 code reads are whatever the host CPU last held (one
 * case pushed 0x33, 0x2b and 0 on three runs), and the ES/DS selectors whatever an earlier case
 * loaded (kvm-pvm does not load them from the vCPU's state at an entry: seed 1 case 288, MOV
 * [rip+…], ES, stored 0 in one order and 0x33 after case 1992's MOV ES, [rbx-11h] in the other).
 * test/harness64.kvm.test.ts runs every case twice, the second time in reverse order, to catch
 * such things.
 */
export const FS_GS_SELECTOR_READS =
  "kvm-pvm: CPL-3 reads of the FS/GS selectors return the host CPU's leftover value, and of ES/DS an earlier case's, not the guest's";

/** Sequence followers in 64-bit mode: not the 40h–4Fh rows (REX there), nor the #UD ones. */
const SEQUENCE_FORMS64: readonly OpcodeRow[] = SEQUENCE_FORMS.filter(
  (r) => !(r.op >= 0x40 && r.op <= 0x4f) && !(r.attrs ?? '').includes('i64'),
);

/** A 64-bit value as [low, high] halves. */
type Q = [number, number];

/** Values at the edges for 64-bit operands (SDM Vol. 1 7.3.2: carries out of bit 31 and 63). */
const SPECIAL64: readonly Q[] = [
  [0, 0],
  [1, 0],
  [0xffffffff, 0xffffffff],
  [0xfffffffe, 0xffffffff],
  [0xffffffff, 0x7fffffff],
  [0, 0x80000000],
  [1, 0x80000000],
  [0xffffffff, 0],
  [0x7fffffff, 0],
  [0x80000000, 0],
  [0, 1],
  [0x80000000, 0xffffffff],
  [0x7fffffff, 0xffffffff],
  [0xff, 0],
  [0x8000, 0],
];

function value64(p: Prng): Q {
  const k = p.below(10);
  if (k < 4) return p.pick(SPECIAL64);
  if (k < 6) return [p.below(0x10000), 0];
  if (k < 7) return [p.u32(), 0];
  if (k < 8) return [p.u32(), 0xffffffff];
  return [p.u32(), p.u32()];
}

/** A pointer into the data area (most of the time) or an address at an edge of translation. */
function address64(p: Prng): Q {
  if (p.chance(0.75)) return [DATA + p.below(DATA_END - DATA - 0x1100), 0];
  switch (p.below(9)) {
    case 0: // non-canonical, low side (SDM Vol. 3 3.3.7.1: #GP(0), #SS(0) for stack references)
      return [p.u32(), 0x8000 + p.below(0x8000)];
    case 1: // non-canonical, just below the high half
      return [p.u32(), 0xffff7fff];
    case 2: // canonical high half: PML4 entries 256–511 are not present (#PF)
      return [p.below(0x10000) * 16, 0xffff8000 + p.below(0x8000) * 0x10000];
    case 3:
      return [PAGE64_NOT_PRESENT + p.below(0x1000), 0];
    case 4:
      return [PAGE64_READ_ONLY + p.below(0x1000), 0];
    case 5:
      return [PAGE64_SUPERVISOR + p.below(0x1000), 0];
    case 6:
      return [PAGE64_NO_EXECUTE - 8 + p.below(16), 0];
    case 7: // above RAM: not mapped
      return [0x100000 + p.below(0x100000), 0];
    default: // an access that crosses 4 GiB, which 32-bit address arithmetic would wrap
      return [0xfffffff0 + p.below(16), 0];
  }
}

function le(v: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(i < 4 ? (v >>> (8 * i)) & 0xff : 0);
  return out;
}

function leQ([lo, hi]: Q, n: number): number[] {
  return [...le(lo, Math.min(n, 4)), ...le(hi, Math.max(0, n - 4))];
}

const STRING_OPS = new Set(['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'INS', 'OUTS']);
const SHIFT_OPS = /^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD)$/;
/** Near branches: an operand-size prefix is vendor-dependent in 64-bit mode (APM honours it, SDM ignores it). */
const NEAR_BRANCH = /^(JCC|JMP|CALL|RET|JMP_IND|CALL_IND|LOOP|LOOPE|LOOPNE|JCXZ)$/;
/** Far pointers m16:64 need REX.W, which AMD ignores (APM JMP/CALL far; SDM allows it): no REX.W. */
const FAR_INDIRECT = /^(JMPF_IND|CALLF_IND|LSS|LFS|LGS)$/;
const USER_SELECTORS = [
  0,
  3,
  GDT64_SEL.USER_DS,
  GDT64_SEL.USER_CS,
  GDT64_SEL.USER32_CS,
  GDT64_SEL.KERNEL_DS,
  GDT64_SEL.KERNEL_DS_ALT,
  GDT64_SEL.NOT_PRESENT,
  GDT64_SEL.TSS,
  0x60 | 3,
  0xfff8 | 3,
];
const FAR_CODE64 = [GDT64_SEL.USER_CS, GDT64_SEL.USER_CS, GDT64_SEL.USER32_CS, GDT64_SEL.USER_DS, 0];

interface Built64 {
  bytes: number[];
  row: OpcodeRow;
  bits: number;
  count: number;
}

function setReg(s: MachineState, r: number, [lo, hi]: Q): void {
  if (r === 4) return; // RSP stays on the user stack (the stack forms set it themselves)
  s.gpr[r] = lo >>> 0;
  (s.gprHigh as number[])[r] = hi >>> 0;
}

/** Encodes `row` for 64-bit mode at code offset `at`, adjusting `s` and `patches` for the first instruction. */
function encode64(
  row: OpcodeRow,
  s: MachineState,
  patches: [number, number[]][],
  p: Prng,
  first: boolean,
  at: number,
): Built64 {
  const tokens = row.operands ? row.operands.split(',') : [];
  const m = row.mnemonic;
  const attrs = row.attrs ?? '';
  const bytes: number[] = [];
  // (Draws only on the SIMD/x87 rows' own paths, so the general-purpose cases of a seed stay.)
  const opPrefix = !NEAR_BRANCH.test(m) && m !== 'BSWAP' && p.chance(0.2) && row.pfx === undefined;
  const adPrefix = p.chance(STRING_OPS.has(m) ? 0.2 : 0.08);
  if (p.chance(0.1)) bytes.push(p.pick([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]));
  if (opPrefix) bytes.push(0x66);
  if (adPrefix) bytes.push(0x67);
  if (STRING_OPS.has(m) && p.chance(0.6))
    bytes.push(m === 'CMPS' || m === 'SCAS' ? p.pick([0xf2, 0xf3]) : 0xf3);
  // A SIMD row's mandatory prefix (SDM Vol. 2 2.1.2) goes last among the legacy prefixes.
  if (row.pfx !== undefined && row.pfx !== 'NP')
    bytes.push(row.pfx === '66' ? 0x66 : row.pfx === 'F2' ? 0xf2 : 0xf3);
  const lockable = attrs.includes('lock');
  const memOnly = tokens.some((t) => t.startsWith('M'));
  // U and N name XMM/MMX registers in ModRM.rm: register forms only (SDM Vol. 2 A.2.1).
  const regOnly =
    tokens.some((t) => t.startsWith('R') || /^[UN][a-z]/.test(t)) ||
    row.mod3 === true ||
    row.rm !== undefined;
  const hasModrm =
    row.ext !== undefined ||
    tokens.some(
      (t) => /^[EGMR]([a-z]|$)/.test(t) || /^[VWUPQN][a-z]/.test(t) || t === 'S' || t === 'C' || t === 'D',
    );
  let mod = regOnly ? 3 : memOnly ? p.below(3) : p.chance(0.5) ? 3 : p.below(3);
  if (row.rm !== undefined) mod = 3;
  if (lockable && mod !== 3 && p.chance(0.3)) bytes.unshift(0xf0);
  else if (p.chance(0.01)) bytes.unshift(0xf0);
  // REX last, right before the opcode (SDM Vol. 2 2.2.1); W stays off where it is vendor-dependent.
  let rex = p.chance(0.6) ? 0x40 | p.below(16) : 0;
  if (FAR_INDIRECT.test(m)) rex &= ~8;
  // SLDT/STR to memory store 16 bits whatever the operand size (SDM SLDT, STR). kvm-pvm runs
  // them for CPL-3 code in KVM's emulator (UMIP), which stores 8 bytes under REX.W (seed
  // 20261204): the host cannot referee that form.
  if ((m === 'SLDT' || m === 'STR') && mod !== 3) rex &= ~8;
  if (rex) bytes.push(rex);
  const W = (rex >> 3) & 1;
  const X = (rex >> 1) & 1;
  const B = rex & 1;
  const opSize = W ? 8 : opPrefix ? 2 : attrs.includes('d64') ? 8 : 4;
  const adSize = adPrefix ? 4 : 8;
  if (row.op >= 0x200) bytes.push(0x0f, row.op >= 0x300 ? 0x3a : 0x38);
  else if (row.op >= 0x100) bytes.push(0x0f);
  // Register-in-opcode forms (B8+r, 50+r, 91+r, BSWAP 0F C8+r) take REX.B (SDM Vol. 2 Table 3-1).
  bytes.push(row.op & 0xff);
  let reg = row.ext ?? p.below(8);
  // Segment registers: only CS and SS read (FS_GS_SELECTOR_READS), any loaded.
  if (tokens.includes('S'))
    reg = m === 'MOV_FROM_SEG' ? p.pick([1, 2]) : p.chance(0.9) ? p.pick([0, 2, 3, 4, 5]) : p.below(8);
  if (tokens.includes('C')) reg = p.chance(0.9) ? p.pick([0, 2, 3, 4]) : p.below(8);
  // RIP-relative addressing (mod 00, r/m 101) is the 64-bit form compilers use most: favour it.
  let rm = row.rm ?? (mod === 0 && p.chance(0.3) ? 5 : p.below(8));
  // JMP/CALL through RSP would run the stack's random bytes as code (x87 and SSE forms among
  // them): the register form jumps through another register, steered at a HLT sled below.
  if ((m === 'JMP_IND' || m === 'CALL_IND') && mod === 3 && rm === 4 && !B) rm = 3;
  let ripRelAt = -1;
  let ripTarget = 0;
  let ea: Q | null = null;
  if (hasModrm) {
    bytes.push((mod << 6) | (reg << 3) | rm);
    if (mod !== 3) {
      if (mod === 0 && rm === 5) {
        // RIP-relative (SDM Vol. 2 2.2.1.6): the displacement is fixed up once the length is known.
        ripRelAt = bytes.length;
        bytes.push(0, 0, 0, 0);
        // A disp32 reaches ±2 GiB around RIP: a non-canonical or high-half edge is out of reach,
        // so those draws become data pointers (0xFFFFFFF0 + x wraps to the top of the high half).
        const a = address64(p);
        ripTarget = a[1] === 0 ? a[0] : DATA + p.below(0x1000);
        ea = [ripTarget, 0];
      } else {
        let base = rm | (B << 3);
        let index = -1;
        if (rm === 4) {
          const scale = p.below(4);
          const idx = p.below(8);
          const b = p.below(8);
          bytes.push((scale << 6) | (idx << 3) | b);
          base = b | (B << 3);
          index = idx | (X << 3);
          if (index === 4) index = -1;
          if (mod === 0 && b === 5) base = -1;
        }
        if (base === -1) {
          const a = p.chance(0.8) ? DATA + p.below(DATA_END - DATA - 0x1100) : address64(p)[0];
          bytes.push(...le(a, 4));
          ea = [a, 0];
        } else {
          const disp = mod === 1 ? (p.below(256) << 24) >> 24 : mod === 2 ? p.range(-0x800, 0x800) : 0;
          if (mod === 1) bytes.push(disp & 0xff);
          else if (mod === 2) bytes.push(...le(disp >>> 0, 4));
          if (first) {
            const a = address64(p);
            // SIMD and x87 operands: half of them 16-byte aligned (MOVAPS and friends #GP otherwise).
            if (classOf(row) !== 'gp' && a[1] === 0 && p.chance(0.5)) a[0] = (a[0] & ~15) >>> 0;
            // Keep base + disp on the chosen address.
            setReg(s, base, [(a[0] - disp) >>> 0, a[1]]);
            if (index >= 0 && index !== base) setReg(s, index, [p.chance(0.8) ? 0 : p.below(0x100), 0]);
            if (index < 0) ea = a;
          }
        }
      }
    } else if (first) {
      const r = rm | (B << 3);
      if (/^(MOV_TO_SEG|LLDT|LTR|VERR|VERW|LAR|LSL)$/.test(m)) setReg(s, r, [p.pick(USER_SELECTORS), 0]);
      if (m === 'JMP_IND' || m === 'CALL_IND') setReg(s, r, [CODE + 0x100 + p.below(0x400), 0]);
    }
  }
  let count = s.gpr[1] & 0xff;
  for (const t of tokens) {
    switch (t) {
      case 'Ib':
      case 'IbS': {
        let v = p.below(256);
        if (m === 'ENTER') v = p.chance(0.8) ? p.below(4) : p.below(32);
        if (SHIFT_OPS.test(m)) {
          v = p.chance(0.8) ? p.below(opSizeBits(row, opSize) + 2) : p.below(256);
          count = v;
        }
        bytes.push(v);
        break;
      }
      case 'Iw':
        bytes.push(...le(m === 'ENTER' || m === 'RET' || m === 'RETF' ? p.below(0x40) & ~1 : p.u32(), 2));
        break;
      case 'Iz':
        bytes.push(...le(value64(p)[0], opSize === 2 ? 2 : 4));
        break;
      case 'Iv':
        bytes.push(...leQ(value64(p), opSize));
        break;
      case 'Jb':
        bytes.push(outsideCase(at + bytes.length + 1, p.range(-0x40, 0x7f)) & 0xff);
        break;
      case 'Jz':
        bytes.push(...le(outsideCase(at + bytes.length + 4, p.range(-0x800, 0x1000)) >>> 0, 4));
        break;
      case 'Ap':
        bytes.push(...le(CODE + 0x100, 4), ...le(GDT64_SEL.USER_CS, 2));
        break;
      case 'Ob':
      case 'Ov':
        bytes.push(...leQ(adSize === 8 ? address64(p) : [address64(p)[0], 0], adSize));
        break;
    }
  }
  if (ripRelAt >= 0) {
    const next = CODE + at + bytes.length;
    bytes.splice(ripRelAt, 4, ...le((ripTarget - next) >>> 0, 4));
  }
  if (first) adjust64(row, s, patches, p, opSize, adSize, ea);
  if (SHIFT_OPS.test(m) && tokens.includes('CL')) count = s.gpr[1] & 0xff;
  if (tokens.includes('1')) count = 1;
  return { bytes, row, bits: opSizeBits(row, opSize), count };
}

/** Longest case: three instructions of at most 15 bytes, the MXCSR prologue and epilogue, the HLT. */
const CASE_BYTES_MAX = 64;

/**
 * A relative branch displacement `disp` (from the end of an instruction ending at code offset
 * `end`) moved off the case's own bytes: a target inside them would mostly land in the middle of
 * an instruction and run bytes nobody generated (undefined flags unmasked, x87 forms), so such a
 * target goes CASE_BYTES_MAX bytes lower, into the HLT sled before the code.
 */
function outsideCase(end: number, disp: number): number {
  const t = end + disp;
  return t >= 0 && t < CASE_BYTES_MAX ? disp - CASE_BYTES_MAX : disp;
}

function opSizeBits(row: OpcodeRow, opSize: number): number {
  const t = row.operands.split(',')[0] ?? '';
  return t.endsWith('b') || t === 'AL' ? 8 : opSize * 8;
}

/** Register values and memory contents specific to one instruction (64-bit mode). */
function adjust64(
  row: OpcodeRow,
  s: MachineState,
  patches: [number, number[]][],
  p: Prng,
  opSize: number,
  adSize: number,
  ea: Q | null,
): void {
  const m = row.mnemonic;
  const rsp = s.gpr[4];
  const codeTarget = (): Q => [CODE + 0x100 + p.below(0x400), 0];
  const stack = (vals: [Q, number][]): void => {
    const out: number[] = [];
    for (const [v, n] of vals) out.push(...leQ(v, n));
    patches.push([rsp, out]);
  };
  const gh = s.gprHigh as number[];
  if (STRING_OPS.has(m)) {
    s.gpr[1] = p.chance(0.8) ? p.below(12) : p.below(40);
    gh[1] = p.chance(0.05) ? 1 : 0; // RCX above 4 GiB: only a 64-bit count sees it
    for (const r of [6, 7])
      setReg(s, r, p.chance(0.85) ? [DATA + p.below(DATA_END - DATA - 0x1100), 0] : address64(p));
    if (adSize === 4) gh[6] = gh[7] = 0;
  }
  if (/^(LOOP|LOOPE|LOOPNE|JCXZ)$/.test(m))
    setReg(s, 1, p.pick<Q>([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [0xffffffff, 0], value64(p)]));
  if (SHIFT_OPS.test(m) && row.operands.includes('CL')) {
    const bits = opSizeBits(row, opSize);
    const max = m === 'SHLD' || m === 'SHRD' ? bits : bits + 2;
    s.gpr[1] = ((s.gpr[1] & ~0xff) | (p.chance(0.85) ? p.below(max + 1) : p.below(256))) >>> 0;
    // SHLD/SHRD with a masked count above the operand size leave the result undefined.
    const mask = bits === 64 ? 0x3f : 0x1f;
    if ((m === 'SHLD' || m === 'SHRD') && (s.gpr[1] & mask) > bits) s.gpr[1] &= ~0xff;
  }
  if (m === 'XLAT') setReg(s, 3, [DATA + p.below(DATA_END - DATA - 0x1100), 0]);
  const slot = opSize === 2 ? 2 : 8;
  if (m === 'POP' || m === 'POPF')
    stack([[m === 'POPF' ? [(p.u32() & ~0x20100) | 0x202, 0] : value64(p), slot]]);
  if (m === 'POP_SEG') stack([[[p.pick(USER_SELECTORS), 0], slot]]);
  if (m === 'RET') stack([[codeTarget(), slot]]);
  const w = opSize === 8 ? 8 : opSize;
  if (m === 'RETF') {
    stack([
      [codeTarget(), w],
      [[p.pick(FAR_CODE64), 0], w],
      [value64(p), w],
      [[GDT64_SEL.USER_DS, 0], w],
    ]);
  }
  if (m === 'IRET') {
    // IRETQ at CPL 3 pops RIP, CS, RFLAGS, RSP, SS (SDM IRET, IA-32e mode); IF and IOPL stay.
    const flags = ((p.u32() & 0xcd5) | 0x202) >>> 0;
    stack([
      [codeTarget(), w],
      [[p.pick(FAR_CODE64), 0], w],
      [[flags, 0], w],
      [[STACK_TOP - 0x100 - 8 * p.below(16), 0], w],
      [[p.chance(0.8) ? GDT64_SEL.USER_DS : p.pick(USER_SELECTORS), 0], w],
    ]);
  }
  if (m === 'LEAVE') setReg(s, 5, [rsp + 8 * p.below(16), 0]);
  if (ea === null || ea[1] !== 0 || ea[0] < DATA || ea[0] >= DATA_END - 16) return;
  const at = ea[0];
  // Floating-point edges in the memory operand of a SIMD or x87 row.
  if (classOf(row) !== 'gp' && p.chance(0.6)) patches.push([at, simd16(p)]);
  if (m === 'JMP_IND' || m === 'CALL_IND') patches.push([at, leQ(codeTarget(), 8)]);
  if (m === 'JMPF_IND' || m === 'CALLF_IND')
    patches.push([at, [...le(codeTarget()[0], opSize === 2 ? 2 : 4), ...le(p.pick(FAR_CODE64), 2)]]);
  if (/^(LFS|LGS|LSS)$/.test(m))
    patches.push([
      at,
      [...le(DATA + p.below(0x1000), opSize === 2 ? 2 : 4), ...le(p.pick(USER_SELECTORS), 2)],
    ]);
  if (/^(MOV_TO_SEG|LLDT|LTR|VERR|VERW|LAR|LSL)$/.test(m)) patches.push([at, le(p.pick(USER_SELECTORS), 2)]);
}

/** The random GPRs, user RSP and RFLAGS of a 64-bit case. */
function initialState64(p: Prng): { s: MachineState; rsp: number; rflags: number } {
  const s = baseState64();
  const gh = s.gprHigh as number[];
  for (let i = 0; i < 16; i++) {
    if (i === 4) continue;
    const [lo, hi] = value64(p);
    s.gpr[i] = lo >>> 0;
    gh[i] = hi >>> 0;
  }
  // IF = 1, as user code always runs (kvm-pvm runs CPL-3 code with the real IF set: PUSHF shows
  // it); arithmetic flags and DF random.
  const rflags = (0x202 | (p.u32() & 0x8d5) | (p.chance(0.2) ? 0x400 : 0)) >>> 0;
  return { s, rsp: STACK_TOP - 8 * p.below(32), rflags };
}

/** Where x87/SSE cases load MXCSR from and store it to (user data page, above the stack top). */
export const MXCSR_IN = STACK_TOP + 0x40;
export const MXCSR_OUT = STACK_TOP + 0x48;
/** The forms of those two instructions in a case's `insns`. */
export const HARNESS_LDMXCSR = 'LDMXCSR Md (harness: MXCSR in)';
export const HARNESS_STMXCSR = 'STMXCSR Md (harness: MXCSR out)';
/** LDMXCSR [MXCSR_IN] and STMXCSR [MXCSR_OUT] (disp32 absolute addressing). */
const LDMXCSR_IN = [0x0f, 0xae, 0x14, 0x25, ...le(MXCSR_IN, 4)];
const STMXCSR_OUT = [0x0f, 0xae, 0x1c, 0x25, ...le(MXCSR_OUT, 4)];
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;

const formsByClasses = new Map<string, readonly OpcodeRow[]>();

/** The FORMS64 rows of the instruction classes `classes` (`--class`), in table order. */
export function formsLong64(classes: readonly InsnClass[]): readonly OpcodeRow[] {
  const key = [...classes].sort().join(',');
  let rows = formsByClasses.get(key);
  if (rows === undefined) {
    rows = FORMS64.filter((r) => classes.includes(classOf(r)));
    formsByClasses.set(key, rows);
  }
  return rows;
}

/**
 * A `long64` case: row `index mod rows` of the classes' forms (general-purpose ones by default),
 * alone or followed by 1–2 sequence forms.
 */
export function generateLong64(
  seed: number,
  index: number,
  classes: readonly InsnClass[] = ['gp'],
): TestCase {
  const p = new Prng(caseSeed64(seed, index));
  const forms = formsLong64(classes);
  if (forms.length === 0) throw new Error(`no long64 rows in the classes ${classes.join(',')}`);
  const row = forms[index % forms.length];
  const { s, rsp, rflags } = initialState64(p);
  const user = { ...s, gpr: [...s.gpr], gprHigh: [...(s.gprHigh as number[])] };
  user.gpr[4] = rsp;
  const patches: [number, number[]][] = [];
  const fp = classOf(row) !== 'gp';
  // x87/SSE cases start with LDMXCSR from MXCSR_IN (KVM_SET_FPU does not set MXCSR) at CPL 3.
  const prologue = fp ? LDMXCSR_IN : [];
  const built = [encode64(row, user, patches, p, true, prologue.length)];
  if (fp) {
    // The x87/SSE state at the edges, set through KVM_SET_FPU and compared (fpu-state.ts); CR4
    // says the OS handles FXSAVE and #XM (kvm-pvm runs user code under the host's CR4 anyway).
    user.fpu = randomFpu(p);
    user.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
    patches.push([MXCSR_IN, le(user.fpu.mxcsr, 4)]);
  }
  const undef = undefinedFlags(row.mnemonic, built[0].bits, built[0].count);
  if (!mayLeaveFlagsUndefined(row.mnemonic) && p.chance(0.3)) {
    const extra = 1 + p.below(2);
    for (let k = 0; k < extra; k++) {
      const at = prologue.length + built.reduce((n, b) => n + b.bytes.length, 0);
      built.push(encode64(p.pick(SEQUENCE_FORMS64), user, patches, p, false, at));
    }
  }
  // …and end with STMXCSR to MXCSR_OUT (KVM_GET_FPU does not return it): compared as memory.
  const epilogue = fp ? STMXCSR_OUT : [];
  const bytes = [...prologue, ...built.flatMap((b) => b.bytes), ...epilogue];
  if (bytes.length >= CODE_MAX) throw new Error('case too long');
  // The CPL-0 state keeps the harness's RSP; the user RSP goes into the IRETQ frame.
  user.gpr[4] = s.gpr[4];
  user.gprHigh[4] = 0;
  return {
    mode: 'long64',
    bytes,
    insns: [
      ...(fp ? [{ length: prologue.length, form: HARNESS_LDMXCSR }] : []),
      ...built.map((b) => ({ length: b.bytes.length, form: formName(b.row) })),
      ...(fp ? [{ length: epilogue.length, form: HARNESS_STMXCSR }] : []),
    ],
    init: user,
    entry: { mode: 'long64', rip: CODE, ripHigh: 0, rsp, rspHigh: 0, rflags },
    dataSeed: p.u32(),
    patches,
    undefinedFlags: undef,
    garbage: false,
  };
}

/**
 * A `compat32` case: the legacy generator's pm32 case (flat 32-bit segments, the same data and
 * stack addresses), run from the IA-32e machine's 32-bit user code segment; its GPRs and EFLAGS
 * become the IRETQ frame and the registers IRETQ keeps. Upper halves start at zero.
 */
export function generateCompat32(seed: number, index: number): TestCase {
  const c = generateCase(seed ^ 0x3c6ef372, index, 'pm32');
  const s = baseState64();
  for (let i = 0; i < 8; i++) if (i !== 4) s.gpr[i] = c.init.gpr[i];
  return {
    ...c,
    mode: 'compat32',
    init: s,
    entry: {
      mode: 'compat32',
      rip: CODE,
      ripHigh: 0,
      rsp: c.init.gpr[4],
      rspHigh: 0,
      rflags: c.init.eflags | 0x200,
    },
  };
}

/** Case `index` of an IA-32e mode; `classes` select long64's rows (compat32 cases are pm32's, `gp`). */
export function generateLongCase(
  seed: number,
  index: number,
  mode: LongMode,
  classes: readonly InsnClass[] = ['gp'],
): TestCase {
  return mode === 'long64' ? generateLong64(seed, index, classes) : generateCompat32(seed, index);
}

/**
 * Mnemonics `long64` garbage must not reach in a straight line: the legacy list (timing- and
 * host-dependent results), the rows `EXCLUDED_LONG` keeps out of the generated cases, and what
 * CPL-3 code reads of the host rather than of the guest on kvm-pvm: the descriptor-table
 * registers and the machine status word (SGDT, SIDT, SLDT, STR, SMSW: the host's, or #GP under
 * its UMIP), XCR0 (XGETBV), and the FS/GS/ES/DS selectors (`FS_GS_SELECTOR_READS`: MOV from a
 * segment register, PUSH FS/GS). State saves (FXSAVE, XSAVE…) write the host's reserved and XSAVE-header
 * fields.
 */
const GARBAGE64_EXCLUDED: ReadonlySet<string> = new Set([
  ...GARBAGE_EXCLUDED,
  ...Object.keys(EXCLUDED_LONG),
  'SGDT',
  'SIDT',
  'SLDT',
  'STR',
  'SMSW',
  'XGETBV',
  'MOV_FROM_SEG',
  'PUSH_SEG',
  'FXSAVE',
  'XSAVE',
  'XSAVEOPT',
]);

/**
 * Whether `bytes`, walked in a straight line as x86emu decodes them, reach an opcode byte that
 * starts a VEX (C4h, C5h), EVEX (62h) or XOP (8Fh with ModRM.reg ≠ 0, AMD) encoding in 64-bit
 * mode: the host CPU runs those (AVX, AVX-512, XOP) where x86emu, whose CPUID has none of them,
 * raises #UD (SDM Vol. 2 2.3, APM Vol. 3 1.8).
 */
function reachesVex(bytes: readonly number[]): boolean {
  for (const { at } of straightLineDecodes(bytes, 'long64')) {
    let o = at;
    while (o < bytes.length && (LEGACY_PREFIXES.includes(bytes[o]) || (bytes[o] & 0xf0) === 0x40)) o++;
    const op = bytes[o];
    if (op === 0xc4 || op === 0xc5 || op === 0x62 || (op === 0x8f && ((bytes[o + 1] ?? 0) & 0x38) !== 0))
      return true;
  }
  return false;
}

/**
 * A `long64` garbage case: 1–15 random bytes at CPL 3, sometimes behind legacy prefixes and a
 * REX prefix, sometimes after 0Fh; drawn again (a few times) when they decode, in a straight
 * line, to something `GARBAGE64_EXCLUDED` names or to a VEX/EVEX/XOP encoding. Registers as a
 * generated case's, half of them pointing into the data area so that memory operands often hit;
 * random x87/SSE state and MXCSR set and compared as for the x87/SSE classes (the bytes often
 * decode to MMX, SSE or x87 forms), between the harness's LDMXCSR and STMXCSR.
 */
export function generateGarbage64(seed: number, index: number): TestCase {
  const p = new Prng(caseSeed64(seed ^ 0x6a09e667, index));
  const { s, rsp, rflags } = initialState64(p);
  const user = { ...s, gpr: [...s.gpr], gprHigh: [...(s.gprHigh as number[])] };
  for (let i = 0; i < 16; i++) {
    if (i === 4 || !p.chance(0.5)) continue;
    user.gpr[i] = pointer('long64', p);
    user.gprHigh[i] = 0;
  }
  user.fpu = randomFpu(p);
  user.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
  let bytes: number[] = [];
  for (let tries = 0; tries < 16; tries++) {
    bytes = [];
    const prefixes = p.below(3);
    for (let i = 0; i < prefixes; i++) bytes.push(p.pick(LEGACY_PREFIXES));
    if (p.chance(0.4)) bytes.push(0x40 | p.below(16));
    if (p.chance(0.4)) bytes.push(0x0f);
    const n = 1 + p.below(14 - bytes.length);
    for (let i = 0; i < n; i++) bytes.push(p.below(256));
    if (!straightLineMnemonics(bytes, 'long64').some((m) => GARBAGE64_EXCLUDED.has(m)) && !reachesVex(bytes))
      break;
  }
  return {
    mode: 'long64',
    bytes: [...LDMXCSR_IN, ...bytes, ...STMXCSR_OUT],
    insns: [
      { length: LDMXCSR_IN.length, form: HARNESS_LDMXCSR },
      { length: bytes.length, form: 'garbage' },
      { length: STMXCSR_OUT.length, form: HARNESS_STMXCSR },
    ],
    init: user,
    entry: { mode: 'long64', rip: CODE, ripHigh: 0, rsp, rspHigh: 0, rflags },
    dataSeed: p.u32(),
    patches: [[MXCSR_IN, le(user.fpu.mxcsr, 4)]],
    // Set at comparison time from the instructions the bytes decode to.
    undefinedFlags: 0,
    garbage: true,
  };
}
