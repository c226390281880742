/**
 * The wasm backend's SSE forms (src/jit/wasm/emit-sse.ts): regions compiled to WebAssembly with
 * the XMM registers and MXCSR in its memory leave the CPU as the interpreter does, in lockstep at
 * budgets that stop inside blocks — every inline form with register and memory operands, plain
 * lanes and the lanes that send an instruction to its handler (NaN, infinity, denormal, overflow,
 * underflow, out-of-range conversions, MXCSR not the default), MXCSR's flags after, the
 * exceptions the handler raises mid-block (#NM, #UD, #GP for a misaligned operand, #XM, #PF).
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { MXCSR, type WasmGuestMemory, XMM } from '../src/jit/wasm/arena.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep } from './jit-lockstep.js';
import { inWasmMemory, type Machine } from './machine.js';
import { pagedProtectedMode, protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61, 10_000];
const WASM = { hot: 2, backend: 'wasm' } as const;
const DATA = 0x200000;
/** Where LOOP stores every result of every iteration. */
const OUT = 0x210000;

const stats = (m: Machine) => wasmBackend(m.cpu).stats;

/** CR0.EM clear, CR0.MP set, CR4.OSFXSR and OSXMMEXCPT set (SDM Vol. 3 13.1.3). */
const SSE_ON = `
  mov eax, cr0
  and eax, ~4
  or eax, 2
  mov cr0, eax
  mov eax, cr4
  or eax, 0x600
  mov cr4, eax
`;

/**
 * DATA: 1 KiB of xorshift words; DATA + 0x1000: 16-byte rows of singles, the first plain, the
 * later ones each with one special lane (NaN, ∞, −0, a denormal, a huge and a tiny value,
 * out-of-range for a conversion); DATA + 0x1100: doubles the same way.
 */
const DATA_INIT = `
  mov edi, ${DATA}
  mov ecx, 256
  mov eax, 0x9e3779b9
fill:
  mov edx, eax
  shl edx, 13
  xor eax, edx
  mov edx, eax
  shr edx, 17
  xor eax, edx
  mov edx, eax
  shl edx, 5
  xor eax, edx
  mov [edi + ecx*4 - 4], eax
  dec ecx
  jnz fill
  ${[
    [0x40400000, 0x3f000000, 0xc0a00000, 0x41200000],
    [0x3dcccccd, 0x3f800000, 0x40000000, 0x3eaaaaab],
    [0x3f800000, 0x7fc00000, 0x40000000, 0x40400000],
    [0x3f800000, 0x40000000, 0xff800000, 0x40400000],
    [0x80000000, 0x40000000, 0x40800000, 0x3f800000],
    [0x3f800000, 0x00000010, 0x40000000, 0x40400000],
    [0x7f000000, 0x40000000, 0x40800000, 0x3f800000],
    [0x00c00000, 0x3f000000, 0x40800000, 0x3f800000],
    [0x4f000000, 0x3f800000, 0xcf000001, 0x40000000],
  ]
    .flatMap((row, n) => row.map((v, k) => `mov dword ptr [edi + ${0x1000 + 16 * n + 4 * k}], ${v}`))
    .join('\n')}
  ${[
    [0x40080000, 0, 0x3fe00000, 0],
    [0x3fb99999, 0x9999999a, 0xc0140000, 0],
    [0x7ff80000, 0, 0x3ff00000, 0],
    [0x00000000, 1, 0x3ff00000, 0],
    [0x7fe00000, 0, 0x40000000, 0],
    [0x41e00000, 0, 0xc1e00000, 0x00200000],
  ]
    .flatMap((row, n) => [
      `mov dword ptr [edi + ${0x1100 + 16 * n}], ${row[1]}`,
      `mov dword ptr [edi + ${0x1100 + 16 * n + 4}], ${row[0]}`,
      `mov dword ptr [edi + ${0x1100 + 16 * n + 8}], ${row[3]}`,
      `mov dword ptr [edi + ${0x1100 + 16 * n + 12}], ${row[2]}`,
    ])
    .join('\n')}
`;

/**
 * Every inline form, register and memory operands, in one loop: `ebp` walks the special rows
 * (most iterations plain ones), so the same instructions take the inline path and the handler.
 */
