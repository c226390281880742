/**
 * Comparisons against the host CPU (fpu-referee.c): x87 FCOM/FUCOM/FTST/FXAM condition codes
 * and flags, SSE CMPccSS/SD results and COMISS/UCOMISS EFLAGS and MXCSR.
 */
import { describe, expect, it } from 'vitest';
import { fcom80, ftst80, fxam80 } from '../../src/fpu/compare.js';
import { Ext80 } from '../../src/fpu/float80.js';
import { mxcsrMasks } from '../../src/fpu/mxcsr.js';
import { CMP, CMPPRED, comiEflags, sseCmpPredicate, sseCompare } from '../../src/fpu/sse-compare.js';
import { controlWord, ext80, f32, f64, mxcsrValue, Rng } from './gen.js';
import { type Case, REFEREE_MISSING, runReferee, SKIP_NOTE } from './referee.js';

const N = Number(process.env.FPU_CASES ?? 3000);
const SW_COMPARED = 0x473f; // flags, C0-C3
const h = (x: unknown): string => (Number(x) >>> 0).toString(16);

describe.skipIf(REFEREE_MISSING !== null)(`x87 comparisons agree with the host CPU${SKIP_NOTE}`, () => {
  for (const op of ['fcom', 'fucom', 'ftst', 'fxam']) {
    it(`${op}: condition codes and flags`, { timeout: 120_000 }, () => {
      const r = new Rng(0xc0c0 + op.length * 13 + op.charCodeAt(1));
      const cases: Case[] = [];
      for (let i = 0; i < N; i++) {
        const a = ext80(r);
        const b = r.below(4) === 0 ? [a[0] ^ (r.below(2) << 15), a[1], a[2]] : ext80(r, a[0] & 0x7fff);
        cases.push([op, controlWord(r), ...a, ...b]);
      }
      const ref = runReferee(cases);
      const a = new Ext80();
      const b = new Ext80();
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        a.set(c[2], c[3], c[4]);
        b.set(c[5], c[6], c[7]);
        const cw = c[1];
        const got =
          op === 'fxam' ? fxam80(a, false) : op === 'ftst' ? ftst80(a) : fcom80(a, b, op === 'fucom');
        const want = ref[i][9] & SW_COMPARED;
        // With an unmasked exception the CPU leaves C0-C3 as they were (zero after FNINIT).
        if ((got & SW_COMPARED) !== want)
          failures.push(
            `${op} cw=${h(cw)} ${c.slice(2).map(h)}: cpu ${h(want)} ours ${h(got & SW_COMPARED)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});

describe.skipIf(REFEREE_MISSING !== null)(`SSE comparisons agree with the host CPU${SKIP_NOTE}`, () => {
  for (const wide of [false, true]) {
    const sfx = wide ? 'sd' : 'ss';
    it(`cmp${sfx} (all eight predicates), comi${sfx}, ucomi${sfx}`, { timeout: 120_000 }, () => {
      const r = new Rng(wide ? 0xc3 : 0xc2);
      const cases: Case[] = [];
      const ops = ['comi', 'ucomi', ...Array.from({ length: 8 }, (_, i) => `cmp${sfx}${i}`)];
      for (let i = 0; i < N; i++) {
        const op = r.pick(ops);
        const name = op.startsWith('cmp') ? op : `${op}${sfx}`;
        const m = mxcsrValue(r);
        if (wide) {
          const a = f64(r);
          cases.push([name, m, ...a, ...(r.below(4) ? f64(r, a[0]) : a)]);
        } else {
          const a = f32(r);
          cases.push([name, m, a, r.below(4) ? f32(r, a) : a]);
        }
      }
      const ref = runReferee(cases);
      const failures: string[] = [];
      for (let i = 0; i < N; i++) {
        const c = cases[i];
        const [name, m] = c;
        const [ahi, alo, bhi, blo] = wide ? [c[2], c[3], c[4], c[5]] : [0, c[2], 0, c[3]];
        const [rhi, rlo, rm, rfl, faulted] = ref[i];
        let flags: number;
        let ok: boolean;
        if (name.startsWith('cmp')) {
          flags = sseCmpPredicate(Number(name.slice(5)), wide, ahi, alo, bhi, blo, m);
          const mask = CMPPRED.result ? 0xffffffff : 0;
          ok = wide ? rhi === mask && rlo === mask : rlo === mask;
        } else {
          flags = sseCompare(wide, ahi, alo, bhi, blo, m, name.startsWith('comi'));
          ok = rfl === comiEflags(CMP.relation);
        }
        const fault = (flags & ~mxcsrMasks(m) & 0x3f) !== 0;
        ok = fault === (faulted === 1) && (fault || ok) && (m | flags) >>> 0 === rm;
        if (!ok)
          failures.push(
            `${name} mxcsr=${h(m)} ${c.slice(2).map(h)}: cpu ${h(rhi)}:${h(rlo)} fl=${h(rfl)} mxcsr=${h(rm)} xm=${faulted}, ours rel=${CMP.relation} pred=${CMPPRED.result} mxcsr=${h(m | flags)}`,
          );
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }
});
