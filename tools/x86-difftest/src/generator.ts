/**
 * Test cases, derived from x86emu's own opcode table (`OPCODE_TABLE`, the one description of
 * what is implemented): case i exercises row i (round robin over the rows, so `count ≥ rows ×
 * modes` covers every implemented opcode and form in every mode) with random prefixes, ModRM
 * forms, immediates, register values and flags. Operands that would only send the CPU into
 * the weeds (pointers, selectors, branch targets) are steered at the test machine's data area,
 * its descriptors and its HLT sleds, so that most cases say something about the instruction.
 */
import { DecodeStatus, decode, Insn, OPCODE_TABLE, type OpcodeRow } from '@kvm/x86emu';
import { classOf } from './classes.js';
import { mayLeaveFlagsUndefined, undefinedFlags } from './flags.js';
import {
  baseState,
  buildImage,
  CODE,
  CODE_MAX,
  DATA,
  DATA_END,
  HLT,
  type Mode,
  SEL,
  STACK_TOP,
} from './layout.js';
import { buildImage64, type UserEntry, writeHarnessFrame } from './layout64.js';
import { cloneState, type MachineState } from './machine-state.js';
import { Prng } from './prng.js';

export interface TestCase {
  mode: Mode;
  /** The code bytes; a HLT (the terminator) follows them. */
  bytes: number[];
  /** Each instruction: its length and its form (`MNEMONIC operands`, or `garbage`). */
  insns: { length: number; form: string }[];
  init: MachineState;
  /** Seed of the random data area (DATA..DATA_END). */
  dataSeed: number;
  /** Bytes written over the data area after the random fill: [linear address, bytes]. */
  patches: [number, number[]][];
  /** Flags not compared (undefined after this case's instructions). */
  undefinedFlags: number;
  garbage: boolean;
  /** IA-32e modes: where and how the harness's IRETQ enters the case at CPL 3. */
  entry?: UserEntry;
}

/** Rows never generated, and why. */
export const EXCLUDED: Readonly<Record<string, string>> = {
  RDTSC: 'timing-dependent',
  RDPMC: 'timing-dependent',
  // SDM Vol. 2 RDRAND/RDSEED: "Loads a hardware generated random value": each side's value is its
  // own generator's, never comparable (long64 garbage that reaches them is replayed with the
  // host's values instead: known-garbage64.ts, class random-value).
  RDRAND: "the CPU's own random bits",
  RDSEED: "the CPU's own random bits",
  CPUID: 'host CPUID values',
  RDMSR: "the host's MSR set",
  WRMSR: "the host's MSR set",
  MONITOR: 'hypervisor-dependent',
  MWAIT: 'hypervisor-dependent',
  VMCALL: 'a hypercall to the host KVM',
  VMMCALL: 'a hypercall to the host KVM',
  SYSRET:
    "outside 64-bit mode the SDM's answer is #UD (x86emu's); KVM's emulator on kvm-pvm answers with varying frames (pm16: #GP from 0097:0018, then other categories on a re-run); long64 has its own exclusion",
  FPU_OTHER: 'x87 arithmetic: x86emu does not implement it (README limits); garbage mode covers it',
  FNSAVE: 'x87 state: the host vCPU keeps its FPU state across cases',
  FRSTOR: 'x87 state: the host vCPU keeps its FPU state across cases',
  FNSTENV: 'x87 state: the host vCPU keeps its FPU state across cases',
  FLDENV: 'x87 state: the host vCPU keeps its FPU state across cases',
  FXSAVE: 'x87 state: the host vCPU keeps its FPU state across cases',
  FXRSTOR: 'x87 state: the host vCPU keeps its FPU state across cases',
  FNSTCW: 'x87 state: the host vCPU keeps its FPU state across cases',
  FNSTSW: 'x87 state: the host vCPU keeps its FPU state across cases',
  FNSTSW_AX: 'x87 state: the host vCPU keeps its FPU state across cases',
  FLDCW: 'x87 state: the host vCPU keeps its FPU state across cases',
};

