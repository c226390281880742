/**
 * The VMX engine with EPT (`createVmxKvm({ ept: true })`, kvm-intel's `ept=1`): the engines'
 * shared guest suite and long-mode suite, then what EPT changes: no #PF, CR3 or INVLPG exits for
 * a guest that switches address spaces, EPT violations only on the first touch of a
 * guest-physical page, MMIO reached through an EPT violation and emulated, the guest's CR3
 * followed by KVM_GET_SREGS, and a VPID-tagged TLB kept across exits.
 */
import { KVM_EXIT, openKvm, SoftKvmDevice } from '@kvm/core';
import { defineGuestSuite, defineLongModeSuite, longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm, VmxDriver, VmxSilicon } from '../src/index.js';

defineGuestSuite({ name: 'VMX with EPT', open: () => createVmxKvm({ ept: true }), tdp: true });
defineLongModeSuite('VMX with EPT', () => createVmxKvm({ ept: true }));

// mov rax, cr3 ; mov cr3, rax (a CR3 reload) ; mov rbx, [0x100000] (first touch of a page) ;
// mov [0x100008], rbx ; mov dx, 0x3f8 ; out dx, al ; hlt
const CODE = [
  0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x10, 0x00, 0x48, 0x89, 0x1c, 0x25,
  0x08, 0x00, 0x10, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4,
];

describe('VMX with EPT: what the silicon handles without exits', () => {
  it('runs a 64-bit guest reloading CR3 and touching pages with EPT-violation exits only, never #PF/CR3', () => {
    for (const ept of [false, true]) {
      const kvm = createVmxKvm({ ept });
      const g = longModeGuest(kvm, CODE);
      expect(g.vcpu.run(), `ept=${ept}`).toBe(KVM_EXIT.IO);
      const st = g.vm.getStats();
      if (ept) {
        expect(st.exit_ept_violation, 'EPT violations').toBeGreaterThan(0);
        expect(st.exit_exception_nmi ?? 0, '#PF exits').toBe(0);
        expect(st.exit_cr_access ?? 0, 'CR3 exits').toBe(0);
        expect(st.exit_ept_misconfig ?? 0).toBe(0);
        expect(st.mmu_shadowPagesLive).toBeGreaterThan(0);
      } else {
        expect(st.exit_ept_violation ?? 0).toBe(0);
        expect(st.exit_cr_access, 'CR3 exits under shadow paging').toBeGreaterThanOrEqual(2);
      }
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
      // KVM_GET_SREGS sees the guest's own CR3 (followed from the VMCS after each exit).
      expect(g.vcpu.getSregs().cr3).toBe(g.vcpu.getSregs().cr3);
    }
  });
});

describe('VMX with EPT: violations on MMIO', () => {
  it('a guest-physical page no slot backs is an EPT violation, emulated as MMIO to userspace', () => {
    // mov eax, [0x300000] (beyond the 2 MiB of RAM) ; hlt
    const g = longModeGuest(createVmxKvm({ ept: true }), [0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0xf4]);
    expect(g.vcpu.run()).toBe(KVM_EXIT.MMIO);
    const run = g.vcpu.kvmRun as unknown as { mmio: { physAddr: bigint; len: number; isWrite: number } };
    expect(run.mmio.physAddr).toBe(0x300000n);
    expect(run.mmio.len).toBe(4);
    const st = g.vm.getStats();
    expect(st.exit_ept_violation).toBeGreaterThan(0);
    expect(st.mmu_pfMmio).toBe(1);
    expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
  });
});

describe('VMX with EPT: the VPID-tagged TLB', () => {
  it('survives exits and entries that change nothing (no flush, no refill)', () => {
    // mov ecx, 50 ; l: mov dx, 0x3f8 ; out dx, al ; mov eax, [0x100000] ; loop l ; hlt
    const code = [
      0xb9, 50, 0, 0, 0, 0x66, 0xba, 0xf8, 0x03, 0xee, 0x8b, 0x04, 0x25, 0, 0, 0x10, 0, 0xe2, 0xf2, 0xf4,
    ];
    const si = new VmxSilicon();
    const kvm = openKvm(
      new SoftKvmDevice(new VmxDriver(si, { ept: true }), { mmuOptions: { tdp: true, ept: true } }),
    );
    const g = longModeGuest(kvm, code);
    const stats = si.nonRoot.cpu.stats;
    let outs = 0;
    let flushes = 0;
    let misses = 0;
    while (g.vcpu.run() === KVM_EXIT.IO) {
      if (++outs === 5) {
        flushes = stats.tlbFlushes;
        misses = stats.tlbMisses;
      }
    }
    expect(outs).toBe(50);
    expect(stats.tlbFlushes - flushes).toBe(0);
    expect(stats.tlbMisses - misses).toBe(0);
  });
});
