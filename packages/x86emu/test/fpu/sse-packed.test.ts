/**
 * Packed SSE arithmetic against the host CPU (fpu-referee.c): four float32 or two float64
 * elements per case, mixed classes per element, flags of all elements merged, and no element
 * written when any one takes an unmasked exception.
 */
import { describe, expect, it } from 'vitest';
import { mxcsrMasks } from '../../src/fpu/mxcsr.js';
import { SSE_ADD, SSE_DIV, SSE_MAX, SSE_MIN, SSE_MUL, SSE_SQRT, SSE_SUB } from '../../src/fpu/sse-float.js';
import { ssePacked } from '../../src/fpu/sse-packed.js';
import { f32, f64, mxcsrValue, Rng } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 1500);
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);
const OPS: Record<string, number> = {
  add: SSE_ADD,
  sub: SSE_SUB,
  mul: SSE_MUL,
  div: SSE_DIV,
  sqrt: SSE_SQRT,
  min: SSE_MIN,
  max: SSE_MAX,
};

describe.skipIf(REFEREE_MISSING !== null)(
  `packed SSE arithmetic agrees with the host CPU${SKIP_NOTE}`,
  () => {
    for (const wide of [false, true]) {
      it(`${Object.keys(OPS).join('/')}${wide ? 'pd' : 'ps'}: every element, merged flags`, {
        timeout: 120_000,
      }, () => {
        const r = new Rng(wide ? 0xbd : 0xb5);
        const cases: Case[] = [];
        for (let i = 0; i < N; i++) {
          const name = `${r.pick(Object.keys(OPS))}${wide ? 'pd' : 'ps'}`;
          const words: number[] = [];
          if (wide) {
            const a0 = f64(r);
            const a1 = f64(r);
            const b0 = r.below(3) ? f64(r, a0[0]) : f64(r);
            const b1 = f64(r);
            words.push(a0[1], a0[0], a1[1], a1[0], b0[1], b0[0], b1[1], b1[0]);
          } else {
            const a = [f32(r), f32(r), f32(r), f32(r)];
            words.push(...a, ...a.map((x) => (r.below(3) ? f32(r, x) : f32(r))));
          }
          cases.push([name, mxcsrValue(r), ...words]);
        }
        const ref = runReferee(cases);
        const dst = new Uint32Array(4);
        const src = new Uint32Array(4);
        const failures: string[] = [];
        for (let i = 0; i < N; i++) {
          const c = cases[i];
          const m = c[1];
          const op = OPS[c[0].slice(0, -2)];
          const words = c.slice(2) as number[];
          for (let k = 0; k < 4; k++) {
            dst[k] = words[k];
            src[k] = words[4 + k];
          }
          const flags = ssePacked(op, wide, dst, 0, src, 0, m);
          const rr = ref[i];
          const fault = (flags & ~mxcsrMasks(m) & 0x3f) !== 0;
          const untouched = dst.every((x, k) => x === words[k] >>> 0);
          const ok =
            fault === (rr[5] === 1) &&
            (m | flags) >>> 0 === rr[4] &&
            (fault ? untouched : dst.every((x, k) => x === rr[k]));
          if (!ok)
            failures.push(
              `${c[0]} mxcsr=${h(m)} ${c.slice(2).map(h)}: cpu ${rr.slice(0, 4).map(h)} mxcsr=${h(rr[4])} xm=${rr[5]}, ours ${[...dst].map(h)} mxcsr=${h(m | flags)}`,
            );
        }
        expect(failures.slice(0, 20)).toEqual([]);
      });
    }
  },
);
