/**
 * -smp on the software engine: a shadow MMU that is per vCPU (not `perVm`) cannot let two vCPUs
 * run while either has paging on (a page-table write on one would leave the other's shadow
 * stale), so KVM_RUN refuses it with EOPNOTSUPP and says why; a per-VM MMU, one vCPU, or unpaged
 * vCPUs are let through.
 */
import { describe, expect, it } from 'vitest';
import { Errno, KvmError } from '../../src/api/errors.js';
import { HvaSpace } from '../../src/soft/hva-space.js';
import { SoftVm, type VcpuMmuOps } from '../../src/soft/vm.js';
import { fakeArch } from './fake-arch.js';

const CR0_PG_PE = 0x80000001;

function vmWith(perVm: boolean | undefined): SoftVm {
  const mmu: VcpuMmuOps = {
    create() {},
    setup() {},
    resetContext() {},
    destroy() {},
    zapAll() {},
    ...(perVm === undefined ? {} : { perVm }),
  };
  return new SoftVm(fakeArch(), new HvaSpace(), 12288, mmu);
}

function refusal(vm: SoftVm, id: number): KvmError | undefined {
  try {
    vm.kvmCheckSmpMmu(vm.vcpus.get(id)!);
  } catch (e) {
    if (e instanceof KvmError) return e;
    throw e;
  }
  return undefined;
}

describe('several vCPUs and a per-vCPU shadow MMU', () => {
  it('two running vCPUs, one with paging: EOPNOTSUPP, naming the reason', () => {
    const vm = vmWith(undefined);
    vm.createVcpu(0).cr0 = CR0_PG_PE;
    vm.createVcpu(1);
    const e = refusal(vm, 1);
    expect(e?.errno).toBe(Errno.EOPNOTSUPP);
    expect(e?.message).toMatch(/shadow MMU is per vCPU/);
  });

  it('two unpaged vCPUs run (there are no guest page tables to shadow)', () => {
    const vm = vmWith(false);
    vm.createVcpu(0);
    vm.createVcpu(1);
    expect(refusal(vm, 0)).toBeUndefined();
  });

  it('a per-VM MMU (perVm) runs paged vCPUs side by side', () => {
    const vm = vmWith(true);
    vm.createVcpu(0).cr0 = CR0_PG_PE;
    vm.createVcpu(1).cr0 = CR0_PG_PE;
    expect(refusal(vm, 1)).toBeUndefined();
  });
});
