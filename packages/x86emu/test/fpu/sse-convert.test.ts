/**
 * SSE conversions against the host CPU (fpu-referee.c): CVTSS2SD, CVTSD2SS, CVTSI2SS/SD from
 * 32/64-bit integers, CVT(T)SS2SI and CVT(T)SD2SI to 32/64-bit integers: result bits, MXCSR
 * flags, #XM on unmasked exceptions.
 */
import { describe, expect, it } from 'vitest';
import { mxcsrMasks } from '../../src/fpu/mxcsr.js';
import { cvtf2si, cvtsd2ss, cvtsi2f, cvtss2sd } from '../../src/fpu/sse-convert.js';
import { f32, f64, mxcsrValue, Rng, word } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);

/** Floats near the integer limits, with fractions. */
function intLike32(r: Rng): number {
  if (r.below(3) === 0) return f32(r);
  const e = 127 + r.pick([-1, 0, 1, 23, 30, 31, 32, 62, 63, 64, r.below(40)]);
  return ((r.below(2) << 31) | (e << 23) | (word(r) & 0x7fffff)) >>> 0;
}
function intLike64(r: Rng): [number, number] {
  if (r.below(3) === 0) return f64(r);
  const e = 1023 + r.pick([-1, 0, 1, 30, 31, 32, 52, 62, 63, 64, r.below(70)]);
  return [((r.below(2) << 31) | (e << 20) | (word(r) & 0xfffff)) >>> 0, word(r)];
}

type Conv = (c: Case, out: { hi: number; lo: number }) => number;
const OPS: Record<string, [gen: (r: Rng) => number[], conv: Conv, resultWide: boolean]> = {
  cvtss2sd: [(r) => [f32(r)], (c, o) => cvtss2sd(c[2], c[1], o), true],
  cvtsd2ss: [(r) => f64(r), (c, o) => cvtsd2ss(c[2], c[3], c[1], o), false],
  cvtsi2ssl: [(r) => [word(r)], (c, o) => cvtsi2f(0, c[2], 32, false, c[1], o), false],
  cvtsi2ssq: [(r) => [word(r), word(r)], (c, o) => cvtsi2f(c[3], c[2], 64, false, c[1], o), false],
  cvtsi2sdl: [(r) => [word(r)], (c, o) => cvtsi2f(0, c[2], 32, true, c[1], o), true],
  cvtsi2sdq: [(r) => [word(r), word(r)], (c, o) => cvtsi2f(c[3], c[2], 64, true, c[1], o), true],
  cvtss2sil: [(r) => [intLike32(r)], (c, o) => cvtf2si(false, 0, c[2], 32, false, c[1], o), false],
  cvtss2siq: [(r) => [intLike32(r)], (c, o) => cvtf2si(false, 0, c[2], 64, false, c[1], o), true],
  cvttss2sil: [(r) => [intLike32(r)], (c, o) => cvtf2si(false, 0, c[2], 32, true, c[1], o), false],
  cvttss2siq: [(r) => [intLike32(r)], (c, o) => cvtf2si(false, 0, c[2], 64, true, c[1], o), true],
  cvtsd2sil: [(r) => intLike64(r), (c, o) => cvtf2si(true, c[2], c[3], 32, false, c[1], o), false],
  cvtsd2siq: [(r) => intLike64(r), (c, o) => cvtf2si(true, c[2], c[3], 64, false, c[1], o), true],
  cvttsd2sil: [(r) => intLike64(r), (c, o) => cvtf2si(true, c[2], c[3], 32, true, c[1], o), false],
  cvttsd2siq: [(r) => intLike64(r), (c, o) => cvtf2si(true, c[2], c[3], 64, true, c[1], o), true],
};

describe.skipIf(REFEREE_MISSING !== null)(`SSE conversions agree with the host CPU${SKIP_NOTE}`, () => {
  for (const [op, [gen, conv, resultWide]] of Object.entries(OPS)) {
    it(`${op}: result and MXCSR flags`, { timeout: 120_000 }, () => {
      const r = new Rng(0x5c0 + op.length * 17 + op.charCodeAt(op.length - 1) * 3 + op.charCodeAt(3));
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) cases.push([op, mxcsrValue(r), ...gen(r)]);
      const ref = runReferee(cases);
      const out = { hi: 0, lo: 0 };
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        const m = c[1];
        const flags = conv(c, out);
        const [rhi, rlo, rm, , faulted] = ref[i];
        const fault = (flags & ~mxcsrMasks(m) & 0x3f) !== 0;
        const resOk = resultWide ? out.hi === rhi && out.lo === rlo : out.lo === rlo;
        if (fault !== (faulted === 1) || (m | flags) >>> 0 !== rm || (!fault && !resOk))
          failures.push(
            `${op} mxcsr=${h(m)} ${c.slice(2).map(h)}: cpu ${h(rhi)}:${h(rlo)} mxcsr=${h(rm)} xm=${faulted}, ours ${h(out.hi)}:${h(out.lo)} mxcsr=${h(m | flags)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});
