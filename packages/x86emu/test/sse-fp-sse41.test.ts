/**
 * SSE4.1 floating point against the host CPU: ROUNDPS/PD/SS/SD with every imm8 (the four fixed
 * modes, MXCSR.RC, precision suppression), BLENDPS/PD, BLENDVPS/PD (mask in XMM0), INSERTPS and
 * EXTRACTPS (to a 32-bit register, zero-extended also with REX.W).
 */
import { describe, expect, it } from 'vitest';
import { compareForms, type Form } from './sse-fp/cases.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-fp/referee.js';

const N = Number(process.env.SSE_FP_CASES ?? 400);

describe.skipIf(REFEREE_MISSING !== null)(
  `SSE4.1 floating point agrees with the host CPU${SKIP_NOTE}`,
  () => {
    it('ROUNDPS/PD/SS/SD, every imm8 (bits 7:4 ignored)', { timeout: 60_000 }, () => {
      const forms: Form[] = [
        { name: 'ROUNDPS', bytes: [0x66, 0x0f, 0x3a, 0x08, 0xca], dst: 'f32', src: 'f32', imm: 256 },
        { name: 'ROUNDPD', bytes: [0x66, 0x0f, 0x3a, 0x09, 0xca], dst: 'f64', src: 'f64', imm: 256 },
        { name: 'ROUNDSS', bytes: [0x66, 0x0f, 0x3a, 0x0a, 0xca], dst: 'f32', src: 'f32', imm: 256 },
        { name: 'ROUNDSD', bytes: [0x66, 0x0f, 0x3a, 0x0b, 0xca], dst: 'f64', src: 'f64', imm: 256 },
      ];
      expect(compareForms(forms, N, 0x08)).toEqual([]);
    });

    it('BLENDPS/PD, BLENDVPS/PD, INSERTPS, EXTRACTPS', { timeout: 60_000 }, () => {
      const forms: Form[] = [
        { name: 'BLENDPS', bytes: [0x66, 0x0f, 0x3a, 0x0c, 0xca], dst: 'f32', src: 'f32', imm: 256 },
        { name: 'BLENDPD', bytes: [0x66, 0x0f, 0x3a, 0x0d, 0xca], dst: 'f64', src: 'f64', imm: 256 },
        { name: 'BLENDVPS', bytes: [0x66, 0x0f, 0x38, 0x14, 0xca], dst: 'f32', src: 'f32' },
        { name: 'BLENDVPD', bytes: [0x66, 0x0f, 0x38, 0x15, 0xca], dst: 'f64', src: 'f64' },
        { name: 'INSERTPS', bytes: [0x66, 0x0f, 0x3a, 0x21, 0xca], dst: 'f32', src: 'f32', imm: 256 },
        { name: 'EXTRACTPS', bytes: [0x66, 0x0f, 0x3a, 0x17, 0xc8], dst: 'f32', src: 'f32', imm: 256 },
        { name: 'EXTRACTPS', bytes: [0x66, 0x48, 0x0f, 0x3a, 0x17, 0xc8], dst: 'f32', src: 'f32', imm: 256 },
      ];
      expect(compareForms(forms, N, 0x0c)).toEqual([]);
    });
  },
);
