/**
 * FPU/SSE state management: the FNSTENV/FNSAVE layouts (32/16-bit, protected and real mode),
 * FXSAVE/FXRSTOR (legacy and REX.W layouts, alignment, MXCSR checks), LDMXCSR/STMXCSR,
 * XSAVE/XRSTOR/XGETBV/XSETBV with XCR0, the #NM/#UD rules of CR0.EM/TS and CR4, and CPUID.
 */
import { describe, expect, it } from 'vitest';
import { Cr0, Cr4, defaultCpuid, StopReason } from '../src/index.js';
import { longMode } from './long.js';
import { type Machine, realMode, runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

const D = 0x20000;

const u16 = (m: Machine, a: number) => m.mem.bytes[a] | (m.mem.bytes[a + 1] << 8);
const u32 = (m: Machine, a: number) => new DataView(m.mem.bytes.buffer).getUint32(a, true);
const vectors = (m: Machine) => m.exceptions.map((e) => e.vector);

describe('x87 environment and FNSAVE/FRSTOR', () => {
  it('FNSTENV (32-bit protected mode) stores CW/SW/TW, FIP/FCS/FOP and FDP/FDS, then masks all exceptions', () => {
    const m = protectedMode(
      `fninit; fld1; fadd dword ptr [${D + 0x100}]; fnstenv [${D}]; fnstcw [${D + 0x40}]; hlt`,
    );
    m.mem.write32(D + 0x100, 0x3f800000);
    m.cpu.state.fpuControl[0] = 0;
    runTo(m);
    expect(u32(m, D)).toBe(0xffff037f); // FNINIT's CW
    expect(u32(m, D + 4) & 0xffff).toBe(0x3800); // TOP = 7
    expect(u32(m, D + 8)).toBe(0xffff3fff); // R7 valid, others empty
    const faddAt = CODE + 2 + 2; // after fninit (DB E3) and fld1 (D9 E8)
    expect(u32(m, D + 12)).toBe(faddAt);
    expect(u32(m, D + 16)).toBe(0x08 | (0x005 << 16)); // FCS 08, FOP 005 (D8 /0, ModRM 05)
    expect(u32(m, D + 20)).toBe(D + 0x100);
    expect(u32(m, D + 24)).toBe(0xffff0010); // FDS, upper half ones (as the CPU writes it)
    expect(u16(m, D + 0x40)).toBe(0x37f); // masked again (they were already)
  });

  it('FNSTENV with a 16-bit operand size stores the 14-byte layout', () => {
    const m = protectedMode(`fninit; fld1; .byte 0x66; fnstenv [${D}]; hlt`);
    runTo(m);
    expect([u16(m, D), u16(m, D + 2), u16(m, D + 4)]).toEqual([0x37f, 0x3800, 0x3fff]);
    expect(u16(m, D + 6)).toBe((CODE + 2) & 0xffff);
    expect(u16(m, D + 8)).toBe(0x08);
  });

  it('real mode stores 20-bit linear pointers with FOP (16-bit layout)', () => {
    const m = realMode('fninit; fld1; fnstenv [0x2000]; hlt', { origin: 0x1000 });
    m.cpu.state.segSel[1] = 0x100;
    m.cpu.state.segBase[1] = 0x1000;
    m.cpu.state.rip[0] = 0;
    m.cpu.stateChanged();
    m.mem.bytes.set(m.mem.bytes.subarray(0x1000, 0x1020), 0x1000);
    runTo(m);
    expect(u16(m, 0x2006)).toBe(0x1002); // linear FIP bits 15:0 (CS base 0x1000 + IP 2)
    expect(u16(m, 0x2008)).toBe(0x1e8); // FIP bits 19:16 = 0, FOP = D9 E8
  });

  it('FNSAVE stores ST(0)…ST(7) in stack order and re-initialises; FRSTOR brings it back', () => {
    const m = protectedMode(
      `fninit; fld1; fldpi; fnsave [${D}]; fnstsw ax; mov bx, ax; frstor [${D}]; fstp qword ptr [${D + 0x200}]; fstp qword ptr [${D + 0x208}]; hlt`,
    );
    runTo(m);
    const v = new DataView(m.mem.bytes.buffer);
    expect(v.getUint32(D + 28 + 4, true)).toBe(0xc90fdaa2); // ST(0) = π
    expect(v.getUint16(D + 28 + 8, true)).toBe(0x4000);
    expect(v.getUint32(D + 38 + 4, true)).toBe(0x80000000); // ST(1) = 1
    expect(m.cpu.state.gpr[3] & 0xffff).toBe(0); // after FNSAVE: FNINIT's SW
    expect(v.getFloat64(D + 0x200, true)).toBe(Math.PI);
    expect(v.getFloat64(D + 0x208, true)).toBe(1);
  });
});

describe('FXSAVE/FXRSTOR, LDMXCSR/STMXCSR', () => {
  const setup = (src: string, opts = { captureExceptions: true }) => {
    const m = protectedMode(src, opts);
    m.cpu.state.cr[4] |= Cr4.OSFXSR;
    return m;
  };

  it('FXSAVE writes the legacy image: abridged tag, FOP/FIP/FDP, MXCSR and its mask, ST(i), XMM0-7', () => {
    const m = setup(`fninit; fld1; fldz; fadd dword ptr [${D + 0x400}]; fxsave [${D}]; hlt`);
    m.mem.write32(D + 0x400, 0);
    m.cpu.state.xmm.fill(0xab, 0, 16);
    runTo(m);
    expect(u16(m, D)).toBe(0x37f);
    expect(u16(m, D + 2)).toBe(0x3000); // TOP = 6
    expect(m.mem.bytes[D + 4]).toBe(0xc0); // R6, R7 in use
    expect(u16(m, D + 6)).toBe(0x005); // FOP D8 05
    expect(u32(m, D + 16)).toBe(D + 0x400);
    expect(u32(m, D + 24)).toBe(0x1f80);
    expect(u32(m, D + 28)).toBe(0xffff);
    expect(u32(m, D + 32 + 4)).toBe(0); // ST(0) = +0
    expect(u32(m, D + 48 + 4)).toBe(0x80000000); // ST(1) = 1
    expect(m.mem.bytes[D + 160]).toBe(0xab);
  });

  it('FXSAVE64 (REX.W) stores 64-bit FIP/FDP; FXRSTOR64 restores them', () => {
    const m = longMode(
      'fninit; fld1; fstp dword ptr [rdi + 0x400]; fxsave64 [rdi]; fninit; fxrstor64 [rdi]; hlt',
    );
    m.cpu.state.cr[4] |= Cr4.OSFXSR;
    m.cpu.state.gpr[7] = D;
    runTo(m);
    expect(u32(m, D + 8)).toBeGreaterThan(0x10000); // FIP low: the FSTP's address
    expect(u32(m, D + 12)).toBe(0); // FIP high (no FCS in this layout)
    expect(u32(m, D + 16)).toBe(D + 0x400);
    expect(m.cpu.state.fpuDp[0]).toBe(D + 0x400);
  });

  it('#GP(0) on a misaligned operand and on reserved MXCSR bits in FXRSTOR', () => {
    const m = setup(`fxsave [${D + 8}]; hlt`);
    m.cpu.run(10);
    expect(vectors(m)).toEqual([13]);
    const r = setup(`fxsave [${D}]; mov dword ptr [${D + 24}], 0x10000; fxrstor [${D}]; hlt`);
    r.cpu.run(10);
    expect(vectors(r)).toEqual([13]);
  });

  it('FXRSTOR rebuilds the full tag word from the abridged one and the contents', () => {
    const m = setup(`fninit; fldz; fld1; fxsave [${D}]; fninit; fxrstor [${D}]; hlt`);
    runTo(m);
    expect(m.cpu.state.fpuTag[0]).toBe(0x4fff); // R6 = 1.0 valid (00), R7 = +0 zero (01)
  });

  it('LDMXCSR/STMXCSR: reserved bits #GP(0); OSFXSR = 0 or CR0.EM #UD; CR0.TS #NM', () => {
    const ok = setup(`mov dword ptr [${D}], 0x9fc0; ldmxcsr [${D}]; stmxcsr [${D + 4}]; hlt`);
    runTo(ok);
    expect(u32(ok, D + 4)).toBe(0x9fc0);
    for (const [cr0, cr4, v] of [
      [0, Cr4.OSFXSR, 13],
      [0, 0, 6],
      [Cr0.EM, Cr4.OSFXSR, 6],
      [Cr0.TS, Cr4.OSFXSR, 7],
    ]) {
      const m = protectedMode(`mov dword ptr [${D}], ${v === 13 ? 0x10000 : 0}; ldmxcsr [${D}]; hlt`, {
        captureExceptions: true,
      });
      m.cpu.state.cr[0] |= cr0;
      m.cpu.state.cr[4] |= cr4;
      m.cpu.run(10);
      expect(vectors(m)).toEqual([v]);
    }
  });

  it('LDMXCSR/STMXCSR with a 66, F2 or F3 prefix are #UD (NP forms; the CPU gives #UD too)', () => {
    for (const pfx of ['0x66', '0xf2', '0xf3'])
      for (const modrm of ['0x10', '0x18']) {
        const m = setup(`mov eax, ${D}; .byte ${pfx}, 0x0f, 0xae, ${modrm}; hlt`);
        m.cpu.run(10);
        expect(vectors(m), `${pfx} ${modrm}`).toEqual([6]);
      }
  });

  it('FXSAVE/FXRSTOR with a 66, F2 or F3 prefix are #UD and store nothing (NP forms, as the CPU)', () => {
    for (const pfx of ['0x66', '0xf2', '0xf3'])
      for (const modrm of ['0x00', '0x08', '0x04, 0x08']) {
        const m = setup(`mov eax, ${D}; xor ecx, ecx; .byte ${pfx}, 0x0f, 0xae, ${modrm}; hlt`);
        m.cpu.run(10);
        expect(vectors(m), `${pfx} ${modrm}`).toEqual([6]);
      }
    const m = setup(`mov eax, ${D}; .byte 0x66, 0x0f, 0xae, 0x00; hlt`);
    m.cpu.run(10);
    expect(u16(m, D)).toBe(0);
  });
});

describe('XSAVE, XRSTOR, XGETBV, XSETBV', () => {
  const enable = 'mov eax, cr4; or eax, 0x40200; mov cr4, eax';

  it('are #UD until CR4.OSXSAVE is set', () => {
    for (const insn of ['xgetbv', `xsave [${D}]`, `xrstor [${D}]`, 'xsetbv']) {
      const m = protectedMode(`xor ecx, ecx; ${insn}; hlt`, { captureExceptions: true });
      m.cpu.run(10);
      expect(vectors(m)).toEqual([6]);
    }
  });

  it('XSETBV sets XCR0 (x87|SSE), XGETBV reads it; XCR0 without x87, with unknown bits or ECX != 0: #GP(0)', () => {
    const m = protectedMode(
      `${enable}; xor ecx, ecx; xor edx, edx; mov eax, 3; xsetbv; xor eax, eax; xgetbv; hlt`,
    );
    runTo(m);
    expect(m.cpu.state.gpr[0]).toBe(3);
    expect(m.cpu.state.xcr0[0]).toBe(3);
    for (const [eax, ecx] of [
      [2, 0],
      [7, 0],
      [3, 1],
    ]) {
      const b = protectedMode(`${enable}; mov ecx, ${ecx}; xor edx, edx; mov eax, ${eax}; xsetbv; hlt`, {
        captureExceptions: true,
      });
      b.cpu.run(20);
      expect(vectors(b)).toEqual([13]);
    }
  });

  it('XSETBV at CPL 3 is #GP(0)', () => {
    const m = protectedMode(`${enable}; xor ecx, ecx; mov eax, 3; xor edx, edx; xsetbv; hlt`, {
      captureExceptions: true,
    });
    m.cpu.state.cpl = 3;
    m.cpu.state.cr[4] |= Cr4.OSXSAVE;
    m.cpu.state.rip[0] = CODE + 12; // past the MOV CR4 (privileged)
    m.cpu.stateChanged();
    m.cpu.run(20);
    expect(vectors(m)).toContain(13);
  });

  it('XSAVE writes the requested components and XSTATE_BV; XRSTOR of an all-zero header initialises them', () => {
    const m = protectedMode(
      `${enable}; xor ecx, ecx; xor edx, edx; mov eax, 3; xsetbv; fninit; fld1; mov eax, 3; xsave [${D}]; mov eax, 1; xrstor [${D + 0x400}]; hlt`,
    );
    m.cpu.state.xmm.fill(0x5a, 0, 16);
    runTo(m);
    expect(u32(m, D + 512)).toBe(3); // XSTATE_BV
    expect(u16(m, D + 2)).toBe(0x3800); // x87 component: TOP = 7
    expect(m.mem.bytes[D + 160]).toBe(0x5a); // SSE component
    // XRSTOR with XSTATE_BV = 0 put the x87 in its initial state; XMM untouched (not requested).
    expect(m.cpu.state.fpuTag[0]).toBe(0xffff);
    expect(m.cpu.state.fpuStatus[0]).toBe(0);
    expect(m.cpu.state.xmm[0]).toBe(0x5a);
  });

  it('XSAVE needs 64-byte alignment; XRSTOR refuses a compacted or reserved header (#GP(0))', () => {
    const mis = protectedMode(`${enable}; xor edx, edx; mov eax, 3; xsave [${D + 16}]; hlt`, {
      captureExceptions: true,
    });
    mis.cpu.run(20);
    expect(vectors(mis)).toEqual([13]);
    const bad = protectedMode(
      `${enable}; mov dword ptr [${D + 524}], 0x80000000; xor edx, edx; mov eax, 3; xrstor [${D}]; hlt`,
      {
        captureExceptions: true,
      },
    );
    bad.cpu.run(20);
    expect(vectors(bad)).toEqual([13]);
  });

  it('XSAVE64/XRSTOR64 in 64-bit mode: 64-bit FIP, XMM8-15, a round trip of both components', () => {
    const m = longMode(
      'xor ecx, ecx; xor edx, edx; mov eax, 3; xsetbv; fninit; fldpi; fst dword ptr [rdi + 0x800]; mov eax, 3; xsave64 [rdi]; fninit; xsaveopt64 [rdi + 0x400]; mov eax, 3; xrstor64 [rdi]; hlt',
    );
    m.cpu.state.cr[4] |= Cr4.OSXSAVE | Cr4.OSFXSR;
    m.cpu.state.gpr[7] = D;
    m.cpu.state.xmm.fill(0x77, 128, 256);
    runTo(m);
    expect(u32(m, D + 12)).toBe(0); // FIP high half, no FCS
    expect(u32(m, D + 16)).toBe(D + 0x800); // FDP
    expect(m.mem.bytes[D + 160 + 8 * 16]).toBe(0x77); // XMM8
    expect(u16(m, D + 0x400 + 2)).toBe(0); // XSAVEOPT after FNINIT: empty stack
    const s = m.cpu.state;
    expect((s.fpuStatus[0] >>> 11) & 7).toBe(7); // restored: π on the stack
    expect(s.fpuTag[0]).toBe(0x3fff);
  });

  it('#NM under CR0.TS but not CR0.EM', () => {
    for (const [cr0, v] of [
      [Cr0.TS, [7]],
      [Cr0.EM, []],
    ] as const) {
      const m = protectedMode(`${enable}; xor edx, edx; mov eax, 3; xsave [${D}]; hlt`, {
        captureExceptions: true,
      });
      m.cpu.state.cr[0] |= cr0;
      m.cpu.run(20);
      expect(vectors(m)).toEqual(v);
    }
  });
});

describe('CPUID', () => {
  it('advertises FPU, FXSR and XSAVE, and leaf 0DH describes the x87+SSE area', () => {
    const out = new Uint32Array(4);
    defaultCpuid.cpuid(1, 0, out);
    expect(out[3] & 1).toBe(1);
    expect((out[3] >>> 24) & 1).toBe(1);
    expect((out[2] >>> 26) & 1).toBe(1);
    defaultCpuid.cpuid(0, 0, out);
    expect(out[0]).toBe(0xd);
    defaultCpuid.cpuid(0xd, 0, out);
    expect([...out]).toEqual([3, 576, 576, 0]);
    defaultCpuid.cpuid(0xd, 1, out);
    expect([...out]).toEqual([1, 0, 0, 0]);
  });

  it('CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE', () => {
    const m = protectedMode(
      'mov eax, 1; cpuid; mov esi, ecx; mov eax, cr4; or eax, 0x40000; mov cr4, eax; mov eax, 1; cpuid; hlt',
    );
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect((m.cpu.state.gpr[6] >>> 27) & 1).toBe(0);
    expect((m.cpu.state.gpr[1] >>> 27) & 1).toBe(1);
  });
});
