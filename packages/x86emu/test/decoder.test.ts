import { describe, expect, it } from 'vitest';
import { missingHandlers } from '../src/exec/dispatch.js';
import {
  Cpu,
  DecodeStatus,
  decode,
  FlatPhysicalMemory,
  Insn,
  OPCODE_TABLE,
  type OpcodeRow,
} from '../src/index.js';

function src(bytes: number[]) {
  return {
    fetchByte(i: number) {
      if (i >= bytes.length) throw new Error(`decoder read past the encoding (byte ${i})`);
      return bytes[i];
    },
  };
}
function dec(bytes: number[], def32 = false, long64 = false): { st: number; insn: Insn } {
  const insn = new Insn();
  const st = decode(src(bytes), insn, def32, long64);
  return { st, insn };
}

/** Builds a 16-bit-mode encoding of `row` and its expected length, from the row's operand notation. */
function encodingOf(row: OpcodeRow): { bytes: number[]; length: number } {
  const pfx = { NP: [], '66': [0x66], F3: [0xf3], F2: [0xf2] }[row.pfx ?? 'NP'];
  const map = [[], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]][row.op >> 8];
  const bytes = [...pfx, ...map, row.op & 0xff];
  const tokens = row.operands ? row.operands.split(',') : [];
  const hasModrm =
    row.ext !== undefined ||
    tokens.some((t) => /^[EGMRVWUPQN]([a-z]|$)/.test(t) || t === 'S' || t === 'C' || t === 'D');
  if (hasModrm) {
    const ext = row.ext ?? 0;
    if (row.rm !== undefined) bytes.push(0xc0 | (ext << 3) | row.rm);
    else if (row.mod3 || tokens.some((t) => /^[RUN]([a-z]|$)/.test(t))) bytes.push(0xc0 | (ext << 3) | 1);
    else bytes.push(0x40 | (ext << 3), 0x7f); // [bx+si+0x7f]
  }
  const immBytes: Record<string, number> = {
    Ib: 1,
    IbS: 1,
    Jb: 1,
    Iw: 2,
    Iz: 2,
    Jz: 2,
    Iv: 2,
    Ap: 4,
    Ob: 2,
    Ov: 2,
  };
  for (const t of tokens) for (let k = 0; k < (immBytes[t] ?? 0); k++) bytes.push(0x11 + k);
  return { bytes, length: bytes.length };
}