/** The rows the generator walks through, in table order. */
export const FORMS: readonly OpcodeRow[] = OPCODE_TABLE.filter(
  // x87 and SSE rows (issue 11) only in long64 with --class: the legacy modes' referee here is
  // KVM's emulator, and their harness does not set the FPU state.
  (r) => !(r.mnemonic in EXCLUDED) && classOf(r) === 'gp',
);

export function formName(row: OpcodeRow): string {
  return row.operands ? `${row.mnemonic} ${row.operands}` : row.mnemonic;
}

const SPECIAL = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
];
const SELECTORS_PM = [
  0,
  3,
  4,
  SEL.CODE32,
  SEL.DATA32,
  SEL.CODE16,
  SEL.STACK16,
  SEL.DATA16,
  SEL.TSS,
  SEL.DATA32_RO,
  SEL.CODE32_DPL3,
  SEL.DATA32_DPL3,
  SEL.NOT_PRESENT,
  SEL.EXPAND_DOWN,
  0x60,
  SEL.DATA32 | 3,
  0xfff8,
];
const FAR_CODE_PM = [
  SEL.CODE32,
  SEL.CODE32,
  SEL.CODE16,
  SEL.DATA32,
  0,
  SEL.CODE32_DPL3,
  SEL.NOT_PRESENT,
  0x60,
];
const STRING_OPS = new Set(['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'INS', 'OUTS']);
/**
 * Forms that may follow the first instruction of a sequence: flags all defined, no operands the
 * generator would have to steer (its adjustments only apply to the first instruction).
 */
const SEQUENCE_MNEMONICS = new Set([
  'ADD',
  'OR',
  'ADC',
  'SBB',
  'SUB',
  'CMP',
  'INC',
  'DEC',
  'NOT',
  'NEG',
  'MOV',
  'XCHG',
  'SETCC',
  'CMOVCC',
  'LEA',
  'MOVZX',
  'MOVSX',
  'BSWAP',
  'CBW',
  'CWD',
  'CLC',
  'STC',
  'CMC',
  'CLD',
  'STD',
  'SAHF',
  'LAHF',
  'NOP',
]);

export const SEQUENCE_FORMS: readonly OpcodeRow[] = OPCODE_TABLE.filter(
  (r) =>
    SEQUENCE_MNEMONICS.has(r.mnemonic) &&
    !mayLeaveFlagsUndefined(r.mnemonic) &&
    r.op !== 0x10d &&
    !(r.op >= 0x118 && r.op <= 0x11f),
);

/** Patches may land from here on: never on the tables, stubs or code below. */
const PATCHABLE = 0xb000;

export function is16(mode: Mode): boolean {
  return mode === 'real' || mode === 'pm16';
}

/** 64-bit mode (the decoder's `long64`). */
export function isLong64(mode: Mode): boolean {
  return mode === 'long64';
}

/** One 32-bit seed per (run seed, case number): every case can be regenerated alone. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

function value(p: Prng): number {
  const k = p.below(10);
  if (k < 3) return p.pick(SPECIAL);
  if (k < 5) return p.below(0x100);
  if (k < 7) return p.below(0x10000);
  return p.u32();
}

function le(v: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((v >>> (8 * i)) & 0xff);
  return out;
}

/** The random initial state of a case in `mode`. */
function initialState(mode: Mode, p: Prng): MachineState {
  const s = cloneState(baseState(mode));
  for (let i = 0; i < 8; i++) if (i !== 4) s.gpr[i] = value(p) >>> 0;
  s.gpr[4] = is16(mode) ? 0xff00 - 2 * p.below(32) : STACK_TOP - 4 * p.below(32);
  // Random arithmetic flags and DF; IF/TF/AC stay clear (no interrupts, no single-step).
  s.eflags = (2 | (p.u32() & 0x8d5) | (p.chance(0.2) ? 0x400 : 0)) >>> 0;
  return s;
}

/** A pointer into the data area for 32-bit addressing in flat modes; a 16-bit offset otherwise. */
export function pointer(mode: Mode, p: Prng): number {
  if (is16(mode)) return p.chance(0.9) ? p.below(0xfff0) : p.u32();
  return DATA + p.below(DATA_END - DATA - 0x1100);
}

interface Built {
  bytes: number[];
  row: OpcodeRow;
  /** Bits of the operand size, and the shift count the instruction will see (for flag masks). */
  bits: number;
  count: number;
  /** Linear address of the memory operand, or -1. */
  ea: number;
}

/**
 * Encodes `row` with random operands, adjusting `s` (registers the instruction addresses
 * through) and `patches` (memory it reads a pointer or selector from).
 */
function encode(
  row: OpcodeRow,
  mode: Mode,
  s: MachineState,
  patches: [number, number[]][],
  p: Prng,
  first: boolean,
): Built {
  const def16 = is16(mode);
  const tokens = row.operands ? row.operands.split(',') : [];
  const m = row.mnemonic;
  const bytes: number[] = [];
  const opPrefix = p.chance(0.25);
  const adPrefix = p.chance(STRING_OPS.has(m) ? 0.2 : 0.1);
  const opSize = def16 !== opPrefix ? 2 : 4;
  const adSize = def16 !== adPrefix ? 2 : 4;
  let seg = -1;
  if (p.chance(0.15)) {
    seg = p.below(6);
    bytes.push([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65][seg]);
  }
  if (opPrefix) bytes.push(0x66);
  if (adPrefix) bytes.push(0x67);
  if (STRING_OPS.has(m) && p.chance(0.6))
    bytes.push(m === 'CMPS' || m === 'SCAS' ? p.pick([0xf2, 0xf3]) : 0xf3);
  const memOnly = tokens.some((t) => t.startsWith('M'));
  const regOnly = tokens.some((t) => t.startsWith('R')) || row.mod3 === true || row.rm !== undefined;
  const hasModrm =
    row.ext !== undefined ||
    tokens.some((t) => /^[EGMR]([a-z]|$)/.test(t) || t === 'S' || t === 'C' || t === 'D');
  let mod = regOnly ? 3 : memOnly ? p.below(3) : p.chance(0.5) ? 3 : p.below(3);
  const lockable = (row.attrs ?? '').includes('lock');
  if (lockable && mod !== 3 && p.chance(0.3)) bytes.unshift(0xf0);
  else if (p.chance(0.01)) bytes.unshift(0xf0); // LOCK where it is not allowed: #UD
  if (row.op >= 0x100) bytes.push(0x0f);
  bytes.push(row.op & 0xff);
  let reg = row.ext ?? p.below(8);
  if (tokens.includes('S')) reg = p.chance(0.9) ? p.pick([0, 2, 3, 4, 5]) : p.below(8);
  if (tokens.includes('C')) reg = p.chance(0.9) ? p.pick([0, 2, 3, 4]) : p.below(8);
  const rm = row.rm ?? p.below(8);
  const regValue = (r: number, v: number): void => {
    if (r !== 4) s.gpr[r] = v >>> 0;
  };
  let eaLinear = -1;
  if (hasModrm) {
    if (row.rm !== undefined) mod = 3;
    bytes.push((mod << 6) | (reg << 3) | rm);
    if (mod !== 3) {
      let off = 0;
      let defSeg = 3;
      if (adSize === 2) {
        const disp = mod === 1 ? p.below(256) : mod === 2 || (mod === 0 && rm === 6) ? p.below(0x10000) : 0;
        if (mod === 1) bytes.push(disp);
        else if (mod === 2 || (mod === 0 && rm === 6)) bytes.push(...le(disp, 2));
        const dispS = mod === 1 ? (disp << 24) >> 24 : disp;
        const base16 = [[3, 6], [3, 7], [5, 6], [5, 7], [6], [7], [5], [3]][rm];
        if (mod === 0 && rm === 6) off = disp;
        else {
          off = dispS;
          for (const r of base16) off += s.gpr[r] & 0xffff;
          if (rm === 2 || rm === 3 || (rm === 6 && mod !== 0)) defSeg = 2;
        }
        off &= 0xffff;
      } else {
        let base = rm;
        let index = -1;
        let scale = 0;
        if (rm === 4) {
          scale = p.below(4);
          index = p.below(8);
          base = p.below(8);
          bytes.push((scale << 6) | (index << 3) | base);
          if (index === 4) index = -1;
        }
        const noBase = mod === 0 && base === 5;
        const dispLen = mod === 1 ? 1 : mod === 2 || noBase || (mod === 0 && rm === 5) ? 4 : 0;
        let disp = 0;
        if (mod === 0 && rm === 5) {
          disp = pointer(mode, p);
          base = -1;
        } else if (noBase) {
          disp = pointer(mode, p);
          base = -1;
        } else if (dispLen === 1) disp = (p.below(256) << 24) >> 24;
        else if (dispLen === 4) disp = p.chance(0.7) ? p.range(-0x800, 0x800) : p.u32() | 0;
        bytes.push(...le(disp, dispLen));
        if (base >= 0 && first) regValue(base, pointer(mode, p));
        if (index >= 0 && index !== base && first) regValue(index, p.below(0x400));
        off = disp;
        if (base >= 0) off += s.gpr[base];
        if (index >= 0) off += s.gpr[index] << scale;
        off >>>= 0;
        if (base === 4 || base === 5) defSeg = 2;
      }
      const sg = s.seg[seg >= 0 ? seg : defSeg];
      eaLinear = (sg.base + off) >>> 0;
    } else if (first) {
      // Register operands that are selectors or branch targets.
      if (/^(MOV_TO_SEG|LLDT|LTR|VERR|VERW|LAR|LSL|ARPL)$/.test(m)) regValue(rm, selector(mode, p));
      if (m === 'JMP_IND' || m === 'CALL_IND') regValue(rm, CODE + 0x100 + p.below(0x400));
    }
  }
  // Immediates, in operand order (SDM Vol. 2 2.1.4).
  let count = s.gpr[1] & 0xff;
  const imms: number[] = [];
  for (const t of tokens) {
    switch (t) {
      case 'Ib':
      case 'IbS': {
        let v = value(p) & 0xff;
        if (m === 'ENTER') v = p.chance(0.8) ? p.below(4) : p.below(32);
        if (/^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD)$/.test(m)) {
          v = p.chance(0.8) ? p.below(opSizeBits(row, opSize) + 2) : p.below(256);
          count = v;
        }
        imms.push(v);
        break;
      }
      case 'Iw':
        imms.push(...le(m === 'ENTER' || m === 'RET' || m === 'RETF' ? p.below(0x40) & ~1 : value(p), 2));
        break;
      case 'Iz':
      case 'Iv':
        imms.push(...le(value(p), opSize));
        break;
      case 'Jb':
        imms.push(p.range(-0x40, 0x7f) & 0xff);
        break;
      case 'Jz':
        imms.push(...le(p.range(-0x800, 0x1000), opSize));
        break;
      case 'Ap': {
        const sel = mode === 'real' ? 0 : p.pick(FAR_CODE_PM);
        imms.push(...le(CODE + 0x100 + p.below(0x400), opSize), ...le(sel, 2));
        break;
      }
      case 'Ob':
      case 'Ov':
        imms.push(...le(pointer(mode, p), adSize));
        break;
    }
  }
  bytes.push(...imms);
  if (first) adjustForMnemonic(row, mode, s, patches, p, opSize, adSize, eaLinear);
  if (/^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD)$/.test(m) && tokens.includes('CL'))
    count = s.gpr[1] & 0xff;
  if (tokens.includes('1')) count = 1;
  return { bytes, row, bits: opSizeBits(row, opSize), count, ea: eaLinear };
}

