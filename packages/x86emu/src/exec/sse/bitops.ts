/** POPCNT (F3 0F B8) and CRC32 (F2 0F 38 F0/F1): integer instructions of the SSE4.2 generation. */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';

function pop32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** POPCNT r, r/m (16/32/64): the count of set bits; ZF = source is 0, CF/OF/SF/AF/PF cleared (SDM POPCNT). */
export const POPCNT: Handler = (cpu, i) => {
  let lo: number;
  let hi = 0;
  const size = i.opSize;
  if (i.mod === 3) {
    lo = cpu.state.gpr[i.rm];
    if (size === 8) hi = cpu.state.gprHigh[i.rm];
  } else if (size === 8) {
    cpu.read64(i.memSeg, cpu.ea(i));
    lo = cpu.lo64;
    hi = cpu.hi64;
  } else lo = cpu.read(i.memSeg, cpu.ea(i), size);
  if (size === 2) lo &= 0xffff;
  const n = pop32(lo) + pop32(hi);
  if (size === 8) {
    cpu.state.gpr[i.reg] = n;
    cpu.state.gprHigh[i.reg] = 0;
  } else cpu.setReg(i.reg, size, 0, n);
  cpu.setFlags(n === 0 ? Flag.ZF : 0, 0x8d5);
};

/** CRC-32C (Castagnoli, reflected polynomial 82F63B78H: SDM CRC32) one byte at a time, by table. */
const CRC_TABLE = new Uint32Array(256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_TABLE[b] = c;
}
function crcBytes(crc: number, v: number, n: number): number {
  let c = crc;
  for (let k = 0; k < n; k++) c = CRC_TABLE[(c ^ (v >>> (8 * k))) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/**
 * CRC32 r32/r64, r/m8/16/32/64: accumulates the source bytes (little-endian) into the low 32 bits
 * of the destination; a 64-bit destination gets the result zero-extended. Flags are unchanged.
 */
export function makeCrc32(row: OpcodeRow): Handler {
  const byte = row.operands.endsWith('Eb');
  return (cpu, i) => {
    const s = cpu.state;
    const size = byte ? 1 : i.opSize;
    let c = s.gpr[i.reg];
    if (size === 8) {
      let lo: number;
      let hi: number;
      if (i.mod === 3) {
        lo = s.gpr[i.rm];
        hi = s.gprHigh[i.rm];
      } else {
        cpu.read64(i.memSeg, cpu.ea(i));
        lo = cpu.lo64;
        hi = cpu.hi64;
      }
      c = crcBytes(crcBytes(c, lo, 4), hi, 4);
    } else {
      const v = i.mod === 3 ? cpu.getReg(i.rm, size, i.rex) : cpu.read(i.memSeg, cpu.ea(i), size);
      c = crcBytes(c, v, size);
    }
    s.gpr[i.reg] = c;
    s.gprHigh[i.reg] = 0;
  };
}
