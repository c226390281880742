/**
 * ADD, OR, AND, SUB, XOR, CMP (and ADC, SBB) with 64-bit operands in every operand form — register
 * and memory destinations, register and memory sources, imm32 and imm8 sign-extended, RAX, imm32 —
 * against a BigInt reference: the result and CF, PF, AF, ZF, SF, OF. Each form has its own
 * specialised handler (exec/long/alu64-fast.ts), so each is run.
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
function reference(op: string, a: bigint, b: bigint, cin: boolean): { r: bigint; flags: number } {
  const sign = (v: bigint) => (v >> 63n) & 1n;
  let r: bigint;
  let cf = false;
  let of = false;
  let af = false;
  const c = cin ? 1n : 0n;
  if (op === 'add' || op === 'adc') {
    const full = a + b + (op === 'adc' ? c : 0n);
    r = full & M64;
    cf = full > M64;
    of = sign(a) === sign(b) && sign(r) !== sign(a);
    af = ((a ^ b ^ r) & 0x10n) !== 0n;
  } else if (op === 'sub' || op === 'cmp' || op === 'sbb') {
    const sub = b + (op === 'sbb' ? c : 0n);
    r = (a - sub) & M64;
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
const FORMS: Form[] = [
  { name: 'Ev,Gv register', source: (op) => `${op} rcx, rbx`, imms: [0], mem: false },
  { name: 'Gv,Ev register', source: (op) => `{load} ${op} rcx, rbx`, imms: [0], mem: false },
  { name: 'Gv,Ev memory', source: (op) => `${op} rcx, [rsi]`, imms: [0], mem: true },
  { name: 'Ev,Gv memory', source: (op) => `${op} [rsi], rbx`, imms: [0], mem: true },
  {
    name: 'Ev,Iz register',
    source: (op, imm) => `${op} rcx, ${imm}`,
    imms: [0x7fffffff, -0x80000000, -0x12345678, 0x10000],
    mem: false,
  },
  {
    name: 'Ev,IbS register',
    source: (op, imm) => `${op} rcx, ${imm}`,
    imms: [0x7f, -0x80, -1, 0],
    mem: false,
  },
  {
    name: 'Ev,Iz memory',
    source: (op, imm) => `${op} qword ptr [rsi], ${imm}`,
    imms: [0x7fffffff, -0x80000000],
    mem: true,
  },
  {
    name: 'eAX,Iz',
    source: (op, imm) => `${op} rax, ${imm}`,
    imms: [0x7fffffff, -0x80000000, -1],
    mem: false,
  },
];

const FLAG_MASK = 0x8d5;

describe('64-bit ALU operations in every operand form', () => {
  for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'])
    it(`${op.toUpperCase()} r/m64 gives the BigInt result and flags in every form`, () => {
      const wrong: string[] = [];
      const logic = op === 'or' || op === 'and' || op === 'xor';
      for (const form of FORMS)
        for (const imm of form.imms) {
          const m = longMode(`${form.source(op, imm)}\nhlt`, { captureExceptions: true });
          const s = m.cpu.state;
          const dstReg = form.name === 'eAX,Iz' ? Reg.RAX : Reg.RCX;
          const immForm = form.name.includes('I');
          const sources = immForm ? [sext32(imm)] : EDGES;
          for (const a of EDGES)
            for (const b of sources)
              for (const cin of op === 'adc' || op === 'sbb' ? [false, true] : [false]) {
                s.rip[0] = 0x10000;
                s.rip[1] = 0;
                s.halted = false;
                s.rflags[0] = 2 | (cin ? 1 : 0);
                s.gpr[Reg.RSI] = DATA;
                s.gprHigh[Reg.RSI] = 0;
                const put = (r: number, v: bigint) => {
                  s.gpr[r] = Number(v & 0xffffffffn);
                  s.gprHigh[r] = Number(v >> 32n);
                };
                const memDst = form.mem && form.name.startsWith('Ev');
                if (memDst) write64(m, DATA, a);
                else put(dstReg, a);
                if (form.mem && !memDst) write64(m, DATA, b);
                else put(Reg.RBX, b);
                m.cpu.stateChanged();
                m.cpu.run(2);
                const want = reference(op, a, b, cin);
                const got = memDst
                  ? (BigInt(m.mem.read32(DATA + 4)) << 32n) | BigInt(m.mem.read32(DATA))
                  : r64(m, dstReg);
                const mask = logic ? FLAG_MASK & ~0x10 : FLAG_MASK;
                const flags = s.rflags[0] & mask;
                if (got !== want.r || flags !== (want.flags & mask) || m.exceptions.length > 0)
                  wrong.push(
                    `${form.name} ${a.toString(16)}, ${b.toString(16)} cin ${cin}: ${got.toString(16)} flags ${flags.toString(16)}, want ${want.r.toString(16)} ${(want.flags & mask).toString(16)}`,
                  );
              }
        }
      expect(wrong).toEqual([]);
    });
});