describe('decoder, derived from the opcode table', () => {
  it('every mnemonic in the table has an interpreter handler', () => {
    expect(missingHandlers()).toEqual([]);
  });

  it.each(
    OPCODE_TABLE.map(
      (row, index) =>
        [
          `${row.op.toString(16)}${row.ext !== undefined ? `/${row.ext}` : ''}${row.rm !== undefined ? `.${row.rm}` : ''} ${row.mnemonic} ${row.operands}`,
          row,
          index,
        ] as const,
    ),
  )('decodes %s to its row with the length its operands imply', (_name, row, index) => {
    const { bytes, length } = encodingOf(row);
    // `o64` rows exist only in 64-bit mode (where the same bytes without prefixes have the same length).
    const { st, insn } = dec(bytes, false, (row.attrs ?? '').includes('o64'));
    expect(st).toBe(DecodeStatus.Ok);
    expect(insn.length).toBe(length);
    expect(OPCODE_TABLE[insn.row].mnemonic).toBe(row.mnemonic);
    // Opcode-wide fallbacks may be shadowed by a more specific row for ext 0; all others map to themselves.
    if (row.ext !== undefined || !OPCODE_TABLE.some((r) => r.op === row.op && r.ext === 0))
      expect(insn.row).toBe(index);
  });

  it('64-bit mode: i64 one-byte opcodes are #UD, 63H is MOVSXD, 40H–4FH are REX', () => {
    for (const op of [
      0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0xce, 0xd4, 0xd5, 0xd6,
    ]) {
      expect(dec([op, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0], false, true).st).toBe(DecodeStatus.Undefined);
    }
    // 62H (BOUND), C4H/C5H (LES/LDS), 9AH/EAH (far CALL/JMP direct) with a memory ModRM.
    for (const op of [0x62, 0xc4, 0xc5, 0x9a, 0xea]) {
      expect(dec([op, 0x00, 0, 0, 0, 0, 0, 0], false, true).st).toBe(DecodeStatus.Undefined);
    }
    const movsxd = dec([0x48, 0x63, 0xc1], false, true);
    expect([OPCODE_TABLE[movsxd.insn.row].mnemonic, movsxd.insn.opSize, movsxd.insn.length]).toEqual([
      'MOVSXD',
      8,
      3,
    ]);
    const arpl = dec([0x63, 0xc1], false, false);
    expect(OPCODE_TABLE[arpl.insn.row].mnemonic).toBe('ARPL');
    // 48H is REX.W, not DEC EAX: REX.W B8 = MOV RAX, imm64 (10 bytes).
    const mov = dec([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], false, true);
    expect([mov.insn.length, mov.insn.imm, mov.insn.imm2]).toEqual([10, 0x04030201, 0x08070605]);
  });

  it('64-bit mode operand sizes: push/pop default 64 (66H gives 16), near branches forced 64', () => {
    expect(dec([0x50], false, true).insn.opSize).toBe(8);
    expect(dec([0x66, 0x50], false, true).insn.opSize).toBe(2);
    expect(dec([0x66, 0xe8, 0, 0, 0, 0], false, true).insn.opSize).toBe(8);
    expect(dec([0x66, 0xe8, 0, 0, 0, 0], false, true).insn.length).toBe(6);
    // REX before a legacy prefix is ignored: 48 66 89 C0 is a 16-bit MOV.
    expect(dec([0x48, 0x66, 0x89, 0xc0], false, true).insn.opSize).toBe(2);
    // RIP-relative: mod 00 r/m 101.
    expect(dec([0x8b, 0x05, 0x10, 0, 0, 0], false, true).insn.ripRel).toBe(true);
    // moffs64: 8-byte offset.
    expect(dec([0xa1, 1, 0, 0, 0, 0, 0, 0, 0], false, true).insn.length).toBe(9);
  });

  it('memory-only forms are #UD in register form (LEA, LGDT, CMPXCHG8B, LDS)', () => {
    for (const bytes of [
      [0x8d, 0xc0],
      [0x0f, 0x01, 0xd8], // LIDT (0F 01 D0 is XGETBV)
      [0x0f, 0xc7, 0xc8],
      [0xc5, 0xc0],
    ]) {
      expect(dec(bytes).st).toBe(DecodeStatus.Undefined);
    }
  });
});

