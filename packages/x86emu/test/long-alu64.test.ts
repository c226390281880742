/**
 * ADD, OR, AND, SUB, XOR, CMP (and ADC, SBB) in 64-bit mode with 64-bit and 32-bit operands, in every operand form — register
 * and memory destinations, register and memory sources, imm32 and imm8 sign-extended, RAX, imm32 —
 * against a BigInt reference: the result and CF, PF, AF, ZF, SF, OF. Each form has its own
 * specialised handler (exec/long/alu64-fast.ts, alu32-long.ts), so each is run; a 32-bit register
 * result must clear bits 63:32.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { longMode, r64 } from './long.js';
import type { Machine } from './machine.js';

const M64 = (1n << 64n) - 1n;
const DATA = 0x200000;

const EDGES: bigint[] = [
  0n,
  1n,
  M64,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffn,
  0x100000000n,
  0x80000000n,
  0xfffffffff0000000n,
  0x123456789abcdef0n,
  0x0fn,
];

/** Reference: result and the arithmetic flags (CF 0, PF 2, AF 4, ZF 6, SF 7, OF 11). */
function reference(op: string, a: bigint, b: bigint, cin: boolean, bits = 64n): { r: bigint; flags: number } {
  const top = (1n << bits) - 1n;
  const sign = (v: bigint) => (v >> (bits - 1n)) & 1n;
  let r: bigint;
  let cf = false;
  let of = false;
  let af = false;
  const c = cin ? 1n : 0n;
  if (op === 'add' || op === 'adc') {
    const full = a + b + (op === 'adc' ? c : 0n);
    r = full & top;
    cf = full > top;
    of = sign(a) === sign(b) && sign(r) !== sign(a);
    af = ((a ^ b ^ r) & 0x10n) !== 0n;
  } else if (op === 'sub' || op === 'cmp' || op === 'sbb') {
    const sub = b + (op === 'sbb' ? c : 0n);
    r = (a - sub) & top;
    cf = a < sub;
    of = sign(a) !== sign(b) && sign(r) !== sign(a);
    af = ((a ^ b ^ r) & 0x10n) !== 0n;
  } else r = op === 'or' ? a | b : op === 'and' ? a & b : a ^ b;
  let pf = true;
  for (let k = 0n; k < 8n; k++) if ((r >> k) & 1n) pf = !pf;
  const flags =
    (cf ? 1 : 0) |
    (pf ? 4 : 0) |
    (af ? 0x10 : 0) |
    (r === 0n ? 0x40 : 0) |
    (sign(r) ? 0x80 : 0) |
    (of ? 0x800 : 0);
  return { r: op === 'cmp' ? a : r, flags };
}

function write64(m: Machine, pa: number, v: bigint): void {
  m.mem.write32(pa, Number(v & 0xffffffffn));
  m.mem.write32(pa + 4, Number(v >> 32n));
}

const sext32 = (v: number) => BigInt.asUintN(64, BigInt(v | 0));

type Form = { name: string; source: (op: string, imm: number) => string; imms: number[]; mem: boolean };
/** The operand forms at width `bits` (64: REX.W; 32: the default operand size of 64-bit mode). */
function forms(bits: 32 | 64): Form[] {
  const [a, b, c, ptr] = bits === 64 ? ['rax', 'rbx', 'rcx', 'qword'] : ['eax', 'ebx', 'ecx', 'dword'];
  return [
    { name: 'Ev,Gv register', source: (op) => `${op} ${c}, ${b}`, imms: [0], mem: false },
    { name: 'Gv,Ev register', source: (op) => `{load} ${op} ${c}, ${b}`, imms: [0], mem: false },
    { name: 'Gv,Ev memory', source: (op) => `${op} ${c}, [rsi]`, imms: [0], mem: true },
    { name: 'Ev,Gv memory', source: (op) => `${op} [rsi], ${b}`, imms: [0], mem: true },
    {
      name: 'Ev,Iz register',
      source: (op, imm) => `${op} ${c}, ${imm}`,
      imms: [0x7fffffff, -0x80000000, -0x12345678, 0x10000],
      mem: false,
    },
    {
      name: 'Ev,IbS register',
      source: (op, imm) => `${op} ${c}, ${imm}`,
      imms: [0x7f, -0x80, -1, 0],
      mem: false,
    },
    {
      name: 'Ev,Iz memory',
      source: (op, imm) => `${op} ${ptr} ptr [rsi], ${imm}`,
      imms: [0x7fffffff, -0x80000000],
      mem: true,
    },
    {
      name: 'eAX,Iz',
      source: (op, imm) => `${op} ${a}, ${imm}`,
      imms: [0x7fffffff, -0x80000000, -1],
      mem: false,
    },
  ];
}

