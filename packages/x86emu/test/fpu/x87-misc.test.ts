/**
 * FPREM, FPREM1, FRNDINT, FSCALE, FXTRACT, FBLD and FBSTP against the host CPU
 * (fpu-referee.c): register results, flags, C1 and (for FPREM) the quotient bits.
 */
import { describe, expect, it } from 'vitest';
import { BCD, fbld, fbstp } from '../../src/fpu/bcd.js';
import { fldConstant } from '../../src/fpu/constants.js';
import { FE_PRECOMPUTATION } from '../../src/fpu/exceptions.js';
import { Ext80, hex80 } from '../../src/fpu/float80.js';
import { fprem80 } from '../../src/fpu/fprem.js';
import { frndint80 } from '../../src/fpu/frndint.js';
import { fscale80 } from '../../src/fpu/fscale.js';
import { fxtract80 } from '../../src/fpu/fxtract.js';
import { controlWord, ext80, Rng, word } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);
const FLAGS_C1 = 0x023f;

function smallInt(r: Rng): number[] {
  const e = 16383 + r.below(20) - 3;
  return [(r.below(2) << 15) | e, (0x80000000 | word(r)) >>> 0, word(r)];
}

function run(
  op: string,
  gen: (r: Rng) => number[],
  compute: (c: Case, st0: Ext80, st1: Ext80) => number,
  swMask: (sw: number) => number,
): string[] {
  const r = new Rng(0xa11 + op.length * 101 + op.charCodeAt(2) * 7);
  const cases: Case[] = [];
  for (let i = 0; i < N; i++) cases.push([op, controlWord(r), ...gen(r)]);
  const ref = runReferee(cases);
  const st0 = new Ext80();
  const st1 = new Ext80();
  const failures: string[] = [];
  for (let i = 0; i < N; i++) {
    const c = cases[i];
    st0.set(c[2], c[3], c[4]);
    st1.set(c[5] ?? 0, c[6] ?? 0, c[7] ?? 0);
    const flags = compute(c, st0, st1);
    const rr = ref[i];
    const m = swMask(rr[9]);
    const stopped = (flags & FE_PRECOMPUTATION & ~c[1]) !== 0;
    const regsOk =
      stopped ||
      (st0.signExp === rr[0] &&
        st0.hi === rr[1] &&
        st0.lo === rr[2] &&
        st1.signExp === rr[3] &&
        st1.hi === rr[4] &&
        st1.lo === rr[5]);
    if (!regsOk || (flags & m) !== (rr[9] & m))
      failures.push(
        `${op} cw=${h(c[1])} ${c.slice(2).map(h)}: cpu ${h(rr[0])}:${h(rr[1])}:${h(rr[2])} ${h(rr[3])}:${h(rr[4])}:${h(rr[5])} sw=${h(rr[9] & m)}, ours ${hex80(st0)} ${hex80(st1)} sw=${h(flags & m)}`,
      );
  }
  return failures;
}

