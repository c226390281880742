/**
 * Packed SSE arithmetic (ADDPS/ADDPD … MAXPS/MAXPD): the scalar operation per element, the
 * flags of all elements ORed into one result (MXCSR records the exceptions of every element),
 * and the destination written only if none of them is unmasked — an unmasked exception in any
 * element takes #XM before anything is stored.
 *
 * Operands are 128-bit values as four little-endian 32-bit words at dst[dOff..] and
 * src[sOff..] (e.g. Uint32Array views of the XMM register file); the result replaces dst.
 * Words go to sseArith as int32 (`| 0`), which V8 passes without boxing.
 */
import { FE_PRECOMPUTATION } from './exceptions.js';
import { mxcsrMasks } from './mxcsr.js';
import { SseOut, sseArith } from './sse-float.js';

const R = new Uint32Array(4);
const O = new SseOut();

export function ssePacked(
  op: number,
  wide: boolean,
  dst: Uint32Array | Int32Array,
  dOff: number,
  src: Uint32Array | Int32Array,
  sOff: number,
  mxcsr: number,
): number {
  let flags = 0;
  if (wide) {
    for (let i = 0; i < 4; i += 2) {
      flags |= sseArith(
        op,
        true,
        dst[dOff + i + 1] | 0,
        dst[dOff + i] | 0,
        src[sOff + i + 1] | 0,
        src[sOff + i] | 0,
        mxcsr,
        O,
      );
      R[i] = O.lo;
      R[i + 1] = O.hi;
    }
  } else {
    for (let i = 0; i < 4; i++) {
      flags |= sseArith(op, false, 0, dst[dOff + i] | 0, 0, src[sOff + i] | 0, mxcsr, O);
      R[i] = O.lo;
    }
  }
  const masks = mxcsrMasks(mxcsr);
  // Pre-computation exceptions (IE, DE, ZE) of all elements are checked first: if one is
  // unmasked the instruction faults with only those recorded, the post-computation flags of
  // the other elements never appear (SDM Vol. 1 11.5.2, measured on the CPU).
  const pre = flags & FE_PRECOMPUTATION;
  if (pre & ~masks) return pre;
  if (!(flags & ~masks & 0x3f)) {
    dst[dOff] = R[0];
    dst[dOff + 1] = R[1];
    dst[dOff + 2] = R[2];
    dst[dOff + 3] = R[3];
  }
  return flags;
}
