/**
 * Pause-loop exiting on the software engine (VMX's PAUSE-loop exiting, SDM 25.1.3; SVM's pause
 * filter, APM 15.14.4; `kvm_vcpu_on_spin`, core's spin.ts): a vCPU that spins on PAUSE exits once
 * the silicon has measured a long spin (VMX: more than PLE_Window TSC ticks; SVM: the filter count
 * of PAUSEs), and while its VM has another vCPU its KVM_RUN then ends early with EINTR, so the
 * vCPUs taking turns on one thread pass the turn to the one it waits for instead of spinning the
 * whole budget; a VM's only vCPU spins on to the end of its budget (no one to yield to). PAUSEs
 * further apart than the gap (a delay loop) are no spin and never exit.
 */
import { Errno, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm, KVM_SVM_DEFAULT_PLE_WINDOW } from '@kvm/svm';
import { createVmxKvm, KVM_VMX_DEFAULT_PLE_WINDOW } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

const MSR_IA32_TSC = 0x10;
/** Instructions per KVM_RUN. */
const BUDGET = 100_000;

/** vCPU 0 of a VM with `cpus` vCPUs, in real mode at `pause; jmp $-2` (a spin loop). */
const spinning = (kvm: Kvm, cpus: number): Vcpu => realModeVcpu(kvm, [0xf3, 0x90, 0xeb, 0xfc], { cpus });

/**
 * vCPU 0 at a delay loop: PAUSE, then `mov cx, 200; loop $` (201 instructions, over the gap of
 * 128 ticks), again and again.
 */
const delaying = (kvm: Kvm, cpus: number): Vcpu =>
  realModeVcpu(kvm, [0xf3, 0x90, 0xb9, 0xc8, 0x00, 0xe2, 0xfe, 0xeb, 0xf7], { cpus });

/** The TSC counts retired instructions (`tscClock: 'instructions'`). */
const tsc = (vcpu: Vcpu): number => Number(vcpu.getMsrs([MSR_IA32_TSC])[0].data);

describe.each([
  // VMX exits once the spin has lasted PLE_Window ticks (two instructions a round).
  { name: 'vmx', open: createVmxKvm, spin: KVM_VMX_DEFAULT_PLE_WINDOW },
  // SVM exits at the PAUSE after the filter has counted its count down.
  { name: 'svm', open: createSvmKvm, spin: 2 * KVM_SVM_DEFAULT_PLE_WINDOW },
])('a vCPU spinning on PAUSE ($name)', ({ open, spin }) => {
  const options = { haltBlocks: false, tscClock: 'instructions', runBudget: BUDGET } as const;

  it('alone in its VM: spins until the instruction budget ends the KVM_RUN', () => {
    const vcpu = spinning(open(options), 1);
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(BUDGET);
  });

  it('with a second vCPU in the VM: yields with EINTR once the silicon has seen a long spin', () => {
    const vcpu = spinning(open(options), 2);
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(spin);
    expect(tsc(vcpu)).toBeLessThan(spin + 16);
    // The next KVM_RUN spins again (a VM entry starts a new loop) and yields again.
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(2 * spin);
    expect(tsc(vcpu)).toBeLessThan(2 * spin + 32);
  });

  it('with a second vCPU: PAUSEs further apart than the gap never exit, and the budget ends the run', () => {
    const vcpu = delaying(open(options), 2);
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(BUDGET);
  });
});
