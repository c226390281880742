/**
 * IMUL r64, r/m64 against a BigInt reference over edge operands: the low 64 bits and CF = OF
 * (the signed product does not fit), around the 2^63 boundary where the fast path defers to the
 * exact 128-bit product.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { longMode, r64 } from './long.js';

const M64 = (1n << 64n) - 1n;
const signed = (v: bigint): bigint => (v & (1n << 63n) ? v - (1n << 64n) : v);

const EDGES: bigint[] = [
  0n,
  1n,
  2n,
  3n,
  M64,
  M64 - 1n,
  (1n << 31n) - 1n,
  1n << 31n,
  1n << 32n,
  (1n << 32n) - 1n,
  (1n << 62n) - 1n,
  1n << 62n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 63n) + 1n,
  0xb504f333f9de6484n, // ≈ -2^62.5 as signed: squares land near the boundary
  0x5a827999fcef3242n, // ≈ 2^62.5
  0x5a827999fcef3243n,
  3037000499n, // ⌊√(2^63)⌋
  3037000500n,
  0xffffffff00000001n,
  0x123456789abcdef1n,
];

describe('IMUL r64, r/m64 (0F AF)', () => {
  it('gives the low 64 bits and CF = OF = "does not fit" for every pair of edge operands', () => {
    const m = longMode('imul rax, rbx; hlt', { captureExceptions: true });
    const s = m.cpu.state;
    const wrong: string[] = [];
    for (const a of EDGES)
      for (const b of EDGES) {
        s.rip[0] = 0x10000;
        s.gpr[Reg.RAX] = Number(a & 0xffffffffn);
        s.gprHigh[Reg.RAX] = Number(a >> 32n);
        s.gpr[Reg.RBX] = Number(b & 0xffffffffn);
        s.gprHigh[Reg.RBX] = Number(b >> 32n);
        s.halted = false;
        m.cpu.run(2);
        const p = signed(a) * signed(b);
        const low = p & M64;
        const of = p !== signed(low);
        const got = r64(m, Reg.RAX);
        const flags = s.rflags[0];
        if (got !== low || ((flags & 1) !== 0) !== of || ((flags & 0x800) !== 0) !== of)
          wrong.push(`${a.toString(16)} × ${b.toString(16)}: ${got.toString(16)} cf/of ${flags & 0x801}`);
      }
    expect(wrong).toEqual([]);
  });
});
