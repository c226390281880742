/**
 * The driver VMLOADs a vCPU's VMCB only when the processor does not hold its VMLOAD state (FS,
 * GS, TR, LDTR, the syscall and SYSENTER MSRs), and VMSAVEs it only when something reads or
 * writes those fields (`SvmDriver.syncSaveArea`). These tests change that state on both sides
 * between entries: the guest (MOV FS), the VMM (KVM_SET_SREGS, KVM_SET_MSRS) and another vCPU
 * on the same silicon, and check that each side sees the other's last write.
 */
import { KVM_EXIT, type Vcpu } from '@kvm/core';
import { realModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm } from '../src/index.js';

const MSR_IA32_SYSENTER_CS = 0x174;

// mov ax, fs ; out 0x80, al ; mov ax, 0x1234 ; mov fs, ax ; out 0x80, al ; mov ax, fs ; out 0x80, al ; hlt
const FS_ROUND_TRIP = [
  0x8c, 0xe0, 0xe6, 0x80, 0xb8, 0x34, 0x12, 0x8e, 0xe0, 0xe6, 0x80, 0x8c, 0xe0, 0xe6, 0x80, 0xf4,
];

/** Runs to the next OUT to port 0x80 and returns AL. */
function out80(vcpu: Vcpu): number {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const run = vcpu.kvmRun;
  expect(run.io.port).toBe(0x80);
  return run.bytes[run.io.dataOffset];
}

describe('SVM: the VMLOAD state held in the processor between entries', () => {
  it('KVM_GET_SREGS reads the FS the guest loaded, and the guest runs with the FS KVM_SET_SREGS wrote', () => {
    const { vcpu } = realModeGuest(createSvmKvm({ npt: false }), FS_ROUND_TRIP);
    expect(out80(vcpu)).toBe(0);
    expect(out80(vcpu)).toBe(0x34);
    const s = vcpu.getSregs();
    expect(s.fs.selector).toBe(0x1234);
    expect(s.fs.base).toBe(0x12340n);
    vcpu.setSregs({ ...s, fs: { ...s.fs, selector: 0x77, base: 0x770n } });
    expect(out80(vcpu)).toBe(0x77);
    expect(vcpu.getSregs().fs.selector).toBe(0x77);
  });

  it('KVM_SET_MSRS between entries reaches the guest (RDMSR of SYSENTER_CS)', () => {
    // mov ecx, 0x174 ; rdmsr ; out 0x80, al ; rdmsr ; out 0x80, al ; hlt
    const { vcpu } = realModeGuest(
      createSvmKvm({ npt: false }),
      [0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32, 0xe6, 0x80, 0x0f, 0x32, 0xe6, 0x80, 0xf4],
    );
    vcpu.setMsrs([{ index: MSR_IA32_SYSENTER_CS, data: 0x21n }]);
    expect(out80(vcpu)).toBe(0x21);
    vcpu.setMsrs([{ index: MSR_IA32_SYSENTER_CS, data: 0x42n }]);
    expect(out80(vcpu)).toBe(0x42);
    expect(vcpu.getMsrs([MSR_IA32_SYSENTER_CS])[0].data).toBe(0x42n);
  });

  it('keeps each vCPU its own FS when two vCPUs take turns on one silicon', () => {
    const kvm = createSvmKvm({ npt: false });
    const { vm, vcpu: a, ram } = realModeGuest(kvm, FS_ROUND_TRIP);
    // The second vCPU runs at 0000:2000: mov ax, 0x5678 ; mov fs, ax ; out 0x80, al ; mov ax, fs ; out 0x80, al ; hlt
    ram.set([0xb8, 0x78, 0x56, 0x8e, 0xe0, 0xe6, 0x80, 0x8c, 0xe0, 0xe6, 0x80, 0xf4], 0x2000);
    const b = vm.createVcpu(1);
    const s = b.getSregs();
    b.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
    b.setRegs({ ...b.getRegs(), rip: 0x2000n, rsp: 0x9000n });
    expect(out80(a)).toBe(0);
    expect(out80(a)).toBe(0x34); // a's FS is 0x1234 now, held in the processor
    expect(out80(b)).toBe(0x78); // b's FS is 0x5678: a's went into a's VMCB first
    expect(a.getSregs().fs.selector).toBe(0x1234);
    expect(out80(a)).toBe(0x34); // mov ax, fs: a's own FS again
    expect(out80(b)).toBe(0x78);
    expect(b.getSregs().fs.selector).toBe(0x5678);
  });

  it('runs with the DS that KVM_SET_SREGS wrote between entries (the VMCB clean bits cleared by the write)', () => {
    // mov al, [0] ; out 0x80, al ; mov al, [0] ; out 0x80, al ; hlt
    const { vcpu, ram } = realModeGuest(
      createSvmKvm({ npt: false }),
      [0xa0, 0x00, 0x00, 0xe6, 0x80, 0xa0, 0x00, 0x00, 0xe6, 0x80, 0xf4],
    );
    ram[0x5000] = 0x55;
    ram[0x6000] = 0x66;
    const s = vcpu.getSregs();
    vcpu.setSregs({ ...s, ds: { ...s.ds, selector: 0x500, base: 0x5000n } });
    expect(out80(vcpu)).toBe(0x55);
    const t = vcpu.getSregs();
    vcpu.setSregs({ ...t, ds: { ...t.ds, selector: 0x600, base: 0x6000n } });
    expect(out80(vcpu)).toBe(0x66);
  });
});
