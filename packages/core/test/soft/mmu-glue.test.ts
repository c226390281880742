/**
 * The MMU glue: one shadow MMU per VM (`SoftVm.mmuVm`), a context per vCPU, and what the MMU asks
 * of other vCPUs (flush, reload) arriving as their KVM_REQ bits.
 */
import type { KvmMmuVm } from '@kvm/mmu';
import { describe, expect, it } from 'vitest';
import { HvaSpace } from '../../src/soft/hva-space.js';
import { shadowMmuOps, vcpuMmu } from '../../src/soft/mmu-glue.js';
import { KvmRequest } from '../../src/soft/vcpu.js';
import { SoftVm } from '../../src/soft/vm.js';
import { fakeArch } from './fake-arch.js';

function vm(): SoftVm {
  return new SoftVm(fakeArch(), new HvaSpace(), 12288, shadowMmuOps());
}

describe('the MMU glue', () => {
  it('gives a VM one shadow MMU shared by its vCPUs, its counters counted once', () => {
    const v = vm();
    const a = v.createVcpu(0);
    const b = v.createVcpu(1);
    const kvm = v.mmuVm as KvmMmuVm;
    expect(kvm.vcpuCount).toBe(2);
    expect(vcpuMmu(a).mmu).not.toBe(vcpuMmu(b).mmu);
    // Both vCPUs start unpaged: the same four metaphysical roots serve both.
    expect(kvm.stats.shadowPagesCreated).toBe(4);
    expect(kvm.shadowPages().every((p) => p.rootCount === 2)).toBe(true);
    expect(v.getStats().mmu_shadowPagesCreated).toBe(4);
  });

  it('turns a zap of roots in use into flush and reload requests on every vCPU', () => {
    const v = vm();
    const a = v.createVcpu(0);
    const b = v.createVcpu(1);
    // 1 MiB of RAM at gpa 0, and a shadow mapping of it (vCPU A faults, paging off).
    const ram = v.hva.allocate(1 << 20);
    v.slots.set({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize: 1n << 20n,
      userspaceAddr: BigInt(ram.hva),
    });
    expect(vcpuMmu(a).mmu.pageFault(0x1000, 2).kind).toBe('fixed');
    a.requests = 0;
    b.requests = 0;
    v.mmu!.zapAll(v);
    for (const x of [a, b]) {
      expect(x.requests & KvmRequest.TLB_FLUSH).toBe(KvmRequest.TLB_FLUSH);
      expect(x.requests & KvmRequest.MMU_RELOAD).toBe(KvmRequest.MMU_RELOAD);
    }
    // Serving the reload (the run loop's mmuResetContext) lets the zapped roots go.
    v.mmuResetContext(a);
    v.mmuResetContext(b);
    const kvm = v.mmuVm as KvmMmuVm;
    expect(kvm.stats.invalidRootsFreed).toBe(4);
    expect(kvm.audit()).toEqual([]);
  });

  it("frees the VM's MMU with its last vCPU, every page back to the machine", () => {
    const v = vm();
    const before = v.hpm.allocatedPages;
    const a = v.createVcpu(0);
    const b = v.createVcpu(1);
    v.destroyVcpu(a);
    expect((v.mmuVm as KvmMmuVm).vcpuCount).toBe(1);
    v.destroyVcpu(b);
    expect(v.mmuVm).toBeNull();
    expect(v.hpm.allocatedPages).toBe(before);
  });
});