describe.skipIf(REFEREE_MISSING !== null)(
  `x87 FPREM, FRNDINT, FSCALE, FXTRACT, BCD agree with the host CPU${SKIP_NOTE}`,
  () => {
    for (const ieee of [false, true]) {
      const op = ieee ? 'fprem1' : 'fprem';
      it(`${op}: remainder, flags, C2 and the quotient bits`, { timeout: 120_000 }, () => {
        const out = new Ext80();
        const failures = run(
          op,
          (r) => {
            const a = ext80(r);
            const k = r.below(3);
            const b =
              k === 0
                ? ext80(r, (a[0] & 0x7fff) - r.below(70))
                : k === 1
                  ? ext80(r, a[0] & 0x7fff)
                  : ext80(r);
            return [...a, ...b];
          },
          (c, st0, st1) => {
            const f = fprem80(st0, st1, out, c[1], ieee);
            st0.copy(out);
            return f;
          },
          // C0, C3, C1 are undefined after a partial reduction (C2 = 1).
          (sw) => (sw & 0x400 ? 0x63f : 0x473f),
        );
        expect(failures.slice(0, 20)).toEqual([]);
      });
    }

    it('frndint: result, flags and C1', { timeout: 120_000 }, () => {
      const out = new Ext80();
      const failures = run(
        'frndint',
        (r) => (r.below(2) ? smallInt(r) : ext80(r)),
        (c, st0) => {
          const f = frndint80(st0, out, c[1]);
          if (!(f & FE_PRECOMPUTATION & ~c[1])) st0.copy(out);
          return f;
        },
        () => FLAGS_C1,
      );
      expect(failures.slice(0, 20)).toEqual([]);
    });

    it('fscale: result, flags and C1', { timeout: 120_000 }, () => {
      const out = new Ext80();
      const failures = run(
        'fscale',
        (r) => {
          const a = ext80(r);
          const b = r.below(3) ? smallInt(r) : ext80(r);
          if (r.below(2)) b[0] = (b[0] & 0x8000) | (16383 + r.below(16));
          return [...a, ...b];
        },
        (c, st0, st1) => {
          const f = fscale80(st0, st1, out, c[1]);
          if (!(f & FE_PRECOMPUTATION & ~c[1])) st0.copy(out);
          return f;
        },
        () => FLAGS_C1,
      );
      expect(failures.slice(0, 20)).toEqual([]);
    });

    it('fxtract: significand in ST0, exponent in ST1, flags', { timeout: 120_000 }, () => {
      const e = new Ext80();
      const s = new Ext80();
      const failures = run(
        'fxtract',
        (r) => [...ext80(r), 0, 0, 0],
        (c, st0, st1) => {
          const f = fxtract80(st0, e, s, c[1]);
          // Stopped by an unmasked exception: nothing is written (registers not compared).
          if (!(f & FE_PRECOMPUTATION & ~c[1])) {
            st0.copy(s);
            st1.copy(e);
          }
          return f;
        },
        () => FLAGS_C1,
      );
      expect(failures.slice(0, 20)).toEqual([]);
    });

    it('FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ: each constant under each rounding mode', {
      timeout: 120_000,
    }, () => {
      const ops = ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'];
      const cases: Case[] = [];
      for (const op of ops)
        for (let rc = 0; rc < 4; rc++)
          for (const pc of [0, 2, 3]) cases.push([op, (0x37f & ~0x300) | (pc << 8) | (rc << 10)]);
      const ref = runReferee(cases);
      const out = new Ext80();
      const failures: string[] = [];
      cases.forEach(([op, cw], i) => {
        fldConstant(ops.indexOf(op), (cw >>> 10) & 3, out);
        const rr = ref[i];
        if (out.signExp !== rr[0] || out.hi !== rr[1] || out.lo !== rr[2] || (rr[9] & 0x23f) !== 0)
          failures.push(
            `${op} cw=${h(cw)}: cpu ${h(rr[0])}:${h(rr[1])}:${h(rr[2])} sw=${h(rr[9])} ours ${hex80(out)}`,
          );
      });
      expect(failures).toEqual([]);
    });

    it('fbld: every 18-digit value loads exactly', { timeout: 120_000 }, () => {
      const r = new Rng(0xbcd);
      const cases: Case[] = [];
      const digits = (n: number) => {
        let v = 0;
        for (let i = 0; i < n; i++) v = (v * 16 + r.below(10)) >>> 0;
        return v;
      };
      for (let i = 0; i < N; i++) {
        const top = (r.below(2) << 15) | (r.below(3) ? digits(2) : 0);
        cases.push(['fbld', 0x37f, top, digits(8), r.below(8) ? digits(8) : 0]);
      }
      const ref = runReferee(cases);
      const out = new Ext80();
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const [, , top, mid, low] = cases[i];
        fbld(top, mid, low, out);
        const rr = ref[i];
        if (out.signExp !== rr[0] || out.hi !== rr[1] || out.lo !== rr[2])
          failures.push(
            `fbld ${h(top)} ${h(mid)} ${h(low)}: cpu ${h(rr[0])}:${h(rr[1])}:${h(rr[2])} ours ${hex80(out)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });

    it('fbstp: digits, BCD indefinite, flags and C1', { timeout: 120_000 }, () => {
      const r = new Rng(0xbcd5);
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) {
        const a = ext80(r);
        if (r.below(3)) a[0] = (a[0] & 0x8000) | (16383 + r.below(62));
        if (r.below(8) === 0) a[0] = (a[0] & 0x8000) | (16383 + 59); // around 10^18
        cases.push(['fbstp', controlWord(r), ...a, 0, 0, 0]);
      }
      const ref = runReferee(cases);
      const a = new Ext80();
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        a.set(c[2], c[3], c[4]);
        BCD.top = 0xdead;
        BCD.mid = 0xdeadbeef;
        BCD.low = 0xdeadbeef;
        const f = fbstp(a, c[1]);
        const rr = ref[i];
        const stored = !(f & 0x1f & ~c[1]);
        const memOk = stored
          ? BCD.top === (rr[6] & 0xffff) && BCD.mid === rr[7] && BCD.low === rr[8]
          : rr[7] === 0xdeadbeef && rr[8] === 0xdeadbeef;
        if (!memOk || (f & FLAGS_C1) !== (rr[9] & FLAGS_C1))
          failures.push(
            `fbstp cw=${h(c[1])} ${c.slice(2, 5).map(h)}: cpu ${h(rr[6] & 0xffff)} ${h(rr[7])} ${h(rr[8])} sw=${h(rr[9] & FLAGS_C1)}, ours ${stored ? `${h(BCD.top)} ${h(BCD.mid)} ${h(BCD.low)}` : 'no store'} sw=${h(f & FLAGS_C1)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  },
);
