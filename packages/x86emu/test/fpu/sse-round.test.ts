/**
 * ROUNDSS/ROUNDSD (SSE4.1) against the host CPU (fpu-referee.c): every imm8 (four modes,
 * MXCSR.RC, precision suppression), DAZ, SNaN and denormal operands.
 */
import { describe, expect, it } from 'vitest';
import { mxcsrMasks } from '../../src/fpu/mxcsr.js';
import { sseRound } from '../../src/fpu/sse-round.js';
import { f32, f64, mxcsrValue, Rng, word } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);

describe.skipIf(REFEREE_MISSING !== null)(`ROUNDSS/ROUNDSD agree with the host CPU${SKIP_NOTE}`, () => {
  for (const wide of [false, true]) {
    const sfx = wide ? 'sd' : 'ss';
    it(`round${sfx}: result and MXCSR flags for every imm8`, { timeout: 120_000 }, () => {
      const r = new Rng(wide ? 0x40d : 0x40c);
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) {
        const op = `round${sfx}${r.below(16)}`;
        const m = mxcsrValue(r);
        if (wide) {
          const x = r.below(2)
            ? f64(r)
            : [((r.below(2) << 31) | ((1023 + r.below(56) - 2) << 20) | (word(r) & 0xfffff)) >>> 0, word(r)];
          cases.push([op, m, 0, 0, ...x]);
        } else {
          const x = r.below(2)
            ? f32(r)
            : ((r.below(2) << 31) | ((127 + r.below(26) - 2) << 23) | (word(r) & 0x7fffff)) >>> 0;
          cases.push([op, m, 0, x]);
        }
      }
      const ref = runReferee(cases);
      const out = { hi: 0, lo: 0 };
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        const imm = Number(c[0].slice(7));
        const m = c[1];
        const flags = wide ? sseRound(true, c[4], c[5], imm, m, out) : sseRound(false, 0, c[3], imm, m, out);
        const [rhi, rlo, rm, , faulted] = ref[i];
        const fault = (flags & ~mxcsrMasks(m) & 0x3f) !== 0;
        const resOk = wide ? out.hi === rhi && out.lo === rlo : out.lo === rlo;
        if (fault !== (faulted === 1) || (m | flags) >>> 0 !== rm || (!fault && !resOk))
          failures.push(
            `${c[0]} mxcsr=${h(m)} ${c.slice(2).map(h)}: cpu ${h(rhi)}:${h(rlo)} mxcsr=${h(rm)} xm=${faulted}, ours ${h(out.hi)}:${h(out.lo)} mxcsr=${h(m | flags)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});
