/**
 * SSE/SSE2 arithmetic instructions (ADD/SUB/MUL/DIV/SQRT/MIN/MAX in PS/SS/PD/SD forms) and the
 * SSE3 horizontal and alternating ones, executed by x86emu and by the host CPU (sse-fp-referee.c)
 * on the same operands and MXCSR: every bit of XMM0/XMM1, MXCSR, EFLAGS and the fault vector
 * (#XM with the destination untouched when an exception is unmasked) must agree.
 */
import { describe, expect, it } from 'vitest';
import { compareForms, type Form, fourForms } from './sse-fp/cases.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-fp/referee.js';

const N = Number(process.env.SSE_FP_CASES ?? 400);

describe.skipIf(REFEREE_MISSING !== null)(`SSE arithmetic agrees with the host CPU${SKIP_NOTE}`, () => {
  const ops: [string, number][] = [
    ['ADD', 0x58],
    ['MUL', 0x59],
    ['SUB', 0x5c],
    ['MIN', 0x5d],
    ['DIV', 0x5e],
    ['MAX', 0x5f],
    ['SQRT', 0x51],
  ];
  for (const [name, op] of ops) {
    it(`${name}PS/SS/PD/SD: every element, flags, faults`, { timeout: 60_000 }, () => {
      expect(compareForms(fourForms(name, op), N, 0x5e0 + op)).toEqual([]);
    });
  }

  it('SSE3 ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'ADDSUBPS', bytes: [0xf2, 0x0f, 0xd0, 0xca], dst: 'f32', src: 'f32' },
      { name: 'ADDSUBPD', bytes: [0x66, 0x0f, 0xd0, 0xca], dst: 'f64', src: 'f64' },
      { name: 'HADDPS', bytes: [0xf2, 0x0f, 0x7c, 0xca], dst: 'f32', src: 'f32' },
      { name: 'HSUBPS', bytes: [0xf2, 0x0f, 0x7d, 0xca], dst: 'f32', src: 'f32' },
      { name: 'HADDPD', bytes: [0x66, 0x0f, 0x7c, 0xca], dst: 'f64', src: 'f64' },
      { name: 'HSUBPD', bytes: [0x66, 0x0f, 0x7d, 0xca], dst: 'f64', src: 'f64' },
    ];
    expect(compareForms(forms, N, 0x5e3)).toEqual([]);
  });

  it('SSE4.1 DPPS/DPPD with every imm8', { timeout: 60_000 }, () => {
    const forms: Form[] = [
      { name: 'DPPS', bytes: [0x66, 0x0f, 0x3a, 0x40, 0xca], dst: 'f32', src: 'f32', imm: 256 },
      { name: 'DPPD', bytes: [0x66, 0x0f, 0x3a, 0x41, 0xca], dst: 'f64', src: 'f64', imm: 256 },
    ];
    expect(compareForms(forms, N, 0x5e4)).toEqual([]);
  });
});