function opSizeBits(row: OpcodeRow, opSize: number): number {
  const t = row.operands.split(',')[0] ?? '';
  return t.endsWith('b') || t === 'AL' ? 8 : opSize * 8;
}

function selector(mode: Mode, p: Prng): number {
  return mode === 'real' || p.chance(0.1) ? p.below(0x10000) : p.pick(SELECTORS_PM);
}

/** Register values and memory contents specific to one instruction. */
function adjustForMnemonic(
  row: OpcodeRow,
  mode: Mode,
  s: MachineState,
  patches: [number, number[]][],
  p: Prng,
  opSize: number,
  adSize: number,
  ea: number,
): void {
  const m = row.mnemonic;
  const sp = is16(mode) ? s.seg[2].base + (s.gpr[4] & 0xffff) : s.gpr[4];
  const patchStack = (vals: [number, number][]): void => {
    const out: number[] = [];
    for (const [v, n] of vals) out.push(...le(v, n));
    patches.push([sp, out]);
  };
  const codeTarget = (): number => CODE + 0x100 + p.below(0x400);
  // Real mode: segment 0, so that a far target is on the HLT sled (its offsets are linear there).
  const farCode = (): number => (mode === 'real' ? 0 : p.pick(FAR_CODE_PM));
  if (STRING_OPS.has(m)) {
    const mask = adSize === 2 ? 0xffff : 0xffffffff;
    s.gpr[1] = p.chance(0.8) ? p.below(12) : p.below(40);
    if (adSize === 4) {
      s.gpr[6] = pointer(mode, p) & mask;
      s.gpr[7] = pointer(mode, p) & mask;
      if (is16(mode)) {
        s.gpr[6] &= 0xffff;
        s.gpr[7] &= 0xffff;
      }
    }
  }
  if (/^(LOOP|LOOPE|LOOPNE|JCXZ)$/.test(m)) s.gpr[1] = p.pick([0, 1, 2, 0x10000, 0x10001, value(p)]);
  if (/^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD)$/.test(m) && row.operands.includes('CL')) {
    const bits = opSizeBits(row, opSize);
    // SHLD/SHRD with a count above the operand size leave everything undefined: avoid it.
    const max = m === 'SHLD' || m === 'SHRD' ? bits : bits + 2;
    s.gpr[1] = ((s.gpr[1] & ~0xff) | (p.chance(0.85) ? p.below(max + 1) : p.below(256))) >>> 0;
    if ((m === 'SHLD' || m === 'SHRD') && (s.gpr[1] & 0x1f) > bits) s.gpr[1] &= ~0xff;
  }
  if (m === 'XLAT' && !is16(mode)) s.gpr[3] = pointer(mode, p);
  // A 32-bit PUSH of a segment register may write 2 or 4 bytes (SDM PUSH: recent processors
  // do a 16-bit move); zero upper bytes make both choices leave the same memory.
  if (m === 'PUSH_SEG' && opSize === 4) patches.push([(sp - 2) >>> 0, [0, 0]]);
  if (m === 'POP_SEG') patchStack([[selector(mode, p), opSize]]);
  if (m === 'POP' || m === 'POPF' || m === 'POPA') {
    const flags = (p.u32() & ~0x20100) | 2; // no VM, no TF
    patchStack([[m === 'POPF' ? flags : value(p), opSize]]);
  }
  if (m === 'RET') patchStack([[codeTarget(), opSize]]);
  if (m === 'RETF')
    patchStack([
      [codeTarget(), opSize],
      [farCode(), opSize],
    ]);
  if (m === 'IRET') {
    const flags = ((p.u32() & 0x3cd5) | 2) >>> 0; // arithmetic flags, DF, IOPL, NT; no TF/IF/VM
    patchStack([
      [codeTarget(), opSize],
      [farCode(), opSize],
      [flags, opSize],
    ]);
  }
  if (m === 'LEAVE')
    s.gpr[5] = is16(mode) ? (s.gpr[4] & 0xffff) + 2 * p.below(16) : s.gpr[4] + 4 * p.below(16);
  if (ea < 0) return;
  if (m === 'JMP_IND' || m === 'CALL_IND') patches.push([ea, le(codeTarget(), opSize)]);
  if (m === 'JMPF_IND' || m === 'CALLF_IND')
    patches.push([ea, [...le(codeTarget(), opSize), ...le(farCode(), 2)]]);
  if (/^(LDS|LES|LFS|LGS|LSS)$/.test(m))
    patches.push([ea, [...le(pointer(mode, p), opSize), ...le(selector(mode, p), 2)]]);
  if (/^(MOV_TO_SEG|LLDT|LTR|VERR|VERW|LAR|LSL)$/.test(m)) patches.push([ea, le(selector(mode, p), 2)]);
}

