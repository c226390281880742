/**
 * The architectural checks around the SIMD integer instructions: alignment of the aligned forms,
 * CR0.EM / CR0.TS / CR4.OSFXSR, LOCK, the x87 state an MMX instruction leaves, and the forms in
 * 32-bit and 16-bit code.
 */
import { describe, expect, it } from 'vitest';
import { Cr0, Cr4 } from '../src/index.js';
import { longMode, toUser } from './long.js';
import { type Machine, realMode, runTo } from './machine.js';
import { protectedMode } from './pm.js';

const GP = 13;
const UD = 6;
const NM = 7;

/** 64-bit mode, CPL 0, CR4.OSFXSR = 1, RBX = 0x20000 (16-byte aligned). */
function machine(source: string): Machine {
  const m = longMode(`mov ebx, 0x20000\n${source}\nhlt`, { captureExceptions: true });
  m.cpu.state.cr[4] |= Cr4.OSFXSR;
  m.cpu.stateChanged();
  return m;
}
function vectorOf(source: string, setup?: (m: Machine) => void): number | null {
  const m = machine(source);
  setup?.(m);
  m.cpu.run(100);
  return m.exceptions.length ? m.exceptions[0].vector : null;
}

describe('SIMD integer: exceptions', () => {
  it('the aligned forms raise #GP(0) on a misaligned m128; the unaligned forms and m64 forms do not', () => {
    for (const src of [
      'movdqa xmm0, [rbx+8]',
      'movdqa [rbx+4], xmm1',
      'movaps xmm0, [rbx+1]',
      'movntdq [rbx+8], xmm0',
      'movntdqa xmm0, [rbx+8]',
      'paddb xmm0, [rbx+8]',
      'pshufd xmm0, [rbx+8], 0',
      'psrlw xmm0, [rbx+8]',
      'ptest xmm0, [rbx+8]',
      'pblendvb xmm1, [rbx+8]',
    ])
      expect([src, vectorOf(src)]).toEqual([src, GP]);
    for (const src of [
      'movdqu xmm0, [rbx+8]',
      'movups [rbx+3], xmm0',
      'lddqu xmm0, [rbx+7]',
      'movq xmm0, [rbx+3]',
      'paddb mm0, [rbx+3]',
      'pmovzxbw xmm0, [rbx+3]',
      'pcmpistri xmm0, [rbx+5], 0',
      'movdqa xmm0, [rbx+16]',
    ])
      expect([src, vectorOf(src)]).toEqual([src, null]);
  });

  it('a misaligned non-canonical stack operand is #GP(0) (alignment first), an aligned one #SS(0)', () => {
    const SS = 12;
    // [rsp + rax] with RSP 0x30000 and RAX 0x40000000_000000lo: non-canonical, through SS.
    const at = (lo: number) => (m: Machine) => {
      m.cpu.state.gpr[4] = 0x30000;
      m.cpu.state.gprHigh[4] = 0;
      m.cpu.state.gpr[0] = lo;
      m.cpu.state.gprHigh[0] = 0x40000000;
    };
    for (const src of ['movdqa xmm0, [rsp+rax]', 'paddb xmm0, [rsp+rax]', 'movaps [rsp+rax], xmm1']) {
      expect([src, vectorOf(src, at(8))]).toEqual([src, GP]);
      expect([src, vectorOf(src, at(0x10))]).toEqual([src, SS]);
    }
    expect(vectorOf('movdqu xmm0, [rsp+rax]', at(8))).toBe(SS);
  });

  it('#GP(0) comes before the page walk: a misaligned MOVDQA store leaves memory untouched', () => {
    const m = machine('pcmpeqb xmm0, xmm0\nmovdqa [rbx+8], xmm0');
    m.cpu.run(100);
    expect(m.exceptions[0].vector).toBe(GP);
    expect(Array.from(m.mem.bytes.subarray(0x20000, 0x20020)).every((b) => b === 0)).toBe(true);
  });

  it('SSE forms: #UD with CR4.OSFXSR = 0 or CR0.EM = 1, then #NM with CR0.TS = 1; MMX forms ignore OSFXSR', () => {
    const noFxsr = (m: Machine) => {
      m.cpu.state.cr[4] &= ~Cr4.OSFXSR;
      m.cpu.stateChanged();
    };
    const em = (m: Machine) => {
      m.cpu.state.cr[0] |= Cr0.EM;
    };
    const ts = (m: Machine) => {
      m.cpu.state.cr[0] |= Cr0.TS;
    };
    expect(vectorOf('paddb xmm0, xmm1', noFxsr)).toBe(UD);
    expect(vectorOf('movdqa xmm0, xmm1', noFxsr)).toBe(UD);
    expect(vectorOf('paddb mm0, mm1', noFxsr)).toBe(null);
    expect(vectorOf('paddb xmm0, xmm1', em)).toBe(UD);
    expect(vectorOf('paddb mm0, mm1', em)).toBe(UD);
    expect(vectorOf('emms', em)).toBe(UD);
    expect(vectorOf('paddb xmm0, xmm1', ts)).toBe(NM);
    expect(vectorOf('pcmpistri xmm0, xmm1, 0', ts)).toBe(NM);
    expect(vectorOf('paddb mm0, mm1', ts)).toBe(NM);
    expect(vectorOf('emms', ts)).toBe(NM);
    // EM outranks TS: #UD (SDM Vol. 3 Table 6-2, decode faults before #NM).
    expect(
      vectorOf('paddb xmm0, xmm1', (m) => {
        em(m);
        ts(m);
      }),
    ).toBe(UD);
    // POPCNT and CRC32 are integer instructions: no SIMD checks.
    expect(
      vectorOf('popcnt eax, ecx', (m) => {
        noFxsr(m);
        em(m);
        ts(m);
      }),
    ).toBe(null);
    expect(
      vectorOf('crc32 eax, ecx', (m) => {
        noFxsr(m);
        em(m);
        ts(m);
      }),
    ).toBe(null);
  });

  it('#AC at CPL 3 for every misaligned operand, 16-byte ones included (as the host CPU, an AMD Zen 5)', () => {
    // The program ends at a HLT, which is #GP(0) at CPL 3: 13 means it ran through. SDM Vol. 3
    // 6.15 leaves #AC for MOVDQU/MOVUPS/LDDQU to the implementation; measured on the host with
    // CR0.AM and RFLAGS.AC set (Linux sets AM): every one of these raised SIGBUS but the aligned.
    const acVector = (src: string): number | null => {
      const m = machine(src);
      toUser(m);
      const s = m.cpu.state;
      s.cr[0] |= Cr0.AM;
      s.rflags[0] |= 1 << 18; // RFLAGS.AC
      s.gpr[4] = 0x9000;
      m.cpu.stateChanged();
      m.cpu.run(100);
      return m.exceptions.length ? m.exceptions[0].vector : null;
    };
    for (const src of [
      'movdqu xmm0, [rbx+4]',
      'movdqu xmm0, [rbx+8]',
      'movdqu [rbx+4], xmm0',
      'lddqu xmm0, [rbx+1]',
      'movq xmm0, [rbx+4]',
      'movd xmm0, [rbx+2]',
      'movq [rbx+4], mm0',
      'paddb mm0, [rbx+4]',
      'pcmpistri xmm0, [rbx+3], 0',
      'pmovzxbw xmm0, [rbx+3]',
      'pinsrw xmm0, [rbx+1], 1',
    ])
      expect([src, acVector(src)]).toEqual([src, 17]);
    for (const src of ['movdqu xmm0, [rbx+16]', 'movq xmm0, [rbx+8]', 'pinsrw xmm0, [rbx+2], 1'])
      expect([src, acVector(src)]).toEqual([src, GP]);
  });

  it('LOCK and unknown mandatory-prefix combinations are #UD', () => {
    expect(vectorOf('.byte 0xf0, 0x66, 0x0f, 0xfe, 0x03')).toBe(UD); // lock paddd xmm0, [rbx]
    expect(vectorOf('.byte 0xf2, 0x0f, 0x6f, 0xc1')).toBe(UD); // F2 0F 6F
    expect(vectorOf('.byte 0x66, 0x0f, 0x77')).toBe(UD); // 66 0F 77 (EMMS has no 66 form)
    expect(vectorOf('.byte 0x66, 0x0f, 0x73, 0xd8, 0x01')).toBe(null); // PSRLDQ xmm0, 1
    expect(vectorOf('.byte 0x0f, 0x73, 0xd8, 0x01')).toBe(UD); // no MMX PSRLDQ
    expect(vectorOf('.byte 0x66, 0x0f, 0x71, 0x10, 0x01')).toBe(UD); // shift-by-immediate with a memory operand
  });
});

