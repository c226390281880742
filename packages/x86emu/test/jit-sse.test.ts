/**
 * SSE in the block compiler: SIMD rows run inside blocks (their handlers, or inline:
 * src/jit/emit-sse.ts), with the interpreter's results at every budget stop — XMM registers,
 * MXCSR's flags, memory, the x87 tag word after MMX — and its exceptions where an inline form
 * leaves the case to it: #NM (CR0.TS), #UD (CR0.EM, CR4.OSFXSR clear, an unmasked SIMD
 * exception with CR4.OSXMMEXCPT clear), #GP for a misaligned aligned form, #XM, #PF in the
 * middle of a block; NaN, infinity, denormal, overflow and out-of-range conversion lanes.
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { SSE_INLINE_MNEMONICS } from '../src/jit/emit-sse.js';
import { Jit } from '../src/jit/jit.js';
import { mnemonicsNotInTable } from '../src/jit/rows.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
import { pagedProtectedMode, protectedMode } from './pm.js';

const BUDGETS = [1, 2, 5, 11, 23, 47, 97];
const DATA = 0x200000;

/** CR0.EM clear, CR0.MP set, CR4.OSFXSR and OSXMMEXCPT set (SDM Vol. 3 13.1.3). */
const ENABLE_SSE = `
  mov eax, cr0
  and eax, ~4
  or eax, 2
  mov cr0, eax
  mov eax, cr4
  or eax, 0x600
  mov cr4, eax
`;

/** 4 KiB of LCG words at DATA, and a table of lanes at DATA + 0x1800: plain, NaN, ∞, −0, denormal, huge, tiny. */
const INIT = `
  mov esi, ${DATA}
  mov ecx, 1024
  mov eax, 0x12345678
init:
  imul eax, eax, 1664525
  add eax, 1013904223
  mov [esi + ecx*4 - 4], eax
  dec ecx
  jnz init
  mov dword ptr [esi + 0x1800], 0x3fc00000
  mov dword ptr [esi + 0x1804], 0xc0100000
  mov dword ptr [esi + 0x1808], 0x40400000
  mov dword ptr [esi + 0x180c], 0x3dcccccd
  mov dword ptr [esi + 0x1810], 0x7fc00000
  mov dword ptr [esi + 0x1814], 0x7f800000
  mov dword ptr [esi + 0x1818], 0x80000000
  mov dword ptr [esi + 0x181c], 0x00000001
  mov dword ptr [esi + 0x1820], 0x7f000000
  mov dword ptr [esi + 0x1824], 0x00800000
  mov dword ptr [esi + 0x1828], 0x80000000
  mov dword ptr [esi + 0x182c], 0x3f800000
  mov dword ptr [esi + 0x1830], 0x3f800000
  mov dword ptr [esi + 0x1834], 0x40000000
  mov dword ptr [esi + 0x1838], 0xc0400000
  mov dword ptr [esi + 0x183c], 0x40800000
`;

