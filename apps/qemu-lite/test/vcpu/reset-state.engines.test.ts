/**
 * The vCPU's power-on state, read after KVM_CREATE_VCPU and written back on a guest reset,
 * through the ABI on every engine: what a guest changed (registers, segments and control
 * registers, x87/SSE control, MSRs) reads back as at power-on (SDM Vol. 3A 9.1.1, Table 9-1).
 */
import type { Kvm } from '@kvm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { engineByName } from '../../src/engines.js';
import { captureResetState, resetVcpu } from '../../src/vcpu/reset-state.js';
import { hostSkipReason } from '../helpers.js';

const engines = ['vmx', 'svm', ...(hostSkipReason ? [] : ['kvm'])];
const MSR_IA32_SYSENTER_CS = 0x174;
const MSR_IA32_SYSENTER_ESP = 0x175;

let kvm: Kvm | undefined;
afterEach(() => {
  kvm?.close();
  kvm = undefined;
});

describe.each(engines)('vCPU reset state on -accel %s', (accel) => {
  it('is the architectural power-on state, and resetVcpu puts it back after the guest changed it', () => {
    kvm = engineByName(accel)!.open();
    const vm = kvm.createVm();
    const vcpu = vm.createVcpu(0);
    const state = captureResetState(kvm, vcpu);
    // SDM Table 9-1 (and KVM's kvm_vcpu_reset): the reset vector and CR0 with CD, NW and ET.
    expect(state.regs.rip).toBe(0xfff0n);
    expect(state.regs.rflags).toBe(2n);
    expect(state.sregs.cs.selector).toBe(0xf000);
    expect(state.sregs.cs.base).toBe(0xffff0000n);
    expect(state.sregs.cr0).toBe(0x60000010n);
    expect(state.fpu.fcw).toBe(0x37f);
    // MXCSR is 0x1f80 after RESET; the CI host's KVM (kvm-pvm) reports 0 before the first
    // KVM_RUN, so there only the round trip is checked.
    if (accel !== 'kvm') expect(state.fpu.mxcsr).toBe(0x1f80);
    expect(state.msrs.find((m) => m.index === MSR_IA32_SYSENTER_CS)?.data).toBe(0n);

    // What a guest leaves behind: flat protected mode, other registers, FPU control, MSRs.
    vcpu.setRegs({ ...state.regs, rax: 0x1234n, rip: 0x100000n, rflags: 0x202n });
    const s = vcpu.getSregs();
    vcpu.setSregs({
      ...s,
      cs: { ...s.cs, selector: 0x10, base: 0n, limit: 0xffffffff, db: 1, g: 1 },
      cr0: s.cr0 | 1n,
      idt: { base: 0x1000n, limit: 0x7ff },
    });
    vcpu.setFpu({ ...state.fpu, fcw: 0x27f, mxcsr: 0x1fa0 });
    expect(
      vcpu.setMsrs([
        { index: MSR_IA32_SYSENTER_CS, data: 0x10n },
        { index: MSR_IA32_SYSENTER_ESP, data: 0x8000n },
      ]),
    ).toBe(2);

    // KVM refuses writes to its paravirtual MSRs (0x4b564dxx) whose feature the vCPU's CPUID
    // does not advertise (here: none is set); those are skipped, everything else is written.
    const refused = resetVcpu(vcpu, state);
    expect(refused.filter((index) => index >>> 8 !== 0x4b564d)).toEqual([]);
    const regs = vcpu.getRegs();
    expect(regs.rip).toBe(0xfff0n);
    expect(regs.rax).toBe(state.regs.rax);
    expect(regs.rflags).toBe(2n);
    const sregs = vcpu.getSregs();
    expect(sregs.cs).toEqual(state.sregs.cs);
    expect(sregs.cr0).toBe(state.sregs.cr0);
    expect(sregs.idt).toEqual(state.sregs.idt);
    const fpu = vcpu.getFpu();
    expect(fpu.fcw).toBe(0x37f);
    expect(fpu.mxcsr).toBe(state.fpu.mxcsr);
    expect(vcpu.getMsrs([MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP]).map((m) => m.data)).toEqual([0n, 0n]);
    vm.close();
  });
});