/** A generated case: row `FORMS[index mod rows]` in `mode`, alone or followed by 1–2 more instructions. */
export function generateCase(seed: number, index: number, mode: Mode): TestCase {
  const p = new Prng(caseSeed(seed, index));
  const first = FORMS[index % FORMS.length];
  let init = initialState(mode, p);
  let patches: [number, number[]][] = [];
  let built: Built[] = [];
  // Instructions that read a pointer or selector from memory get it patched in; when the
  // operand falls outside the patchable area, draw the operands again (a few times).
  for (let tries = 0; tries < 8; tries++) {
    const state = cloneState(init);
    patches = [];
    const b = encode(first, mode, state, patches, p, true);
    built = [b];
    const ok = !READS_POINTER.test(first.mnemonic) || b.ea < 0 || (b.ea >= PATCHABLE && b.ea < DATA_END - 8);
    if (ok || tries === 7) {
      init = state;
      break;
    }
  }
  const undef = undefinedFlags(first.mnemonic, built[0].bits, built[0].count);
  // Sequences only of instructions whose flags are all defined, so nothing consumes an
  // undefined flag; the blame for a mismatch goes to the first instruction whose prefix
  // of the sequence already mismatches.
  if (!mayLeaveFlagsUndefined(first.mnemonic) && p.chance(0.3)) {
    const extra = 1 + p.below(2);
    for (let k = 0; k < extra; k++) {
      const row = p.pick(SEQUENCE_FORMS);
      built.push(encode(row, mode, init, patches, p, false));
    }
  }
  const bytes = built.flatMap((b) => b.bytes);
  if (bytes.length >= CODE_MAX) throw new Error('case too long');
  return {
    mode,
    bytes,
    insns: built.map((b) => ({ length: b.bytes.length, form: formName(b.row) })),
    init,
    dataSeed: p.u32(),
    patches,
    undefinedFlags: undef,
    garbage: false,
  };
}

