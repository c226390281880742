/**
 * MOV, INC/DEC and IMUL with 32-bit operands in 64-bit mode (their own handlers,
 * exec/long/move32-long.ts and alu32-long.ts): a register result zero-extends into bits 63:32
 * (SDM Vol. 1 3.4.1.1), a memory result leaves bytes 7:4 alone, INC/DEC keep CF, IMUL's CF = OF
 * say whether the signed product fits.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { longMode, r64 } from './long.js';
import type { Machine } from './machine.js';

const DATA = 0x200000;

function run(source: string, setup: (m: Machine) => void): Machine {
  const m = longMode(`${source}\nhlt`, { captureExceptions: true });
  const s = m.cpu.state;
  for (let r = 0; r < 16; r++) s.gprHigh[r] = 0xdeadbeef;
  s.gpr[Reg.RSI] = DATA;
  s.gprHigh[Reg.RSI] = 0;
  setup(m);
  m.cpu.stateChanged();
  m.cpu.run(10);
  expect(m.exceptions).toEqual([]);
  return m;
}
const qword = (m: Machine, pa: number) => (BigInt(m.mem.read32(pa + 4)) << 32n) | BigInt(m.mem.read32(pa));

describe('MOV with 32-bit operands in 64-bit mode', () => {
  it('zero-extends a register destination in every form and keeps bytes 7:4 of a memory one', () => {
    const m = run(
      'mov ecx, ebx\nmov edx, [rsi]\nmov edi, 0x89abcdef\nmov r9d, 0x80000000\nmov [rsi+8], ebx\nmov dword ptr [rsi+16], -2\n.byte 0xc7, 0xc5\n.long 0xfedcba98',
      (m) => {
        m.cpu.state.gpr[Reg.RBX] = 0x12345678;
        m.mem.write32(DATA, 0xcafef00d);
        m.mem.write32(DATA + 4, 0x11111111);
        m.mem.write32(DATA + 12, 0x22222222);
        m.mem.write32(DATA + 20, 0x33333333);
      },
    );
    expect(r64(m, Reg.RCX)).toBe(0x12345678n);
    expect(r64(m, Reg.RDX)).toBe(0xcafef00dn);
    expect(r64(m, Reg.RDI)).toBe(0x89abcdefn);
    expect(r64(m, 9)).toBe(0x80000000n);
    expect(r64(m, Reg.RBP)).toBe(0xfedcba98n); // C7 /0 with a register destination
    expect(qword(m, DATA + 8)).toBe(0x2222222212345678n);
    expect(qword(m, DATA + 16)).toBe(0x33333333fffffffen);
  });
});

describe('INC/DEC r/m32 in 64-bit mode (FF /0, /1)', () => {
  const cases: [string, number, number, boolean, number][] = [
    // instruction, value, result, CF before, flags expected (CF PF AF ZF SF OF)
    ['inc ecx', 0x7fffffff, 0x80000000, true, 0x1 | 0x4 | 0x10 | 0x80 | 0x800],
    ['inc ecx', 0xffffffff, 0, false, 0x4 | 0x10 | 0x40],
    ['dec ecx', 0x80000000, 0x7fffffff, true, 0x1 | 0x4 | 0x10 | 0x800],
    ['dec ecx', 1, 0, false, 0x4 | 0x40],
    ['dec ecx', 0, 0xffffffff, false, 0x4 | 0x10 | 0x80],
  ];
  for (const [insn, v, r, cf, flags] of cases)
    it(`${insn} of ${v.toString(16)} gives ${r.toString(16)}, clears bits 63:32, keeps CF = ${cf}`, () => {
      const m = run(insn, (m) => {
        m.cpu.state.gpr[Reg.RCX] = v;
        m.cpu.state.rflags[0] = 2 | (cf ? 1 : 0);
      });
      expect(r64(m, Reg.RCX)).toBe(BigInt(r));
      expect(m.cpu.state.rflags[0] & 0x8d5).toBe(flags);
    });
  it('a memory operand changes only its dword', () => {
    const m = run('inc dword ptr [rsi]\ndec dword ptr [rsi+8]', (m) => {
      m.mem.write32(DATA, 0xffffffff);
      m.mem.write32(DATA + 4, 0x44444444);
      m.mem.write32(DATA + 8, 0);
      m.mem.write32(DATA + 12, 0x55555555);
    });
    expect(qword(m, DATA)).toBe(0x4444444400000000n);
    expect(qword(m, DATA + 8)).toBe(0x55555555ffffffffn);
  });
});

describe('IMUL r32 in 64-bit mode (0F AF, 69, 6B)', () => {
  const EDGES = [0, 1, -1, 2, 33, 0x7fffffff, -0x80000000, 0x10000, 0xb505, -0xb505, 46341, 0x12345678, -7];
  const flagsOf = (low: number, of: boolean) => {
    let pf = 4;
    for (let k = 0; k < 8; k++) if ((low >> k) & 1) pf ^= 4;
    return (of ? 0x801 : 0) | pf | (low === 0 ? 0x40 : 0) | (low < 0 ? 0x80 : 0);
  };
  it('gives the low dword, zero-extended, and CF = OF = SF/ZF/PF of the BigInt product', () => {
    const wrong: string[] = [];
    for (const [source, imm] of [
      ['imul ecx, ebx', null],
      ['imul ecx, [rsi]', null],
      ['imul ecx, ebx, 0x7fffffff', 0x7fffffff],
      ['imul ecx, ebx, -0x80000000', -0x80000000],
      ['imul ecx, ebx, 33', 33],
      ['imul ecx, ebx, -128', -128],
    ] as const)
      for (const a of EDGES)
        for (const b of imm === null ? EDGES : [imm]) {
          const m = run(source, (m) => {
            const s = m.cpu.state;
            s.gpr[Reg.RCX] = a;
            s.gpr[Reg.RBX] = source.includes('[rsi]') ? 0 : imm === null ? b : a;
            if (source.includes('[rsi]')) m.mem.write32(DATA, b);
          });
          const p = BigInt(a) * BigInt(b);
          const low = Number(BigInt.asIntN(32, p));
          const want = BigInt(low >>> 0);
          const flags = m.cpu.state.rflags[0] & 0x8c5;
          if (r64(m, Reg.RCX) !== want || flags !== flagsOf(low, BigInt(low) !== p))
            wrong.push(`${source} ${a}×${b}: ${r64(m, Reg.RCX).toString(16)} flags ${flags.toString(16)}`);
        }
    expect(wrong).toEqual([]);
    // About 400 machines of 16 MiB each: near 5 s on a loaded 2-core machine.
  }, 30_000);
});
