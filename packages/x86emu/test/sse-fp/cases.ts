/**
 * Case generation and comparison for the instruction-level SSE tests: operands per element
 * type from the hard-case generators of test/fpu/gen.ts (zeros, denormals, infinities, NaNs with
 * payloads, exponents at the ends, long runs of ones for ties), MXCSR with every rounding mode,
 * DAZ, FTZ, random unmasked exceptions and sticky flags already set.
 */
import { f32, f64, mxcsrValue, Rng, word } from '../fpu/gen.js';
import { AMD_HOST } from '../host-vendor.js';
import { makeRunner } from './harness.js';
import { runSseReferee, type SseCase } from './referee.js';

/**
 * Element type of an operand: float32/float64 elements, int32 elements, a 64-bit integer, and
 * float64 elements at the edges of float32's range ('f64n32': overflow and underflow thresholds
 * of CVTSD2SS/CVTPD2PS).
 */
export type Ty = 'f32' | 'f64' | 'i32' | 'i64' | 'f64n32';

export interface Form {
  name: string;
  /** The encoding with ModRM; xmm1 is the destination, xmm2 (or RAX) the source. */
  bytes: number[];
  dst: Ty;
  src: Ty;
  /** imm8 appended to the bytes: a fixed list to pick from, or 256 for any. */
  imm?: number[] | 256;
  /** A fixed RAX (low, high) instead of a random one (an index register, say). */
  rax?: [number, number];
}

const MOD_XMM1_XMM2 = 0xca;

/** The four classic forms of an 0F opcode: PS, SS (F3), PD (66), SD (F2). */
export function fourForms(base: string, op: number, imm?: number[] | 256): Form[] {
  return [
    { name: `${base}PS`, bytes: [0x0f, op, MOD_XMM1_XMM2], dst: 'f32', src: 'f32', imm },
    { name: `${base}SS`, bytes: [0xf3, 0x0f, op, MOD_XMM1_XMM2], dst: 'f32', src: 'f32', imm },
    { name: `${base}PD`, bytes: [0x66, 0x0f, op, MOD_XMM1_XMM2], dst: 'f64', src: 'f64', imm },
    { name: `${base}SD`, bytes: [0xf2, 0x0f, op, MOD_XMM1_XMM2], dst: 'f64', src: 'f64', imm },
  ];
}

/** Exponents near the integer limits (2^31, 2^63) and the rounding of small values. */
function f32int(r: Rng): number {
  if (r.below(3)) return f32(r);
  const e = 127 + r.below(70) - 4;
  return ((r.below(2) << 31) | (e << 23) | (word(r) & 0x7fffff)) >>> 0;
}
function f64int(r: Rng): [number, number] {
  if (r.below(3)) return f64(r);
  const e = 1023 + r.below(70) - 4;
  return [((r.below(2) << 31) | (e << 20) | (word(r) & 0xfffff)) >>> 0, word(r)];
}

/** A float64 whose exponent is within a few of float32's largest, smallest normal or denormal. */
function f64near32(r: Rng): [number, number] {
  if (r.below(4) === 0) return f64(r);
  const e = 1023 + r.pick([127, 128, -126, -127, -149, -150]) + r.below(3) - 1;
  // Significand bits around float32's rounding point (bit 29 of the fraction), often all ones.
  const fhi = r.below(2) ? 0xfffff : word(r) & 0xfffff;
  const flo = r.below(3) ? (r.below(2) ? 0xe0000000 : 0xf0000000 | word(r)) : word(r);
  return [((r.below(2) << 31) | (e << 20) | fhi) >>> 0, flo >>> 0];
}

function fill(r: Rng, ty: Ty, near: number[] | null, forInt: boolean): number[] {
  const w = [0, 0, 0, 0];
  if (ty === 'f64n32') {
    for (let k = 0; k < 4; k += 2) {
      const v = f64near32(r);
      w[k] = v[1];
      w[k + 1] = v[0];
    }
    return w;
  }
  if (ty === 'f32') {
    for (let k = 0; k < 4; k++) w[k] = forInt ? f32int(r) : near && r.below(3) ? f32(r, near[k]) : f32(r);
  } else if (ty === 'f64') {
    for (let k = 0; k < 4; k += 2) {
      const v = forInt ? f64int(r) : near && r.below(3) ? f64(r, near[k + 1]) : f64(r);
      w[k] = v[1];
      w[k + 1] = v[0];
    }
  } else for (let k = 0; k < 4; k++) w[k] = r.below(4) ? word(r) : r.u32();
  return w;
}

