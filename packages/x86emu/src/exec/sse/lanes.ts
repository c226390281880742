/**
 * Typed views ("lanes") over 16-byte SIMD operands, so that packed-integer operations index
 * plain typed arrays: the XMM register file (`state.xmm`, XMMn at byte 16n), and scratch
 * buffers for a memory source, an MMX operand and results that must not overwrite their own
 * sources (shuffles, packs, unpacks). Nothing is allocated per instruction: the XMM lanes are
 * re-pointed only when a different register file is used (another Cpu's state).
 */
import type { Cpu } from '../../cpu/cpu.js';

/** Views of one buffer at every element width; byte offsets are divided by the width. */
export class Lanes {
  u8: Uint8Array;
  i8: Int8Array;
  u16: Uint16Array;
  i16: Int16Array;
  u32: Uint32Array;
  i32: Int32Array;
  constructor(buf: ArrayBuffer, off = 0, len = 16) {
    this.u8 = new Uint8Array(buf, off, len);
    this.i8 = new Int8Array(buf, off, len);
    this.u16 = new Uint16Array(buf, off, len >> 1);
    this.i16 = new Int16Array(buf, off, len >> 1);
    this.u32 = new Uint32Array(buf, off, len >> 2);
    this.i32 = new Int32Array(buf, off, len >> 2);
  }
  rebind(buf: ArrayBuffer, off: number, len: number): void {
    this.u8 = new Uint8Array(buf, off, len);
    this.i8 = new Int8Array(buf, off, len);
    this.u16 = new Uint16Array(buf, off, len >> 1);
    this.i16 = new Int16Array(buf, off, len >> 1);
    this.u32 = new Uint32Array(buf, off, len >> 2);
    this.i32 = new Int32Array(buf, off, len >> 2);
  }
}

/** The XMM register file of the Cpu last seen by `xmmLanes`. */
export const XMM = new Lanes(new ArrayBuffer(256), 0, 256);
let xmmOf: Uint8Array | null = null;

/** `cpu.state.xmm` as lanes (XMMn at byte 16n). x86 and Node's hosts are little-endian. */
export function xmmLanes(cpu: Cpu): Lanes {
  const b = cpu.state.xmm;
  if (b !== xmmOf) {
    xmmOf = b;
    XMM.rebind(b.buffer as ArrayBuffer, b.byteOffset, 256);
  }
  return XMM;
}

/** A memory (or MMX) source operand, loaded at byte 0. */
export const SRC = new Lanes(new ArrayBuffer(16));
/** An MMX destination, loaded at byte 0 and stored back after the operation. */
export const MMD = new Lanes(new ArrayBuffer(16));
/** Results built apart from their sources, copied to the destination afterwards. */
export const TMP = new Lanes(new ArrayBuffer(16));
