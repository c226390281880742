import { describe, expect, it } from 'vitest';
import { type KvmMmu, type KvmMmuVm, kvmMmuCreateVm } from '../src/index.js';
import {
  type FakeHost,
  FakeVcpuHost,
  G_A,
  G_D,
  G_P,
  G_U,
  G_W,
  GuestPageTables,
} from '../src/testing/index.js';
import { hpaOf, PF_W, rig, shadowTranslate } from './helpers.js';

/** Two vCPUs of one VM over one shadow MMU, both starting in `host.paging`'s mode and CR3. */
function twoVcpus(
  host: FakeHost,
  options = {},
): { vm: KvmMmuVm; a: KvmMmu; b: KvmMmu; ha: FakeVcpuHost; hb: FakeVcpuHost } {
  const vm = kvmMmuCreateVm(host, { audit: true, unsync: false, ...options });
  const ha = new FakeVcpuHost(host);
  const hb = new FakeVcpuHost(host);
  Object.assign(ha.paging, host.paging);
  Object.assign(hb.paging, host.paging);
  const a = vm.createVcpuMmu(ha)!;
  const b = vm.createVcpuMmu(hb)!;
  expect(a.kvmMmuSetup()).toBe(true);
  expect(b.kvmMmuSetup()).toBe(true);
  return { vm, a, b, ha, hb };
}

function expectVmSound(vm: KvmMmuVm): void {
  expect(vm.audit()).toEqual([]);
  expect(vm.auditLog).toEqual([]);
}