/** Mnemonics whose memory operand is a pointer, selector or branch target the generator patches. */
const READS_POINTER =
  /^(JMP_IND|CALL_IND|JMPF_IND|CALLF_IND|LDS|LES|LFS|LGS|LSS|MOV_TO_SEG|LLDT|LTR|VERR|VERW|LAR|LSL)$/;

/**
 * Mnemonics garbage must not reach in a straight line: timing- or host-dependent results, and
 * SHLD/SHRD, whose destination is undefined for counts above the operand size (SDM SHLD/SHRD).
 */
/** The legacy prefixes (segment, operand and address size, LOCK, REP) garbage puts in front. */
export const LEGACY_PREFIXES: readonly number[] = [
  0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3,
];

/**
 * The legacy prefixes (in order) and the REX byte in effect (0 when none) of the 64-bit mode
 * instruction at `bytes[at]`, and where its opcode starts (at a 0Fh escape, if any): a legacy
 * prefix after REX cancels it (SDM Vol. 2 2.2.1).
 */
export function prefixesAt(
  bytes: ArrayLike<number>,
  at: number,
): { prefixes: number[]; rex: number; opcodeAt: number } {
  const prefixes: number[] = [];
  let rex = 0;
  let k = at;
  for (; k < bytes.length; k++) {
    const b = bytes[k];
    if ((b & 0xf0) === 0x40) rex = b;
    else if (LEGACY_PREFIXES.includes(b)) {
      prefixes.push(b);
      rex = 0;
    } else break;
  }
  return { prefixes, rex, opcodeAt: k };
}

