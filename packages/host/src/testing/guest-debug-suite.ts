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
const KVM_GUESTDBG_USE_HW_BP = 0x20000;
const KVM_GUESTDBG_INJECT_BP = 0x80000;
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
  const noDataBp =
    onHost && hostIsKvmPvm()
      ? "kvm-pvm runs this real-mode code in KVM's instruction emulator, which checks instruction breakpoints before each instruction (kvm_vcpu_check_code_breakpoint) but no data breakpoints"
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

    it.skipIf(noBpIntercept !== undefined)(
      `INJECT_BP: the guest's own INT3 given back reaches its #BP handler with the IP after the INT3, as with no debugger${noBpIntercept ? ` (skipped: ${noBpIntercept})` : ''}`,
      () => {
        // IVT entry 3 → handler; the INT3 is a trap, so the handler pops the address after it
        // (KVM injects the #BP as a soft exception of the INT3's length: vmx_inject_exception).
        const { vcpu } = guest(`
          mov word ptr [0x0c], offset handler
          mov word ptr [0x0e], 0
          int3
        after:
          hlt
        handler:
          pop bx
          mov ax, 7
          hlt
        `);
        const control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
        vcpu.setGuestDebug({ control, debugreg: NO_DEBUGREGS });
        expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
        expect(debugExit(vcpu).exception).toBe(3);
        const int3At = debugExit(vcpu).pc;
        vcpu.setGuestDebug({ control: control | KVM_GUESTDBG_INJECT_BP, debugreg: NO_DEBUGREGS });
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
        expect(vcpu.getRegs().rax & 0xffffn).toBe(7n);
        expect(vcpu.getRegs().rbx & 0xffffn).toBe(int3At + 1n);
      },
    );

    it('USE_HW_BP: an instruction breakpoint in debugreg[0] is KVM_EXIT_DEBUG with #DB, its PC and DR6.B0, RIP left on it; turned off, the guest runs on', () => {
      const { vcpu } = guest(`
        nop
        mov ax, 1
        mov bx, 2
        hlt
      `);
      // L0 | G0 (execute, 1 byte) at 0x1004, the MOV BX.
      const debugreg = [0x1004n, 0n, 0n, 0n, 0n, 0n, 0n, 0x603n];
      vcpu.setGuestDebug({ control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, debugreg });
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(debugExit(vcpu)).toEqual({ exception: 1, pc: 0x1004n, dr6: 0xffff0ff1n });
      expect(vcpu.getRegs().rip).toBe(0x1004n);
      expect(vcpu.getRegs().rax & 0xffffn).toBe(1n);
      // A fault: entering again hits it again (RF is the debugger's business, as on the CPU).
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(debugExit(vcpu).pc).toBe(0x1004n);
      vcpu.setGuestDebug({ control: 0, debugreg: NO_DEBUGREGS });
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rbx & 0xffffn).toBe(2n);
    });

    it.skipIf(noDataBp !== undefined)(
      `USE_HW_BP: a data breakpoint is KVM_EXIT_DEBUG after the store; the guest's own DR0/DR7 read back as it wrote them, and are its again when debugging stops${noDataBp ? ` (skipped: ${noDataBp})` : ''}`,
      () => {
        const { vcpu } = guest(`
          mov eax, 0x3000
          mov dr0, eax
          mov eax, 0x401
          mov dr7, eax
          mov ebx, dr0
          mov ecx, dr7
          mov word ptr [0x2000], 5
          mov edx, dr7
          hlt
          mov esi, dr7
          mov edi, dr0
          hlt
        `);
        // debugreg[1] = 0x2000, L1 with RW1 = 01 (writes), LEN1 = 01 (2 bytes).
        const debugreg = [0n, 0x2000n, 0n, 0n, 0n, 0n, 0n, 0x500404n];
        vcpu.setGuestDebug({ control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, debugreg });
        expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
        const exit = debugExit(vcpu);
        // A trap: reported after the store, DR6.B1.
        expect({ exception: exit.exception, dr6: exit.dr6 }).toEqual({ exception: 1, dr6: 0xffff0ff2n });
        // DR7 as the processor ran with it: debugreg[7] (bit 10 reads as 1), not the guest's 401H.
        expect((vcpu.kvmRun as KvmRunView).debug.dr7).toBe(0x500404n);
        const regs = vcpu.getRegs();
        expect(exit.pc).toBe(regs.rip);
        expect(regs.rbx & 0xffffffffn).toBe(0x3000n);
        expect(regs.rcx & 0xffffffffn).toBe(0x401n);
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
        expect(vcpu.getRegs().rdx & 0xffffffffn).toBe(0x401n);
        vcpu.setGuestDebug({ control: 0, debugreg: NO_DEBUGREGS });
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
        const after = vcpu.getRegs();
        expect([after.rsi & 0xffffffffn, after.rdi & 0xffffffffn]).toEqual([0x401n, 0x3000n]);
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
