/**
 * Pause-loop exiting on the software engine (`kvm_vcpu_on_spin`, core's spin.ts): a vCPU that
 * spins on PAUSE while its VM has another vCPU ends its KVM_RUN early with EINTR, so the vCPUs
 * taking turns on one thread pass the turn to the one it waits for instead of spinning the whole
 * budget; a VM's only vCPU spins on to the end of its budget (no one to yield to).
 */
import { Errno, type Kvm, SPIN_YIELD_PAUSES, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

const MSR_IA32_TSC = 0x10;
/** Instructions per KVM_RUN. */
const BUDGET = 100_000;

/** vCPU 0 of a VM with `cpus` vCPUs, in real mode at `pause; jmp $-2` (a spin loop). */
const spinning = (kvm: Kvm, cpus: number): Vcpu => realModeVcpu(kvm, [0xf3, 0x90, 0xeb, 0xfc], { cpus });

/** The TSC counts retired instructions (`tscClock: 'instructions'`). */
const tsc = (vcpu: Vcpu): number => Number(vcpu.getMsrs([MSR_IA32_TSC])[0].data);

describe.each([
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
])('a vCPU spinning on PAUSE ($name)', ({ open }) => {
  const options = { haltBlocks: false, tscClock: 'instructions', runBudget: BUDGET } as const;

  it('alone in its VM: spins until the instruction budget ends the KVM_RUN', () => {
    const vcpu = spinning(open(options), 1);
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(BUDGET);
  });

  it('with a second vCPU in the VM: yields with EINTR after a short spin, long before the budget', () => {
    const vcpu = spinning(open(options), 2);
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    // Two instructions a round: at least SPIN_YIELD_PAUSES PAUSEs ran, and not many more.
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(SPIN_YIELD_PAUSES);
    expect(tsc(vcpu)).toBeLessThan(4 * SPIN_YIELD_PAUSES + 16);
    // The next KVM_RUN spins again and yields again: the vCPU is not stuck.
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeLessThan(8 * SPIN_YIELD_PAUSES + 32);
  });
});