/** Every inlined form (and MMX and others by their handlers) in a loop; `b`: base register of the data. */
const LOOP = (b: string, x: (n: number) => string) => `
  mov ecx, 400
top:
  mov eax, ecx
  and eax, 0x3f0
  add ebx, ecx
  movdqa ${x(0)}, [${b} + rax]
  movdqu ${x(1)}, [${b} + rax + 4]
  pxor ${x(0)}, ${x(1)}
  paddd ${x(1)}, ${x(0)}
  psubd ${x(2)}, ${x(1)}
  pand ${x(3)}, ${x(0)}
  por ${x(3)}, ${x(1)}
  pandn ${x(4)}, ${x(2)}
  pcmpeqb ${x(5)}, ${x(0)}
  pcmpeqd ${x(6)}, ${x(3)}
  pmuludq ${x(1)}, ${x(0)}
  paddq ${x(2)}, ${x(1)}
  psubq ${x(3)}, ${x(2)}
  pslld ${x(4)}, 5
  psrld ${x(4)}, 3
  psrad ${x(5)}, 7
  psllq ${x(6)}, 33
  psrlq ${x(6)}, 7
  psllq ${x(2)}, 64
  pslld ${x(3)}, 32
  psrad ${x(1)}, 40
  pshufd ${x(7)}, ${x(0)}, 0x1b
  pshufd ${x(6)}, [${b} + rax + 0x10], 0x93
  punpcklqdq ${x(7)}, ${x(1)}
  punpckhdq ${x(7)}, ${x(2)}
  unpcklps ${x(6)}, ${x(3)}
  pmovmskb edx, ${x(5)}
  add ebx, edx
  movd ${x(4)}, ebx
  movd edi, ${x(3)}
  add ebx, edi
  movd [${b} + rax + 0xe00], ${x(7)}
  movd ${x(2)}, [${b} + rax + 0xe04]
  paddd mm0, mm1
  psubd mm1, mm0
  emms
  movdqa ${x(0)}, [${b} + rax + 0x400]
  psrld ${x(0)}, 8
  cvtdq2ps ${x(1)}, ${x(0)}
  cvtdq2ps ${x(2)}, [${b} + rax]
  mulps ${x(1)}, ${x(2)}
  mov ebp, ecx
  and ebp, 3
  shl ebp, 4
  addps ${x(1)}, [${b} + rbp + 0x1800]
  subps ${x(2)}, ${x(1)}
  mulps ${x(0)}, [${b} + rbp + 0x1800]
  movaps [${b} + rax + 0x800], ${x(1)}
  cvttps2dq ${x(3)}, ${x(1)}
  cvttps2dq ${x(7)}, [${b} + rbp + 0x1800]
  cvtps2pd ${x(4)}, ${x(1)}
  cvtps2pd ${x(6)}, [${b} + rbp + 0x1808]
  cvtsi2sd ${x(5)}, ecx
  cvtsi2sd ${x(7)}, dword ptr [${b} + rax]
  mulpd ${x(4)}, ${x(5)}
  addpd ${x(4)}, ${x(5)}
  subpd ${x(6)}, ${x(4)}
  subsd ${x(5)}, ${x(4)}
  addss ${x(1)}, ${x(2)}
  mulss ${x(2)}, ${x(1)}
  subss ${x(0)}, ${x(2)}
  mulsd ${x(5)}, ${x(5)}
  addsd ${x(6)}, [${b} + rax + 0x808]
  cvttsd2si edx, ${x(4)}
  add ebx, edx
  cvttsd2si edx, ${x(5)}
  add ebx, edx
  cvttsd2si edx, [${b} + rbp + 0x1800]
  add ebx, edx
  divps ${x(1)}, [${b} + rbp + 0x1800]
  divpd ${x(4)}, ${x(6)}
  divss ${x(2)}, ${x(0)}
  divsd ${x(5)}, [${b} + rax + 0x810]
  movss ${x(0)}, [${b} + rax + 0x804]
  movss ${x(1)}, ${x(2)}
  movsd ${x(2)}, [${b} + rax + 0x808]
  movsd ${x(3)}, ${x(4)}
  movsd [${b} + rax + 0xd01], ${x(5)}
  movss [${b} + rax + 0xd09], ${x(6)}
  movq ${x(6)}, [${b} + rax + 0x818]
  movq ${x(7)}, ${x(5)}
  movq [${b} + rax + 0xd11], ${x(1)}
  movups [${b} + rax + 0xc03], ${x(4)}
  movapd ${x(6)}, ${x(4)}
  movupd ${x(7)}, [${b} + rax + 0xc03]
  xorps ${x(0)}, ${x(7)}
  andps ${x(1)}, ${x(0)}
  orpd ${x(2)}, ${x(1)}
  andnpd ${x(3)}, ${x(2)}
  movdqu [${b} + rax + 0xa01], ${x(3)}
  movdqa [${b} + rax + 0xa00 + 0x10], ${x(0)}
  dec ecx
  jnz top
  hlt
`;

