/**
 * A 64-bit guest's IA32_SYSENTER_EIP and DR0 survive VM exits, each vCPU keeping its own: on the
 * software engines the SYSENTER MSRs travel in the VMCS natural-width fields or the VMCB save
 * area (both halves), and DR0–DR3 are swapped by the driver around each entry as KVM's
 * `vcpu->arch.db[]` (the processor is shared by the vCPUs). `how` names the engine's mechanism.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { longModeGuest } from './guests.js';

const MSR_IA32_SYSENTER_EIP = 0x176;

// wrmsr(SYSENTER_EIP, rbx) ; mov dr0, rbx ; out 0x80, al ;
// rdmsr(SYSENTER_EIP) → [rsi], [rsi+4] ; mov rax, dr0 → [rsi+8] ; hlt
const CODE = [
  0xb9, 0x76, 0x01, 0x00, 0x00, 0x89, 0xd8, 0x48, 0x89, 0xda, 0x48, 0xc1, 0xea, 0x20, 0x0f, 0x30, 0x0f, 0x23,
  0xc3, 0xe6, 0x80, 0xb9, 0x76, 0x01, 0x00, 0x00, 0x0f, 0x32, 0x89, 0x06, 0x89, 0x56, 0x04, 0x0f, 0x21, 0xc0,
  0x48, 0x89, 0x46, 0x08, 0xf4,
];

export function defineLongModeStateSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: 64-bit state not in the 32-bit halves`, () => {
    it('keeps each vCPU’s 64-bit SYSENTER_EIP and DR0 across exits', () => {
      const { vm, vcpu: a, ram } = longModeGuest(open(), CODE);
      const b = vm.createVcpu(1);
      b.setSregs(a.getSregs());
      const values = [0xffff8000_11111110n, 0xffff8001_22222220n];
      a.setRegs({ ...a.getRegs(), rbx: values[0], rsi: 0x4000n });
      b.setRegs({ ...a.getRegs(), rbx: values[1], rsi: 0x4100n });
      expect(a.run()).toBe(KVM_EXIT.IO);
      expect(b.run()).toBe(KVM_EXIT.IO);
      expect(a.getMsrs([MSR_IA32_SYSENTER_EIP])[0].data).toBe(values[0]);
      expect(a.run()).toBe(KVM_EXIT.HLT);
      expect(b.run()).toBe(KVM_EXIT.HLT);
      const mem = new DataView(ram.buffer, ram.byteOffset);
      for (const [i, at] of [0x4000, 0x4100].entries()) {
        expect(mem.getBigUint64(at, true), 'SYSENTER_EIP').toBe(values[i]);
        expect(mem.getBigUint64(at + 8, true), 'DR0').toBe(values[i]);
      }
    });
  });
}
