/**
 * The SVM engine with nested paging (`createSvmKvm({ npt: true })`): the engines' shared guest
 * suite and long-mode suite, then what NPT changes: no #PF, CR3 or INVLPG exits for a guest that
 * switches address spaces, #VMEXIT(NPF) only on the first touch of a guest-physical page, MMIO
 * reached through an NPF and emulated, the guest's CR3 followed by KVM_GET_SREGS.
 */
import { KVM_EXIT, openKvm, SoftKvmDevice } from '@kvm/core';
import { defineGuestSuite, defineLongModeSuite, longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm, SvmDriver, SvmSilicon } from '../src/index.js';

defineGuestSuite({ name: 'SVM with NPT', open: () => createSvmKvm({ npt: true }), tdp: true });
defineLongModeSuite('SVM with NPT', () => createSvmKvm({ npt: true }));

// mov rax, cr3 ; mov cr3, rax (a CR3 reload) ; mov rbx, [0x100000] (first touch of a page) ;
// mov [0x100008], rbx ; mov dx, 0x3f8 ; out dx, al ; hlt
const CODE = [
  0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x10, 0x00, 0x48, 0x89, 0x1c, 0x25,
  0x08, 0x00, 0x10, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4,
];

describe('SVM with NPT: what the silicon handles without exits', () => {
  it('runs a 64-bit guest reloading CR3 and touching pages with NPF exits only, never #PF/CR3', () => {
    for (const npt of [false, true]) {
      const kvm = createSvmKvm({ npt });
      const g = longModeGuest(kvm, CODE);
      expect(g.vcpu.run(), `npt=${npt}`).toBe(KVM_EXIT.IO);
      const st = g.vm.getStats();
      if (npt) {
        expect(st.exit_0x400, 'NPF exits').toBeGreaterThan(0);
        expect(st.exit_0x4e ?? 0, '#PF exits').toBe(0);
        expect(st.exit_0x13 ?? 0, 'CR3 write exits').toBe(0);
        expect(st.exit_0x3 ?? 0, 'CR3 read exits').toBe(0);
        expect(st.mmu_shadowPagesLive).toBeGreaterThan(0);
      } else {
        expect(st.exit_0x400 ?? 0).toBe(0);
        expect(st.exit_0x13, 'CR3 write exits under shadow paging').toBe(1);
      }
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
    }
  });
});

describe('SVM with NPT: nested page faults on MMIO', () => {
  it('a guest-physical page no slot backs is an NPF, emulated as MMIO to userspace', () => {
    // mov eax, [0x300000] (beyond the 2 MiB of RAM) ; hlt
    const g = longModeGuest(createSvmKvm({ npt: true }), [0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0xf4]);
    expect(g.vcpu.run()).toBe(KVM_EXIT.MMIO);
    const run = g.vcpu.kvmRun as unknown as { mmio: { physAddr: bigint; len: number; isWrite: number } };
    expect(run.mmio.physAddr).toBe(0x300000n);
    expect(run.mmio.len).toBe(4);
    const st = g.vm.getStats();
    expect(st.exit_0x400).toBeGreaterThan(0);
    expect(st.mmu_pfMmio).toBe(1);
    expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
  });
});

describe('SVM with NPT: the ASID-tagged TLB', () => {
  it('survives exits and entries that change nothing (no flush, no refill)', () => {
    // mov ecx, 50 ; l: mov dx, 0x3f8 ; out dx, al ; mov eax, [0x100000] ; loop l ; hlt
    const code = [
      0xb9, 50, 0, 0, 0, 0x66, 0xba, 0xf8, 0x03, 0xee, 0x8b, 0x04, 0x25, 0, 0, 0x10, 0, 0xe2, 0xf2, 0xf4,
    ];
    const si = new SvmSilicon();
    const kvm = openKvm(new SoftKvmDevice(new SvmDriver(si, { npt: true }), { mmuOptions: { tdp: true } }));
    const g = longModeGuest(kvm, code);
    const stats = si.guest.cpu.stats;
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
