/**
 * How the SVM driver takes NMIs and CR8 writes (the behaviour itself is the shared suites'): NMI
 * masking kept by the driver with the IRET intercept, and the CR8 write intercept only while the
 * TPR masks a requested interrupt (V_TPR otherwise), as kvm-amd programs them.
 */
import { KVM_EXIT, type KvmRunView, type Vcpu } from '@kvm/core';
import { tprGuest, tprGuestReturnRip } from '@kvm/core/testing';
import { assembleReal, assemblerUnavailable, NMI_GUEST, realModeGuest } from '@kvm/host/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm } from '../src/index.js';

/** SVM exit codes (APM Vol. 2 Appendix C): IRET 74H, CR8 write 18H. */
const EXIT_IRET = 'exit_0x74';
const EXIT_WRITE_CR8 = 'exit_0x18';

function ioExit(vcpu: Vcpu): [number, number] {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const io = (vcpu.kvmRun as KvmRunView).io;
  return [io.port, io.data[0]];
}

describe('SVM driver: NMIs', () => {
  const noAs = assemblerUnavailable();
  it.skipIf(noAs !== undefined)(
    `keeps NMIs masked across the handler's exits and unmasks them at its intercepted IRET${noAs ? ` (skipped: ${noAs})` : ''}`,
    () => {
      const g = realModeGuest(createSvmKvm(), assembleReal(NMI_GUEST));
      const { vcpu } = g;
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x11, 1]);
      vcpu.nmi!();
      // Depth 1: the second NMI did not go in at this entry, though the handler exited.
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expect(g.vm.getStats()[EXIT_IRET] ?? 0).toBe(0);
      expect(ioExit(vcpu)).toEqual([0x11, 2]);
      expect(g.vm.getStats()[EXIT_IRET]).toBe(1);
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expect(ioExit(vcpu)).toEqual([0x13, 2]);
      expect(g.vm.getStats()[EXIT_IRET]).toBe(2);
      g.close();
    },
  );
});

describe('SVM driver: V_TPR and the CR8 write intercept', () => {
  it('lets CR8 writes through V_TPR while nothing is requested, and intercepts the one that unmasks a requested interrupt', () => {
    const g = tprGuest(createSvmKvm());
    expect(g.vm.getStats()[EXIT_WRITE_CR8] ?? 0).toBe(0);
    expect(g.vcpu.getSregs().cr8).toBe(15n);
    expect(g.signal()).toBe(1);
    expect(ioExit(g.vcpu)[0]).toBe(0x12);
    expect(tprGuestReturnRip(g)).toBe(0x1013);
    expect(g.vm.getStats()[EXIT_WRITE_CR8]).toBe(1);
    g.vm.close();
    g.kvm.close();
  });
});
