/**
 * FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (SDM Vol. 2 FLD1/FLDL2T/…, Vol. 1 8.3.8):
 * the CPU holds the irrational constants to more than 64 bits and rounds them to 64 by RC
 * (not PC), without raising PE. The table gives each round-to-nearest value and whether that
 * rounding went up, which is all the other modes need (the constants are positive).
 */
import type { Ext80 } from './float80.js';
import { RC_NEAREST, RC_UP } from './round.js';

export const FLD_1 = 0;
export const FLD_L2T = 1;
export const FLD_L2E = 2;
export const FLD_PI = 3;
export const FLD_LG2 = 4;
export const FLD_LN2 = 5;
export const FLD_Z = 6;

// [signExp, hi, lo rounded to nearest, 1 if that rounding went up (−1 ulp toward zero)]
const TABLE: readonly (readonly [number, number, number, number])[] = [
  [0x3fff, 0x80000000, 0x00000000, 0], // 1 (exact)
  [0x4000, 0xd49a784b, 0xcd1b8afe, 0], // log2(10) = D49A784B CD1B8AFE 49…
  [0x3fff, 0xb8aa3b29, 0x5c17f0bc, 1], // log2(e)  = B8AA3B29 5C17F0BB BE…
  [0x4000, 0xc90fdaa2, 0x2168c235, 1], // π        = C90FDAA2 2168C234 C4…
  [0x3ffd, 0x9a209a84, 0xfbcff799, 1], // log10(2) = 9A209A84 FBCFF798 8F…
  [0x3ffe, 0xb17217f7, 0xd1cf79ac, 1], // ln(2)    = B17217F7 D1CF79AB C9…
  [0x0000, 0x00000000, 0x00000000, 0], // +0
];

/** Writes constant `k` (FLD_*) rounded by `rc`. No exceptions. */
export function fldConstant(k: number, rc: number, out: Ext80): void {
  const [se, hi, lo, roundedUp] = TABLE[k];
  let l = lo;
  if (k !== FLD_1 && k !== FLD_Z && rc !== RC_NEAREST) {
    // Down and toward zero take the lower neighbour, up the upper one.
    if (rc === RC_UP) l = roundedUp ? lo : lo + 1;
    else l = roundedUp ? lo - 1 : lo;
  }
  out.signExp = se;
  out.hi = hi;
  out.lo = l >>> 0;
}
