/**
 * CMPPS/CMPSS/CMPPD/CMPSD with every predicate (and imm8 bits 7:3, which legacy SSE ignores) and
 * COMISS/UCOMISS/COMISD/UCOMISD (EFLAGS), against the host CPU: NaNs of both kinds signal as the
 * predicate says, denormals raise DE unless DAZ, unmasked IE/DE fault with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { compareForms, type Form, fourForms } from './sse-fp/cases.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-fp/referee.js';

const N = Number(process.env.SSE_FP_CASES ?? 400);

describe.skipIf(REFEREE_MISSING !== null)(`SSE compares agree with the host CPU${SKIP_NOTE}`, () => {
  it('CMPPS/SS/PD/SD, predicates 0-7', { timeout: 60_000 }, () => {
    expect(compareForms(fourForms('CMP', 0xc2, [0, 1, 2, 3, 4, 5, 6, 7]), N, 0xc2)).toEqual([]);
  });

  it('CMPPS/SS/PD/SD, imm8 with bits 7:3 set', { timeout: 60_000 }, () => {
    expect(compareForms(fourForms('CMP', 0xc2, 256), N / 4, 0xc3)).toEqual([]);
  });

  it('COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF; OF, SF, AF cleared', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'UCOMISS', bytes: [0x0f, 0x2e, 0xca], dst: 'f32', src: 'f32' },
      { name: 'COMISS', bytes: [0x0f, 0x2f, 0xca], dst: 'f32', src: 'f32' },
      { name: 'UCOMISD', bytes: [0x66, 0x0f, 0x2e, 0xca], dst: 'f64', src: 'f64' },
      { name: 'COMISD', bytes: [0x66, 0x0f, 0x2f, 0xca], dst: 'f64', src: 'f64' },
    ];
    expect(compareForms(forms, N, 0x2e)).toEqual([]);
  });
});