describe('SIMD integer: MMX and the x87 state', () => {
  it('an MMX instruction sets TOP = 0, tags all valid, and exponent bits 79:64 of its destination to ones', () => {
    const m = machine('paddb mm2, mm3');
    const s = m.cpu.state;
    s.fpuStatus[0] = 5 << 11;
    s.fpuTag[0] = 0xffff;
    runTo(m);
    expect((s.fpuStatus[0] >> 11) & 7).toBe(0);
    expect(s.fpuTag[0]).toBe(0);
    expect([s.fpuRegs[2 * 10 + 8], s.fpuRegs[2 * 10 + 9]]).toEqual([0xff, 0xff]);
    // The source register's exponent is not written.
    expect([s.fpuRegs[3 * 10 + 8], s.fpuRegs[3 * 10 + 9]]).toEqual([0, 0]);
  });

  it('MMn is physical register Rn whatever TOP was; EMMS empties every tag', () => {
    const m = machine('movq mm1, [rbx]\nemms');
    const s = m.cpu.state;
    s.fpuStatus[0] = 3 << 11;
    m.mem.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 0x20000);
    runTo(m);
    expect(Array.from(s.fpuRegs.subarray(10, 18))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.fpuTag[0]).toBe(0xffff);
  });

  it('EMMS alone sets TOP = 0 (it is an MMX instruction) and keeps the other status bits', () => {
    const m = machine('emms');
    const s = m.cpu.state;
    s.fpuStatus[0] = (4 << 11) | 0x4201;
    s.fpuTag[0] = 0x5555;
    runTo(m);
    expect([(s.fpuStatus[0] >> 11) & 7, s.fpuStatus[0] & ~0x3800, s.fpuTag[0]]).toEqual([0, 0x4201, 0xffff]);
  });

  it('a 16-byte load whose second half faults (#PF) leaves the destination whole', () => {
    // 16 MiB is the end of the identity map: [0xFFFFF8, +16) runs into a not-present page.
    const m = longMode('mov ebx, 0xfffff8\nmovdqu xmm3, [rbx]\nhlt', { captureExceptions: true });
    const s = m.cpu.state;
    s.cr[4] |= Cr4.OSFXSR;
    m.cpu.stateChanged();
    m.mem.bytes.fill(0x11, 0xfffff8, 0x1000000);
    s.xmm.fill(0x77, 48, 64);
    m.cpu.run(100);
    expect([m.exceptions[0].vector, m.exceptions[0].faultAddress]).toEqual([14, 0x1000000]);
    expect(Array.from(s.xmm.subarray(48, 64))).toEqual(Array(16).fill(0x77));
  });

  it('MASKMOVQ/MASKMOVDQU fault on the whole store: CR2 = rDI, whichever bytes the mask selects (none too); MASKMOVQ after entering MMX state', () => {
    for (const src of [
      'mov rdi, 0x100000000\nmov eax, 0x80000000\nmovd mm1, eax\nmaskmovq mm0, mm1',
      'mov rdi, 0x100000000\nmov eax, 0x80000000\nmovd xmm1, eax\nmaskmovdqu xmm0, xmm1',
      'mov edi, 0x6e84d676\nmov eax, 0x80000000\nmovd mm1, eax\naddr32 maskmovq mm0, mm1',
      'mov edi, 0x6e84d676\nxor eax, eax\nmovd mm1, eax\naddr32 maskmovq mm0, mm1', // a zero mask
    ]) {
      const m = machine(`${src}\nhlt`);
      m.cpu.state.fpuStatus[0] = 5 << 11;
      m.cpu.state.fpuTag[0] = 0xffff;
      m.cpu.run(100);
      // MASKMOVQ's fault comes after the x87's switch to MMX state (as the AMD host); SSE's not.
      expect((m.cpu.state.fpuStatus[0] >> 11) & 7).toBe(src.includes('maskmovq') ? 0 : 5);
      expect([m.exceptions[0]?.vector, m.exceptions[0]?.faultAddress], src).toEqual([
        14,
        src.includes('edi') ? 0x6e84d676 : 0x100000000,
      ]);
    }
  });

  it('a faulting MMX load leaves the x87 state alone', () => {
    const m = longMode('mov rbx, 0x100000000000\nmovq mm0, [rbx]\nhlt', { captureExceptions: true });
    const s = m.cpu.state;
    s.fpuStatus[0] = 6 << 11;
    s.fpuTag[0] = 0xffff;
    m.cpu.run(100);
    expect(m.exceptions[0].vector).toBe(14);
    expect([(s.fpuStatus[0] >> 11) & 7, s.fpuTag[0]]).toEqual([6, 0xffff]);
  });
});

