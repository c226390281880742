/**
 * Every SSE/SSE2 conversion between XMM formats and general registers, against the host CPU:
 * CVTSI2SS/SD (32- and 64-bit sources), CVT(T)SS2SI and CVT(T)SD2SI (32- and 64-bit results, the
 * integer indefinite), CVTSS2SD/CVTSD2SS, and the packed CVTPS2PD, CVTPD2PS, CVTDQ2PS,
 * CVT(T)PS2DQ, CVTDQ2PD, CVT(T)PD2DQ; every rounding mode, DAZ/FTZ, masked and unmasked.
 */
import { describe, expect, it } from 'vitest';
import { compareForms, type Form } from './sse-fp/cases.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-fp/referee.js';

const N = Number(process.env.SSE_FP_CASES ?? 400);

describe.skipIf(REFEREE_MISSING !== null)(`SSE conversions agree with the host CPU${SKIP_NOTE}`, () => {
  it('CVTSI2SS/CVTSI2SD from r32 and r64 (REX.W)', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'CVTSI2SS', bytes: [0xf3, 0x0f, 0x2a, 0xc8], dst: 'f32', src: 'i64' },
      { name: 'CVTSI2SS', bytes: [0xf3, 0x48, 0x0f, 0x2a, 0xc8], dst: 'f32', src: 'i64' },
      { name: 'CVTSI2SD', bytes: [0xf2, 0x0f, 0x2a, 0xc8], dst: 'f64', src: 'i64' },
      { name: 'CVTSI2SD', bytes: [0xf2, 0x48, 0x0f, 0x2a, 0xc8], dst: 'f64', src: 'i64' },
    ];
    expect(compareForms(forms, N, 0x2a)).toEqual([]);
  });

  it('CVTSS2SI/CVTTSS2SI/CVTSD2SI/CVTTSD2SI to r32 and r64', { timeout: 60_000 }, () => {
    const forms: Form[] = [];
    for (const [name, pfx, op, ty] of [
      ['CVTTSS2SI', 0xf3, 0x2c, 'f32'],
      ['CVTSS2SI', 0xf3, 0x2d, 'f32'],
      ['CVTTSD2SI', 0xf2, 0x2c, 'f64'],
      ['CVTSD2SI', 0xf2, 0x2d, 'f64'],
    ] as const) {
      forms.push({ name, bytes: [pfx, 0x0f, op, 0xc2], dst: 'i32', src: ty });
      forms.push({ name, bytes: [pfx, 0x48, 0x0f, op, 0xc2], dst: 'i64', src: ty });
    }
    expect(compareForms(forms, N, 0x2d)).toEqual([]);
  });

  it('CVTSS2SD, CVTSD2SS, CVTPS2PD, CVTPD2PS', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'CVTSS2SD', bytes: [0xf3, 0x0f, 0x5a, 0xca], dst: 'f64', src: 'f32' },
      { name: 'CVTSD2SS', bytes: [0xf2, 0x0f, 0x5a, 0xca], dst: 'f32', src: 'f64' },
      { name: 'CVTPS2PD', bytes: [0x0f, 0x5a, 0xca], dst: 'f64', src: 'f32' },
      { name: 'CVTPD2PS', bytes: [0x66, 0x0f, 0x5a, 0xca], dst: 'f32', src: 'f64' },
    ];
    expect(compareForms(forms, N, 0x5a)).toEqual([]);
  });

  it('CVTSD2SS and CVTPD2PS at float32 overflow, underflow and denormal thresholds', {
    timeout: 60_000,
  }, () => {
    const forms: Form[] = [
      { name: 'CVTSD2SS', bytes: [0xf2, 0x0f, 0x5a, 0xca], dst: 'f32', src: 'f64n32' },
      { name: 'CVTPD2PS', bytes: [0x66, 0x0f, 0x5a, 0xca], dst: 'f32', src: 'f64n32' },
    ];
    expect(compareForms(forms, N, 0x5b)).toEqual([]);
  });

  it('CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ, CVTDQ2PD, CVTPD2DQ, CVTTPD2DQ', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'CVTDQ2PS', bytes: [0x0f, 0x5b, 0xca], dst: 'f32', src: 'i32' },
      { name: 'CVTPS2DQ', bytes: [0x66, 0x0f, 0x5b, 0xca], dst: 'i32', src: 'f32' },
      { name: 'CVTTPS2DQ', bytes: [0xf3, 0x0f, 0x5b, 0xca], dst: 'i32', src: 'f32' },
      { name: 'CVTDQ2PD', bytes: [0xf3, 0x0f, 0xe6, 0xca], dst: 'f64', src: 'i32' },
      { name: 'CVTPD2DQ', bytes: [0xf2, 0x0f, 0xe6, 0xca], dst: 'i32', src: 'f64' },
      { name: 'CVTTPD2DQ', bytes: [0x66, 0x0f, 0xe6, 0xca], dst: 'i32', src: 'f64' },
    ];
    expect(compareForms(forms, N, 0xe6)).toEqual([]);
  });
});