const LOOP = `
  mov esi, ${OUT}
  mov ecx, 360
top:
  mov eax, ecx
  and eax, 0x3f0
  mov ebp, ecx
  and ebp, 15
  cmp ebp, 9
  jb special
  xor ebp, ebp
special:
  shl ebp, 4
  mov ebx, ebp
  cmp ebx, 0x50
  jb dbl
  xor ebx, ebx
dbl:
  movdqa xmm0, [edi + eax]
  movdqu [esi + 0], xmm0
  movdqu xmm1, [edi + eax + 12]
  movdqu [esi + 16], xmm1
  movaps xmm2, xmm0
  movdqu [esi + 32], xmm2
  movups xmm3, [edi + eax + 3]
  movdqu [esi + 48], xmm3
  pxor xmm0, xmm1
  movdqu [esi + 64], xmm0
  por xmm2, [edi + eax + 0x10]
  movdqu [esi + 80], xmm2
  pand xmm3, xmm0
  movdqu [esi + 96], xmm3
  pandn xmm4, xmm3
  movdqu [esi + 112], xmm4
  xorps xmm5, xmm4
  movdqu [esi + 128], xmm5
  andps xmm6, [edi + eax]
  movdqu [esi + 144], xmm6
  orpd xmm7, xmm6
  movdqu [esi + 160], xmm7
  andnps xmm6, xmm2
  movdqu [esi + 176], xmm6
  paddd xmm1, xmm0
  movdqu [esi + 192], xmm1
  psubd xmm2, [edi + eax + 0x20]
  movdqu [esi + 208], xmm2
  paddq xmm3, xmm1
  movdqu [esi + 224], xmm3
  psubq xmm4, xmm3
  movdqu [esi + 240], xmm4
  pmuludq xmm5, xmm1
  movdqu [esi + 256], xmm5
  pmuludq xmm6, [edi + eax + 0x30]
  movdqu [esi + 272], xmm6
  pcmpeqb xmm7, xmm0
  movdqu [esi + 288], xmm7
  pcmpeqd xmm4, xmm4
  movdqu [esi + 304], xmm4
  pcmpeqb xmm3, [edi + eax]
  movdqu [esi + 320], xmm3
  punpckldq xmm0, xmm1
  movdqu [esi + 336], xmm0
  punpckhdq xmm1, [edi + eax + 0x40]
  movdqu [esi + 352], xmm1
  punpcklqdq xmm2, xmm3
  movdqu [esi + 368], xmm2
  punpckhqdq xmm3, xmm4
  movdqu [esi + 384], xmm3
  unpcklps xmm4, xmm5
  movdqu [esi + 400], xmm4
  unpckhpd xmm5, [edi + eax]
  movdqu [esi + 416], xmm5
  pshufd xmm6, xmm0, 0x1b
  movdqu [esi + 432], xmm6
  pshufd xmm7, [edi + eax + 0x50], 0xe4
  movdqu [esi + 448], xmm7
  pslld xmm0, 7
  movdqu [esi + 464], xmm0
  psrld xmm1, 31
  movdqu [esi + 480], xmm1
  psrad xmm2, 9
  movdqu [esi + 496], xmm2
  psrad xmm3, 40
  movdqu [esi + 512], xmm3
  pslld xmm4, 32
  movdqu [esi + 528], xmm4
  psllq xmm5, 13
  movdqu [esi + 544], xmm5
  psrlq xmm6, 45
  movdqu [esi + 560], xmm6
  psllq xmm7, 64
  movdqu [esi + 576], xmm7
  psrlq xmm0, 0
  movd xmm1, ecx
  pslld xmm2, xmm1
  movdqu [edi + eax + 0x870], xmm2
  psrlq xmm3, [edi + 0x1010]
  movdqu [edi + eax + 0x880], xmm3
  movdqu [esi + 592], xmm0
  pmovmskb edx, xmm3
  mov [esi + 608], edx
  add [edi + 0x1f00], edx
  pmovmskb edx, xmm7
  mov [esi + 624], edx
  xor [edi + 0x1f00], edx
  movd xmm1, ecx
  movdqu [esi + 640], xmm1
  movd xmm2, [edi + eax + 4]
  movdqu [esi + 656], xmm2
  movd edx, xmm6
  mov [esi + 672], edx
  add [edi + 0x1f00], edx
  movd [edi + eax + 0x800], xmm5
  movss xmm3, [edi + ebp + 0x1000]
  movdqu [esi + 688], xmm3
  movss xmm4, xmm0
  movdqu [esi + 704], xmm4
  movdqu [edi + eax + 0x840], xmm4
  movss [edi + eax + 0x804], xmm4
  movsd xmm5, [edi + ebx + 0x1100]
  movdqu [esi + 720], xmm5
  movsd xmm6, xmm1
  movdqu [esi + 736], xmm6
  movdqu [edi + eax + 0x850], xmm6
  movsd [edi + eax + 0x808], xmm6
  movq xmm7, [edi + eax + 0x10]
  movdqu [esi + 752], xmm7
  movq xmm0, xmm6
  movdqu [esi + 768], xmm0
  movdqu [edi + eax + 0x860], xmm0
  movq [edi + eax + 0x810], xmm2
  movaps xmm0, [edi + ebp + 0x1000]
  movdqu [esi + 784], xmm0
  movaps xmm1, [edi + 0x1010]
  movdqu [esi + 800], xmm1
  movaps xmm2, xmm0
  movdqu [esi + 816], xmm2
  addps xmm2, xmm1
  movdqu [esi + 832], xmm2
  movaps xmm3, xmm1
  movdqu [esi + 848], xmm3
  subps xmm3, [edi + ebp + 0x1000]
  movdqu [esi + 864], xmm3
  mulps xmm0, xmm1
  movdqu [esi + 880], xmm0
  movaps xmm4, [edi + 0x1000]
  movdqu [esi + 896], xmm4
  divps xmm4, [edi + ebp + 0x1000]
  movdqu [esi + 912], xmm4
  addss xmm1, [edi + ebp + 0x1004]
  movdqu [esi + 928], xmm1
  subss xmm2, xmm3
  movdqu [esi + 944], xmm2
  mulss xmm3, [edi + ebp + 0x1008]
  movdqu [esi + 960], xmm3
  divss xmm4, xmm1
  movdqu [esi + 976], xmm4
  movaps [edi + eax + 0xa00], xmm0
  movups [edi + eax + 0xa13], xmm2
  movapd xmm0, [edi + ebx + 0x1100]
  movdqu [esi + 992], xmm0
  movapd xmm1, [edi + 0x1110]
  movdqu [esi + 1008], xmm1
  movapd xmm2, xmm0
  movdqu [esi + 1024], xmm2
  addpd xmm2, xmm1
  movdqu [esi + 1040], xmm2
  subpd xmm1, [edi + ebx + 0x1100]
  movdqu [esi + 1056], xmm1
  mulpd xmm0, xmm1
  movdqu [esi + 1072], xmm0
  divpd xmm2, [edi + 0x1100]
  movdqu [esi + 1088], xmm2
  addsd xmm1, xmm0
  movdqu [esi + 1104], xmm1
  subsd xmm2, [edi + ebx + 0x1108]
  movdqu [esi + 1120], xmm2
  mulsd xmm0, [edi + 0x1100]
  movdqu [esi + 1136], xmm0
  divsd xmm1, xmm2
  movdqu [esi + 1152], xmm1
  movupd [edi + eax + 0xb00], xmm0
  movdqu [edi + eax + 0xb11], xmm1
  cvtdq2ps xmm5, [edi + eax]
  movdqu [esi + 1168], xmm5
  cvtdq2ps xmm6, xmm1
  movdqu [esi + 1184], xmm6
  cvttps2dq xmm7, [edi + ebp + 0x1000]
  movdqu [esi + 1200], xmm7
  cvttps2dq xmm3, xmm5
  movdqu [esi + 1216], xmm3
  cvtps2pd xmm4, [edi + ebp + 0x1008]
  movdqu [esi + 1232], xmm4
  cvtps2pd xmm5, xmm7
  movdqu [esi + 1248], xmm5
  cvtsi2sd xmm6, ecx
  movdqu [esi + 1264], xmm6
  cvtsi2sd xmm7, dword ptr [edi + eax]
  movdqu [esi + 1280], xmm7
  cvtsi2ss xmm6, ecx
  cvtsi2ss xmm5, dword ptr [edi + eax + 4]
  movdqu [edi + eax + 0x890], xmm6
  movdqu [edi + eax + 0x8a0], xmm5
  cvttsd2si edx, [edi + ebx + 0x1100]
  mov [esi + 1296], edx
  add [edi + 0x1f00], edx
  cvttsd2si edx, xmm4
  mov [esi + 1312], edx
  add [edi + 0x1f00], edx
  movdqa [edi + eax + 0xc00], xmm3
  add esi, 1328
  dec ecx
  jnz top
  hlt
`;
/** The bytes LOOP's results fill at OUT. */
const LOOP_OUT = 360 * 1328;

