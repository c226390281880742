/**
 * What the host CPU cannot show from user mode, pinned from the SDM: the availability checks
 * (CR0.EM or CR4.OSFXSR = 0 → #UD, then CR0.TS → #NM; SDM Vol. 3 Table 2-2), an unmasked SIMD
 * exception → #XM with CR4.OSXMMEXCPT = 1 and #UD without it, MXCSR's flags recorded and the
 * destination untouched either way (SDM Vol. 1 11.5.1), and the instructions in 32-bit protected
 * mode (no REX: 40H–4FH are INC/DEC there).
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { L, longMode } from './long.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

const ONE = 0x3f800000;
const OSFXSR = 0x200;
const OSXMMEXCPT = 0x400;

/** 64-bit machine: xmm1 = [1,1,1,1] and xmm2 = [0,0,0,0] set, `source` then HLT. */
function machine(source: string, cr0or = 0, cr4 = OSFXSR | OSXMMEXCPT, mxcsr = 0x1f80) {
  const m = longMode(`${source}\nhlt`, { captureExceptions: true });
  const s = m.cpu.state;
  s.cr[0] |= cr0or;
  s.cr[4] = (s.cr[4] & ~(OSFXSR | OSXMMEXCPT)) | cr4;
  s.mxcsr[0] = mxcsr;
  const x = new Uint32Array(s.xmm.buffer, s.xmm.byteOffset, 64);
  x.fill(ONE, 4, 8);
  m.cpu.stateChanged();
  return { m, x };
}

function stop(m: ReturnType<typeof machine>['m']): number {
  const r = m.cpu.run(100);
  return r === StopReason.Hlt ? -1 : (m.exceptions[0]?.vector ?? -2);
}

