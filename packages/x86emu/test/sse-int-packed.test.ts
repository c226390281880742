import { describe, expect, it } from 'vitest';
import { CASES, compareForms, REFEREE_MISSING, SEED, SKIP_NOTE } from './sse-int-referee.js';

/** Binary packed forms: each in its XMM register, XMM memory (aligned) and MMX register form. */
const BINARY = [
  'paddb',
  'paddw',
  'paddd',
  'paddq',
  'psubb',
  'psubw',
  'psubd',
  'psubq',
  'paddsb',
  'paddsw',
  'paddusb',
  'paddusw',
  'psubsb',
  'psubsw',
  'psubusb',
  'psubusw',
  'pmullw',
  'pmulhw',
  'pmulhuw',
  'pmuludq',
  'pmaddwd',
  'psadbw',
  'pavgb',
  'pavgw',
  'pminub',
  'pmaxub',
  'pminsw',
  'pmaxsw',
  'pcmpeqb',
  'pcmpeqw',
  'pcmpeqd',
  'pcmpgtb',
  'pcmpgtw',
  'pcmpgtd',
  'pand',
  'pandn',
  'por',
  'pxor',
  'punpcklbw',
  'punpcklwd',
  'punpckldq',
  'punpckhbw',
  'punpckhwd',
  'punpckhdq',
  'packsswb',
  'packuswb',
  'packssdw',
  'psrlw',
  'psrld',
  'psrlq',
  'psraw',
  'psrad',
  'psllw',
  'pslld',
  'psllq',
  // SSSE3
  'pshufb',
  'phaddw',
  'phaddd',
  'phaddsw',
  'pmaddubsw',
  'phsubw',
  'phsubd',
  'phsubsw',
  'psignb',
  'psignw',
  'psignd',
  'pmulhrsw',
  'pabsb',
  'pabsw',
  'pabsd',
];
/** XMM-only binary forms (SSE2 quadword unpacks, PS/PD logicals, SSE4.1/4.2). */
const XMM_ONLY = [
  'punpcklqdq',
  'punpckhqdq',
  'andps',
  'andpd',
  'andnps',
  'andnpd',
  'orps',
  'orpd',
  'xorps',
  'xorpd',
  'unpcklps',
  'unpckhps',
  'unpcklpd',
  'unpckhpd',
  'pmuldq',
  'pcmpeqq',
  'packusdw',
  'pcmpgtq',
  'pminsb',
  'pminsd',
  'pminuw',
  'pminud',
  'pmaxsb',
  'pmaxsd',
  'pmaxuw',
  'pmaxud',
  'pmulld',
];

const forms: string[] = [];
for (const m of BINARY)
  forms.push(`${m} xmm0, xmm1`, `${m} xmm8, [rbx+16]`, `${m} mm0, mm1`, `${m} mm1, [rbx+3]`);
for (const m of XMM_ONLY) forms.push(`${m} xmm1, xmm8`, `${m} xmm2, [rbx+32]`);
// Same register as both operands (results built apart from their sources).
forms.push('punpckhbw xmm3, xmm3', 'pshufb xmm2, xmm2', 'phaddw xmm1, xmm1', 'packsswb mm0, mm0');
// Immediate forms.
for (const imm of [0, 1, 7, 15, 16, 31, 32, 63, 64, 200]) {
  for (const m of ['psrlw', 'psraw', 'psllw', 'psrld', 'psrad', 'pslld', 'psrlq', 'psllq'])
    forms.push(`${m} xmm1, ${imm}`, `${m} mm1, ${imm}`);
  forms.push(`psrldq xmm8, ${imm}`, `pslldq xmm2, ${imm}`);
  forms.push(`palignr xmm0, xmm1, ${imm}`, `palignr mm0, mm1, ${imm}`, `palignr xmm3, [rbx+48], ${imm}`);
}
for (const imm of [0x1b, 0xe4, 0x00, 0xff, 0x4e, 0x93]) {
  forms.push(`pshufd xmm0, xmm1, ${imm}`, `pshufd xmm2, [rbx], ${imm}`, `pshufhw xmm0, xmm8, ${imm}`);
  forms.push(`pshuflw xmm3, [rbx+16], ${imm}`, `pshufw mm0, mm1, ${imm}`, `pshufw mm1, [rbx+5], ${imm}`);
  forms.push(`shufps xmm0, xmm1, ${imm}`, `shufpd xmm1, xmm2, ${imm & 3}`, `shufps xmm1, xmm1, ${imm}`);
}

describe(`SIMD packed integer against the host CPU${SKIP_NOTE}`, () => {
  it.skipIf(REFEREE_MISSING !== null)(
    'every packed form gives what the CPU gives on random states',
    () => {
      expect(compareForms(forms, CASES(12), SEED(1205))).toEqual([]);
    },
    60_000,
  );
});