export const GARBAGE_EXCLUDED: ReadonlySet<string> = new Set([
  'SHLD',
  'SHRD',
  'RDTSC',
  'RDPMC',
  'CPUID',
  'RDMSR',
  'WRMSR',
  'MONITOR',
  'MWAIT',
  'VMCALL',
  'VMMCALL',
]);

/**
 * The instructions x86emu decodes walking `bytes` in a straight line: each one's offset and
 * mnemonic (`UD` for an undefined opcode, `TOOLONG` past 15 bytes).
 */
export function straightLineDecodes(
  bytes: readonly number[],
  mode: Mode,
): { at: number; mnemonic: string }[] {
  const out: { at: number; mnemonic: string }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const src = { fetchByte: (i: number) => bytes[at + i] ?? HLT };
    const st = decode(src, insn, !is16(mode), isLong64(mode));
    const mnemonic =
      st !== DecodeStatus.Ok || insn.row < 0
        ? st === DecodeStatus.TooLong
          ? 'TOOLONG'
          : 'UD'
        : OPCODE_TABLE[insn.row].mnemonic;
    out.push({ at, mnemonic });
    at += Math.max(1, insn.length);
  }
  return out;
}

/** The mnemonics of `straightLineDecodes`. */
export function straightLineMnemonics(bytes: readonly number[], mode: Mode): string[] {
  return straightLineDecodes(bytes, mode).map((d) => d.mnemonic);
}
const insn = new Insn();

