import { describe, expect, it } from 'vitest';
import { DecodeStatus, decode, Insn, OPCODE_TABLE } from '../src/index.js';

function dec(bytes: number[], def32 = true, long64 = false): { st: number; insn: Insn; name: string } {
  const insn = new Insn();
  const st = decode(
    {
      fetchByte(i: number) {
        if (i >= bytes.length) throw new Error(`decoder read past the encoding (byte ${i})`);
        return bytes[i];
      },
    },
    insn,
    def32,
    long64,
  );
  return { st, insn, name: insn.row >= 0 ? OPCODE_TABLE[insn.row].mnemonic : '#UD' };
}

describe('decoder: mandatory prefixes, three-byte maps, VEX', () => {
  it('66/F3/none select different instructions for 0F 6F', () => {
    expect(dec([0x0f, 0x6f, 0xc1]).name).toBe('MOVQ_MMX');
    expect(dec([0x66, 0x0f, 0x6f, 0xc1]).name).toBe('MOVDQA');
    expect(dec([0xf3, 0x0f, 0x6f, 0xc1]).name).toBe('MOVDQU');
    // F2 0F 6F has no form: #UD (not MOVQ with an ignored prefix).
    expect(dec([0xf2, 0x0f, 0x6f, 0xc1]).st).toBe(DecodeStatus.Undefined);
  });

  it('F3/F2 outrank 66 as the mandatory prefix, the last of F2/F3 wins', () => {
    expect(dec([0x66, 0xf3, 0x0f, 0x6f, 0xc1]).name).toBe('MOVDQU');
    expect(dec([0xf3, 0x66, 0x0f, 0x6f, 0xc1]).name).toBe('MOVDQU');
    expect(dec([0xf2, 0xf3, 0x0f, 0x10, 0xc1]).name).toBe('MOVSS');
    expect(dec([0xf3, 0xf2, 0x0f, 0x10, 0xc1]).name).toBe('MOVSD');
  });

  it('a 66 that selects the row is not an operand-size prefix (16-bit code too)', () => {
    const a = dec([0x66, 0x0f, 0x7e, 0xc0], false);
    expect([a.name, a.insn.opSize]).toEqual(['MOVD', 4]);
    const b = dec([0x66, 0x48, 0x0f, 0x7e, 0xc0], false, true);
    expect([b.name, b.insn.opSize]).toEqual(['MOVD', 8]);
  });

  it('REX.R and REX.B reach xmm8–xmm15; REX must follow the mandatory prefix', () => {
    const a = dec([0x66, 0x45, 0x0f, 0x6f, 0xc1], true, true);
    expect([a.name, a.insn.reg, a.insn.rm, a.insn.length]).toEqual(['MOVDQA', 8, 9, 5]);
    // A REX before the 66 is ignored (SDM Vol. 2 2.2.1).
    const b = dec([0x45, 0x66, 0x0f, 0x6f, 0xc1], true, true);
    expect([b.insn.reg, b.insn.rm]).toEqual([0, 1]);
  });

  it('register-only and memory-only forms share 0F 12 (MOVHLPS / MOVLPS)', () => {
    expect(dec([0x0f, 0x12, 0xc1]).name).toBe('MOVHLPS');
    expect(dec([0x0f, 0x12, 0x01]).name).toBe('MOVLPS');
    // 66 0F 12 (MOVLPD) has no register form, 0F 50 (MOVMSKPS) no memory form.
    expect(dec([0x66, 0x0f, 0x12, 0xc1]).st).toBe(DecodeStatus.Undefined);
    expect(dec([0x0f, 0x50, 0x01]).st).toBe(DecodeStatus.Undefined);
  });

  it('0F 38 and 0F 3A are three-byte opcode maps', () => {
    const a = dec([0x66, 0x0f, 0x38, 0x2a, 0x00]);
    expect([a.name, a.insn.op, a.insn.length]).toEqual(['MOVNTDQA', 0x22a, 5]);
    expect(dec([0x0f, 0x38, 0xff, 0xc0]).st).toBe(DecodeStatus.Undefined);
  });

  it('VEX (C4/C5) is #UD: an invalid row in 64-bit mode, the register form of LES/LDS outside it', () => {
    // vmovdqa xmm0, xmm1 = C5 F9 6F C1.
    expect(dec([0xc5, 0xf9, 0x6f, 0xc1], true, true).st).toBe(DecodeStatus.Undefined);
    expect(dec([0xc5, 0xf9, 0x6f, 0xc1], true, false).st).toBe(DecodeStatus.Undefined);
    expect(dec([0xc4, 0xe1, 0x79, 0x6f, 0xc1], true, false).st).toBe(DecodeStatus.Undefined);
  });

  it('LOCK on a SIMD form is #UD', () => {
    expect(dec([0xf0, 0x66, 0x0f, 0x7f, 0x00]).st).toBe(DecodeStatus.Undefined);
  });
});