describe('one shadow MMU per VM', () => {
  it('two vCPUs on the same guest CR3 share one root and every shadow page under it', () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W | G_U);
    const { vm, a, b } = twoVcpus(host);
    // One PML4 shadow for both: the second vCPU's root came from the cache.
    expect(a.rootHpa).toBe(b.rootHpa);
    expect(vm.stats.shadowPagesCreated).toBe(1);
    const root = vm.shadowPages().find((p) => p.level === 4)!;
    expect(root.rootCount).toBe(2);
    // vCPU A's fault builds the tables; vCPU B walks them without faulting.
    expect(a.pageFault(0x400000, 0)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, b, 0x400000)!.hpa).toBe(hpaOf(host, 0x200000));
    expect(vm.stats.pageFaults).toBe(1);
    expectVmSound(vm);
  });

  it('32-bit guests: each vCPU has its own PAE root page over the same four shared roots', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W);
    const { vm, a, b } = twoVcpus(host);
    expect(a.rootHpa).not.toBe(b.rootHpa);
    expect(vm.stats.shadowPagesCreated).toBe(4);
    expect(vm.shadowPages().every((p) => p.rootCount === 2)).toBe(true);
    b.pageFault(0x1000, 0);
    expect(shadowTranslate(host, a, 0x1000)!.hpa).toBe(hpaOf(host, 0x200000));
    expectVmSound(vm);
  });

  it("a guest pte write emulated on one vCPU changes the shadow the other uses, and flushes the other's TLB", () => {
    const { host, gt } = rig('paging64');
    const pte = gt.map(0x400000, 0x200000, G_P | G_W | G_A | G_D);
    const { vm, a, b, ha, hb } = twoVcpus(host);
    b.pageFault(0x400000, 0);
    expect(shadowTranslate(host, b, 0x400000)!.hpa).toBe(hpaOf(host, 0x200000));
    const aFlushes = ha.tlbFlushes;
    // vCPU A emulates a store to the (write-protected) guest pte: remap read-only elsewhere.
    host.write64(pte, 0x300000 | G_P | G_A, 0);
    a.kvmMmuPteWrite(pte, 8);
    const t = shadowTranslate(host, b, 0x400000)!;
    expect(t.hpa).toBe(hpaOf(host, 0x300000));
    expect(t.w).toBe(false);
    // The acting vCPU flushed at once; the other must flush before it enters again.
    expect(ha.tlbFlushes).toBe(aFlushes + 1);
    expect(hb.tlbFlushRequests).toBe(1);
    expect(ha.tlbFlushRequests).toBe(0);
    expect(vm.stats.remoteTlbFlushes).toBe(1);
    expectVmSound(vm);
  });

  it('write protection reaches sptes of every vCPU: a page becoming a table for one vCPU loses W for the other', () => {
    const { host, gt } = rig('paging64');
    const other = new GuestPageTables(host, 'paging64', 0x180000);
    // vCPU B maps gpa 0x500000 as ordinary writable data; vCPU A's tables will use that frame.
    gt.map(0x400000, 0x500000, G_P | G_W | G_A | G_D);
    const { vm, a, b, ha, hb } = twoVcpus(host);
    b.pageFault(0x400000, PF_W);
    expect(shadowTranslate(host, b, 0x400000)!.w).toBe(true);
    // A's own address space whose page table lives at gpa 0x500000.
    other.map(0x800000, 0x600000, G_P | G_W);
    const pdeGpa = other.entryGpa(0x800000, 2);
    host.write64(pdeGpa, 0x500000 | G_P | G_W | G_U, 0);
    host.write64(0x500000 + ((0x800000 >>> 12) & 511) * 8, 0x600000 | G_P | G_W, 0);
    ha.paging.cr3 = other.cr3;
    expect(a.kvmSetCr3(other.cr3)).toBe('ok');
    expect(a.pageFault(0x800000, 0)).toEqual({ kind: 'fixed' });
    // gfn 0x500 is now a shadowed guest table: B's writable mapping of it lost W, B must flush.
    expect(shadowTranslate(host, b, 0x400000)!.w).toBe(false);
    expect(hb.tlbFlushRequests).toBeGreaterThan(0);
    // B's next write to it is an emulated page-table write.
    expect(b.pageFault(0x400000, PF_W)).toEqual({ kind: 'emulate', gpa: 0x500000 });
    void ha;
    expectVmSound(vm);
  });

  it('a zap asks every vCPU for a TLB flush (kvm_flush_remote_tlbs)', () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W);
    const { vm, a, ha, hb } = twoVcpus(host);
    a.pageFault(0x400000, 0);
    vm.kvmMmuZapAll();
    // No vCPU acts on a slot change: both get the request.
    expect(ha.tlbFlushRequests).toBe(1);
    expect(hb.tlbFlushRequests).toBe(1);
    expectVmSound(vm);
  });

  it('a root zapped while two vCPUs use it stays valid until the last of them reloads, then is freed', () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W);
    const { vm, a, b, ha, hb } = twoVcpus(host);
    a.pageFault(0x400000, 0);
    const oldRoot = a.rootHpa;
    // The guest's PML4 stops being a table as far as vCPU A's emulator can tell: unprotect it.
    expect(a.kvmMmuUnprotectPage(gt.cr3 / 4096)).toBe(false); // a root in use: not unprotected
    expect(ha.mmuReloadRequests).toBe(1);
    expect(hb.mmuReloadRequests).toBe(1);
    const invalid = vm.shadowPages().find((p) => p.invalid)!;
    expect(invalid.hpfn * 4096).toBe(oldRoot);
    expect(invalid.rootCount).toBe(2);
    // B still runs on it: an emptied, valid page (not freed garbage), so its walks just miss.
    expect(host.readHost64(oldRoot)).toEqual({ lo: 0, hi: 0 });
    expect(shadowTranslate(host, b, 0x400000)).toBeNull();
    expectVmSound(vm);
    // A serves its reload: a new root; the old one stays for B.
    expect(a.kvmMmuLoad()).toBe(true);
    expect(a.rootHpa).not.toBe(oldRoot);
    expect(vm.stats.invalidRootsFreed).toBe(0);
    expect(host.readHost64(oldRoot)).toEqual({ lo: 0, hi: 0 });
    // B reloads (here through its next fault): the last user lets go and the old root is freed.
    expect(b.pageFault(0x400000, 0)).toEqual({ kind: 'fixed' });
    expect(b.rootHpa).toBe(a.rootHpa);
    expect(vm.stats.invalidRootsFreed).toBe(1);
    expect(vm.shadowPages().some((p) => p.invalid)).toBe(false);
    expectVmSound(vm);
  });

  it("destroying one vCPU keeps the VM's pages for the other; destroying all returns every host page", () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W);
    const { vm, a, b } = twoVcpus(host);
    a.pageFault(0x400000, 0);
    a.kvmMmuDestroy();
    expect(vm.vcpuCount).toBe(1);
    expect(shadowTranslate(host, b, 0x400000)!.hpa).toBe(hpaOf(host, 0x200000));
    expect(vm.shadowPages().find((p) => p.level === 4)!.rootCount).toBe(1);
    expectVmSound(vm);
    b.kvmMmuDestroy();
    vm.kvmMmuDestroy();
    expect(host.liveHostPages).toBe(0);
  });

  it('vCPUs in different paging modes keep their shadows apart in one cache', () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W);
    const { vm, a, b, hb } = twoVcpus(host);
    // B is an AP still in real mode (paging off: metaphysical identity pages).
    hb.paging.cr0 = 0x10;
    hb.paging.efer = 0;
    hb.paging.cr4 = 0;
    expect(b.kvmMmuReset()).toBe(true);
    expect(b.mode).toBe('nonpaging');
    expect(b.pageFault(0x200000, PF_W)).toEqual({ kind: 'fixed' });
    expect(a.pageFault(0x400000, 0)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, b, 0x200000)!.hpa).toBe(hpaOf(host, 0x200000));
    expect(shadowTranslate(host, a, 0x400000)!.hpa).toBe(hpaOf(host, 0x200000));
    expectVmSound(vm);
  });
});
