/**
 * x87 conversions against the host CPU (fpu-referee.c): FLD m32/m64, FILD m16/m32/m64 (the
 * loaded register and flags), FST m32/m64, FIST m16/m32/m64 and FISTTP (the stored bits, or
 * nothing when an unmasked exception stops the store, and flags with C1).
 */
import { describe, expect, it } from 'vitest';
import { fild, fist, fld32, fld64, fstFloat } from '../../src/fpu/convert.js';
import { Ext80, hex80 } from '../../src/fpu/float80.js';
import { controlWord, ext80, f32, f64, Rng, word } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const SW_COMPARED = 0x023f;
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);

/** An integer-ish 80-bit value: exponents around the 16/32/64-bit limits and halfway fractions. */
function intLike(r: Rng): number[] {
  if (r.below(4) === 0) return ext80(r);
  const e = 16383 + r.pick([-2, -1, 0, 1, 2, 14, 15, 16, 30, 31, 32, 62, 63, 64, r.below(70)]);
  const hi = (0x80000000 | word(r)) >>> 0;
  return [(r.below(2) << 15) | e, hi, word(r)];
}

describe.skipIf(REFEREE_MISSING !== null)(`x87 loads agree with the host CPU${SKIP_NOTE}`, () => {
  for (const op of ['flds', 'fldl', 'filds', 'fildl', 'fildll']) {
    it(`${op}: register and flags`, { timeout: 120_000 }, () => {
      const r = new Rng(0x10ad + op.length * 3 + op.charCodeAt(3));
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) {
        const cw = controlWord(r);
        if (op === 'flds') cases.push([op, cw, f32(r)]);
        else if (op === 'fldl') cases.push([op, cw, ...f64(r)]);
        else cases.push([op, cw, word(r), word(r)]);
      }
      const ref = runReferee(cases);
      const out = new Ext80();
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        const cw = c[1];
        out.set(0, 0, 0);
        let flags = 0;
        if (op === 'flds') flags = fld32(c[2], out, cw);
        else if (op === 'fldl') flags = fld64(c[2], c[3], out, cw);
        else fild(c[3], c[2], op === 'filds' ? 16 : op === 'fildl' ? 32 : 64, out);
        const rr = ref[i];
        // An unmasked exception: nothing is pushed (ST0 reads as empty: zeros after FNSAVE).
        const faulted = (flags & ~cw & 0x3f) !== 0;
        const okReg = faulted || (out.signExp === rr[0] && out.hi === rr[1] && out.lo === rr[2]);
        if (!okReg || (flags & SW_COMPARED) !== (rr[9] & SW_COMPARED))
          failures.push(
            `${op} cw=${h(cw)} ${c.slice(2).map(h)}: cpu ${h(rr[0])}:${h(rr[1])}:${h(rr[2])} sw=${h(rr[9] & SW_COMPARED)}, ours ${hex80(out)} sw=${h(flags & SW_COMPARED)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});

describe.skipIf(REFEREE_MISSING !== null)(`x87 stores agree with the host CPU${SKIP_NOTE}`, () => {
  const STORES: Record<string, [bits: number, kind: 'float' | 'int' | 'trunc']> = {
    fsts: [32, 'float'],
    fstl: [64, 'float'],
    fists: [16, 'int'],
    fistl: [32, 'int'],
    fistll: [64, 'int'],
    fisttps: [16, 'trunc'],
    fisttpl: [32, 'trunc'],
    fisttpll: [64, 'trunc'],
  };
  for (const [op, [bits, kind]] of Object.entries(STORES)) {
    it(`${op}: stored bits, flags and C1`, { timeout: 120_000 }, () => {
      const r = new Rng(0x570e + op.length * 5 + op.charCodeAt(op.length - 1));
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) {
        const a = kind === 'float' ? ext80(r) : intLike(r);
        if (kind === 'float' && r.below(3) === 0) {
          // Around the narrow format's range ends.
          const lim =
            bits === 32
              ? [16383 - 150, 16383 - 126, 16383 + 127]
              : [16383 - 1075, 16383 - 1022, 16383 + 1023];
          a[0] = (a[0] & 0x8000) | (r.pick(lim) + r.below(5) - 2);
          a[1] |= 0x80000000;
        }
        cases.push([op, controlWord(r), ...a, 0, 0, 0]);
      }
      const ref = runReferee(cases);
      const a = new Ext80();
      const out = { hi: 0xdeadbeef, lo: 0xdeadbeef };
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        const cw = c[1];
        a.set(c[2], c[3], c[4]);
        out.hi = 0xdeadbeef;
        out.lo = 0xdeadbeef;
        const flags =
          kind === 'float' ? fstFloat(a, cw, bits === 64, out) : fist(a, cw, bits, kind === 'trunc', out);
        const rr = ref[i];
        // Unmasked IE/OE/UE stop the store; an unmasked PE does not (SDM 8.5.6).
        const faulted = (flags & ~cw & 0x1f) !== 0;
        const memHi = rr[7];
        const memLo = bits === 16 ? rr[8] & 0xffff : rr[8];
        let ok: boolean;
        if (faulted) ok = rr[8] === 0xdeadbeef && rr[7] === 0xdeadbeef;
        else if (bits === 64) ok = out.hi === memHi && out.lo === memLo;
        else ok = out.lo === memLo;
        if (!ok || (flags & SW_COMPARED) !== (rr[9] & SW_COMPARED))
          failures.push(
            `${op} cw=${h(cw)} ${c.slice(2, 5).map(h)}: cpu ${h(memHi)}:${h(memLo)} sw=${h(rr[9] & SW_COMPARED)}, ours ${faulted ? 'no store' : `${h(out.hi)}:${h(out.lo)}`} sw=${h(flags & SW_COMPARED)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});
