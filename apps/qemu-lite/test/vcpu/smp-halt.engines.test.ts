/**
 * A halt with an APIC timer armed, TSC on the host clock, `haltBlocks` off (the vCPUs take turns
 * on one thread): a VM's only vCPU skips its TSC ahead to the expiry and runs on, but with a
 * second vCPU in the VM it must not run its clock ahead of the other's: KVM_RUN returns EINTR
 * at once, the vCPU HALTED, its TSC where the host clock has it.
 */
import { Errno, KVM_MP_STATE, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

const MSR_IA32_TSC = 0x10;
/** The timer's initial count: with TDCR divide-by-1, this many TSC ticks (about a second). */
const TMICT = 0x40000000;

/** vCPU 0 of a VM with `cpus` vCPUs, at `sti; hlt; jmp $-1` with a one-shot APIC timer armed. */
function haltWithTimer(kvm: Kvm, cpus: number): Vcpu {
  const vcpu = realModeVcpu(kvm, [0xfb, 0xf4, 0xeb, 0xfd], { cpus });
  const lapic = vcpu.getLapic();
  const regs = new DataView(lapic.regs.buffer, lapic.regs.byteOffset, lapic.regs.byteLength);
  regs.setUint32(0xf0, 0x1ff, true); // SVR: software enabled
  regs.setUint32(0x320, 0x40, true); // LVT timer: one-shot, vector 0x40, unmasked
  regs.setUint32(0x3e0, 0xb, true); // TDCR: divide by 1
  regs.setUint32(0x380, TMICT, true);
  regs.setUint32(0x390, TMICT, true);
  vcpu.setLapic(lapic);
  return vcpu;
}

const tsc = (vcpu: Vcpu): number => Number(vcpu.getMsrs([MSR_IA32_TSC])[0].data);

describe.each([
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
])('a halt with the APIC timer armed, host clock, vCPUs taking turns ($name)', ({ open }) => {
  it('one vCPU: the TSC skips ahead to the expiry', () => {
    const vcpu = haltWithTimer(open({ haltBlocks: false, tscClock: 'host' }), 1);
    runErrno(vcpu);
    expect(tsc(vcpu)).toBeGreaterThanOrEqual(TMICT);
  });

  it('two vCPUs: KVM_RUN returns EINTR, the vCPU HALTED and its TSC not ahead of the host clock', () => {
    const vcpu = haltWithTimer(open({ haltBlocks: false, tscClock: 'host' }), 2);
    const t0 = performance.now();
    expect(runErrno(vcpu)).toBe(Errno.EINTR);
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE.HALTED);
    // 1 GHz nominal: the TSC is at most the wall time since the run began (generously), far below
    // the timer's expiry.
    expect(tsc(vcpu)).toBeLessThan((performance.now() - t0 + 2000) * 1e6);
    expect(tsc(vcpu)).toBeLessThan(TMICT);
  });
});
