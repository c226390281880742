/**
 * The software engine's HLT inside KVM_RUN with the in-kernel irqchip and nothing armed to wake
 * the vCPU: KVM_GET_MP_STATE says HALTED; with `haltBlocks` KVM_RUN sleeps until a kick from
 * another thread, as Linux's kvm_vcpu_block sleeps until a signal; without it (one thread driving
 * several vCPUs) KVM_RUN returns EINTR at once.
 */
import { Worker } from 'node:worker_threads';
import { Errno, KVM_MP_STATE, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

/** A real-mode vCPU at 0x1000 running `sti; hlt; jmp $-1` in a VM with the in-kernel irqchip. */
const haltingVcpu = (kvm: Kvm): Vcpu => realModeVcpu(kvm, [0xfb, 0xf4, 0xeb, 0xfd]);

const engines = [
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
];

describe.each(engines)('HLT in the kernel on -accel $name', ({ open }) => {
  it('returns EINTR at once without haltBlocks, and KVM_GET_MP_STATE says HALTED', () => {
    const vcpu = haltingVcpu(open());
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
    const t0 = performance.now();
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE.HALTED);
  });

  it('sleeps in KVM_RUN with haltBlocks until another thread kicks it', async () => {
    const kvm = open({ haltBlocks: true });
    const vcpu = haltingVcpu(kvm);
    const handle = vcpu.kickHandle();
    // Another thread kicks (the engine's protocol: store 1 and notify) 150 ms from now.
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       setTimeout(() => { Atomics.store(workerData, 0, 1); Atomics.notify(workerData, 0); }, 150);`,
      { eval: true, workerData: handle.flag },
    );
    const t0 = performance.now();
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE.HALTED);
    await worker.terminate();
    // The kick ended that KVM_RUN and was consumed there, so it cannot end the next one too.
    expect(Atomics.load(handle.flag as Int32Array, 0)).toBe(0);
  });
});
