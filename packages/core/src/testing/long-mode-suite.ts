/**
 * An engine without long mode (CPUID.80000001H:EDX.LM clear in KVM_GET_SUPPORTED_CPUID) must not
 * let a guest that turns it on on anyway end as a silent triple fault: KVM_RUN stops with
 * KVM_EXIT_INTERNAL_ERROR (suberror EMULATION) and the data `[MSR_EFER, EFER, RIP]`.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { Kvm, Vcpu } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

const MSR_EFER = 0xc0000080n;

function hasLongMode(kvm: Kvm): boolean {
  const leaf = kvm.getSupportedCpuid().find((e) => e.function === 0x80000001);
  return leaf !== undefined && (leaf.edx & (1 << 29)) !== 0;
}

function internalError(vcpu: Vcpu): { suberror: number; data: bigint[] } {
  const internal = (
    vcpu.kvmRun as unknown as {
      internal: { suberror: number; ndata: number; dataAt(i: number): bigint };
    }
  ).internal;
  const data: bigint[] = [];
  for (let i = 0; i < internal.ndata; i++) data.push(internal.dataAt(i));
  return { suberror: internal.suberror, data };
}

export function defineLongModeSuite(name: string, open: () => Kvm): void {
  const lm = hasLongMode(open());
  describe(`${name} engine: a guest enabling long mode the engine lacks`, () => {
    it.skipIf(lm)('stops at WRMSR EFER.LME with an internal error naming EFER (engine has no LM)', () => {
      // mov ecx, 0xc0000080 ; rdmsr ; or eax, 0x100 ; wrmsr ; hlt
      const { vcpu } = protectedModeGuest(open(), [
        ...[0xb9, 0x80, 0x00, 0x00, 0xc0],
        ...[0x0f, 0x32],
        ...[0x0d, 0x00, 0x01, 0x00, 0x00],
        ...[0x0f, 0x30],
        0xf4,
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const e = internalError(vcpu);
      expect(e.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(e.data).toEqual([MSR_EFER, 0x100n, 0x100cn]);
      // Nothing happened: RIP at the WRMSR, EFER unchanged.
      expect(vcpu.getRegs().rip).toBe(0x100cn);
      expect(vcpu.getSregs().efer & 0x100n).toBe(0n);
    });

    it.skipIf(lm)('stops when CR0.PG is set with EFER.LME from KVM_SET_SREGS (engine has no LM)', () => {
      // mov eax, cr0 ; or eax, 0x80000000 ; mov cr0, eax ; hlt
      const { vcpu } = protectedModeGuest(
        open(),
        [0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xf4],
      );
      const s = vcpu.getSregs();
      vcpu.setSregs({ ...s, efer: 0x100n, cr3: 0x10000n });
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const e = internalError(vcpu);
      expect(e.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(e.data).toEqual([MSR_EFER, 0x100n, 0x100bn]);
    });
  });
}
