/**
 * The table-driven decoder (SDM Vol. 2 chapter 2): prefixes, REX, opcode (one- and two-byte
 * maps), ModRM, SIB, displacement and immediates, all derived from `OPCODE_TABLE`.
 */
import type { Insn } from './insn.js';
import { OPCODE_TABLE, type OpcodeRow } from './opcode-table.js';

/** Byte source for the decoder: returns the byte at offset `i` from the instruction start (may throw a guest fault). */
export interface ByteSource {
  fetchByte(i: number): number;
}

const IMM_NONE = 0;
const IMM_B = 1;
const IMM_BS = 2;
const IMM_W = 3;
const IMM_Z = 4;
const IMM_V = 5;
const IMM_JB = 6;
const IMM_JZ = 7;
const IMM_AP = 8;
const IMM_O = 9;
const IMM_W_B = 10;

/** Per-row decode facts derived from the operand strings. */
const rowImm = new Uint8Array(OPCODE_TABLE.length);
const rowMemOnly = new Uint8Array(OPCODE_TABLE.length);
/** R operands (MOV CR/DR): register form whatever mod says. */
const rowRegOnly = new Uint8Array(OPCODE_TABLE.length);
/** U/N operands (SIMD register-only r/m): the memory form is another row or #UD. */
const rowSimdRegOnly = new Uint8Array(OPCODE_TABLE.length);
const rowLock = new Uint8Array(OPCODE_TABLE.length);
const rowI64 = new Uint8Array(OPCODE_TABLE.length);
/** 64-bit mode operand size: 1 = d64 (default 64, 66H gives 16), 2 = f64 (forced 64). */
const rowSize64 = new Uint8Array(OPCODE_TABLE.length);
/** 1: a row selected by a 66 mandatory prefix (66 is then not an operand-size prefix). */
const rowPfx66 = new Uint8Array(OPCODE_TABLE.length);
/** Opcodes: 0x000–0x3FF (one-byte, 0F, 0F 38, 0F 3A maps). */
const NOPS = 0x400;
/** Per opcode: the `o64` row that replaces an `i64` row in 64-bit mode, or -1. */
const alt64 = new Int16Array(NOPS).fill(-1);
/** Per opcode: 1 when it has a ModRM byte. */
const opModrm = new Uint8Array(NOPS);
/**
 * Row lookup, keyed by opcode and mandatory-prefix index (`key = op * 4 + p`, p: 0 none, 1 66,
 * 2 F3, 3 F2): memory form by (key, reg), register form by (key, reg), register form by
 * (key, reg, rm).
 */
const byExt = new Int16Array(NOPS * 4 * 8).fill(-1);
const byExtReg = new Int16Array(NOPS * 4 * 8).fill(-1);
const byRm = new Int16Array(NOPS * 4 * 64).fill(-1);
const PFX_INDEX: Record<string, number> = { NP: 0, '66': 1, F3: 2, F2: 3 };

function immKind(tokens: string[]): number {
  const s = tokens.join(',');
  if (s.includes('Iw,Ib')) return IMM_W_B;
  for (const t of tokens) {
    switch (t) {
      case 'Ib':
        return IMM_B;
      case 'IbS':
        return IMM_BS;
      case 'Iw':
        return IMM_W;
      case 'Iz':
        return IMM_Z;
      case 'Iv':
        return IMM_V;
      case 'Jb':
        return IMM_JB;
      case 'Jz':
        return IMM_JZ;
      case 'Ap':
        return IMM_AP;
      case 'Ob':
      case 'Ov':
        return IMM_O;
    }
  }
  return IMM_NONE;
}

function usesModrm(row: OpcodeRow, tokens: string[]): boolean {
  if (row.ext !== undefined) return true;
  return tokens.some((t) => /^[EGMRVWUPQN]([a-z]|$)/.test(t) || t === 'S' || t === 'C' || t === 'D');
}