const FLAG_MASK = 0x8d5;
/** Bits 63:32 a 32-bit operation finds in its destination register: it must clear them (unless CMP). */
const STALE_HIGH = 0xdeadbeef;

/** Runs `op` in every form at width `bits` over the edge operands; returns the mismatches. */
function mismatches(op: string, bits: 32 | 64): string[] {
  const wrong: string[] = [];
  const logic = op === 'or' || op === 'and' || op === 'xor';
  const width = BigInt(bits);
  const low = (v: bigint) => v & ((1n << width) - 1n);
  for (const form of forms(bits))
    for (const imm of form.imms) {
      const m = longMode(`${form.source(op, imm)}\nhlt`, { captureExceptions: true });
      const s = m.cpu.state;
      const dstReg = form.name === 'eAX,Iz' ? Reg.RAX : Reg.RCX;
      const immForm = form.name.includes('I');
      const sources = immForm ? [low(sext32(imm))] : EDGES.map(low);
      for (const a0 of EDGES)
        for (const b of sources)
          for (const cin of op === 'adc' || op === 'sbb' ? [false, true] : [false]) {
            const a = low(a0);
            s.rip[0] = 0x10000;
            s.rip[1] = 0;
            s.halted = false;
            s.rflags[0] = 2 | (cin ? 1 : 0);
            s.gpr[Reg.RSI] = DATA;
            s.gprHigh[Reg.RSI] = 0;
            const put = (r: number, v: bigint) => {
              s.gpr[r] = Number(v & 0xffffffffn);
              s.gprHigh[r] = bits === 64 ? Number(v >> 32n) : STALE_HIGH;
            };
            const memDst = form.mem && form.name.startsWith('Ev');
            if (memDst) write64(m, DATA, a | (bits === 32 ? BigInt(STALE_HIGH) << 32n : 0n));
            else put(dstReg, a);
            if (form.mem && !memDst) write64(m, DATA, b);
            else put(Reg.RBX, b);
            m.cpu.stateChanged();
            m.cpu.run(2);
            const want = reference(op, a, b, cin, width);
            // A 32-bit register result zero-extends (SDM Vol. 1 3.4.1.1); memory keeps bytes 7:4.
            const wantFull =
              bits === 64 ? want.r : memDst || op === 'cmp' ? want.r | (BigInt(STALE_HIGH) << 32n) : want.r;
            const got = memDst
              ? (BigInt(m.mem.read32(DATA + 4)) << 32n) | BigInt(m.mem.read32(DATA))
              : r64(m, dstReg);
            const mask = logic ? FLAG_MASK & ~0x10 : FLAG_MASK;
            const flags = s.rflags[0] & mask;
            if (got !== wantFull || flags !== (want.flags & mask) || m.exceptions.length > 0)
              wrong.push(
                `${form.name} ${a.toString(16)}, ${b.toString(16)} cin ${cin}: ${got.toString(16)} flags ${flags.toString(16)}, want ${wantFull.toString(16)} ${(want.flags & mask).toString(16)}`,
              );
          }
    }
  return wrong;
}

const OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

describe('64-bit ALU operations in every operand form', () => {
  for (const op of OPS)
    it(`${op.toUpperCase()} r/m64 gives the BigInt result and flags in every form`, () => {
      expect(mismatches(op, 64)).toEqual([]);
    });
});

describe('32-bit ALU operations in 64-bit mode in every operand form', () => {
  for (const op of OPS)
    it(`${op.toUpperCase()} r/m32 gives the BigInt result and flags, zero-extending a register result`, () => {
      expect(mismatches(op, 32)).toEqual([]);
    });
});
