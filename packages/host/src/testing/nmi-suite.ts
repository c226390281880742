/**
 * KVM_NMI (`kvm_vcpu_ioctl_nmi` → `kvm_inject_nmi`) as the host's KVM answers it: an NMI goes
 * through IVT vector 2, blocks NMIs until the handler's IRET (SDM Vol. 3A 6.7.1), and an NMI
 * queued meanwhile is held, then delivered as soon as that IRET has run (the NMI window:
 * VMX "NMI-window exiting" with virtual NMIs, SVM's IRET intercept), before the interrupted
 * code's next instruction.
 */
import { existsSync } from 'node:fs';
import { Errno, KVM_EXIT, KvmError, type KvmRunView, type Vcpu } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import type { RealModeGuest } from './guest.js';

function expectEinval(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a KvmError').toBeInstanceOf(KvmError);
  expect((caught as KvmError).code).toBe(new KvmError('x', Errno.EINVAL).code);
}

/** The port and AL of the I/O exit that `vcpu.run()` just returned. */
function ioExit(vcpu: Vcpu): [number, number] {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const io = (vcpu.kvmRun as KvmRunView).io;
  return [io.port, io.data[0]];
}

/**
 * The NMI handler counts itself in [count] and reports it (port 0x11), then its nesting depth
 * (port 0x12: 1 unless an NMI came in while it ran); the interrupted code reports [count] on 0x13.
 */
export const NMI_GUEST = `
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x8000
    mov byte ptr [count], 0
    mov byte ptr [depth], 0
    mov word ptr [2 * 4], offset nmi
    mov word ptr [2 * 4 + 2], 0
    out 0x10, al
    mov al, [count]
    out 0x13, al
    hlt
  nmi:
    inc byte ptr [count]
    inc byte ptr [depth]
    mov al, [count]
    out 0x11, al
    mov al, [depth]
    out 0x12, al
    dec byte ptr [depth]
    iret
  count: .byte 0
  depth: .byte 0
  `;

/** kvm-pvm (this project's CI host): no VMX/SVM, CPL-0 code runs in KVM's instruction emulator. */
function hostIsKvmPvm(): boolean {
  try {
    return existsSync('/sys/module/kvm_pvm');
  } catch {
    return false;
  }
}

/**
 * The held NMI after the IRET, then the rest: on kvm-pvm the emulator's IRET unmasks NMIs but
 * nothing opens an NMI window (it has neither VMX's nor SVM's), so the NMI waits for the
 * interrupted code's next exit (measured: OUT 0x13 comes first).
 */
function expectHeldNmiAfterIret(vcpu: Vcpu, noNmiWindow: boolean): void {
  if (noNmiWindow) {
    expect(ioExit(vcpu)).toEqual([0x13, 1]);
    expect(ioExit(vcpu)).toEqual([0x11, 2]);
    expect(ioExit(vcpu)).toEqual([0x12, 1]);
  } else {
    // The IRET opens the window: the second NMI comes before the interrupted code goes on, and
    // not inside the first handler (depth 1).
    expect(ioExit(vcpu)).toEqual([0x11, 2]);
    expect(ioExit(vcpu)).toEqual([0x12, 1]);
    expect(ioExit(vcpu)).toEqual([0x13, 2]);
  }
  expect(vcpu.run()).toBe(KVM_EXIT.HLT);
}

/** `onHost`: the engine is the host's /dev/kvm (on kvm-pvm, see `expectHeldNmiAfterIret`). */
export function defineNmiCases(guest: (source: string) => RealModeGuest, onHost = false): void {
  const noNmiWindow = onHost && hostIsKvmPvm();
  describe('NMI injection (KVM_NMI)', () => {
    it('delivers an NMI through vector 2, holds a second one until the handler’s IRET, then delivers it before the next instruction', () => {
      const { vcpu } = guest(NMI_GUEST);
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
      vcpu.nmi!();
      // Delivered at once (IF = 0 does not mask an NMI).
      expect(ioExit(vcpu)).toEqual([0x11, 1]);
      // The handler has not returned: this NMI must wait for its IRET.
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expectHeldNmiAfterIret(vcpu, noNmiWindow);
    });

    it('reports the NMI masked in its handler and one pending behind it (KVM_GET_VCPU_EVENTS); unmasking it with KVM_SET_VCPU_EVENTS lets that one nest', () => {
      const { vcpu } = guest(NMI_GUEST);
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
      const idle = vcpu.getVcpuEvents!();
      expect([idle.nmiMasked, idle.nmiPending, idle.nmiInjected]).toEqual([0, 0, 0]);
      // KVM_VCPUEVENT_VALID_NMI_PENDING | _SHADOW | _SMM, as KVM reports without the optional caps.
      expect(idle.flags).toBe(0x0d);
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x11, 1]);
      expect(vcpu.getVcpuEvents!().nmiMasked).toBe(1);
      vcpu.nmi!();
      const held = vcpu.getVcpuEvents!();
      expect([held.nmiMasked, held.nmiPending]).toEqual([1, 1]);
      vcpu.setVcpuEvents!({ ...held, nmiMasked: 0 });
      // Nested in the first handler: depth 2, then the first one finishes at depth 1.
      expect(ioExit(vcpu)).toEqual([0x11, 2]);
      expect(ioExit(vcpu)).toEqual([0x12, 2]);
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expect(ioExit(vcpu)).toEqual([0x13, 2]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    });

    it('KVM_SET_VCPU_EVENTS: EINVAL for unknown flags and for exception vector 2 or above 31', () => {
      const { vcpu } = guest(NMI_GUEST);
      const ev = vcpu.getVcpuEvents!();
      expectEinval(() => vcpu.setVcpuEvents!({ ...ev, flags: ev.flags | 0x80 }));
      expectEinval(() => vcpu.setVcpuEvents!({ ...ev, exceptionInjected: 1, exceptionNr: 2 }));
      expectEinval(() => vcpu.setVcpuEvents!({ ...ev, exceptionInjected: 1, exceptionNr: 32 }));
      vcpu.setVcpuEvents!(ev);
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
    });

    it('does not nest an NMI in the handler however many exits the handler makes, and folds two queued NMIs into one', () => {
      const { vcpu } = guest(NMI_GUEST);
      expect(ioExit(vcpu)).toEqual([0x10, 0]);
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x11, 1]);
      // KVM keeps at most one NMI pending behind the one being handled (process_nmi: limit 1
      // while NMIs are masked), so two more make one.
      vcpu.nmi!();
      vcpu.nmi!();
      expect(ioExit(vcpu)).toEqual([0x12, 1]);
      expectHeldNmiAfterIret(vcpu, noNmiWindow);
    });
  });
}
