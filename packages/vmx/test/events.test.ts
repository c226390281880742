/**
 * How the VMX driver takes NMIs and CR8 writes (the behaviour itself is the shared suites'):
 * virtual NMIs with NMI-window exiting, and the TPR shadow with the TPR threshold, as kvm-intel
 * programs them.
 */
import { KVM_EXIT, type KvmRunView, type Vcpu } from '@kvm/core';
import { tprGuest, tprGuestReturnRip } from '@kvm/core/testing';
import { assembleReal, assemblerUnavailable, NMI_GUEST, realModeGuest } from '@kvm/host/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

function ioExit(vcpu: Vcpu): [number, number] {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const io = (vcpu.kvmRun as KvmRunView).io;
  return [io.port, io.data[0]];
}

describe('VMX driver: NMIs', () => {
  const noAs = assemblerUnavailable();
  it.skipIf(noAs !== undefined)(
    `holds an NMI under virtual-NMI blocking and injects it at the NMI-window exit after the IRET${noAs ? ` (skipped: ${noAs})` : ''}`,
    () => {
      const g = realModeGuest(createVmxKvm(), assembleReal(NMI_GUEST));
      const { vcpu } = g;
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x11, 1]);
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expect(g.vm.getStats().exit_nmi_window ?? 0).toBe(0);
      expect(ioExit(vcpu)).toEqual([0x11, 2]);
      const st = g.vm.getStats();
      expect(st.exit_nmi_window).toBe(1);
      expect(st.nmi_window_exits).toBe(1);
      expect(st.nmi_injections).toBe(2);
      g.close();
    },
  );
});

describe('VMX driver: the TPR shadow', () => {
  it('runs MOV CR8 without CR-access exits and exits TPR-below-threshold when CR8 unmasks a requested interrupt', () => {
    const g = tprGuest(createVmxKvm());
    // CR8 = 15 went into VTPR with no exit (nothing was requested: TPR threshold 0).
    expect(g.vm.getStats().exit_cr_access ?? 0).toBe(0);
    expect(g.signal()).toBe(1);
    expect(ioExit(g.vcpu)[0]).toBe(0x12);
    expect(tprGuestReturnRip(g)).toBe(0x1013);
    const st = g.vm.getStats();
    expect(st.exit_tpr_below_threshold).toBe(1);
    expect(st.exit_cr_access ?? 0).toBe(0);
    // The LAPIC's TPR followed VTPR.
    expect(g.vcpu.getSregs().cr8).toBe(0n);
    g.vm.close();
    g.kvm.close();
  });
});
