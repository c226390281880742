/**
 * The xz format's x86 BCJ filter (filter ID 0x04), decoder side. Linux compresses its x86
 * kernel with it ahead of LZMA2 (scripts/xz_wrap.sh: `--x86 --lzma2=…`): the encoder turned the
 * 32-bit relative targets of CALL (E8) and JMP (E9) into absolute ones, which repeat and so
 * compress better; decoding turns them back. The algorithm is the one in Linux's
 * lib/xz/xz_dec_bcj.c (bcj_x86) and liblzma's simple/x86.c, applied to the whole buffer at once
 * as a single-call decoder does: the last four bytes can hold no complete instruction and are
 * left as they are.
 */

/** Whether `b` can be the high byte of a converted displacement (within ±16 MiB). */
function testMsByte(b: number): boolean {
  return b === 0x00 || b === 0xff;
}

const MASK_TO_ALLOWED_STATUS = [true, true, true, false, true, false, false, false];
const MASK_TO_BIT_NUM = [0, 1, 2, 2, 3, 3, 3, 3];

/**
 * Decodes `buf` in place. `startOffset` is the filter's start offset property (the position of
 * `buf[0]` in the uncompressed stream the encoder saw; 0 unless the block header says otherwise).
 */
export function bcjX86Decode(buf: Uint8Array, startOffset = 0): void {
  if (buf.length <= 4) return;
  const limit = buf.length - 4;
  let prevPos = -1;
  let prevMask = 0;
  for (let i = 0; i < limit; i++) {
    if ((buf[i]! & 0xfe) !== 0xe8) continue;
    const distance = i - prevPos;
    if (distance > 3) {
      prevMask = 0;
    } else {
      prevMask = (prevMask << (distance - 1)) & 7;
      if (prevMask !== 0) {
        const b = buf[i + 4 - MASK_TO_BIT_NUM[prevMask]!]!;
        if (!MASK_TO_ALLOWED_STATUS[prevMask] || testMsByte(b)) {
          prevPos = i;
          prevMask = (prevMask << 1) | 1;
          continue;
        }
      }
    }
    prevPos = i;
    if (testMsByte(buf[i + 4]!)) {
      let src = (buf[i + 1]! | (buf[i + 2]! << 8) | (buf[i + 3]! << 16) | (buf[i + 4]! << 24)) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (startOffset + i + 5)) >>> 0;
        if (prevMask === 0) break;
        const j = MASK_TO_BIT_NUM[prevMask]! * 8;
        if (!testMsByte((dest >>> (24 - j)) & 0xff)) break;
        src = (dest ^ (2 ** (32 - j) - 1)) >>> 0;
      }
      // Sign-extend bit 24 into the high byte: the displacement is within ±16 MiB.
      dest &= 0x01ffffff;
      dest = (dest | (0 - (dest & 0x01000000))) >>> 0;
      buf[i + 1] = dest & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 4] = dest >>> 24;
      i += 4;
    } else {
      prevMask = (prevMask << 1) | 1;
    }
  }
}
