/**
 * The speculation-control MSRs, IA32_SPEC_CTRL (48H) and IA32_PRED_CMD (49H), as KVM gives them
 * to a guest (`vmx_set_msr`/`svm_set_msr` MSR_IA32_SPEC_CTRL, `kvm_set_msr_common`
 * MSR_IA32_PRED_CMD), with the CPUID bits that enumerate them (CPUID.(EAX=7,ECX=0):EDX[26]
 * IBRS and IBPB, [27] STIBP, [31] SSBD: SDM Vol. 2A CPUID, Vol. 4 Table 2-2).
 *
 * On hardware KVM keeps the guest's SPEC_CTRL and loads it into the processor around VM entry;
 * the software engine's processor is x86emu, which predicts no branch and executes nothing
 * speculatively, so what the bits ask for (no cross-privilege indirect-branch prediction, no
 * sibling-thread prediction, no speculative store bypass) and an IBPB's barrier already hold:
 * the MSR keeps the value and nothing else changes, as KVM's `spec_ctrl` does until the next
 * entry. That is also what lets the engine report enhanced IBRS (ARCH_CAPABILITIES.IBRS_ALL,
 * arch-capabilities.ts): with it Linux picks "Enhanced / Automatic IBRS", sets SPEC_CTRL.IBRS
 * once and keeps plain indirect calls, where on a processor with neither it compiles every
 * indirect call and jump into a retpoline (a CALL, a store to the stack and a RET to the target)
 * and refills the return stack buffer on every context switch: 12 % of Debian's boot to the
 * shell on the engine (`spectre_v2=off` against the default, 2026-12-06).
 */

/** MSR_IA32_SPEC_CTRL (SDM Vol. 4 Table 2-2). */
export const MSR_IA32_SPEC_CTRL = 0x48;
/** MSR_IA32_PRED_CMD: write-only (SDM Vol. 4 Table 2-2). */
export const MSR_IA32_PRED_CMD = 0x49;

/** IA32_SPEC_CTRL bits (Linux's msr-index.h; BHI_DIS_S: SDM Vol. 4 Table 2-2, bit 10). */
export const SPEC_CTRL = { IBRS: 1 << 0, STIBP: 1 << 1, SSBD: 1 << 2, BHI_DIS_S: 1 << 10 } as const;
/** IA32_PRED_CMD.IBPB (bit 0): an indirect branch prediction barrier. */
export const PRED_CMD_IBPB = 1 << 0;

/** CPUID.(EAX=7,ECX=0):EDX[26]: IA32_SPEC_CTRL.IBRS and IA32_PRED_CMD.IBPB (X86_FEATURE_SPEC_CTRL). */
export const CPUID_7_EDX_SPEC_CTRL = 1 << 26;
/** CPUID.(EAX=7,ECX=0):EDX[27]: IA32_SPEC_CTRL.STIBP (X86_FEATURE_INTEL_STIBP). */
export const CPUID_7_EDX_STIBP = 1 << 27;
/** CPUID.(EAX=7,ECX=0):EDX[31]: IA32_SPEC_CTRL.SSBD (X86_FEATURE_SPEC_CTRL_SSBD). */
export const CPUID_7_EDX_SSBD = 1 << 31;
/** The leaf-7 EDX bits KVM offers for these MSRs, whatever the silicon lists. */
export const CPUID_7_EDX_SPEC_CTRL_ALL = (CPUID_7_EDX_SPEC_CTRL | CPUID_7_EDX_STIBP | CPUID_7_EDX_SSBD) >>> 0;
/**
 * CPUID.(EAX=7,ECX=2):EDX[4]: IA32_SPEC_CTRL.BHI_DIS_S (X86_FEATURE_BHI_CTRL), an Intel control
 * that KVM passes on from a processor that has it (`kvm_set_cpu_caps`, CPUID_7_2_EDX). Set, no
 * branch history steers an indirect branch's prediction at CPL 0 (Intel's "Branch History
 * Injection" guidance): x86emu predicts no branch at all, so it holds. Without it a Linux guest on
 * an Intel model (6.1.y since its 2025 change: BHI_NO no longer spares a guest or an eIBRS part)
 * clears the branch history in software on every system call and VM exit (`clear_bhb_loop`); with
 * it, it sets the bit once ("BHI: BHI_DIS_S" in its sysfs spectre_v2 line). AMD parts have neither
 * the bug nor the bit, so an AMD model (`-accel svm`'s silicon) offers neither (`siliconHasBhiCtrl`).
 */
export const CPUID_7_2_EDX_BHI_CTRL = 1 << 4;

const vendorOut = new Uint32Array(4);

/** Whether the silicon, by its CPUID vendor, is an Intel model, whose BHI control x86emu honours. */
export function siliconHasBhiCtrl(cpuid: (leaf: number, subleaf: number, out: Uint32Array) => void): boolean {
  cpuid(0, 0, vendorOut);
  // "GenuineIntel": EBX, EDX, ECX.
  return vendorOut[1] === 0x756e6547 && vendorOut[3] === 0x49656e69 && vendorOut[2] === 0x6c65746e;
}

/**
 * The SPEC_CTRL bits the MSR takes: the three of every model, and BHI_DIS_S on an Intel one, the
 * processor implementing each (KVM's `kvm_spec_ctrl_test_value` asks the hardware, not the guest's
 * CPUID, which only decides whether the guest may reach the MSR at all).
 */
export const SPEC_CTRL_SUPPORTED = SPEC_CTRL.IBRS | SPEC_CTRL.STIBP | SPEC_CTRL.SSBD;
export const SPEC_CTRL_SUPPORTED_BHI = SPEC_CTRL_SUPPORTED | SPEC_CTRL.BHI_DIS_S;

/** `guest_has_spec_ctrl_msr`: the guest may read and write SPEC_CTRL (any of its bits enumerated). */
export function guestHasSpecCtrl(edx7: number): boolean {
  return (edx7 & CPUID_7_EDX_SPEC_CTRL_ALL) !== 0;
}

/** `guest_has_pred_cmd_msr`: the guest may write PRED_CMD (IBPB enumerated). */
export function guestHasPredCmd(edx7: number): boolean {
  return (edx7 & CPUID_7_EDX_SPEC_CTRL) !== 0;
}
