/**
 * The same instructions in their other encodings, against the host CPU: memory operands
 * (aligned m128 for packed forms, #GP(0) when misaligned; m32/m64 scalar and half-width forms
 * at any alignment; EXTRACTPS to memory), XMM8–XMM15 and R8–R15 through REX, and the MMX-operand
 * conversions (CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI). RDI points at a context block holding the
 * XMM inputs (see sse-fp/harness.ts), so [rdi+32] is XMM2's value.
 */
import { describe, expect, it } from 'vitest';
import { compareForms, type Form } from './sse-fp/cases.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-fp/referee.js';

const N = Number(process.env.SSE_FP_CASES ?? 400);
const MOVDQA_XMM9_XMM1 = [0x66, 0x44, 0x0f, 0x6f, 0xc9];
const MOVDQA_XMM10_XMM2 = [0x66, 0x44, 0x0f, 0x6f, 0xd2];
const MOVDQA_XMM1_XMM9 = [0x66, 0x41, 0x0f, 0x6f, 0xc9];
const MOVQ_MM2_RAX = [0x48, 0x0f, 0x6e, 0xd0];
const MOVQ_RAX_MM1 = [0x48, 0x0f, 0x7e, 0xc8];

describe.skipIf(REFEREE_MISSING !== null)(`SSE encodings agree with the host CPU${SKIP_NOTE}`, () => {
  it('memory operands: aligned, misaligned (#GP(0) for m128), scalar at any address', {
    timeout: 60_000,
  }, () => {
    const forms: Form[] = [
      { name: 'ADDPS', bytes: [0x0f, 0x58, 0x4f, 0x20], dst: 'f32', src: 'f32' },
      { name: 'ADDPS', bytes: [0x0f, 0x58, 0x4f, 0x24], dst: 'f32', src: 'f32' },
      { name: 'MULPD', bytes: [0x66, 0x0f, 0x59, 0x4f, 0x20], dst: 'f64', src: 'f64' },
      { name: 'DIVSS', bytes: [0xf3, 0x0f, 0x5e, 0x4f, 0x25], dst: 'f32', src: 'f32' },
      { name: 'SQRTSD', bytes: [0xf2, 0x0f, 0x51, 0x4f, 0x23], dst: 'f64', src: 'f64' },
      {
        name: 'CMPPS',
        bytes: [0x0f, 0xc2, 0x4f, 0x20],
        dst: 'f32',
        src: 'f32',
        imm: [0, 1, 2, 3, 4, 5, 6, 7],
      },
      { name: 'CMPSD', bytes: [0xf2, 0x0f, 0xc2, 0x4f, 0x21], dst: 'f64', src: 'f64', imm: [1, 5] },
      { name: 'COMISS', bytes: [0x0f, 0x2f, 0x4f, 0x21], dst: 'f32', src: 'f32' },
      { name: 'UCOMISD', bytes: [0x66, 0x0f, 0x2e, 0x4f, 0x27], dst: 'f64', src: 'f64' },
      { name: 'CVTPS2PD', bytes: [0x0f, 0x5a, 0x4f, 0x24], dst: 'f64', src: 'f32' },
      { name: 'CVTPD2PS', bytes: [0x66, 0x0f, 0x5a, 0x4f, 0x28], dst: 'f32', src: 'f64' },
      { name: 'CVTDQ2PD', bytes: [0xf3, 0x0f, 0xe6, 0x4f, 0x24], dst: 'f64', src: 'i32' },
      { name: 'CVTTPS2DQ', bytes: [0xf3, 0x0f, 0x5b, 0x4f, 0x20], dst: 'i32', src: 'f32' },
      { name: 'CVTSI2SD', bytes: [0xf2, 0x48, 0x0f, 0x2a, 0x4f, 0x24], dst: 'f64', src: 'i32' },
      { name: 'CVTSI2SS', bytes: [0xf3, 0x0f, 0x2a, 0x4f, 0x22], dst: 'f32', src: 'i32' },
      { name: 'CVTSS2SI', bytes: [0xf3, 0x0f, 0x2d, 0x47, 0x24], dst: 'i32', src: 'f32' },
      { name: 'CVTTSD2SI', bytes: [0xf2, 0x48, 0x0f, 0x2c, 0x47, 0x24], dst: 'i64', src: 'f64' },
      {
        name: 'ROUNDPD',
        bytes: [0x66, 0x0f, 0x3a, 0x09, 0x4f, 0x20],
        dst: 'f64',
        src: 'f64',
        imm: [0, 4, 9, 15],
      },
      {
        name: 'ROUNDSS',
        bytes: [0x66, 0x0f, 0x3a, 0x0a, 0x4f, 0x26],
        dst: 'f32',
        src: 'f32',
        imm: [0, 3, 4, 12],
      },
      { name: 'INSERTPS', bytes: [0x66, 0x0f, 0x3a, 0x21, 0x4f, 0x24], dst: 'f32', src: 'f32', imm: 256 },
      { name: 'DPPS', bytes: [0x66, 0x0f, 0x3a, 0x40, 0x4f, 0x24], dst: 'f32', src: 'f32', imm: [0xff] },
      { name: 'HADDPD', bytes: [0x66, 0x0f, 0x7c, 0x4f, 0x20], dst: 'f64', src: 'f64' },
      { name: 'BLENDVPS', bytes: [0x66, 0x0f, 0x38, 0x14, 0x4f, 0x28], dst: 'f32', src: 'f32' },
      { name: 'RCPPS', bytes: [0x0f, 0x53, 0x4f, 0x20], dst: 'f32', src: 'f32' },
      { name: 'RSQRTSS', bytes: [0xf3, 0x0f, 0x52, 0x4f, 0x2d], dst: 'f32', src: 'f32' },
    ];
    expect(compareForms(forms, N / 4, 0x4f)).toEqual([]);
  });

  it('a misaligned non-canonical stack operand is #GP(0), an aligned one #SS(0)', { timeout: 60_000 }, () => {
    // addsubps xmm1, [rsp + rax] / minps xmm1, [rsp + rax] with RSP 8 modulo 16.
    const cases = [0x8, 0x9, 0x10].flatMap((lo) =>
      [
        [0xf2, 0x0f, 0xd0, 0x0c, 0x04],
        [0x0f, 0x5d, 0x0c, 0x04],
      ].map((bytes) => ({ lo, bytes })),
    );
    const forms: Form[] = cases.map(({ lo, bytes }) => ({
      name: 'ADDSUBPS',
      bytes,
      dst: 'f32',
      src: 'f32',
      rax: [lo, 0x40000000],
    }));
    expect(compareForms(forms, 2, 0x5d)).toEqual([]);
  });

  it('EXTRACTPS to memory', { timeout: 60_000 }, () => {
    // extractps [rdi+4], xmm1, imm8 ; mov eax, [rdi+4]
    const bytes = [0x66, 0x0f, 0x3a, 0x17, 0x4f, 0x04];
    const forms: Form[] = [0, 1, 2, 3].map((k) => ({
      name: 'EXTRACTPS',
      bytes: [...bytes, k, 0x8b, 0x47, 0x04],
      dst: 'f32',
      src: 'f32',
    }));
    expect(compareForms(forms, 8, 0x17)).toEqual([]);
  });

  it('XMM8-XMM15 and R8-R15 through REX', { timeout: 60_000 }, () => {
    const wrap = (insn: number[]) => [
      ...MOVDQA_XMM9_XMM1,
      ...MOVDQA_XMM10_XMM2,
      ...insn,
      ...MOVDQA_XMM1_XMM9,
    ];
    const forms: Form[] = [
      { name: 'ADDPS', bytes: wrap([0x45, 0x0f, 0x58, 0xca]), dst: 'f32', src: 'f32' },
      { name: 'SQRTSD', bytes: wrap([0xf2, 0x45, 0x0f, 0x51, 0xca]), dst: 'f64', src: 'f64' },
      { name: 'CMPPD', bytes: wrap([0x66, 0x45, 0x0f, 0xc2, 0xca, 0x01]), dst: 'f64', src: 'f64' },
      { name: 'DPPS', bytes: wrap([0x66, 0x45, 0x0f, 0x3a, 0x40, 0xca, 0xf1]), dst: 'f32', src: 'f32' },
      // mov r10, rax ; cvtsi2sd xmm9, r10 (REX.WRB)
      {
        name: 'CVTSI2SD',
        bytes: wrap([0x49, 0x89, 0xc2, 0xf2, 0x4d, 0x0f, 0x2a, 0xca]),
        dst: 'f64',
        src: 'i64',
      },
      // cvtss2si r11, xmm10 ; mov rax, r11
      {
        name: 'CVTSS2SI',
        bytes: wrap([0xf3, 0x4d, 0x0f, 0x2d, 0xda, 0x4c, 0x89, 0xd8]),
        dst: 'i64',
        src: 'f32',
      },
    ];
    expect(compareForms(forms, N / 4, 0x45)).toEqual([]);
  });

  it('MMX operands: CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'CVTPI2PS', bytes: [...MOVQ_MM2_RAX, 0x0f, 0x2a, 0xca], dst: 'f32', src: 'i64' },
      { name: 'CVTPI2PS', bytes: [0x0f, 0x2a, 0x4f, 0x24], dst: 'f32', src: 'i32' },
      { name: 'CVTPI2PD', bytes: [...MOVQ_MM2_RAX, 0x66, 0x0f, 0x2a, 0xca], dst: 'f64', src: 'i64' },
      { name: 'CVTPS2PI', bytes: [0x0f, 0x2d, 0xca, ...MOVQ_RAX_MM1], dst: 'i64', src: 'f32' },
      { name: 'CVTTPS2PI', bytes: [0x0f, 0x2c, 0x4f, 0x24, ...MOVQ_RAX_MM1], dst: 'i64', src: 'f32' },
      { name: 'CVTPD2PI', bytes: [0x66, 0x0f, 0x2d, 0xca, ...MOVQ_RAX_MM1], dst: 'i64', src: 'f64' },
      { name: 'CVTTPD2PI', bytes: [0x66, 0x0f, 0x2c, 0xca, ...MOVQ_RAX_MM1], dst: 'i64', src: 'f64' },
      { name: 'CVTTPD2PI', bytes: [0x66, 0x0f, 0x2c, 0x4f, 0x24, ...MOVQ_RAX_MM1], dst: 'i64', src: 'f64' },
    ];
    expect(compareForms(forms, N / 2, 0x2c)).toEqual([]);
  });
});