OPCODE_TABLE.forEach((row, i) => {
  const tokens = row.operands ? row.operands.split(',') : [];
  rowImm[i] = immKind(tokens);
  rowMemOnly[i] = tokens.some((t) => t.startsWith('M')) ? 1 : 0;
  rowRegOnly[i] = tokens.some((t) => t.startsWith('R')) ? 1 : 0;
  rowSimdRegOnly[i] = tokens.some((t) => /^[UN]([a-z]|$)/.test(t)) ? 1 : 0;
  const attrs = row.attrs ?? '';
  rowLock[i] = attrs.includes('lock') ? 1 : 0;
  rowI64[i] = attrs.includes('i64') ? 1 : 0;
  rowSize64[i] = attrs.includes('f64') ? 2 : attrs.includes('d64') ? 1 : 0;
  rowPfx66[i] = row.pfx === '66' ? 1 : 0;
  if (attrs.includes('o64')) alt64[row.op] = i;
  if (usesModrm(row, tokens)) opModrm[row.op] = 1;
});
// Rows without a mandatory prefix serve all four prefix slots; most specific rows first:
// (reg, rm), then (reg) by form, then opcode-wide fallbacks.
const legacy = OPCODE_TABLE.map((row, i) => [row, i] as const).filter(([row]) => row.pfx === undefined);
for (let p = 0; p < 4; p++) {
  for (const [row, i] of legacy)
    if (row.ext !== undefined && row.rm !== undefined) byRm[(row.op * 4 + p) * 64 + row.ext * 8 + row.rm] = i;
  for (const [row, i] of legacy) {
    if (row.ext === undefined || row.rm !== undefined) continue;
    const k = (row.op * 4 + p) * 8 + row.ext;
    if (row.mod3) byExtReg[k] = i;
    else {
      byExt[k] = i;
      if (!rowMemOnly[i] && byExtReg[k] < 0) byExtReg[k] = i;
    }
  }
  for (const [row, i] of legacy) {
    if (row.ext !== undefined || (row.attrs ?? '').includes('o64')) continue;
    for (let e = 0; e < 8; e++) {
      const k = (row.op * 4 + p) * 8 + e;
      if (byExt[k] < 0) byExt[k] = i;
      // Opcode-wide rows also fill register forms a memory-only group row left open (x87 escapes:
      // D9 /4 memory is FLDENV, D9 E0–E7 are other instructions).
      if (byExtReg[k] < 0) byExtReg[k] = i;
    }
  }
}
// Mandatory-prefix rows override the legacy rows in their own slot: opcode-wide rows, then
// group (ext) rows. A memory-only row fills only the memory form, a U/N row only the register form.
const prefixed = OPCODE_TABLE.map((row, i) => [row, i] as const).filter(([row]) => row.pfx !== undefined);
for (const pass of [0, 1]) {
  for (const [row, i] of prefixed) {
    if ((row.ext !== undefined) !== (pass === 1)) continue;
    const key = row.op * 4 + PFX_INDEX[row.pfx as string];
    for (let e = 0; e < 8; e++) {
      if (pass === 1 && e !== row.ext) continue;
      const k = key * 8 + e;
      if (!rowSimdRegOnly[i]) byExt[k] = i;
      if (!rowMemOnly[i]) {
        byExtReg[k] = i;
        byRm.fill(-1, k * 8, k * 8 + 8);
      }
    }
  }
}

/** Outcome of `decode`. */
export const DecodeStatus = { Ok: 0, Undefined: 1, TooLong: 2 } as const;

/** Maximum instruction length (SDM Vol. 2 2.3.11): longer is #GP(0). */
export const MAX_INSN_LENGTH = 15;

/**
 * Decodes one instruction into `insn`. `def32`: CS.D (default operand and address size 32);
 * `long64`: 64-bit mode. Returns a `DecodeStatus`: Undefined → #UD, TooLong → #GP(0).
 * Guest faults raised by `src.fetchByte` propagate.
 */
