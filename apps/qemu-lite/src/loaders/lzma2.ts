/**
 * A raw LZMA2 decoder in TypeScript (no dependency, no `node:`), for where @napi-rs/lzma's
 * native decoder is not there: a browser bundle takes it through `#platform/lzma2`. Written from
 * the LZMA specification's reference decoder (LzmaSpec.cpp, lzma-specification.txt in the LZMA
 * SDK) and xz's LZMA2 chunk format (xz-embedded's xz_dec_lzma2.c). The whole output is the
 * dictionary, so a match may reach back to any byte since the last dictionary reset.
 *
 * LZMA2 chunks (control byte): 0x00 end; 0x01 uncompressed, dictionary reset; 0x02 uncompressed;
 * 0x80–0xFF LZMA, bits 5–6 what is reset (0 nothing, 1 state, 2 state + new properties, 3 all
 * with the dictionary), bits 0–4 bits 16–20 of the unpacked size − 1. Each LZMA chunk starts a new
 * range coder. Corrupt input is an `Lzma2Error` naming the chunk's offset.
 */

export class Lzma2Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Lzma2Error';
  }
}

const PROB_INIT = 1024; // kBitModelTotal / 2
const NUM_STATES = 12;
const POS_STATES_MAX = 16;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 128;
const ALIGN_BITS = 4;
const MATCH_MIN_LEN = 2;

// Offsets into one Uint16Array of probabilities.
const IS_MATCH = 0;
const IS_REP = IS_MATCH + NUM_STATES * POS_STATES_MAX;
const IS_REP_G0 = IS_REP + NUM_STATES;
const IS_REP_G1 = IS_REP_G0 + NUM_STATES;
const IS_REP_G2 = IS_REP_G1 + NUM_STATES;
const IS_REP0_LONG = IS_REP_G2 + NUM_STATES;
const POS_SLOT = IS_REP0_LONG + NUM_STATES * POS_STATES_MAX; // [4][64]
const SPEC_POS = POS_SLOT + 4 * 64; // 1 + FULL_DISTANCES - END_POS_MODEL_INDEX
const ALIGN = SPEC_POS + 1 + FULL_DISTANCES - END_POS_MODEL_INDEX;
// A length decoder: choice, choice2, low[16][8], mid[16][8], high[256].
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * 8;
const LEN_HIGH = LEN_MID + POS_STATES_MAX * 8;
const LEN_SIZE = LEN_HIGH + 256;
const LEN_DECODER = ALIGN + (1 << ALIGN_BITS);
const REP_LEN_DECODER = LEN_DECODER + LEN_SIZE;
const LITERAL = REP_LEN_DECODER + LEN_SIZE;

/** The sum of the unpacked sizes of the chunks, walking their headers only (no decoding). */
export function lzma2UnpackedSize(input: Uint8Array): number {
  let ip = 0;
  let total = 0;
  for (;;) {
    if (ip >= input.length) throw new Lzma2Error('the data ends before its end marker');
    const control = input[ip]!;
    if (control === 0) return total;
    if (control === 1 || control === 2) {
      total += ((input[ip + 1]! << 8) | input[ip + 2]!) + 1;
      ip += 3 + ((input[ip + 1]! << 8) | input[ip + 2]!) + 1;
    } else if (control >= 0x80) {
      total += ((control & 0x1f) << 16) + ((input[ip + 1]! << 8) | input[ip + 2]!) + 1;
      const packed = ((input[ip + 3]! << 8) | input[ip + 4]!) + 1;
      // Control, unpacked size (2), packed size (2), and the properties byte with a reset of 2 or 3.
      ip += (((control >> 5) & 3) >= 2 ? 6 : 5) + packed;
    } else {
      throw new Lzma2Error(`invalid control byte 0x${control.toString(16)} at offset ${ip}`);
    }
  }
}

/** Decodes a whole raw LZMA2 stream (up to and including its 0x00 end marker). */
export function decodeLzma2(input: Uint8Array, maxOutput = Number.POSITIVE_INFINITY): Uint8Array {
  const size = lzma2UnpackedSize(input);
  if (size > maxOutput) throw new Lzma2Error(`decodes to ${size} bytes, more than ${maxOutput}`);
  const out = new Uint8Array(size);
  const d = new Decoder(input, out);
  d.run();
  return out;
}

