/**
 * The VM-entry checks of an Intel 64 processor on 64-bit state (SDM Vol. 3 26.2.4, 26.3.1): a
 * 64-bit guest that enters, then each check broken alone — guest state fails with exit reason 33
 * (bit 31 set), host state with VMfailValid(8) — and the ABI's view of a bad RIP.
 */
import { KVM_EXIT } from '@kvm/core';
import { longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm, VMCS, VmxSilicon, VmxStatus } from '../src/index.js';
import { ExitReason, VMX_EXIT_REASONS_FAILED_VMENTRY, VmxInstructionError } from '../src/silicon/vmx-arch.js';

// mov rax, 0x123456789abcdef0 ; mov dx, 0x3f8 ; out dx, al ; hlt
const CODE = [0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4];

/** A 64-bit guest that has entered once (so its VMCS is launched and current), and its silicon. */
function entered() {
  const si = new VmxSilicon();
  const g = longModeGuest(createVmxKvm({ silicon: si }), CODE);
  expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
  return { si, ...g };
}

const read = (si: VmxSilicon, e: number): [number, number] => {
  expect(si.vmread(e)).toBe(VmxStatus.Succeed);
  return [si.vmreadValue, si.vmreadValueHigh];
};

/** [rule, field, (lo, hi) → broken (lo, hi)] */
const GUEST_CASES: [string, number, (lo: number, hi: number) => [number, number]][] = [
  ['IA-32e mode guest needs CR0.PG and CR4.PAE', VMCS.GUEST_CR4, (lo, hi) => [lo & ~0x20, hi]],
  ['guest IA32_EFER.LMA ≠ IA-32e mode guest', VMCS.GUEST_IA32_EFER, (lo, hi) => [lo & ~0x400, hi]],
  ['guest IA32_EFER.LME ≠ LMA with CR0.PG', VMCS.GUEST_IA32_EFER, (lo, hi) => [lo & ~0x100, hi]],
  ['guest IA32_EFER reserved bits', VMCS.GUEST_IA32_EFER, (lo, hi) => [lo | 0x2, hi]],
  ['CS.L and CS.D both set', VMCS.GUEST_CS_AR_BYTES, (lo, hi) => [lo | (1 << 14), hi]],
  ['TR not a 64-bit busy TSS', VMCS.GUEST_TR_AR_BYTES, (lo, hi) => [(lo & ~0xf) | 3, hi]],
  ['guest RIP not canonical', VMCS.GUEST_RIP, (lo) => [lo, 0x00008000]],
  ['guest FS/GS/TR base not canonical', VMCS.GUEST_FS_BASE, (lo) => [lo, 0x00010000]],
  ['guest CS/SS/DS/ES base bits 63:32 not 0', VMCS.GUEST_CS_BASE, (lo) => [lo, 0xffffffff]],
  ['guest GDTR/IDTR base not canonical', VMCS.GUEST_IDTR_BASE, (lo) => [lo, 0x7fff0000]],
  ['guest CR3 beyond MAXPHYADDR', VMCS.GUEST_CR3, (lo) => [lo, 0x10]],
  ['guest IA32_SYSENTER_ESP/EIP not canonical', VMCS.GUEST_SYSENTER_EIP, (lo) => [lo, 0x00400000]],
  ['guest RFLAGS.VM in an IA-32e mode guest', VMCS.GUEST_RFLAGS, (lo, hi) => [lo | (1 << 17), hi]],
];

describe('VMX silicon with Intel 64: VM-entry checks on 64-bit guest state (SDM 26.3.1)', () => {
  it('enters a 64-bit guest and runs 64-bit code (RAX keeps all 64 bits)', () => {
    const { vcpu } = entered();
    expect(vcpu.getRegs().rax).toBe(0x123456789abcdef0n);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
  });

  for (const [rule, field, breakIt] of GUEST_CASES) {
    it(`fails the entry with exit reason 33 when broken: ${rule}`, () => {
      const { si } = entered();
      const [lo, hi] = read(si, field);
      const [blo, bhi] = breakIt(lo, hi);
      expect(si.vmwrite(field, blo, bhi)).toBe(VmxStatus.Succeed);
      expect(si.vmresume()).toBe(VmxStatus.Succeed);
      expect(read(si, VMCS.VM_EXIT_REASON)[0]).toBe(
        (ExitReason.INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY) >>> 0,
      );
      expect(si.lastEntryFailure).toContain(rule);
      // Restored, the same VMCS enters again.
      si.vmwrite(field, lo, hi);
      expect(si.vmresume()).toBe(VmxStatus.Succeed);
      expect(si.lastEntryFailure).toBe('');
    });
  }

  it('refuses "IA-32e mode guest" on a 32-bit part as a reserved control (VMfailValid 7)', () => {
    const si = new VmxSilicon({ longMode: false });
    const out = new Uint32Array(2);
    si.rdmsr(0x484, out);
    expect(out[1] & (1 << 9)).toBe(0);
    si.rdmsr(0x483, out);
    expect(out[1] & (1 << 9)).toBe(0);
  });
});

describe('VMX silicon with Intel 64: host state of a 64-bit hypervisor (SDM 26.2.4)', () => {
  const hostCases: [string, number, (lo: number, hi: number) => [number, number]][] = [
    ['host address-space size must be 1', VMCS.VM_EXIT_CONTROLS, (lo, hi) => [lo & ~(1 << 9), hi]],
    ['host IA32_EFER.LMA/LME', VMCS.HOST_IA32_EFER, (lo, hi) => [lo & ~0x500, hi]],
    ['host CR4.PAE must be 1', VMCS.HOST_CR4, (lo, hi) => [lo & ~0x20, hi]],
    ['host RIP not canonical', VMCS.HOST_RIP, (lo) => [lo, 0x00800000]],
    ['host base or SYSENTER address not canonical', VMCS.HOST_GS_BASE, (lo) => [lo, 0x12340000]],
  ];
  for (const [rule, field, breakIt] of hostCases) {
    it(`fails with VMfailValid(8) when broken: ${rule}`, () => {
      const { si } = entered();
      const [lo, hi] = read(si, field);
      const [blo, bhi] = breakIt(lo, hi);
      si.vmwrite(field, blo, bhi);
      expect(si.vmresume()).toBe(VmxStatus.FailValid);
      expect(read(si, VMCS.VM_INSTRUCTION_ERROR)[0]).toBe(VmxInstructionError.ENTRY_INVALID_HOST_STATE_FIELD);
      expect(si.lastEntryFailure).toContain(rule);
    });
  }
});

describe('VMX engine with Intel 64: a non-canonical RIP from userspace', () => {
  it('is KVM_EXIT_FAIL_ENTRY with the invalid-guest-state reason, as KVM on VMX reports it', () => {
    const { vcpu } = longModeGuest(createVmxKvm(), CODE);
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x0000_8000_0000_1000n });
    expect(vcpu.run()).toBe(KVM_EXIT.FAIL_ENTRY);
    const fe = (vcpu.kvmRun as unknown as { failEntry: { hardwareEntryFailureReason: bigint } }).failEntry;
    expect(fe.hardwareEntryFailureReason).toBe(0x80000021n);
  });
});
