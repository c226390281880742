/**
 * KVM_SET_GUEST_DEBUG and the KVM_EXIT_DEBUG it produces, KVM's generic part
 * (`kvm_arch_vcpu_ioctl_set_guest_debug`, `kvm_vcpu_do_singlestep` in arch/x86/kvm/x86.c).
 *
 * Single-stepping is the run loop's: an entry of one instruction, then KVM_EXIT_DEBUG with
 * exception 1 and DR6 = DR6_ACTIVE_LOW | DR6_BS, as `kvm_vcpu_do_singlestep` fills it. The guest
 * sees nothing of it (no TF in its RFLAGS, no #DB), so its own use of TF, DR0–DR7 and INT3 is
 * unchanged. USE_SW_BP makes the backends intercept #BP (`kvmGuestDebugExceptions`) and turn the
 * guest's INT3 into KVM_EXIT_DEBUG (`kvmBreakpointExit`); INJECT_BP / INJECT_DB queue the
 * exception as KVM does. USE_HW_BP arms debugreg[0..3] and debugreg[7] in the silicon in place of
 * the guest's DR0–DR3 and DR7 (`kvm_update_dr7`, `vcpu->arch.eff_db`): the backends intercept #DB
 * (`kvmGuestDebugExceptions`) and turn it into KVM_EXIT_DEBUG with DR6/DR7 (`kvmDebugExit`), and
 * intercept MOV DR so that the guest reads and writes its own registers (`kvmEmulateMovDr`),
 * which come back into the silicon when USE_HW_BP goes off.
 */
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import type { KvmGuestDebug } from '../api/structs.js';
import { ExitResult } from './arch-ops.js';
import { kvmQueueException } from './exceptions.js';
import type { SoftVcpu } from './vcpu.js';
import { kvmGetLinearRip } from './x86.js';

export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_SINGLESTEP = 0x2;
export const KVM_GUESTDBG_USE_SW_BP = 0x10000;
export const KVM_GUESTDBG_USE_HW_BP = 0x20000;
export const KVM_GUESTDBG_INJECT_DB = 0x40000;
export const KVM_GUESTDBG_INJECT_BP = 0x80000;
export const KVM_GUESTDBG_BLOCKIRQ = 0x100000;
/** KVM_GUESTDBG_VALID_MASK (arch/x86/include/asm/kvm_host.h); also KVM_CAP_SET_GUEST_DEBUG2's answer. */
export const KVM_GUESTDBG_VALID_MASK =
  KVM_GUESTDBG_ENABLE |
  KVM_GUESTDBG_SINGLESTEP |
  KVM_GUESTDBG_USE_HW_BP |
  KVM_GUESTDBG_USE_SW_BP |
  KVM_GUESTDBG_INJECT_BP |
  KVM_GUESTDBG_INJECT_DB |
  KVM_GUESTDBG_BLOCKIRQ;

/** DR6's bits that read as 1 (DR6_ACTIVE_LOW), and BS, the single-step bit (SDM Vol. 3B, 18.2.3). */
export const DR6_ACTIVE_LOW = 0xffff0ff0;
export const DR6_BS = 0x4000;

/** What a vCPU keeps of KVM_SET_GUEST_DEBUG. */
export interface GuestDebugState {
  guestDebug: number;
  /** debugreg[0..7] of the last KVM_SET_GUEST_DEBUG with USE_HW_BP, low 32 bits each. */
  readonly guestDebugRegs: Uint32Array;
  /** Their high 32 bits (a 64-bit guest's breakpoint addresses). */
  readonly guestDebugRegsHigh: Uint32Array;
}

/**
 * Stores `dbg` (kvm_arch_vcpu_ioctl_set_guest_debug): without ENABLE everything is off; control
 * bits outside KVM_GUESTDBG_VALID_MASK are ignored, as the host's KVM here does (it accepts them).
 * Returns the exception INJECT_* asks for (1 or 3), or -1.
 */
export function kvmSetGuestDebug(state: GuestDebugState, dbg: KvmGuestDebug): number {
  let control = dbg.control & KVM_GUESTDBG_VALID_MASK;
  if (!(control & KVM_GUESTDBG_ENABLE)) control = 0;
  state.guestDebug = control;
  state.guestDebugRegs.fill(0);
  state.guestDebugRegsHigh.fill(0);
  if (control & KVM_GUESTDBG_USE_HW_BP) {
    for (let i = 0; i < 8; i++) {
      const v = BigInt.asUintN(64, dbg.debugreg[i] ?? 0n);
      state.guestDebugRegs[i] = Number(v & 0xffffffffn);
      state.guestDebugRegsHigh[i] = Number(v >> 32n);
    }
    // The DR7 the silicon gets: bit 10 reads as 1, and the value is 32 bits (kvm_update_dr7
    // writes it to GUEST_DR7 / the VMCB, whose hardware keeps bit 10 set).
    state.guestDebugRegs[7] = (state.guestDebugRegs[7] | 0x400) >>> 0;
    state.guestDebugRegsHigh[7] = 0;
  }
  if (control & KVM_GUESTDBG_INJECT_DB) return 1;
  if (control & KVM_GUESTDBG_INJECT_BP) return 3;
  return -1;
}