/** `protectedMode` with 32-bit registers in place of `rax`/`rbp` (the loop is written once). */
const as32 = (src: string) => src.replaceAll('rax', 'eax').replaceAll('rbp', 'ebp');

function sameMemory(a: Machine, b: Machine, from: number, to: number): void {
  expect(
    Buffer.from(a.mem.bytes.subarray(from, to)).equals(Buffer.from(b.mem.bytes.subarray(from, to))),
  ).toBe(true);
}

describe('block compiler: SSE', () => {
  it('names only mnemonics the opcode table has', () => {
    expect(mnemonicsNotInTable([SSE_INLINE_MNEMONICS])).toEqual([]);
  });

  it('runs every inlined form as the interpreter does at every budget stop (protected mode)', () => {
    const src = as32(`${ENABLE_SSE}${INIT}${LOOP('esi', (n) => `xmm${n}`)}`);
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x2000);
    const stats = r.jit.cpu.jit?.stats;
    // Each iteration's NaN, infinity and denormal lanes leave the rest of it to the interpreter.
    expect(stats?.instructions).toBeGreaterThan(5000);
    // The loop's special lanes and out-of-range conversions left some instructions to the interpreter.
    expect(r.jit.cpu.state.mxcsr[0] & 0x3f).not.toBe(0);
  });

  it('runs them in 64-bit mode on XMM8–XMM15 with 64-bit addresses', () => {
    const src = `${ENABLE_SSE.replaceAll('eax', 'rax')}${INIT.replace('mov esi,', 'mov rsi,')}
      mov r12, rsi
      ${LOOP('r12', (n) => `xmm${n + 8}`)}`;
    const r = lockstep(() => longMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x2000);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(5000);
  });

  it("gives the interpreter's lanes and MXCSR flags at the edges: tiny, huge, exact zeros, FTZ/DAZ, rounding modes", () => {
    // 16 rows of 4 singles (and the same bytes as doubles): cancellations to denormals, products
    // that underflow to zero or overflow, exact zeros of both signs, quotients by zero; each row
    // under one of eight MXCSR values (every exception masked, so that the run does not stop; the
    // rounding control, FTZ, DAZ and a PE already set vary).
    const rows = [
      [0x00800001, 0x80800000, 0x3f800000, 0xbf800000],
      [0x1f800000, 0x1f800000, 0x7f7fffff, 0x40000000],
      [0x00800000, 0x3f000000, 0x80000000, 0x00000000],
      [0x3f800001, 0xbf800000, 0x3dcccccd, 0x41200000],
      [0x7f000000, 0x7f000000, 0x00c00000, 0x80c00000],
      [0x3eaaaaab, 0x40400000, 0x00000000, 0x3f800000],
      [0x4b800001, 0x3f800000, 0xcb800000, 0x3f000000],
      [0x0d800000, 0x0d800000, 0x72800000, 0x72800000],
    ];
    const mx = [0x1f80, 0x9fc0, 0x3f80, 0x5f80, 0x7f80, 0x1fc0, 0x9f80, 0x1fa0];
    let data = '';
    rows.forEach((r, n) => {
      r.forEach((v, k) => {
        data += `mov dword ptr [esi + ${n * 16 + k * 4}], ${v}\n`;
        data += `mov dword ptr [esi + ${0x100 + n * 16 + k * 4}], ${rows[(n + 3) % rows.length][k]}\n`;
      });
    });
    mx.forEach((v, n) => {
      data += `mov dword ptr [esi + ${0x200 + n * 4}], ${v}\n`;
    });
    const src = `${ENABLE_SSE}
      mov esi, ${DATA}
      ${data}
      mov ecx, 640
    top:
      mov eax, ecx
      and eax, 0x70
      mov edx, ecx
      shr edx, 4
      and edx, 7
      ldmxcsr [esi + 0x200 + edx*4]
      movaps xmm0, [esi + eax]
      movaps xmm1, [esi + eax + 0x100]
      movaps xmm2, xmm0
      addps xmm2, xmm1
      movaps xmm3, xmm0
      subps xmm3, xmm1
      movaps xmm4, xmm0
      mulps xmm4, xmm1
      movaps xmm5, xmm0
      divps xmm5, xmm1
      movapd xmm6, xmm0
      addpd xmm6, xmm1
      mulpd xmm6, xmm0
      divsd xmm6, xmm1
      cvtdq2ps xmm7, xmm0
      cvttps2dq xmm7, xmm4
      cvtps2pd xmm7, xmm5
      pxor xmm2, xmm3
      pxor xmm4, xmm5
      pxor xmm6, xmm7
      pxor xmm2, xmm4
      pxor xmm2, xmm6
      movaps [esi + eax + 0x400], xmm2
      stmxcsr [esi + eax + 0x600]
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x800);
  });

  it('truncating conversions under DAZ: denormal inputs are exact zeros, no PE (CVTTPS2DQ, CVTTSD2SI)', () => {
    // Every lane a zero or a denormal (singles; the low double is denormal too); MXCSR with DAZ,
    // then without, each conversion's flags stored alone. The inline paths dropped the fraction
    // of a denormal and set PE under DAZ too (the long64 x87/SSE difftest: the real CPU does not).
    const src = `${ENABLE_SSE}
      mov esi, ${DATA}
      mov dword ptr [esi], 0x00000005
      mov dword ptr [esi + 4], 0
      mov dword ptr [esi + 8], 0x80400001
      mov dword ptr [esi + 12], 1
      mov dword ptr [esi + 0x20], 0x1fc0
      mov ecx, 200
    top:
      xor dword ptr [esi + 0x20], 0x40
      ldmxcsr [esi + 0x20]
      movaps xmm0, [esi]
      cvttps2dq xmm1, xmm0
      stmxcsr [esi + 0x100 + ecx * 4]
      ldmxcsr [esi + 0x20]
      cvttsd2si ebx, xmm0
      stmxcsr [esi + 0x500 + ecx * 4]
      movdqa [esi + 0x40], xmm1
      mov [esi + 0x50], ebx
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), [1000]);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(500);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x900);
    // The interpreter's answers: with DAZ (odd ECX) no flag; without it PE.
    const mx = (at: number): number => r.interp.mem.read32(DATA + at);
    expect([mx(0x100 + 4), mx(0x100 + 8), mx(0x500 + 4), mx(0x500 + 8)]).toEqual([
      0x1fc0, 0x1fa0, 0x1fc0, 0x1fa0,
    ]);
  });

  it('leaves 16-bit addressing to the handlers (MOVD, CVTSI2SD, MOVDQA with an address-size prefix)', () => {
    const src = `${ENABLE_SSE}
      mov dword ptr [0x1230], 0x3f800000
      mov dword ptr [0x21230], 0x40000000
      mov ecx, 300
    top:
      mov ebx, 0x21230
      movd xmm0, dword ptr [bx]
      cvtsi2sd xmm1, dword ptr [bx]
      movd dword ptr [bx + 4], xmm0
      movdqa xmm2, [bx]
      paddd xmm3, xmm2
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    // BX = 0x1230: the 16-bit address, not 0x11230.
    expect(r.jit.cpu.state.xmm[0] | (r.jit.cpu.state.xmm[3] << 24)).toBe(0x3f000000);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
  });

  it('runs a compiled SSE loop without leaving it (no bail-outs on plain lanes)', () => {
    const src = `${ENABLE_SSE}
      mov esi, ${DATA}
      mov ecx, 2000
      mov dword ptr [esi], 0x3f800000
      mov dword ptr [esi + 4], 0x40000000
      mov dword ptr [esi + 16], 0x3e000000
    top:
      movaps xmm0, [esi]
      mulps xmm0, [esi + 16]
      addps xmm1, xmm0
      pxor xmm2, xmm1
      paddd xmm3, xmm2
      dec ecx
      jnz top
      hlt`;
    const m = protectedMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    const s = m.cpu.jit.stats;
    // One entry runs the whole loop: it loops inside the function.
    expect(s.instructions).toBeGreaterThan(11_000);
    expect(s.entries).toBeLessThan(20);
  });

  // A loop that turns SSE off (or makes it fault) at its 100th iteration, in the interpreter (MOV
  // CR, LDMXCSR are not in blocks); the next SSE instruction sits after integer ones in a
  // compiled block, so the fault comes mid-block with registers and flags in its locals.
  const faulting = (change: string, sse: string, setup = '') => `${ENABLE_SSE}
    mov esi, ${DATA}
    mov dword ptr [esi + 0x40], 0x3dcccccd
    ${setup}
    mov ecx, 300
  top:
    add ebx, ecx
    imul edx, ebx, 3
    cmp ecx, 100
    ${sse}
    paddd xmm1, xmm0
    movdqa [esi + 0x20], xmm1
    cmp ecx, 101
    jne skip
    ${change}
  skip:
    dec ecx
    jnz top
    hlt`;

  const cases: [string, string, string, number, string?][] = [
    ['#NM when CR0.TS is set', 'mov eax, cr0\n or eax, 8\n mov cr0, eax', 'movaps xmm0, [esi]', 7],
    ['#UD when CR0.EM is set', 'mov eax, cr0\n or eax, 4\n mov cr0, eax', 'pxor xmm0, xmm0', 6],
    ['#UD when CR4.OSFXSR is clear', 'mov eax, cr4\n and eax, ~0x200\n mov cr4, eax', 'addps xmm0, xmm0', 6],
    ['#GP(0) for a misaligned MOVAPS', 'add esi, 4', 'movaps xmm0, [esi]', 13],
    ['#GP(0) for a misaligned packed source', 'add esi, 8', 'paddd xmm0, [esi]', 13],
    [
      '#XM for an inexact ADDPS with PE unmasked',
      'ldmxcsr [esi + 0x80]',
      'addps xmm0, [esi + 0x40]',
      19,
      'mov dword ptr [esi + 0x80], 0x0f80',
    ],
    [
      '#UD for an unmasked SIMD exception with CR4.OSXMMEXCPT clear',
      'ldmxcsr [esi + 0x80]\n mov eax, cr4\n and eax, ~0x400\n mov cr4, eax',
      'addps xmm0, [esi + 0x40]',
      6,
      'mov dword ptr [esi + 0x80], 0x0f80',
    ],
  ];
  for (const [name, change, sse, vector, setup] of cases) {
    it(`raises ${name}, mid-block, as the interpreter`, () => {
      const src = faulting(change, sse, setup);
      const r = lockstep(() => protectedMode(src, { captureExceptions: true }), BUDGETS);
      expect(r.jit.exceptions.map((e) => e.vector)).toEqual([vector]);
      expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
      // At the 100th iteration's SSE instruction: ECX = 100, the integer work before it done.
      expect(r.jit.cpu.state.gpr[1]).toBe(100);
    });
  }

  it('takes a #PF in the middle of a block at the interpreter point (paged)', () => {
    const src = `${ENABLE_SSE}
      mov esi, 0x3ff000
      mov ecx, 400
    top:
      add ebx, ecx
      movdqu xmm0, [esi]
      paddd xmm1, xmm0
      movdqa [esi + 0x20], xmm1
      movups xmm2, [esi + 0x33]
      add esi, 16
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => pagedProtectedMode(src), BUDGETS);
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x400000]]);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(500);
  });
});