describe('decoder, encodings from the SDM', () => {
  it('mixes 0x66/0x67 in 16-bit code: mov eax,[eax+ecx*4+0x12345678]', () => {
    const { st, insn } = dec([0x66, 0x67, 0x8b, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12]);
    expect(st).toBe(DecodeStatus.Ok);
    expect([insn.length, insn.opSize, insn.adSize, insn.base, insn.index, insn.scale, insn.disp]).toEqual([
      9, 4, 4, 0, 1, 2, 0x12345678,
    ]);
  });
  it('uses SS for BP-based 16-bit forms: mov ax,[bp-2]', () => {
    const { insn } = dec([0x8b, 0x46, 0xfe]);
    expect([insn.length, insn.base, insn.index, insn.disp, insn.memSeg]).toEqual([3, 5, -1, -2, 2]);
  });
  it('disp16 and imm16 together: mov word [si+0x10],0x1234', () => {
    const { insn } = dec([0xc7, 0x84, 0x10, 0x00, 0x34, 0x12]);
    expect([insn.length, insn.base, insn.disp, insn.imm]).toEqual([6, 6, 0x10, 0x1234]);
  });
  it('SIB without index, ESP base defaults to SS: lea eax,[esp]', () => {
    const { insn } = dec([0x8d, 0x04, 0x24], true);
    expect([insn.length, insn.base, insn.index, insn.memSeg]).toEqual([3, 4, -1, 2]);
  });
  it('mod 0 rm 5 is disp32 only; SIB base 5 with mod 0 is disp32 + index', () => {
    expect(dec([0x8b, 0x05, 0x78, 0x56, 0x34, 0x12], true).insn.base).toBe(-1);
    const { insn } = dec([0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00], true);
    expect([insn.length, insn.base, insn.index, insn.scale, insn.disp]).toEqual([7, -1, 1, 2, 0x1000]);
  });
  it('MOV CR ignores mod: 0F 20 00 is mov eax,cr0 in 3 bytes', () => {
    const { st, insn } = dec([0x0f, 0x20, 0x00], true);
    expect(st).toBe(DecodeStatus.Ok);
    expect([insn.length, insn.mod, insn.reg, insn.rm]).toEqual([3, 3, 0, 0]);
  });
  it('far pointer: jmp 0xf000:0x1000', () => {
    const { insn } = dec([0xea, 0x00, 0x10, 0x00, 0xf0]);
    expect([insn.length, insn.imm, insn.imm2]).toEqual([5, 0x1000, 0xf000]);
  });
  it('Jb and Jz are sign-extended', () => {
    expect(dec([0xeb, 0xfe]).insn.imm).toBe(-2);
    expect(dec([0xe8, 0xfd, 0xff, 0xff, 0xff], true).insn.imm).toBe(-3);
  });
  it('LOCK is #UD with a register destination or a non-lockable instruction', () => {
    expect(dec([0xf0, 0x01, 0xc0]).st).toBe(DecodeStatus.Undefined);
    expect(dec([0xf0, 0x90]).st).toBe(DecodeStatus.Undefined);
    expect(dec([0xf0, 0x01, 0x07]).st).toBe(DecodeStatus.Ok);
  });
  it('undefined opcodes are #UD', () => {
    for (const b of [
      [0x0f, 0xff],
      [0x0f, 0x0a],
      [0x0f, 0x04],
      [0x8f, 0xc8],
      [0xc6, 0x08],
    ]) {
      expect(dec(b).st).toBe(DecodeStatus.Undefined);
    }
  });
  it('15 bytes decode; 16 are #GP(0) (too long)', () => {
    const ok = dec([...Array(14).fill(0x66), 0x90]);
    expect([ok.st, ok.insn.length]).toEqual([DecodeStatus.Ok, 15]);
    expect(dec([...Array(15).fill(0x66), 0x90]).st).toBe(DecodeStatus.TooLong);
    expect(dec([...Array(12).fill(0x66), 0x05, 1, 2, 3, 4]).st).toBe(DecodeStatus.TooLong);
  });
  it('64-bit mode: REX.W B8 takes an imm64; RIP-relative; PUSH ES invalid', () => {
    const mov = dec([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], false, true).insn;
    expect([mov.length, mov.opSize, mov.imm, mov.imm2]).toEqual([10, 8, 0x04030201, 0x08070605]);
    expect(dec([0x8b, 0x05, 0, 0, 0, 0], false, true).insn.ripRel).toBe(true);
    expect(dec([0x06], false, true).st).toBe(DecodeStatus.Undefined);
    // A REX followed by a legacy prefix is ignored.
    expect(dec([0x48, 0x66, 0x90], false, true).insn.rex).toBe(0);
  });
  it('64-bit mode: REX.X makes SIB index 4 into R12; base 101 with mod 0 is disp32 even with REX.B', () => {
    // mov rax, [rbx + r12*8]: 4A 8B 04 E3
    const a = dec([0x4a, 0x8b, 0x04, 0xe3], false, true).insn;
    expect([a.length, a.opSize, a.base, a.index, a.scale]).toEqual([4, 8, 3, 12, 3]);
    // mov eax, [r13*1 + disp32]? No: SIB base 101 with mod 00 and REX.B: still disp32, no base.
    const b = dec([0x41, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12], false, true).insn;
    expect([b.length, b.base, b.index, b.disp]).toEqual([8, -1, -1, 0x12345678]);
    // mov eax, [r13 + 0]: mod 01 needed for r13 as a base.
    const c = dec([0x41, 0x8b, 0x45, 0x00], false, true).insn;
    expect([c.length, c.base, c.memSeg]).toEqual([4, 13, 3]);
    // 0x66 with REX.W: REX.W wins (64-bit operand).
    expect(dec([0x66, 0x48, 0x01, 0xc0], false, true).insn.opSize).toBe(8);
    // 0x67 in 64-bit mode: 32-bit addressing.
    expect(dec([0x67, 0x8b, 0x00], false, true).insn.adSize).toBe(4);
  });

  it('segment overrides: the last one decides; in 64-bit mode ES/CS/DS after SS leave the default segment, after FS/GS leave FS/GS', () => {
    // mov eax, [rbx] (default DS) behind two overrides.
    const seg = (prefixes: number[], long64 = true): number =>
      dec([...prefixes, 0x8b, 0x03], true, long64).insn.seg;
    expect(seg([0x36, 0x26])).toBe(-1); // SS then ES: no override (the CPU: #GP, not #SS, when non-canonical)
    expect(seg([0x36, 0x3e])).toBe(-1);
    expect(seg([0x64, 0x2e])).toBe(4); // FS then CS: FS stays (the CPU: #GP, not #SS, for [rbp])
    expect(seg([0x65, 0x3e])).toBe(5);
    expect(seg([0x65, 0x26])).toBe(5);
    expect(seg([0x64, 0x36])).toBe(2); // SS after FS displaces it
    expect(seg([0x26, 0x36])).toBe(2);
    expect(seg([0x3e, 0x64])).toBe(4);
    expect(seg([0x65, 0x64])).toBe(4);
    expect(seg([0x26])).toBe(-1);
    // Outside 64-bit mode every override counts, the last one deciding.
    expect(seg([0x36, 0x26], false)).toBe(0);
    expect(seg([0x64, 0x2e], false)).toBe(1);
    // [rbp] with a DS override after SS: the default SS stays (a stack reference).
    expect(dec([0x36, 0x3e, 0x8b, 0x45, 0x00], true, true).insn.memSeg).toBe(2);
    // [rbp] with a DS override after GS: GS stays, so a non-canonical address is #GP(0), not the
    // default SS's #SS(0) (the real CPU, x86-difftest long64 garbage seed 20261209 case 620).
    expect(dec([0x65, 0x3e, 0x8b, 0x45, 0x00], true, true).insn.memSeg).toBe(5);
  });

  it('PUSH ES is one byte (the fixed-register operand is not a ModRM operand)', () => {
    const { st, insn } = dec([0x06]);
    expect([st, insn.length]).toEqual([DecodeStatus.Ok, 1]);
  });

  it('byte registers: reg 4 is AH without REX, SPL with one', () => {
    const withRex = dec([0x40, 0x88, 0xe0], false, true).insn;
    expect([withRex.rex, withRex.reg]).toEqual([0x40, 4]);
    const cpu = new Cpu({ memory: new FlatPhysicalMemory(4096) });
    cpu.state.gpr[0] = 0x1234;
    cpu.state.gpr[4] = 0xabcd;
    expect(cpu.getReg(4, 1, 0)).toBe(0x12); // AH
    expect(cpu.getReg(4, 1, 0x40)).toBe(0xcd); // SPL
    cpu.setReg(7, 1, 0, 0x99); // BH
    expect(cpu.state.gpr[3] & 0xff00).toBe(0x9900);
    cpu.setReg(7, 1, 0x40, 0x77); // DIL
    expect(cpu.state.gpr[7] & 0xff).toBe(0x77);
  });
});