export function makeCases(form: Form, n: number, r: Rng): SseCase[] {
  const out: SseCase[] = [];
  const intDst = form.dst === 'i32' || form.dst === 'i64';
  for (let c = 0; c < n; c++) {
    const x1 = fill(r, form.dst === 'i64' ? 'i32' : form.dst, null, false);
    const x2 = form.src === 'i64' ? [0, 0, 0, 0] : fill(r, form.src, x1, intDst);
    let mx = mxcsrValue(r);
    if (r.below(4) === 0) mx |= r.below(64); // sticky flags from before
    const bytes = [...form.bytes];
    if (form.imm === 256) bytes.push(r.below(256));
    else if (form.imm) bytes.push(r.pick(form.imm));
    const raxW = fill(r, 'i32', null, false);
    out.push({
      bytes,
      mxcsr: mx,
      x0: fill(r, r.below(2) ? 'f32' : 'i32', null, false),
      x1,
      x2,
      raxLo: form.rax ? form.rax[0] : raxW[0],
      raxHi: form.rax
        ? form.rax[1]
        : form.src === 'i64' && r.below(2)
          ? raxW[1] & 0x80000000
            ? 0xffffffff
            : 0
          : raxW[1],
    });
  }
  return out;
}

const h = (v: number): string => (v >>> 0).toString(16);

/**
 * Forms whose results x86emu takes from AMD's CPUs where Intel's differ (../host-vendor.ts):
 * RCP/RSQRT's approximation tables (compared on AMD hosts only), and DPPS/DPPD's choice of NaN
 * (an Intel CPU picks the propagated NaN per destination element, in its own order: their cases
 * with a NaN operand are compared on AMD hosts only).
 */
const AMD_RESULTS = /^(RCP|RSQRT)/;
const AMD_NANS = /^DPP/;

/** Whether one of the `ty` elements in the four words `w` (low word first) is a NaN. */
function hasNaN(ty: Ty, w: readonly number[]): boolean {
  if (ty === 'f32') return w.some((v) => (v & 0x7f800000) === 0x7f800000 && (v & 0x7fffff) !== 0);
  if (ty !== 'f64') return false;
  for (let k = 0; k < 4; k += 2)
    if ((w[k + 1] & 0x7ff00000) === 0x7ff00000 && ((w[k + 1] & 0xfffff) | w[k]) !== 0) return true;
  return false;
}

/**
 * Runs `n` cases of each form on the host CPU and on x86emu; returns the mismatches (at most
 * `limit`), each as the case and both outputs.
 */
export function compareForms(forms: Form[], n: number, seed: number, limit = 12): string[] {
  const r = new Rng(seed);
  const all: { form: Form; c: SseCase }[] = [];
  for (const form of forms)
    for (const c of makeCases(form, n, r)) {
      if (!AMD_HOST && AMD_RESULTS.test(form.name)) continue;
      if (!AMD_HOST && AMD_NANS.test(form.name) && (hasNaN(form.dst, c.x1) || hasNaN(form.src, c.x2)))
        continue;
      all.push({ form, c });
    }
  const ref = runSseReferee(all.map((a) => a.c));
  const run = makeRunner();
  const bad: string[] = [];
  for (let k = 0; k < all.length && bad.length < limit; k++) {
    const { form, c } = all[k];
    const got = run(form.name, c);
    if (got.some((v, j) => v >>> 0 !== ref[k][j] >>> 0)) {
      bad.push(
        `${form.name} ${c.bytes.map(h).join(' ')} mxcsr=${h(c.mxcsr)} x1=${c.x1.map(h)} x2=${c.x2.map(h)} x0=${c.x0.map(h)} rax=${h(c.raxHi)}:${h(c.raxLo)}\n  cpu    ${ref[k].map(h).join(' ')}\n  x86emu ${got.map(h).join(' ')}`,
      );
    }
  }
  return bad;
}