/** Whether the run loop single-steps this vCPU. */
export function kvmSingleStepping(state: GuestDebugState): boolean {
  return (
    (state.guestDebug & (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) ===
    (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)
  );
}

/** #DB */
export const DB_VECTOR = 1;
/** #BP */
export const BP_VECTOR = 3;
const GP_VECTOR = 13;

/** Whether the debugger's DR0–DR3/DR7 replace the guest's in the silicon (ENABLE | USE_HW_BP). */
export function kvmUsesHwBp(state: GuestDebugState): boolean {
  return (
    (state.guestDebug & (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP)) ===
    (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP)
  );
}

/**
 * The exceptions a backend must intercept for the debugger (`update_exception_bitmap` /
 * `svm_update_exception_bitmap`): #BP with USE_SW_BP, #DB with USE_HW_BP (every #DB, the guest's
 * own too: handle_exception_nmi cannot tell them apart and gives them all to userspace, which
 * re-injects what is not its own). A bitmap of vectors.
 */
export function kvmGuestDebugExceptions(state: GuestDebugState): number {
  const g = state.guestDebug;
  if (!(g & KVM_GUESTDBG_ENABLE)) return 0;
  return (
    (g & KVM_GUESTDBG_USE_SW_BP ? 1 << BP_VECTOR : 0) | (g & KVM_GUESTDBG_USE_HW_BP ? 1 << DB_VECTOR : 0)
  );
}

/** Whether an intercepted #BP is the debugger's (USE_SW_BP), not the guest's. */
export function kvmGuestDebugOwnsBp(state: GuestDebugState): boolean {
  return kvmGuestDebugExceptions(state) !== 0;
}

/**
 * An intercepted #BP the debugger owns: KVM_EXIT_DEBUG with exception 3 and the INT3's linear
 * address (vmx.c handle_exception_nmi, svm.c bp_interception); RIP stays at the INT3, so the
 * debugger sees its breakpoint address and the guest re-executes whatever is there after it.
 */
export function kvmBreakpointExit(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  run.exitReason = KVM_EXIT.DEBUG;
  run.debug.exception = BP_VECTOR;
  run.debug.pc = (BigInt(vcpu.ripHigh >>> 0) << 32n) + BigInt(kvmGetLinearRip(vcpu));
  return ExitResult.Userspace;
}

/**
 * An intercepted #DB while the debugger owns the debug registers: KVM_EXIT_DEBUG with exception
 * 1, `dr6` (the hit's B0–B3/BS/BD bits | DR6_ACTIVE_LOW) and the silicon's DR7, at the linear
 * RIP (handle_exception_nmi's DB_VECTOR case, svm.c db_interception). An instruction breakpoint is
 * a fault (RIP on the instruction), a data breakpoint a trap (RIP after it).
 */
export function kvmDebugExit(vcpu: SoftVcpu, run: KvmRunView, dr6: number, dr7: number): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  run.exitReason = KVM_EXIT.DEBUG;
  run.debug.exception = DB_VECTOR;
  run.debug.dr6 = BigInt((dr6 | DR6_ACTIVE_LOW) >>> 0);
  run.debug.dr7 = BigInt(dr7 >>> 0);
  run.debug.pc = (BigInt(vcpu.ripHigh >>> 0) << 32n) + BigInt(kvmGetLinearRip(vcpu));
  return ExitResult.Userspace;
}

/**
 * An intercepted MOV to or from DR`dr` with general register `gpr` (handle_dr / dr_interception
 * while the debugger owns the registers): the guest's own DRn, kept in `vcpu.debugRegs`. In
 * 64-bit mode the move is 64 bits wide whatever REX.W says. A write with bits 63:32 of DR6/DR7
 * set is #GP(0), queued here (kvm_complete_insn_gp); the result says whether the instruction
 * completed, for the caller to write the GPRs back (decacheRegs) and skip it. The caller has the
 * GPRs in `vcpu.regs` (cacheRegs).
 */
export function kvmEmulateMovDr(
  vcpu: SoftVcpu,
  dr: number,
  write: boolean,
  gpr: number,
  long64: boolean,
): boolean {
  const d = vcpu.debugRegs;
  if (write) {
    if (d.set(dr, vcpu.regs[gpr], long64 ? vcpu.regsHigh[gpr] : 0)) return true;
    kvmQueueException(vcpu, GP_VECTOR, 0, true);
    return false;
  }
  const [lo, hi] = d.get(dr);
  vcpu.regs[gpr] = lo;
  vcpu.regsHigh[gpr] = long64 ? hi : 0;
  return true;
}