class Decoder {
  private readonly probs: Uint16Array;
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private propsSet = false;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Where the dictionary starts in `out` (its last reset). */
  private dictStart = 0;
  private pos = 0;
  private ip = 0;
  // The range decoder.
  private range = 0;
  private code = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly out: Uint8Array,
  ) {
    // Room for the largest literal coder LZMA2 allows (lc + lp ≤ 4).
    this.probs = new Uint16Array(LITERAL + 0x300 * 16);
  }

  run(): void {
    const input = this.input;
    let needDictReset = true;
    for (;;) {
      const at = this.ip;
      const control = input[this.ip++]!;
      if (control === 0) return;
      if (control === 1 || control === 2) {
        if (control === 1) {
          this.dictStart = this.pos;
          needDictReset = false;
        } else if (needDictReset) throw new Lzma2Error(`chunk at offset ${at}: no dictionary reset first`);
        const n = ((input[this.ip]! << 8) | input[this.ip + 1]!) + 1;
        this.ip += 2;
        if (this.ip + n > input.length) throw new Lzma2Error(`chunk at offset ${at}: truncated`);
        this.out.set(input.subarray(this.ip, this.ip + n), this.pos);
        this.ip += n;
        this.pos += n;
        continue;
      }
      const reset = (control >> 5) & 3;
      const unpacked = ((control & 0x1f) << 16) + ((input[this.ip]! << 8) | input[this.ip + 1]!) + 1;
      const packed = ((input[this.ip + 2]! << 8) | input[this.ip + 3]!) + 1;
      this.ip += 4;
      if (reset === 3) {
        this.dictStart = this.pos;
        needDictReset = false;
      } else if (needDictReset) throw new Lzma2Error(`chunk at offset ${at}: no dictionary reset first`);
      if (reset >= 2) {
        let props = input[this.ip++]!;
        if (props >= 9 * 5 * 5)
          throw new Lzma2Error(`chunk at offset ${at}: invalid properties byte ${props}`);
        this.lc = props % 9;
        props = (props / 9) | 0;
        this.lp = props % 5;
        this.pb = (props / 5) | 0;
        if (this.lc + this.lp > 4) throw new Lzma2Error(`chunk at offset ${at}: lc + lp > 4`);
        this.propsSet = true;
      } else if (!this.propsSet)
        throw new Lzma2Error(`chunk at offset ${at}: LZMA data before its properties`);
      if (reset >= 1) this.resetState();
      const dataStart = this.ip;
      if (dataStart + packed > input.length) throw new Lzma2Error(`chunk at offset ${at}: truncated`);
      this.initRangeDecoder(at);
      this.decodeChunk(this.pos + unpacked, dataStart + packed, at);
      if (this.ip > dataStart + packed)
        throw new Lzma2Error(`chunk at offset ${at}: the LZMA data runs past its ${packed} bytes`);
      this.ip = dataStart + packed;
    }
  }

  private resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  private initRangeDecoder(at: number): void {
    if (this.input[this.ip] !== 0)
      throw new Lzma2Error(`chunk at offset ${at}: range coder's first byte is not 0`);
    this.range = 0xffffffff;
    this.code =
      ((this.input[this.ip + 1]! << 24) |
        (this.input[this.ip + 2]! << 16) |
        (this.input[this.ip + 3]! << 8) |
        this.input[this.ip + 4]!) >>>
      0;
    this.ip += 5;
    if (this.code === this.range) throw new Lzma2Error(`chunk at offset ${at}: corrupt range coder start`);
  }

  private bit(i: number): number {
    const probs = this.probs;
    const p = probs[i]!;
    const bound = (this.range >>> 11) * p;
    let b: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      probs[i] = p - (p >>> 5);
      b = 1;
    }
    if (this.range < 0x1000000) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code << 8) | this.input[this.ip++]!) >>> 0;
    }
    return b;
  }

  private directBits(n: number): number {
    let result = 0;
    for (let i = 0; i < n; i++) {
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      result = result * 2 + b;
      if (this.range < 0x1000000) {
        this.range = (this.range * 256) >>> 0;
        this.code = ((this.code << 8) | this.input[this.ip++]!) >>> 0;
      }
    }
    return result;
  }

  private bitTree(base: number, numBits: number): number {
    let m = 1;
    for (let i = 0; i < numBits; i++) m = (m << 1) + this.bit(base + m);
    return m - (1 << numBits);
  }

  private reverseBitTree(base: number, numBits: number): number {
    let m = 1;
    let symbol = 0;
    for (let i = 0; i < numBits; i++) {
      const b = this.bit(base + m);
      m = (m << 1) + b;
      symbol |= b << i;
    }
    return symbol;
  }

  private length(base: number, posState: number): number {
    if (this.bit(base + LEN_CHOICE) === 0) return this.bitTree(base + LEN_LOW + posState * 8, 3);
    if (this.bit(base + LEN_CHOICE2) === 0) return 8 + this.bitTree(base + LEN_MID + posState * 8, 3);
    return 16 + this.bitTree(base + LEN_HIGH, 8);
  }

  private distance(len: number): number {
    const lenState = Math.min(len, 3);
    const posSlot = this.bitTree(POS_SLOT + lenState * 64, 6);
    if (posSlot < 4) return posSlot;
    const numDirectBits = (posSlot >>> 1) - 1;
    let dist = (2 + (posSlot & 1)) * 2 ** numDirectBits;
    if (posSlot < END_POS_MODEL_INDEX) {
      dist += this.reverseBitTree(SPEC_POS + dist - posSlot, numDirectBits);
    } else {
      dist += this.directBits(numDirectBits - ALIGN_BITS) * (1 << ALIGN_BITS);
      dist += this.reverseBitTree(ALIGN, ALIGN_BITS);
    }
    return dist;
  }

  private decodeChunk(end: number, inputEnd: number, at: number): void {
    const out = this.out;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    let state = this.state;
    while (this.pos < end) {
      if (this.ip > inputEnd) throw new Lzma2Error(`chunk at offset ${at}: the LZMA data runs past its end`);
      const dictPos = this.pos - this.dictStart;
      const posState = dictPos & pbMask;
      if (this.bit(IS_MATCH + (state << 4) + posState) === 0) {
        const prev = dictPos > 0 ? out[this.pos - 1]! : 0;
        const base = LITERAL + 0x300 * (((dictPos & lpMask) << lc) + (prev >>> (8 - lc)));
        let symbol = 1;
        if (state >= 7) {
          let matchByte = out[this.pos - this.rep0 - 1]!;
          do {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const b = this.bit(base + ((1 + matchBit) << 8) + symbol);
            symbol = (symbol << 1) | b;
            if (matchBit !== b) break;
          } while (symbol < 0x100);
        }
        while (symbol < 0x100) symbol = (symbol << 1) | this.bit(base + symbol);
        out[this.pos++] = symbol & 0xff;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(IS_REP + state) !== 0) {
        if (dictPos === 0)
          throw new Lzma2Error(`chunk at offset ${at}: a repeated match in an empty dictionary`);
        if (this.bit(IS_REP_G0 + state) === 0) {
          if (this.bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
            if (this.pos - this.rep0 - 1 < this.dictStart)
              throw new Lzma2Error(`chunk at offset ${at}: a short rep past the dictionary`);
            // A short rep: one byte from rep0.
            state = state < 7 ? 9 : 11;
            out[this.pos] = out[this.pos - this.rep0 - 1]!;
            this.pos++;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(IS_REP_G1 + state) === 0) {
            dist = this.rep1;
          } else {
            if (this.bit(IS_REP_G2 + state) === 0) {
              dist = this.rep2;
            } else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = this.length(REP_LEN_DECODER, posState);
        state = state < 7 ? 8 : 11;
      } else {
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        len = this.length(LEN_DECODER, posState);
        state = state < 7 ? 7 : 10;
        this.rep0 = this.distance(len);
        if (this.rep0 === 0xffffffff)
          throw new Lzma2Error(`chunk at offset ${at}: an end marker inside LZMA2`);
      }
      len += MATCH_MIN_LEN;
      const from = this.pos - this.rep0 - 1;
      if (from < this.dictStart)
        throw new Lzma2Error(
          `chunk at offset ${at}: a match ${this.rep0 + 1} bytes back, past the dictionary`,
        );
      if (this.pos + len > end) throw new Lzma2Error(`chunk at offset ${at}: a match runs past the chunk`);
      // Byte by byte: a match may overlap what it writes (distance < length).
      for (let i = 0; i < len; i++) out[this.pos + i] = out[from + i]!;
      this.pos += len;
    }
    this.state = state;
  }
}
