/**
 * Results pinned to values the SDM or the host CPU fixes, without the referee (so they run on
 * any host): the x87 and SSE default NaNs, rounding of 1/3 under each precision control,
 * tininess after rounding, stack faults, the integer and BCD indefinites, and the FPREM step.
 */
import { describe, expect, it } from 'vitest';
import { BCD, fbstp } from '../../src/fpu/bcd.js';
import { fist } from '../../src/fpu/convert.js';
import { FE_DENORMAL, FE_INEXACT, FE_INVALID, FE_UNDERFLOW, SW_C1, SW_C2 } from '../../src/fpu/exceptions.js';
import { Ext80, hex80 } from '../../src/fpu/float80.js';
import { fprem80, premN } from '../../src/fpu/fprem.js';
import { SSE_ADD, SSE_MUL, SseOut, sseArith } from '../../src/fpu/sse-float.js';
import { SW_SF, stackFault } from '../../src/fpu/stack-fault.js';
import { fadd80, fdiv80, fmul80 } from '../../src/fpu/x87-arith.js';

const ONE = new Ext80(0x3fff, 0x80000000, 0);
const THREE = new Ext80(0x4000, 0xc0000000, 0);
const INF = new Ext80(0x7fff, 0x80000000, 0);
const ZERO = new Ext80(0, 0, 0);

describe('x87 results pinned to the SDM and the CPU', () => {
  it('1/3 rounds at 64, 53 and 24 bits by precision control, C1 on round-up', () => {
    const out = new Ext80();
    expect(fdiv80(ONE, THREE, out, 0x37f)).toBe(FE_INEXACT | SW_C1);
    expect(hex80(out)).toBe('3ffd:aaaaaaaa:aaaaaaab');
    expect(fdiv80(ONE, THREE, out, 0x27f)).toBe(FE_INEXACT);
    expect(hex80(out)).toBe('3ffd:aaaaaaaa:aaaaa800');
    expect(fdiv80(ONE, THREE, out, 0x07f)).toBe(FE_INEXACT | SW_C1);
    expect(hex80(out)).toBe('3ffd:aaaaab00:00000000');
  });

  it('0 × ∞ is the real indefinite (masked IE); unmasked, the destination is untouched', () => {
    const out = new Ext80(0x1234, 5, 6);
    expect(fmul80(ZERO, INF, out, 0x37e)).toBe(FE_INVALID);
    expect(hex80(out)).toBe('1234:00000005:00000006');
    expect(fmul80(ZERO, INF, out, 0x37f)).toBe(FE_INVALID);
    expect(hex80(out)).toBe('ffff:c0000000:00000000');
  });

  it('tininess is detected after rounding: a value that rounds up to 2^-16382 is not UE', () => {
    // Two denormals whose exact sum is the smallest normal.
    const a = new Ext80(0, 0x7fffffff, 0xffffffff);
    const b = new Ext80(0, 0, 1);
    const out = new Ext80();
    expect(fadd80(a, b, out, 0x37f)).toBe(FE_DENORMAL);
    expect(hex80(out)).toBe('1:80000000:00000000');
    // At 24 bits the same denormal rounds up to the smallest normal: inexact, not tiny.
    expect(fadd80(a, ZERO, out, 0x07f)).toBe(FE_DENORMAL | FE_INEXACT | SW_C1);
    expect(hex80(out)).toBe('1:80000000:00000000');
  });

  it('stack underflow and overflow: IE with SF, C1 = overflow, the indefinite when masked', () => {
    const out = new Ext80();
    expect(stackFault(false, 0x37f, out)).toBe(FE_INVALID | SW_SF);
    expect(hex80(out)).toBe('ffff:c0000000:00000000');
    expect(stackFault(true, 0x37f, null)).toBe(FE_INVALID | SW_SF | SW_C1);
  });

  it('FIST of ∞ or out of range stores the integer indefinite; FBSTP the BCD indefinite', () => {
    const o = { hi: 0, lo: 0 };
    expect(fist(INF, 0x37f, 16, false, o)).toBe(FE_INVALID);
    expect(o.lo).toBe(0x8000);
    expect(fist(new Ext80(0x4000 + 62, 0x80000000, 0), 0x37f, 64, false, o)).toBe(FE_INVALID); // 2^63
    expect([o.hi, o.lo]).toEqual([0x80000000, 0]);
    expect(fist(new Ext80(0xc000 + 62, 0x80000000, 0), 0x37f, 64, false, o)).toBe(0); // −2^63 fits
    expect([o.hi, o.lo]).toEqual([0x80000000, 0]);
    expect(fbstp(INF, 0x37f)).toBe(FE_INVALID);
    expect([BCD.top, BCD.mid, BCD.low]).toEqual([0xffff, 0xc0000000, 0]);
  });

  it('FPREM reduces a large exponent difference in steps of 32 + D mod 32 (C2 = 1)', () => {
    expect(premN(64)).toBe(32);
    expect(premN(95)).toBe(63);
    const a = new Ext80(0x3fff + 100, 0x80000000, 1);
    const out = new Ext80();
    const f = fprem80(a, ONE, out, 0x37f, false);
    expect(f & SW_C2).toBe(SW_C2);
    expect(out.signExp).toBeLessThanOrEqual(0x3fff + 100 - premN(100));
  });
});

describe('SSE results pinned to the SDM', () => {
  it('the default QNaN has the sign set: 0 × ∞ = FFC00000 / FFF8000000000000', () => {
    const o = new SseOut();
    expect(sseArith(SSE_MUL, false, 0, 0, 0, 0x7f800000, 0x1f80, o)).toBe(FE_INVALID);
    expect(o.lo).toBe(0xffc00000);
    expect(sseArith(SSE_MUL, true, 0x7ff00000, 0, 0, 0, 0x1f80, o)).toBe(FE_INVALID);
    expect([o.hi, o.lo]).toEqual([0xfff80000, 0]);
  });

  it('the first operand NaN wins (SDM Table 4-7), quieted', () => {
    const o = new SseOut();
    expect(sseArith(SSE_ADD, false, 0, 0x7f800001, 0, 0x7fc00002, 0x1f80, o)).toBe(FE_INVALID);
    expect(o.lo).toBe(0x7fc00001);
  });

  it('FTZ flushes a tiny result to zero with UE and PE', () => {
    const o = new SseOut();
    // 2^-126 × 0.5 is tiny and exact: masked UE needs inexactness, but FTZ still flushes.
    const f = sseArith(SSE_MUL, false, 0, 0x00800000, 0, 0x3f000000, 0x9f80, o);
    expect(o.lo).toBe(0);
    expect(f).toBe(FE_UNDERFLOW | FE_INEXACT);
  });
});