function sameMemory(a: Machine, b: Machine, from: number, to: number): void {
  expect(
    Buffer.from(a.mem.bytes.subarray(from, to)).equals(Buffer.from(b.mem.bytes.subarray(from, to))),
  ).toBe(true);
}

describe('wasm backend: SSE forms inline', () => {
  it('runs every form as the interpreter does at every budget stop, plain and special lanes', () => {
    const src = `${SSE_ON}${DATA_INIT}${LOOP}`;
    const r = lockstep(() => inWasmMemory(protectedMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x2000);
    sameMemory(r.jit, r.interp, OUT, OUT + LOOP_OUT);
    // The registers the wasm code wrote are the CPU's: XMM0–15 and MXCSR live in its memory.
    const mem = (r.jit.cpu.memory as WasmGuestMemory).wasm.buffer;
    expect(r.jit.cpu.state.xmm.buffer).toBe(mem);
    expect(r.jit.cpu.state.xmm.byteOffset).toBe(XMM);
    expect(r.jit.cpu.state.mxcsr.byteOffset).toBe(MXCSR);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(20_000);
    // PE from inline forms, the other flags from the special lanes' handlers.
    expect(r.jit.cpu.state.mxcsr[0] & 0x3f).toBe(r.interp.cpu.state.mxcsr[0] & 0x3f);
    expect(r.jit.cpu.state.mxcsr[0] & 0x21).toBe(0x21);
  });

  it('runs an SSE loop inside one function, its plain lanes inline (few handler calls)', () => {
    const src = `${SSE_ON}
      mov esi, ${DATA}
      mov dword ptr [esi], 0x3f800000
      mov dword ptr [esi + 4], 0x40000000
      mov dword ptr [esi + 16], 0x3e000000
      mov dword ptr [esi + 20], 0x3dcccccd
      mov ecx, 3000
    top:
      movaps xmm0, [esi]
      mulps xmm0, [esi + 16]
      addps xmm1, xmm0
      pxor xmm2, xmm1
      paddd xmm3, xmm2
      cvtps2pd xmm4, xmm1
      addpd xmm5, xmm4
      movdqa [esi + 32], xmm3
      dec ecx
      jnz top
      hlt`;
    const m = inWasmMemory(protectedMode(src));
    m.cpu.jit = new Jit(WASM);
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    expect(m.cpu.jit.stats.instructions).toBeGreaterThan(25_000);
    expect(m.cpu.jit.stats.entries).toBeLessThan(20);
    // PE set by MULPS (0.1f is inexact), and the sums' TwoSum.
    expect(m.cpu.state.mxcsr[0]).toBe(0x1fa0);
    expect(stats(m).slowAccesses).toBe(0);
    // The same result as the interpreter's.
    const i = protectedMode(src);
    i.cpu.jit = null;
    expect(i.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    expect(Buffer.from(m.cpu.state.xmm).equals(Buffer.from(i.cpu.state.xmm))).toBe(true);
  });

  it('gives the interpreter the instructions whose MXCSR is not the default (rounding, FTZ/DAZ, PE unmasked) and the flags after', () => {
    const mx = [0x1f80, 0x9fc0, 0x3f80, 0x5f80, 0x7f80, 0x1fa0, 0x0f80 | 0x1000, 0x1d80];
    const src = `${SSE_ON}${DATA_INIT}
      ${mx.map((v, n) => `mov dword ptr [edi + ${0x1400 + 4 * n}], ${v}`).join('\n')}
      mov ecx, 400
    top:
      mov edx, ecx
      shr edx, 3
      and edx, 7
      ldmxcsr [edi + 0x1400 + edx*4]
      mov ebp, ecx
      and ebp, 7
      shl ebp, 4
      movaps xmm0, [edi + ebp + 0x1000]
      movaps xmm1, [edi + 0x1010]
      addps xmm0, xmm1
      mulss xmm1, xmm0
      cvtdq2ps xmm2, [edi + ebp]
      cvttps2dq xmm3, xmm1
      movapd xmm4, [edi + 0x1100]
      addsd xmm4, [edi + 0x1110]
      pxor xmm5, xmm0
      stmxcsr [edi + ebp + 0x1500]
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => inWasmMemory(protectedMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x1600);
  });

  it("sets MXCSR's flags per instruction as the interpreter does: each arithmetic form and conversion from a clear MXCSR, DAZ off and on, over pairs of exact, inexact, tiny, huge and special lanes", () => {
    // Pools of singles and doubles (as bit patterns): exact and inexact operands, results that
    // land just below the smallest normal (inexact: UE) or just above it, products and sums
    // that overflow, NaN, ∞, −0, denormals, conversion edges (±2^31, 2^24 + 2).
    const singles = [
      0x3f000000, 0x3f800001, 0x3dcccccd, 0x40400000, 0x00c00001, 0x00800000, 0x01000001, 0x7f000000,
      0x7149f2ca, 0x0da24260, 0x80000000, 0x7fc00000, 0xff800000, 0x00000010, 0x4b800001, 0xcf000000,
      0x4f000000, 0xcf000001, 0xbf400000, 0x3eaaaaab,
    ];
    // Lane 0 of row r is doubles[r] (CVTTSD2SI reads it): the conversion edges first.
    const doubles = [
      [0xc1e00000, 0x00200000],
      [0x41dfffff, 0xfff00000],
      [0x41e00000, 0],
      [0xc1e00000, 0x00100000],
      [0x41dfffff, 0xffe00000],
      [0x3fb99999, 0x9999999a],
      [0x3ff80000, 0],
      [0x40080000, 0],
      [0x00100000, 0],
      [0x00180000, 1],
      [0x7fe00000, 0],
      [0x7e37e43c, 0x8800759c],
      [0x01a56e1f, 0xc71cdb94],
      [0x00000000, 7],
      [0x80000000, 0],
      [0x7ff80000, 0],
      [0xfff00000, 0],
      [0x3fd55555, 0x55555555],
      [0xbfe80000, 0],
    ];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    let data = '';
    for (let row = 0; row < 16; row++) {
      for (let k = 0; k < 4; k++)
        data += `mov dword ptr [edi + ${0x1000 + 16 * row + 4 * k}], ${singles[rnd(singles.length)]}\n`;
      for (let k = 0; k < 2; k++) {
        const [hi, lo] = doubles[k === 0 ? row : rnd(doubles.length)];
        data += `mov dword ptr [edi + ${0x1200 + 16 * row + 8 * k}], ${lo}\n`;
        data += `mov dword ptr [edi + ${0x1204 + 16 * row + 8 * k}], ${hi}\n`;
      }
    }
    const forms = [
      ['movaps xmm0, [edi + ebp + 0x1000]', 'addps xmm0, [edi + ebx + 0x1000]'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'movaps xmm1, [edi + ebx + 0x1000]', 'subps xmm0, xmm1'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'mulps xmm0, [edi + ebx + 0x1000]'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'divps xmm0, [edi + ebx + 0x1000]'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'addss xmm0, [edi + ebx + 0x1004]'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'subss xmm0, [edi + ebx + 0x1008]'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'movaps xmm1, [edi + ebx + 0x1000]', 'mulss xmm0, xmm1'],
      ['movaps xmm0, [edi + ebp + 0x1000]', 'divss xmm0, [edi + ebx + 0x100c]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'addpd xmm0, [edi + ebx + 0x1200]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'subpd xmm0, [edi + ebx + 0x1200]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'mulpd xmm0, [edi + ebx + 0x1200]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'movapd xmm1, [edi + ebx + 0x1200]', 'divpd xmm0, xmm1'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'addsd xmm0, [edi + ebx + 0x1208]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'movapd xmm1, [edi + ebx + 0x1200]', 'subsd xmm0, xmm1'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'mulsd xmm0, [edi + ebx + 0x1200]'],
      ['movapd xmm0, [edi + ebp + 0x1200]', 'divsd xmm0, [edi + ebx + 0x1208]'],
      ['cvtdq2ps xmm0, [edi + ebp + 0x1000]'],
      ['cvtdq2ps xmm0, [edi + ebx + 0x1200]'],
      ['movaps xmm1, [edi + ebp + 0x1000]', 'cvttps2dq xmm0, xmm1'],
      ['cvttps2dq xmm0, [edi + ebx + 0x1000]'],
      ['cvtps2pd xmm0, [edi + ebp + 0x1008]'],
      ['cvttsd2si edx, [edi + ebp + 0x1200]', 'movd xmm0, edx'],
      ['movapd xmm1, [edi + ebx + 0x1200]', 'cvttsd2si edx, xmm1', 'movd xmm0, edx'],
      ['cvtsi2sd xmm0, [edi + ebp + 0x1000]'],
      ['movaps xmm0, [edi + ebx + 0x1000]', 'cvtsi2ss xmm0, [edi + ebp + 0x1004]'],
      ['movaps xmm0, [edi + ebx + 0x1000]', 'mov edx, [edi + ebp + 0x1200]', 'cvtsi2ss xmm0, edx'],
    ];
    // Each form from MXCSR's default; its result and MXCSR folded into ESI and XMM7.
    const body = forms
      .map(
        (f) =>
          `ldmxcsr [edi + 0x1400]\n${f.join('\n')}\nstmxcsr [edi + 0x1404]\nmov edx, [edi + 0x1404]\nrol esi, 5\nxor esi, edx\npaddd xmm7, xmm0`,
      )
      .join('\n');
    const src = `${SSE_ON}
      mov edi, ${DATA}
      ${data}
      mov dword ptr [edi + 0x1400], 0x1f80
      mov ecx, 256
    top:
      # DAZ on every other iteration: a denormal input is then a zero (CVTTSD2SI/CVTTPS2DQ: no PE).
      xor dword ptr [edi + 0x1400], 0x40
      mov ebp, ecx
      and ebp, 15
      shl ebp, 4
      mov ebx, ecx
      shr ebx, 4
      and ebx, 15
      shl ebx, 4
      ${body}
      dec ecx
      jnz top
      movaps [edi + 0x1500], xmm7
      hlt`;
    const r = lockstep(() => inWasmMemory(protectedMode(src)), [3, 29, 10_000], WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[6]).toBe(r.interp.cpu.state.gpr[6]);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(20_000);
  });

  // An SSE instruction after integer work in a compiled block, its condition changed by the
  // interpreter at the 100th iteration (MOV CR and LDMXCSR are not in blocks): the handler's
  // fault comes mid-block with registers and flags in the function's locals.
  const faulting = (change: string, sse: string, setup = '') => `${SSE_ON}
    mov esi, ${DATA}
    mov dword ptr [esi + 0x40], 0x3dcccccd
    ${setup}
    mov ecx, 300
  top:
    add ebx, ecx
    imul edx, ebx, 5
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
    ['#NM when CR0.TS is set', 'mov eax, cr0\n or eax, 8\n mov cr0, eax', 'movdqa xmm0, [esi]', 7],
    ['#UD when CR0.EM is set', 'mov eax, cr0\n or eax, 4\n mov cr0, eax', 'pmovmskb eax, xmm0', 6],
    ['#UD when CR4.OSFXSR is clear', 'mov eax, cr4\n and eax, ~0x200\n mov cr4, eax', 'mulps xmm0, xmm0', 6],
    ['#GP(0) for a misaligned MOVDQA store', 'add esi, 4', 'movdqa [esi], xmm0', 13],
    ['#GP(0) for a misaligned packed source', 'add esi, 8', 'pxor xmm0, [esi]', 13],
    [
      '#XM for an inexact ADDPS with PE unmasked',
      'ldmxcsr [esi + 0x80]',
      'addps xmm0, [esi + 0x40]',
      19,
      'mov dword ptr [esi + 0x80], 0x0f80',
    ],
  ];
  for (const [name, change, sse, vector, setup] of cases) {
    it(`raises ${name}, mid-block, as the interpreter`, () => {
      const src = faulting(change, sse, setup);
      const r = lockstep(() => inWasmMemory(protectedMode(src, { captureExceptions: true })), BUDGETS, WASM);
      expect(r.jit.exceptions.map((e) => e.vector)).toEqual([vector]);
      expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
      expect(r.jit.cpu.state.gpr[1]).toBe(100);
    });
  }

  it('takes a #PF on a memory operand in the middle of a block at the interpreter point (paged)', () => {
    const src = `${SSE_ON}
      mov esi, 0x3ff000
      mov ecx, 400
    top:
      add ebx, ecx
      movdqu xmm0, [esi]
      paddd xmm1, xmm0
      movdqa [esi + 0x20], xmm1
      addps xmm2, [esi + 0x30]
      movq [esi + 0x38], xmm1
      add esi, 16
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => inWasmMemory(pagedProtectedMode(src)), BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x400000]]);
    // The loop ran in its function (entered a few times: the budgets) up to the fault.
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
    expect(r.jit.cpu.jit?.stats.entries).toBeLessThan(400);
    expect(r.jit.cpu.instructionsRetired).toBeGreaterThan(1500);
  });

  it('runs them over RAM outside wasm memory (every memory operand through the handler)', () => {
    const src = `${SSE_ON}${DATA_INIT}${LOOP}`;
    const r = lockstep(() => protectedMode(src), [5, 61, 10_000], WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    sameMemory(r.jit, r.interp, DATA, DATA + 0x2000);
    sameMemory(r.jit, r.interp, OUT, OUT + LOOP_OUT);
  });
});
