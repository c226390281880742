/**
 * RDRAND and RDSEED (0F C7 /6, /7): the operand sizes, the flags, the generator's failure (CF = 0),
 * the #UD forms (F2/F3, LOCK, memory operands), CPUID's bits, VMX-style exiting, and a seeded
 * generator that makes a run reproducible with the block compiler on as off.
 */
import { describe, expect, it } from 'vitest';
import {
  CPUID1_ECX,
  CPUID7_EBX,
  defaultCpuid,
  defaultRandom,
  Flag,
  hostRandom,
  InterceptKind,
  type RandomOps,
  StopReason,
  seededRandom,
} from '../src/index.js';
import { longMode, r64 } from './long.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

const STATUS = Flag.OF | Flag.SF | Flag.ZF | Flag.AF | Flag.PF | Flag.CF;

/** The first `n` words of `seed`'s sequence. */
function words(seed: number, n: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => r.random32());
}

describe('RDRAND and RDSEED', () => {
  it('32-bit code: r32 and r16 from the generator, CF = 1 and OF/SF/ZF/AF/PF cleared', () => {
    // All six status flags set first (0xFF in AH through SAHF sets SF ZF AF PF CF; OF by 0x7F + 1).
    const m = protectedMode(`
      mov al, 0x7f
      add al, 1
      mov ah, 0xff
      sahf
      mov ecx, 0x12345678
      rdrand eax
      rdrand cx
      pushfd
      pop ebx
      rdseed edx
      hlt
    `);
    m.cpu.random = seededRandom(7);
    runTo(m);
    const w = words(7, 3);
    const g = m.cpu.state.gpr;
    expect(g[0]).toBe(w[0]);
    expect(g[1]).toBe((0x12340000 | (w[1] & 0xffff)) >>> 0);
    expect(g[2]).toBe(w[2]);
    expect(g[3] & STATUS).toBe(Flag.CF);
    expect(m.cpu.getFlags() & STATUS).toBe(Flag.CF);
  });

  it('64-bit code: REX.W takes 64 bits (two words, low first), a 32-bit destination zero-extends, REX.B reaches R8–R15', () => {
    const m = longMode(`
      mov r9, -1
      mov r10, -1
      rdrand rax
      rdseed r9d
      rdrand r10w
      rdseed r15
      hlt
    `);
    m.cpu.random = seededRandom(99);
    runTo(m);
    const w = words(99, 6).map(BigInt);
    expect(r64(m, 0)).toBe((w[1] << 32n) | w[0]);
    expect(r64(m, 9)).toBe(w[2]);
    expect(r64(m, 10)).toBe(0xffffffffffff0000n | (w[3] & 0xffffn));
    expect(r64(m, 15)).toBe((w[5] << 32n) | w[4]);
    expect(m.cpu.getFlags() & STATUS).toBe(Flag.CF);
  });

  it('a generator with nothing to give: the destination 0 and CF = 0, the other flags cleared too', () => {
    const m = longMode(`
      mov rax, -1
      stc
      rdrand rax
      hlt
    `);
    const empty: RandomOps = { random32: () => -1 };
    m.cpu.random = empty;
    runTo(m);
    expect(r64(m, 0)).toBe(0n);
    expect(m.cpu.getFlags() & STATUS).toBe(0);
  });

  it('#UD with F2 or F3 (F3 0F C7 /7 is RDPID, which x86emu lacks), with LOCK, and for the memory forms', () => {
    for (const bytes of [
      [0xf3, 0x0f, 0xc7, 0xf8], // RDPID rax on a CPU that has it
      [0xf2, 0x0f, 0xc7, 0xf0],
      [0xf3, 0x0f, 0xc7, 0xf0],
      [0xf0, 0x0f, 0xc7, 0xf0],
      [0x0f, 0xc7, 0x30], // /6 with a memory operand: VMPTRLD
      [0x0f, 0xc7, 0x38], // /7 with a memory operand: VMPTRST
    ]) {
      const m = longMode(`mov rax, 0x100000\n.byte ${bytes.join(', ')}\nhlt`, {
        captureExceptions: true,
      });
      m.cpu.random = seededRandom(1);
      expect(m.cpu.run(100)).toBe(StopReason.Exception);
      expect(m.exceptions.map((e) => e.vector)).toEqual([6]);
    }
  });

  it('CPUID reports both: leaf 1 ECX bit 30 (RDRAND), leaf 7.0 EBX bit 18 (RDSEED)', () => {
    const out = new Uint32Array(4);
    defaultCpuid.cpuid(1, 0, out);
    expect((out[2] >>> 30) & 1).toBe(1);
    expect(CPUID1_ECX & (1 << 30)).not.toBe(0);
    defaultCpuid.cpuid(7, 0, out);
    expect([out[0], out[1], out[2]]).toEqual([0, CPUID7_EBX, 0]);
    expect((out[1] >>> 18) & 1).toBe(1);
    defaultCpuid.cpuid(7, 1, out);
    expect(out[1]).toBe(0);
  });

  it('an intercept (VMX RDRAND/RDSEED exiting) stops before the instruction with its register and size', () => {
    const seen: { kind: number; gpr: number; size: number }[] = [];
    const m = longMode(
      `
      mov r11, 5
      rdrand eax
      rdseed r11w
      hlt
    `,
      {},
      {
        mask: (1 << InterceptKind.Rdrand) | (1 << InterceptKind.Rdseed),
        instruction: (kind, x) => {
          seen.push({ kind, gpr: x.gpr, size: x.operandSize });
          return kind === InterceptKind.Rdseed;
        },
      },
    );
    m.cpu.random = seededRandom(3);
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(seen).toEqual([
      { kind: InterceptKind.Rdrand, gpr: 0, size: 4 },
      { kind: InterceptKind.Rdseed, gpr: 11, size: 2 },
    ]);
    // RIP at the RDSEED (REX, 0F C7 /7: 5 bytes with 66h), R11 untouched, its length reported.
    expect(r64(m, 11)).toBe(5n);
    expect(m.cpu.exit.instructionLength).toBe(5);
    expect(m.cpu.state.gpr[0]).toBe(words(3, 1)[0]);
  });

  it('a seeded generator repeats; the host generator does not give one value eight times (Linux tests that at boot)', () => {
    expect(words(42, 8)).toEqual(words(42, 8));
    expect(words(42, 8)).not.toEqual(words(43, 8));
    const h = hostRandom();
    const v = Array.from({ length: 8 }, () => h.random32());
    expect(new Set(v).size).toBeGreaterThan(1);
    for (const x of v) expect(x >>> 0).toBe(x);
    const prev = process.env.X86EMU_RANDOM_SEED;
    process.env.X86EMU_RANDOM_SEED = '42';
    try {
      const d = defaultRandom();
      expect(Array.from({ length: 8 }, () => d.random32())).toEqual(words(42, 8));
    } finally {
      if (prev === undefined) delete process.env.X86EMU_RANDOM_SEED;
      else process.env.X86EMU_RANDOM_SEED = prev;
    }
  });

  it('inside a hot loop the block compiler leaves it to the interpreter: the same values with the compiler on as off', () => {
    const src = `
      xor ebx, ebx
      mov ecx, 3000
    1:
      rdrand eax
      add ebx, eax
      rol ebx, 3
      dec ecx
      jnz 1b
      hlt
    `;
    const sums = [false, true].map((jit) => {
      const m = protectedMode(src);
      if (!jit) m.cpu.jit = null;
      m.cpu.random = seededRandom(5);
      runTo(m);
      return m.cpu.state.gpr[3];
    });
    let sum = 0;
    for (const w of words(5, 3000)) {
      sum = (sum + w) >>> 0;
      sum = ((sum << 3) | (sum >>> 29)) >>> 0;
    }
    expect(sums).toEqual([sum, sum]);
  });
});