export function decode(src: ByteSource, insn: Insn, def32: boolean, long64: boolean): number {
  let pos = 0;
  let opSizePrefix = false;
  let adSizePrefix = false;
  insn.seg = -1;
  insn.rep = 0;
  insn.lock = false;
  insn.rex = 0;
  insn.modeKey = (def32 ? 1 : 0) | (long64 ? 2 : 0);
  let b: number;
  // Legacy prefixes in any order; a REX must come last (SDM Vol. 2 2.2.1). In 64-bit mode the
  // ES/CS/DS overrides are ignored (SDM Vol. 1 3.3.7.1): the default segment (SS for RBP/RSP
  // bases, which decides #SS versus #GP) stands. An SS override still makes the access a stack
  // reference: its base is ignored like every non-FS/GS base, but a non-canonical address is
  // #SS(0), not #GP(0) (SDM Vol. 3 6.15 "Interrupt 12"; the real CPU does so in the long64 difftest).
  // Of several segment overrides the last decides (the manuals call more than one prefix of a
  // group unpredictable; the CPU takes the last, as x86emu does outside 64-bit mode), so in
  // 64-bit mode an ES/CS/DS override after an SS one leaves the default segment: the real CPU
  // gives #GP(0), not #SS(0), for `36 26` and `36 3E` before a non-canonical [RBX]. But an
  // ES/CS/DS override after an FS or GS one leaves FS/GS in force: `65 3E`, `64 3E`, `65 26`,
  // `65 2E` before a non-canonical [RBP] give #GP(0) (GS/FS), where `3E` alone gives the default
  // SS's #SS(0) (the long64 garbage difftest; probed in x86-difftest's host-probes64).
  for (;;) {
    if (pos >= MAX_INSN_LENGTH) return tooLong(insn, pos);
    b = src.fetchByte(pos++);
    switch (b) {
      case 0x26:
        insn.seg = long64 ? (insn.seg >= 4 ? insn.seg : -1) : 0;
        insn.rex = 0;
        continue;
      case 0x2e:
        insn.seg = long64 ? (insn.seg >= 4 ? insn.seg : -1) : 1;
        insn.rex = 0;
        continue;
      case 0x36:
        insn.seg = 2;
        insn.rex = 0;
        continue;
      case 0x3e:
        insn.seg = long64 ? (insn.seg >= 4 ? insn.seg : -1) : 3;
        insn.rex = 0;
        continue;
      case 0x64:
        insn.seg = 4;
        insn.rex = 0;
        continue;
      case 0x65:
        insn.seg = 5;
        insn.rex = 0;
        continue;
      case 0x66:
        opSizePrefix = true;
        insn.rex = 0;
        continue;
      case 0x67:
        adSizePrefix = true;
        insn.rex = 0;
        continue;
      case 0xf0:
        insn.lock = true;
        insn.rex = 0;
        continue;
      case 0xf2:
        insn.rep = 2;
        insn.rex = 0;
        continue;
      case 0xf3:
        insn.rep = 1;
        insn.rex = 0;
        continue;
    }
    if (long64 && (b & 0xf0) === 0x40) {
      insn.rex = b;
      continue;
    }
    break;
  }
  let op = b;
  if (op === 0x0f) {
    if (pos >= MAX_INSN_LENGTH) return tooLong(insn, pos);
    op = 0x100 | src.fetchByte(pos++);
    // Three-byte maps 0F 38 and 0F 3A (SDM Vol. 2 2.1.2).
    if (op === 0x138 || op === 0x13a) {
      if (pos >= MAX_INSN_LENGTH) return tooLong(insn, pos);
      op = (op === 0x138 ? 0x200 : 0x300) | src.fetchByte(pos++);
    }
  }
  insn.op = op;
  const rex = insn.rex;
  const rexW = (rex & 8) !== 0;
  if (long64) {
    insn.adSize = adSizePrefix ? 4 : 8;
    insn.opSize = rexW ? 8 : opSizePrefix ? 2 : 4;
  } else {
    const d = def32 !== opSizePrefix;
    insn.opSize = d ? 4 : 2;
    insn.adSize = def32 !== adSizePrefix ? 4 : 2;
  }

  // Mandatory-prefix slot: the last F2/F3 wins over 66 (SDM Vol. 2 2.1.2: 66 with F2/F3 is not the
  // mandatory prefix); for opcodes without prefix rows all four slots hold the same rows.
  const key = op * 4 + (insn.rep === 1 ? 2 : insn.rep === 2 ? 3 : opSizePrefix ? 1 : 0);
  let row: number;
  insn.hasModrm = opModrm[op] === 1;
  insn.base = -1;
  insn.index = -1;
  insn.scale = 0;
  insn.disp = 0;
  insn.defSeg = 3;
  insn.ripRel = false;
  if (insn.hasModrm) {
    if (pos >= MAX_INSN_LENGTH) return tooLong(insn, pos);
    const m = src.fetchByte(pos++);
    const mod = m >> 6;
    const reg = (m >> 3) & 7;
    const rm = m & 7;
    insn.mod = mod;
    insn.ext = reg;
    insn.reg = reg | ((rex & 4) << 1);
    insn.rm = rm | ((rex & 1) << 3);
    if (mod === 3) {
      row = byRm[key * 64 + reg * 8 + rm];
      if (row < 0) row = byExtReg[key * 8 + reg];
    } else {
      row = byExt[key * 8 + reg];
      if (row >= 0 && rowRegOnly[row]) {
        // MOV CR/DR ignore mod: always the register form (SDM Vol. 2 MOV—Move to/from Control Registers).
        insn.mod = 3;
      } else {
        pos = decodeMemory(src, insn, pos, mod, rm, rex, long64);
        if (pos < 0) return tooLong(insn, MAX_INSN_LENGTH + 1);
      }
    }
  } else {
    insn.mod = 3;
    insn.ext = 0;
    insn.reg = 0;
    insn.rm = (op & 7) | ((rex & 1) << 3);
    row = byExt[key * 8];
  }
  insn.row = row;
  if (row < 0) return undef(insn, pos);
  if (long64 && rowI64[row]) {
    row = alt64[op];
    insn.row = row;
    if (row < 0) return undef(insn, pos);
  }
  if (insn.mod === 3 && insn.hasModrm && rowMemOnly[row]) return undef(insn, pos);
  // LOCK only with the listed read-modify-write forms and a memory destination (SDM Vol. 2 LOCK): else #UD.
  if (insn.lock && (!rowLock[row] || insn.mod === 3)) return undef(insn, pos);
  if (long64 && rowSize64[row] !== 0 && (rowSize64[row] === 2 || !opSizePrefix)) insn.opSize = 8;
  // A 66 that selected the row is part of the opcode, not an operand-size prefix: 32 bits, 64 with REX.W.
  if (rowPfx66[row] && opSizePrefix) insn.opSize = long64 && rexW ? 8 : 4;

  switch (rowImm[row]) {
    case IMM_NONE:
      break;
    case IMM_B:
      if (pos + 1 > MAX_INSN_LENGTH) return tooLong(insn, pos + 1);
      insn.imm = src.fetchByte(pos);
      pos += 1;
      break;
    case IMM_BS:
    case IMM_JB:
      if (pos + 1 > MAX_INSN_LENGTH) return tooLong(insn, pos + 1);
      insn.imm = (src.fetchByte(pos) << 24) >> 24;
      pos += 1;
      break;
    case IMM_W:
      if (pos + 2 > MAX_INSN_LENGTH) return tooLong(insn, pos + 2);
      insn.imm = read16(src, pos);
      pos += 2;
      break;
    case IMM_W_B:
      if (pos + 3 > MAX_INSN_LENGTH) return tooLong(insn, pos + 3);
      insn.imm = read16(src, pos);
      insn.imm2 = src.fetchByte(pos + 2);
      pos += 3;
      break;
    case IMM_Z:
    case IMM_JZ:
      if (insn.opSize === 2) {
        if (pos + 2 > MAX_INSN_LENGTH) return tooLong(insn, pos + 2);
        insn.imm = rowImm[row] === IMM_JZ ? (read16(src, pos) << 16) >> 16 : read16(src, pos);
        pos += 2;
      } else {
        if (pos + 4 > MAX_INSN_LENGTH) return tooLong(insn, pos + 4);
        insn.imm = read32(src, pos);
        pos += 4;
      }
      break;
    case IMM_V:
      if (insn.opSize === 2) {
        if (pos + 2 > MAX_INSN_LENGTH) return tooLong(insn, pos + 2);
        insn.imm = read16(src, pos);
        pos += 2;
      } else {
        if (pos + 4 > MAX_INSN_LENGTH) return tooLong(insn, pos + 4);
        insn.imm = read32(src, pos);
        pos += 4;
        if (insn.opSize === 8) {
          if (pos + 4 > MAX_INSN_LENGTH) return tooLong(insn, pos + 4);
          insn.imm2 = read32(src, pos);
          pos += 4;
        }
      }
      break;
    case IMM_AP: {
      const n = insn.opSize === 2 ? 2 : 4;
      if (pos + n + 2 > MAX_INSN_LENGTH) return tooLong(insn, pos + n + 2);
      insn.imm = n === 2 ? read16(src, pos) : read32(src, pos);
      insn.imm2 = read16(src, pos + n);
      pos += n + 2;
      break;
    }
    case IMM_O: {
      // moffs: an address-size offset, no ModRM (SDM Vol. 2 MOV, A0–A3).
      const n = insn.adSize;
      if (pos + n > MAX_INSN_LENGTH) return tooLong(insn, pos + n);
      // moffs64 is a signed number, as `Cpu.ea64` returns (exact wherever it can be canonical).
      if (n === 8) insn.disp = (read32(src, pos + 4) | 0) * 4294967296 + (read32(src, pos) >>> 0);
      else insn.disp = n === 2 ? read16(src, pos) : read32(src, pos);
      insn.base = -1;
      insn.index = -1;
      insn.defSeg = 3;
      insn.mod = 0;
      pos += n;
      break;
    }
  }
  insn.length = pos;
  return DecodeStatus.Ok;
}

