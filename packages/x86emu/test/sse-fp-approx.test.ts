/**
 * RCPSS/RCPPS and RSQRTSS/RSQRTPS: the approximation tables are the host's (AMD Zen; see
 * src/exec/sse-fp/approx-table.ts). Every table entry (all 12 leading fraction bits, both
 * exponent parities for RSQRT) at several exponents, with random trailing bits (packed forms), and the special
 * operands (zeros, denormals, infinities, NaNs, negatives, the ends of the exponent range) are
 * compared bit for bit with the host CPU. Intel CPUs have other tables: there the comparison is
 * skipped, with the reason.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from './fpu/gen.js';
import { AMD_HOST, HOST_VENDOR } from './host-vendor.js';
import { makeRunner } from './sse-fp/harness.js';
import { REFEREE_MISSING, runSseReferee, SKIP_NOTE, type SseCase } from './sse-fp/referee.js';

const WHY =
  REFEREE_MISSING ?? (AMD_HOST ? null : `x86emu has AMD's RCP/RSQRT tables, this host is ${HOST_VENDOR}`);

const RCPSS = [0xf3, 0x0f, 0x53, 0xca];
const RSQRTSS = [0xf3, 0x0f, 0x52, 0xca];
const ZERO = [0, 0, 0, 0];

function one(bytes: number[], x: number, mxcsr = 0x1f80): SseCase {
  return { bytes, mxcsr, x0: ZERO, x1: [0x12345678, 1, 2, 3], x2: [x, 0, 0, 0], raxLo: 0, raxHi: 0 };
}

describe.skipIf(WHY !== null)(
  `RCP/RSQRT approximations match the host CPU${WHY ? ` (skipped: ${WHY})` : SKIP_NOTE}`,
  () => {
    it('every table entry at several exponents, and the special operands', { timeout: 120_000 }, () => {
      const r = new Rng(0x53);
      const cases: SseCase[] = [];
      // Packed forms, four table entries a case (random sign for RCP, positive for RSQRT).
      for (let i = 0; i < 4096; i += 4) {
        for (const e of [1, 126, 127, 128, 252, 253, 254]) {
          const w = [0, 1, 2, 3].map(
            (k) => ((r.below(2) << 31) | (e << 23) | ((i + k) << 11) | r.below(0x800)) >>> 0,
          );
          cases.push({ ...one([0x0f, 0x53, 0xca], 0), x2: w });
          cases.push({ ...one([0x0f, 0x52, 0xca], 0), x2: w.map((v) => (v & 0x7fffffff) >>> 0) });
        }
      }
      const specials = [
        0, 0x80000000, 1, 0x80000001, 0x7fffff, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001,
        0xff800001, 0xffc12345, 0x7f7fffff, 0xff7fffff, 0xbf800000, 0x00800000, 0x80800000,
      ];
      for (const x of specials)
        for (const mx of [0x1f80, 0x0000, 0x9fc0, 0x7f80]) {
          cases.push(one(RCPSS, x, mx));
          cases.push(one(RSQRTSS, x, mx));
          cases.push({ ...one([0x0f, 0x53, 0xca], x, mx), x2: [x, 0x3f800000, x ^ 0x80000000, 0x00400000] });
          cases.push({ ...one([0x0f, 0x52, 0xca], x, mx), x2: [x, 0x40800000, x ^ 0x80000000, 0x00400000] });
        }
      const ref = runSseReferee(cases);
      const run = makeRunner();
      const bad: string[] = [];
      cases.forEach((c, k) => {
        const got = run('', c);
        if (got.some((v, j) => v >>> 0 !== ref[k][j] >>> 0) && bad.length < 10)
          bad.push(
            `${c.bytes} ${c.x2.map((v) => v.toString(16))} mx=${c.mxcsr.toString(16)}: cpu ${ref[k].map((v) => v.toString(16))} x86emu ${got.map((v) => v.toString(16))}`,
          );
      });
      expect(bad).toEqual([]);
    });
  },
);