/**
 * What legacy-mode garbage is drawn again for besides `GARBAGE_EXCLUDED`: RDRAND and RDSEED, each
 * CPU's own random bits (SDM Vol. 2 RDRAND: "Loads a hardware generated random value"). Their
 * mismatches have no per-case classifier outside long64 (KVM's emulator on kvm-pvm lacks them
 * anyway: an internal-error exit, a skip), and long64 garbage keeps them (known-garbage64.ts).
 */
const GARBAGE_LEGACY_EXCLUDED: ReadonlySet<string> = new Set([...GARBAGE_EXCLUDED, 'RDRAND', 'RDSEED']);

/**
 * Random bytes: 1–15 of them, sometimes behind random prefixes; drawn again (a few times) when
 * they decode, in a straight line, to a timing- or host-dependent instruction.
 */
export function generateGarbage(seed: number, index: number, mode: Mode): TestCase {
  const p = new Prng(caseSeed(seed ^ 0x6a09e667, index));
  const init = initialState(mode, p);
  for (let i = 0; i < 8; i++) if (i !== 4 && p.chance(0.5)) init.gpr[i] = pointer(mode, p);
  let bytes: number[] = [];
  for (let tries = 0; tries < 8; tries++) {
    bytes = [];
    const prefixes = p.below(3);
    for (let i = 0; i < prefixes; i++) bytes.push(p.pick(LEGACY_PREFIXES));
    if (p.chance(0.4)) bytes.push(0x0f);
    const n = 1 + p.below(14 - bytes.length);
    for (let i = 0; i < n; i++) bytes.push(p.below(256));
    if (!straightLineMnemonics(bytes, mode).some((m) => GARBAGE_LEGACY_EXCLUDED.has(m))) break;
  }
  return {
    mode,
    bytes,
    insns: [{ length: bytes.length, form: 'garbage' }],
    init,
    dataSeed: p.u32(),
    patches: [],
    // Set at comparison time from the instructions the bytes decode to.
    undefinedFlags: 0,
    garbage: true,
  };
}

const fixedImage = buildImage();
let fixedImage64: Uint8Array | undefined;

/** The memory image a case starts from (a fresh array). */
export function caseImage(c: TestCase): Uint8Array {
  fixedImage64 ??= c.entry ? buildImage64() : undefined;
  const ram = c.entry ? (fixedImage64 as Uint8Array).slice() : fixedImage.slice();
  if (c.entry) writeHarnessFrame(ram, c.entry);
  new Prng(c.dataSeed).fill(ram.subarray(DATA, DATA_END));
  for (const [at, bytes] of c.patches) {
    for (let i = 0; i < bytes.length; i++)
      if (at + i >= PATCHABLE && at + i < DATA_END) ram[at + i] = bytes[i];
  }
  ram.set(c.bytes, CODE);
  ram[CODE + c.bytes.length] = HLT;
  return ram;
}

/** The case made of the first `n` instructions of `c` (for blaming one instruction). */
export function prefixCase(c: TestCase, n: number): TestCase {
  let len = 0;
  for (let i = 0; i < n; i++) len += c.insns[i].length;
  return { ...c, bytes: c.bytes.slice(0, len), insns: c.insns.slice(0, n) };
}
