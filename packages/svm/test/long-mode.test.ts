/**
 * AMD64 long mode on the SVM silicon and driver: VMRUN's consistency checks on 64-bit state (APM
 * Vol. 2 15.5.1), VMLOAD/VMSAVE moving the syscall MSRs and the hidden FS/GS/TR/LDTR state
 * (15.5.2), V_TPR as the guest's CR8 (15.21.1), and a 64-bit guest through the ABI.
 */
import { KVM_EXIT, openKvm, SoftKvmDevice } from '@kvm/core';
import { longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm, SvmDriver, SvmSilicon, VMCB } from '../src/index.js';
import { SvmStatus } from '../src/silicon/svm-silicon.js';
import { Vmcb } from '../src/silicon/vmcb.js';

// mov rax, 0x123456789abcdef0 ; mov dx, 0x3f8 ; out dx, al ; hlt
const CODE = [0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4];

/** A 64-bit guest that ran once, with its silicon and the hpa of its VMCB. */
function entered(code = CODE) {
  const si = new SvmSilicon();
  const driver = new SvmDriver(si);
  const g = longModeGuest(openKvm(new SoftKvmDevice(driver)), code);
  expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
  return { si, hpa: driver.vmcb.hpa, ...g };
}

/** A view of the VMCB at `hpa`. */
function vmcbOf(si: SvmSilicon, hpa: number): Vmcb {
  const v = new Vmcb(si.memory);
  expect(v.bind(hpa)).toBe(true);
  return v;
}

describe('SVM silicon with long mode: VMRUN consistency checks (APM 15.5.1)', () => {
  const cases: [string, (v: Vmcb) => void][] = [
    ['EFER.LME and CR0.PG with CR4.PAE = 0', (v) => v.setU32(VMCB.CR4, v.u32(VMCB.CR4) & ~0x20)],
    ['EFER.LME and CR0.PG with CR0.PE = 0', (v) => v.setU32(VMCB.CR0, v.u32(VMCB.CR0) & ~1)],
    ['with CS.L and CS.D', (v) => v.setU16(VMCB.CS + 2, v.u16(VMCB.CS + 2) | (1 << 10))],
    ['EFER reserved bits', (v) => v.setU32(VMCB.EFER, v.u32(VMCB.EFER) | 0x2)],
  ];
  for (const [rule, breakIt] of cases) {
    it(`exits with VMEXIT_INVALID: ${rule}`, () => {
      const { si, hpa } = entered();
      const v = vmcbOf(si, hpa);
      const saved = new Uint8Array(si.memory.pageView(hpa / 4096)!);
      breakIt(v);
      expect(si.vmrun(hpa)).toBe(SvmStatus.Exited);
      expect([v.u32(VMCB.EXITCODE), v.hi(VMCB.EXITCODE)]).toEqual([0xffffffff, 0xffffffff]);
      expect(si.lastInvalid).toContain(rule);
      si.memory.pageView(hpa / 4096)!.set(saved);
    });
  }

  it('refuses EFER.LME on a part without long mode (reserved)', () => {
    const si = new SvmSilicon({ longMode: false });
    expect(si.wrmsr(0xc0000080, 0x1000 | 0x100, 0)).toBe(false);
    expect(new SvmSilicon().wrmsr(0xc0000080, 0x1000 | 0x100, 0)).toBe(true);
  });
});

describe('SVM silicon: VMLOAD and VMSAVE (APM 15.5.2)', () => {
  it('move the syscall MSRs, KernelGsBase and FS base between the VMCB and the processor', () => {
    const si = new SvmSilicon();
    const mem = si.memory;
    expect(si.vmload(0x1000)).toBe(SvmStatus.Ud); // EFER.SVME clear
    si.wrmsr(0xc0000080, 0x1000, 0);
    const page = mem.allocPage();
    const v = vmcbOf(si, page * 4096);
    v.set64(VMCB.LSTAR, 0x81000000, 0xffffffff);
    v.set64(VMCB.STAR, 0x00100008, 0x00230010);
    v.set64(VMCB.KERNEL_GS_BASE, 0x1000, 0xffff8000);
    v.set64(VMCB.FS + 8, 0x2000, 0x7fff);
    v.set64(VMCB.SFMASK, 0x47700, 0);
    expect(si.vmload(page * 4096 + 8)).toBe(SvmStatus.Gp);
    expect(si.vmload(page * 4096)).toBe(SvmStatus.Exited);
    const s = si.guest.cpu.state;
    expect([s.lstar[0], s.lstar[1]]).toEqual([0x81000000, 0xffffffff]);
    expect([s.star[0], s.star[1]]).toEqual([0x00100008, 0x00230010]);
    expect([s.kernelGsBase[0], s.kernelGsBase[1]]).toEqual([0x1000, 0xffff8000]);
    expect([s.segBase[4], s.segBaseHigh[4]]).toEqual([0x2000, 0x7fff]);
    expect(s.sfmask[0]).toBe(0x47700);
    // SWAPGS in the guest would change it: VMSAVE writes the processor's value back.
    s.kernelGsBase[0] = 0x3000;
    expect(si.vmsave(page * 4096)).toBe(SvmStatus.Exited);
    expect(v.u32(VMCB.KERNEL_GS_BASE)).toBe(0x3000);
  });
});

describe('SVM engine with long mode', () => {
  it('runs a 64-bit guest: RAX keeps all 64 bits', () => {
    const { vcpu } = entered();
    expect(vcpu.getRegs().rax).toBe(0x123456789abcdef0n);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
  });

  it('gives the guest its CR8 from V_TPR without an exit (mov rax, cr8)', () => {
    // mov rax, cr8 ; out 0x80, al ; hlt
    const { vcpu } = longModeGuest(createSvmKvm(), [0x44, 0x0f, 0x20, 0xc0, 0xe6, 0x80, 0xf4]);
    vcpu.setSregs({ ...vcpu.getSregs(), cr8: 9n });
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.bytes[4096]).toBe(9);
  });
});

describe('SVM engine with long mode: a non-canonical RIP from userspace', () => {
  it('faults at the first fetch, not at VMRUN (no 15.5.1 check covers RIP): #GP with no IDT ends in KVM_EXIT_SHUTDOWN', () => {
    const { vcpu } = longModeGuest(createSvmKvm(), [0xf4]);
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x0000_8000_0000_1000n });
    // The host's KVM (kvm-pvm here) gives the same: a triple fault, KVM_EXIT_SHUTDOWN.
    expect(vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
  });
});
