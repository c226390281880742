/**
 * SSE scalar float32/float64 arithmetic against the host CPU (fpu-referee.c): result bits and
 * MXCSR flags, over random and edge operands, every rounding mode, DAZ, FTZ, and masked and
 * unmasked exceptions (an unmasked one must be reported as #XM with the CPU's flags).
 */
import { describe, expect, it } from 'vitest';
import { mxcsrMasks } from '../../src/fpu/mxcsr.js';
import {
  SSE_ADD,
  SSE_DIV,
  SSE_MAX,
  SSE_MIN,
  SSE_MUL,
  SSE_SQRT,
  SSE_SUB,
  SseOut,
  sseArith,
} from '../../src/fpu/sse-float.js';
import { f32, f64, mxcsrValue, Rng } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const OPS: Record<string, number> = {
  add: SSE_ADD,
  sub: SSE_SUB,
  mul: SSE_MUL,
  div: SSE_DIV,
  sqrt: SSE_SQRT,
  min: SSE_MIN,
  max: SSE_MAX,
};

const h = (x: unknown): string => (Number(x) >>> 0).toString(16);

describe.skipIf(REFEREE_MISSING !== null)(
  `SSE scalar arithmetic agrees bit for bit with the host CPU${SKIP_NOTE}`,
  () => {
    for (const wide of [false, true]) {
      for (const [name, op] of Object.entries(OPS)) {
        const insn = `${name}${wide ? 'sd' : 'ss'}`;
        it(`${insn}: result and MXCSR flags`, { timeout: 120_000 }, () => {
          const r = new Rng(0xc0ffee + op * 31 + (wide ? 7 : 0));
          const cases: Case[] = [];
          for (let i = 0; i < N; i++) {
            const m = mxcsrValue(r);
            if (wide) {
              const a = f64(r);
              const b = r.below(4) === 0 ? f64(r, a[0]) : f64(r);
              if (op === SSE_SQRT && r.below(3)) b[0] &= 0x7fffffff;
              cases.push([insn, m, ...a, ...b]);
            } else {
              const a = f32(r);
              const b = r.below(4) === 0 ? f32(r, a) : f32(r);
              cases.push([insn, m, a, op === SSE_SQRT && r.below(3) ? b & 0x7fffffff : b]);
            }
          }
          const ref = runReferee(cases);
          const out = new SseOut();
          const failures: string[] = [];
          for (let i = 0; i < cases.length; i++) {
            const c = cases[i];
            const m = c[1];
            const flags = wide
              ? sseArith(op, true, c[2], c[3], c[4], c[5], m, out)
              : sseArith(op, false, 0, c[2], 0, c[3], m, out);
            const [rhi, rlo, rm, , faulted] = ref[i];
            const fault = (flags & ~mxcsrMasks(m) & 0x3f) !== 0;
            const gotM = (m | flags) >>> 0;
            const ok =
              fault === (faulted === 1) &&
              gotM === rm &&
              (fault || (wide ? out.hi === rhi && out.lo === rlo : out.lo === rlo));
            if (!ok)
              failures.push(
                `${insn} mxcsr=${h(m)} ${c.slice(2).map(h)}: cpu ${h(rhi)}:${h(rlo)} mxcsr=${h(rm)} xm=${faulted}, ours ${h(out.hi)}:${h(out.lo)} mxcsr=${h(gotM)} xm=${fault ? 1 : 0}`,
              );
          }
          expect(failures.slice(0, 20)).toEqual([]);
        });
      }
    }
  },
);
