/**
 * KVM_SET_GUEST_DEBUG and KVM_EXIT_DEBUG (`kvm_arch_vcpu_ioctl_set_guest_debug`,
 * `kvm_vcpu_do_singlestep`), as the host's KVM answers them: single-stepping a real-mode guest
 * one instruction per KVM_RUN (an I/O exit in between, then the next instruction's step),
 * `struct kvm_debug_exit_arch` filled with #DB, the linear PC and DR6 = DR6_ACTIVE_LOW | BS,
 * and no trace of it in the guest's RFLAGS.
 */
import { existsSync } from 'node:fs';
import { KVM_CAP, KVM_EXIT, type Kvm, type KvmRunView, type Vcpu } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import type { RealModeGuest } from './guest.js';

const KVM_GUESTDBG_ENABLE = 0x1;
const KVM_GUESTDBG_SINGLESTEP = 0x2;
const KVM_GUESTDBG_USE_SW_BP = 0x10000;
const NO_DEBUGREGS = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];

function debugExit(vcpu: Vcpu): { exception: number; pc: bigint; dr6: bigint } {
  const d = (vcpu.kvmRun as KvmRunView).debug;
  return { exception: d.exception, pc: d.pc, dr6: d.dr6 };
}

/** kvm-pvm (this project's CI host): no VMX/SVM, CPL-0 code runs in KVM's instruction emulator. */
function hostIsKvmPvm(): boolean {
  try {
    return existsSync('/sys/module/kvm_pvm');
  } catch {
    return false;
  }
}

/**
 * `onHost`: the engine is the host's /dev/kvm. There, on kvm-pvm, the #BP intercept case is
 * skipped with the reason: its emulator runs the INT3 through the guest's IVT instead.
 */
export function defineGuestDebugCases(
  kvm: () => Kvm,
  guest: (source: string) => RealModeGuest,
  onHost = false,
): void {
  const noBpIntercept =
    onHost && hostIsKvmPvm()
      ? "kvm-pvm's instruction emulator, which runs this real-mode code, delivers INT3 through the guest's IVT and never to the #BP intercept"
      : undefined;
  describe('KVM_SET_GUEST_DEBUG', () => {
    it('single-steps: one KVM_EXIT_DEBUG per instruction with #DB, the next PC and DR6.BS; an OUT exits for I/O and its completion runs on to the next step', () => {
      const { vcpu } = guest(`
        nop
        mov ax, 0x1234
        out 0x80, al
        pushf
        pop bx
        hlt
      `);
      vcpu.setGuestDebug({ control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, debugreg: NO_DEBUGREGS });
      const step = { exception: 1, dr6: 0xffff4ff0n };
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(debugExit(vcpu)).toEqual({ ...step, pc: 0x1001n });
      expect(vcpu.getRegs().rip).toBe(0x1001n);
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(debugExit(vcpu)).toEqual({ ...step, pc: 0x1004n });
      expect(vcpu.getRegs().rax & 0xffffn).toBe(0x1234n);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      // Completing the OUT is not a step of its own: the next exit is after PUSHF.
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(debugExit(vcpu)).toEqual({ ...step, pc: 0x1007n });
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG); // pop bx
      // The guest's FLAGS image has no TF: the stepping is invisible to it.
      expect(vcpu.getRegs().rbx & 0x100n).toBe(0n);
      vcpu.setGuestDebug({ control: 0, debugreg: NO_DEBUGREGS });
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    });

    it.skipIf(noBpIntercept !== undefined)(
      `USE_SW_BP: the guest's INT3 is KVM_EXIT_DEBUG with #BP at its address, RIP left on it${noBpIntercept ? ` (skipped: ${noBpIntercept})` : ''}`,
      () => {
        const { vcpu } = guest('nop\nint3\nmov ax, 7\nhlt');
        vcpu.setGuestDebug({ control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, debugreg: NO_DEBUGREGS });
        expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
        expect(debugExit(vcpu).exception).toBe(3);
        expect(debugExit(vcpu).pc).toBe(0x1001n);
        expect(vcpu.getRegs().rip).toBe(0x1001n);
        // The debugger moves RIP past its INT3 (gdb writes the original byte back instead), and
        // the guest runs on, unaware.
        const regs = vcpu.getRegs();
        regs.rip = 0x1002n;
        vcpu.setRegs(regs);
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
        expect(vcpu.getRegs().rax & 0xffffn).toBe(7n);
      },
    );

    it('is announced by KVM_CAP_SET_GUEST_DEBUG', () => {
      expect(kvm().checkExtension(KVM_CAP.SET_GUEST_DEBUG)).toBe(1);
    });

    it('does nothing without KVM_GUESTDBG_ENABLE', () => {
      const { vcpu } = guest('nop\nnop\nhlt');
      vcpu.setGuestDebug({ control: KVM_GUESTDBG_SINGLESTEP, debugreg: NO_DEBUGREGS });
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    });
  });
}
