/**
 * A #PF whose delivery faults again (the IDT is not mapped): the hypervisor, which sees every
 * #PF under shadow paging, must combine the reflected faults as the processor would (#PF on #PF
 * is #DF, a fault on #DF shuts down — KVM's `kvm_multiple_exception`), so KVM_RUN ends with
 * KVM_EXIT_SHUTDOWN instead of reflecting the same #PF for ever.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const put32 = (ram: Uint8Array, a: number, v: number): void => new DataView(ram.buffer).setUint32(a, v, true);

/**
 * `tdp`: the engine pages in two dimensions (NPT), so the #PFs stay in the silicon and the triple
 * fault is its SHUTDOWN exit, after which the VMCB is reinitialised (svm.c's
 * `shutdown_interception`): only the SHUTDOWN itself is asserted.
 */
export function defineDoubleFaultSuite(name: string, open: () => Kvm, tdp = false): void {
  describe(`${name} engine: faults while delivering a fault`, () => {
    it('shuts down (triple fault) when a #PF cannot be delivered through an unmapped IDT', () => {
      // mov eax, 0xff000 ; mov cr3, eax ; paging on ; mov eax, [0x800000] (unmapped) ; hlt
      const { vm, vcpu, ram } = protectedModeGuest(open(), [
        ...[0xb8, ...imm32(0xff000), 0x0f, 0x22, 0xd8],
        ...[0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0],
        ...[0xa1, ...imm32(0x800000)],
        0xf4,
      ]);
      // PD at 0xff000: only the first 4 MiB, identity through the PT at 0xfe000.
      put32(ram, 0xff000, 0xfe003);
      for (let i = 0; i < 256; i++) put32(ram, 0xfe000 + 4 * i, (i << 12) | 3);
      const s = vcpu.getSregs();
      vcpu.setSregs({ ...s, idt: { base: 0x400000n, limit: 0x7ff } });
      expect(vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
      if (tdp) return;
      expect(vcpu.getRegs().rip).toBe(BigInt(0x1000 + 19)); // at the faulting MOV
      expect(vm.getStats().pf_guest ?? 0).toBeGreaterThanOrEqual(3);
    });

    it('shuts down when an external interrupt cannot be delivered through an unmapped IDT', () => {
      // mov eax, 0xff000 ; mov cr3, eax ; paging on ; sti ; hlt
      const { vcpu, ram } = protectedModeGuest(open(), [
        ...[0xb8, ...imm32(0xff000), 0x0f, 0x22, 0xd8],
        ...[0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0],
        0xfb,
        0xf4,
      ]);
      put32(ram, 0xff000, 0xfe003);
      for (let i = 0; i < 256; i++) put32(ram, 0xfe000 + 4 * i, (i << 12) | 3);
      const s = vcpu.getSregs();
      vcpu.setSregs({ ...s, idt: { base: 0x400000n, limit: 0x7ff } });
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      vcpu.interrupt(0x20);
      // The interrupt's IDT read faults (#PF), whose delivery faults (#DF), whose delivery faults.
      expect(vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
    });
  });
}