function read16(src: ByteSource, pos: number): number {
  return src.fetchByte(pos) | (src.fetchByte(pos + 1) << 8);
}
function read32(src: ByteSource, pos: number): number {
  return (
    src.fetchByte(pos) |
    (src.fetchByte(pos + 1) << 8) |
    (src.fetchByte(pos + 2) << 16) |
    (src.fetchByte(pos + 3) << 24)
  );
}

/** 16-bit addressing forms (SDM Vol. 2 Table 2-1): base, index by r/m. */
const BASE16 = [3, 3, 5, 5, 6, 7, 5, 3];
const INDEX16 = [6, 7, 6, 7, -1, -1, -1, -1];

function decodeMemory(
  src: ByteSource,
  insn: Insn,
  pos: number,
  mod: number,
  rm: number,
  rex: number,
  long64: boolean,
): number {
  if (insn.adSize === 2) {
    if (mod === 0 && rm === 6) {
      if (pos + 2 > MAX_INSN_LENGTH) return -1;
      insn.disp = read16(src, pos);
      return pos + 2;
    }
    insn.base = BASE16[rm];
    insn.index = INDEX16[rm];
    // BP-based forms default to SS (SDM Vol. 1 3.7.5).
    if (rm === 2 || rm === 3 || rm === 6) insn.defSeg = 2;
    if (mod === 1) {
      if (pos + 1 > MAX_INSN_LENGTH) return -1;
      insn.disp = (src.fetchByte(pos) << 24) >> 24;
      return pos + 1;
    }
    if (mod === 2) {
      if (pos + 2 > MAX_INSN_LENGTH) return -1;
      insn.disp = read16(src, pos);
      return pos + 2;
    }
    return pos;
  }
  // 32/64-bit addressing (SDM Vol. 2 Tables 2-2, 2-3).
  let base: number;
  if (rm === 4) {
    if (pos + 1 > MAX_INSN_LENGTH) return -1;
    const sib = src.fetchByte(pos++);
    const ss = sib >> 6;
    const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
    const b = sib & 7;
    insn.scale = ss;
    insn.index = idx === 4 ? -1 : idx;
    if (b === 5 && mod === 0) {
      base = -1;
      if (pos + 4 > MAX_INSN_LENGTH) return -1;
      insn.disp = read32(src, pos);
      pos += 4;
    } else {
      base = b | ((rex & 1) << 3);
    }
  } else if (rm === 5 && mod === 0) {
    if (pos + 4 > MAX_INSN_LENGTH) return -1;
    insn.disp = read32(src, pos);
    insn.ripRel = long64;
    insn.base = -1;
    return pos + 4;
  } else {
    base = rm | ((rex & 1) << 3);
  }
  insn.base = base;
  if (base === 4 || base === 5) insn.defSeg = 2;
  if (mod === 1) {
    if (pos + 1 > MAX_INSN_LENGTH) return -1;
    insn.disp = (src.fetchByte(pos) << 24) >> 24;
    pos += 1;
  } else if (mod === 2) {
    if (pos + 4 > MAX_INSN_LENGTH) return -1;
    insn.disp = read32(src, pos);
    pos += 4;
  }
  return pos;
}

function undef(insn: Insn, pos: number): number {
  insn.row = -1;
  insn.length = pos;
  return DecodeStatus.Undefined;
}
function tooLong(insn: Insn, pos: number): number {
  insn.row = -1;
  insn.length = pos;
  return DecodeStatus.TooLong;
}