describe('SIMD integer outside 64-bit mode', () => {
  it('32-bit protected mode: 66-prefixed forms, memory operands and PEXTRW to a GPR', () => {
    const m = protectedMode(
      [
        'mov esi, 0x20000',
        'movdqu xmm1, [esi]',
        'paddw xmm1, xmm1',
        'movdqa [esi+16], xmm1',
        'pextrw eax, xmm1, 7',
        'movd ecx, xmm1',
        'hlt',
      ].join('\n'),
      { captureExceptions: true },
    );
    m.cpu.state.cr[4] |= Cr4.OSFXSR;
    m.cpu.stateChanged();
    for (let k = 0; k < 8; k++) m.mem.write16(0x20000 + 2 * k, 0x1001 * (k + 1));
    runTo(m);
    const want = Array.from({ length: 8 }, (_, k) => (0x2002 * (k + 1)) & 0xffff);
    expect(Array.from({ length: 8 }, (_, k) => m.mem.read16(0x20010 + 2 * k))).toEqual(want);
    expect(m.cpu.state.gpr[0]).toBe(want[7]);
    expect(m.cpu.state.gpr[1]).toBe((want[1] << 16) | want[0]);
  });

  it('real mode: 66 0F FE is PADDD (the 66 selects the instruction, not a 16-bit operand size)', () => {
    const m = realMode(
      ['movd xmm0, eax', 'movd xmm1, ecx', 'paddd xmm0, xmm1', 'movd edx, xmm0', 'hlt'].join('\n'),
      { captureExceptions: true },
    );
    const s = m.cpu.state;
    s.cr[4] |= Cr4.OSFXSR;
    s.gpr[0] = 0x12345678;
    s.gpr[1] = 0x11111111;
    m.cpu.stateChanged();
    runTo(m);
    expect(s.gpr[2]).toBe(0x23456789);
  });

  it('REX.R/REX.B reach xmm8–xmm15 in 64-bit mode', () => {
    const m = machine('pcmpeqd xmm15, xmm15\npsrld xmm15, 28\nmovdqa xmm9, xmm15\npaddd xmm9, xmm15');
    runTo(m);
    const x = new Uint32Array(m.cpu.state.xmm.buffer, 9 * 16, 4);
    expect(Array.from(x)).toEqual([0x1e, 0x1e, 0x1e, 0x1e]);
  });
});