describe('SSE availability and SIMD exceptions (SDM, no CPU referee from user mode)', () => {
  it('runs with CR4.OSFXSR = 1 and CR0.EM = CR0.TS = 0', () => {
    const { m, x } = machine('addps xmm1, xmm1');
    expect(stop(m)).toBe(-1);
    expect([...x.subarray(4, 8)]).toEqual([0x40000000, 0x40000000, 0x40000000, 0x40000000]);
  });

  it('#UD when CR4.OSFXSR = 0, when CR0.EM = 1 (even with CR0.TS = 1), #NM when only CR0.TS = 1', () => {
    expect(stop(machine('addps xmm1, xmm1', 0, OSXMMEXCPT).m)).toBe(6);
    expect(stop(machine('cvtsi2sd xmm1, eax', 4).m)).toBe(6);
    expect(stop(machine('sqrtsd xmm1, xmm2', 4 | 8).m)).toBe(6);
    expect(stop(machine('dpps xmm1, xmm2, 0xff', 8).m)).toBe(7);
    expect(stop(machine('comiss xmm1, xmm2', 8).m)).toBe(7);
  });

  it('an unmasked exception is #XM with OSXMMEXCPT = 1, #UD without; flags recorded, destination kept', () => {
    for (const [cr4, vector] of [
      [OSFXSR | OSXMMEXCPT, 19],
      [OSFXSR, 6],
    ]) {
      // 1/0 with ZE unmasked (MXCSR bit 9 clear).
      const { m, x } = machine('divps xmm1, xmm2', 0, cr4, 0x1d80);
      expect(stop(m)).toBe(vector);
      expect(m.cpu.state.mxcsr[0]).toBe(0x1d84);
      expect([...x.subarray(4, 8)]).toEqual([ONE, ONE, ONE, ONE]);
      expect(m.cpu.state.rip[0]).toBe(L.CODE); // a fault: RIP at the instruction
    }
  });

  it('a masked exception sets its sticky flag and delivers the masked response', () => {
    const { m, x } = machine('divss xmm1, xmm2\ncvtsi2ss xmm3, eax', 0, OSFXSR | OSXMMEXCPT, 0x1f80 | 0x20);
    expect(stop(m)).toBe(-1);
    expect(x[4]).toBe(0x7f800000);
    expect(m.cpu.state.mxcsr[0]).toBe(0x1fa4); // PE from before stays, ZE added
  });

  it('an MMX register operand moves the x87 to MMX mode (TOP = 0, tags valid), a memory one does not', () => {
    const { m, x } = machine('cvtpi2ps xmm1, qword ptr [rsp]');
    const s = m.cpu.state;
    s.fpuStatus[0] = 0x2800; // TOP = 5
    s.fpuTag[0] = 0xffff;
    m.mem.write32(0x8000, 7);
    m.mem.write32(0x8004, 0xfffffffd);
    expect(stop(m)).toBe(-1);
    expect([x[4], x[5], x[6]]).toEqual([0x40e00000, 0xc0400000, ONE]); // 7.0, -3.0, upper kept
    expect([s.fpuStatus[0], s.fpuTag[0]]).toEqual([0x2800, 0xffff]);
    const b = machine('cvtps2pi mm3, xmm1');
    const t = b.m.cpu.state;
    t.fpuStatus[0] = 0x2800;
    t.fpuTag[0] = 0xffff;
    expect(stop(b.m)).toBe(-1);
    expect([t.fpuStatus[0] & 0x3800, t.fpuTag[0]]).toEqual([0, 0]);
    // MM3 is physical register R3: the two int32 results, then bits 79:64 all ones.
    expect([...t.fpuRegs.subarray(30, 40)]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff]);
  });

  it('the MMX transition happens before a SIMD exception: #XM leaves TOP = 0 and the tags valid', () => {
    // Measured on the host CPU (fninit; fld1; fld1; CVTPS2PI with PE unmasked → #XM, then FSW
    // TOP = 0 and the abridged tag word FFH in the signal frame).
    const { m, x } = machine('cvtps2pi mm3, xmm1', 0, OSFXSR | OSXMMEXCPT, 0x0f80); // PM unmasked
    const s = m.cpu.state;
    x[4] = 0x3fc00000; // 1.5: inexact
    s.fpuStatus[0] = 0x3000; // TOP = 6
    s.fpuTag[0] = 0x0fff;
    s.fpuRegs.fill(0x11, 30, 40);
    expect(stop(m)).toBe(19);
    expect([s.fpuStatus[0] & 0x3800, s.fpuTag[0], s.mxcsr[0]]).toEqual([0, 0, 0x0fa0]);
    expect([...s.fpuRegs.subarray(30, 40)]).toEqual(new Array(10).fill(0x11)); // MM3 untouched
  });

  it('an x87 exception left pending is taken (#MF) before an MMX register operand, not before m64', () => {
    for (const [src, vector] of [
      ['cvtps2pi mm0, xmm1', 16],
      ['cvttpd2pi mm0, xmm1', 16],
      ['cvtpi2ps xmm1, mm0', 16],
      ['cvtpi2pd xmm1, mm0', 16],
      ['cvtpi2ps xmm1, qword ptr [rsp]', -1],
    ] as const) {
      const { m } = machine(src, 0x20); // CR0.NE: #MF, not FERR#
      m.cpu.state.fpuStatus[0] = 0x8081; // B, ES, IE (unmasked by the control word below)
      m.cpu.state.fpuControl[0] = 0x37e;
      expect(stop(m), src).toBe(vector);
    }
  });

  it('works in 32-bit protected mode, where 40H-4FH are INC/DEC, not REX', () => {
    const m = protectedMode(
      'mov eax, 3\ncvtsi2sd xmm1, eax\nsqrtsd xmm1, xmm1\ncvttsd2si ebx, xmm1\ninc ecx\nhlt',
      { captureExceptions: true },
    );
    m.cpu.state.cr[4] |= OSFXSR;
    m.cpu.stateChanged();
    runTo(m);
    expect(m.cpu.state.gpr[3]).toBe(1);
    const x = new Uint32Array(m.cpu.state.xmm.buffer, 0, 64);
    expect([x[5], x[4]]).toEqual([0x3ffbb67a, 0xe8584caa]); // √3 rounded to nearest
  });
});
