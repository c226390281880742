/**
 * The exit handlers, a table indexed by the basic exit reason (`kvm_vmx_exit_handlers[]`).
 * Contract: a handler returns `ExitResult.Reenter` (handled in the kernel) or
 * `ExitResult.Userspace` (kvm_run filled); a guest fault is injected, never thrown; a KvmError
 * is thrown only for what makes KVM_RUN itself fail (ENOMEM). A reason without a handler is
 * KVM_EXIT_UNKNOWN carrying the hardware reason.
 */
import {
  DB_VECTOR,
  ExitResult,
  foldLinearAddress,
  injectUd,
  isCanonicalHigh,
  KVM_EXIT,
  KVM_INTERNAL_ERROR,
  type KvmRunView,
  kvmBreakpointExit,
  kvmClts,
  kvmDebugExit,
  kvmEmulateCpuid,
  kvmEmulateHalt,
  kvmEmulateHypercall,
  kvmEmulateMovDr,
  kvmEmulatePio,
  kvmEmulateRdmsr,
  kvmEmulateStringPio,
  kvmEmulateWrmsr,
  kvmEmulateXsetbv,
  kvmGetCr,
  kvmGetCrHigh,
  kvmGuestDebugOwnsBp,
  kvmInternalError,
  kvmIrqWindowOpened,
  kvmIs64BitMode,
  kvmLmsw,
  kvmMmuPageFault,
  kvmSetCr,
  kvmShutdown,
  kvmTaskSwitch,
  kvmUnknownExit,
  kvmVcpuOnSpin,
  type SoftVcpu,
  skipEmulatedInstruction,
  TASK_SWITCH_GATE,
  vcpuMmu,
} from '@kvm/core';
import { EptQual } from '../silicon/ept.js';
import { VMCS } from '../silicon/vmcs-fields.js';
import { ExitReason, GuestIntrState, IntrInfo, IntrType, IoQual } from '../silicon/vmx-arch.js';
import type { VmxDriver } from './vmx.js';

export type ExitHandler = (d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView) => ExitResult;

const BP_VECTOR = 3;
const PF_VECTOR = 14;

function instructionLength(d: VmxDriver): number {
  return d.vmcs.read(VMCS.VM_EXIT_INSTRUCTION_LEN);
}

/**
 * EXIT_REASON_EXCEPTION_NMI: #PF goes to the shadow MMU; #BP, intercepted for KVM_GUESTDBG_USE_SW_BP,
 * to the debugger (handle_exception_nmi's BP_VECTOR case); others (not intercepted) to userspace.
 */
function handleException(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const info = d.vmcs.read(VMCS.VM_EXIT_INTR_INFO);
  const vector = info & IntrInfo.VECTOR_MASK;
  const errorCode = info & IntrInfo.DELIVER_CODE ? d.vmcs.read(VMCS.VM_EXIT_INTR_ERROR_CODE) : 0;
  if (vector === PF_VECTOR) {
    // The qualification is the canonical 64-bit address; the MMU takes it folded to 48 bits.
    const cr2 = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
    return kvmMmuPageFault(vcpu, run, foldLinearAddress(cr2, d.vmcs.high), errorCode);
  }
  if (vector === BP_VECTOR && kvmGuestDebugOwnsBp(vcpu)) return kvmBreakpointExit(vcpu, run);
  // handle_exception_nmi's DB_VECTOR case: the debugger owns the debug registers (USE_HW_BP);
  // DR6 from the qualification (B3–B0, BD, BS), DR7 as the guest ran with it.
  if (vector === DB_VECTOR && vcpu.debugRegs.debuggerOwns)
    return kvmDebugExit(vcpu, run, d.vmcs.read(VMCS.EXIT_QUALIFICATION), d.vmcs.read(VMCS.GUEST_DR7));
  run.exitReason = KVM_EXIT.EXCEPTION;
  run.ex.exception = vector;
  run.ex.errorCode = errorCode;
  return ExitResult.Userspace;
}

/** A host interrupt (our host timer or a kick): nothing to do but go back in. */
function handleExternalInterrupt(): ExitResult {
  return ExitResult.Reenter;
}

function handleTripleFault(_d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  return kvmShutdown(vcpu, run);
}

function handleInterruptWindow(_d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmIrqWindowOpened(vcpu);
}

/** `handle_nmi_window`: stop asking; the run loop injects the queued NMI before the next entry. */
function handleNmiWindow(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  d.nmiWindowOpened(vcpu);
  return ExitResult.Reenter;
}

/**
 * `handle_tpr_below_threshold`: the guest lowered CR8 below the pending interrupt's class (the
 * exit is trap-like: the MOV is done). The driver copied VTPR into the LAPIC after the exit; the
 * run loop injects what is now unmasked (KVM_REQ_EVENT).
 */
function handleTprBelowThreshold(): ExitResult {
  return ExitResult.Reenter;
}

function handleCpuid(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateCpuid(vcpu, instructionLength(d));
}

function handleHlt(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  return kvmEmulateHalt(vcpu, run, instructionLength(d));
}

function handleInvlpg(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  const lo = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  // A non-canonical INVLPG operand invalidates nothing (SDM INVLPG); else the folded address.
  if (isCanonicalHigh(d.vmcs.high)) vcpuMmu(vcpu).mmu.invlpg(foldLinearAddress(lo, d.vmcs.high));
  skipEmulatedInstruction(vcpu, instructionLength(d));
  return ExitResult.ReenterFast;
}

/** #PF error-code bits KVM builds from an EPT violation's qualification (`handle_ept_violation`). */
const PFERR_PRESENT = 1 << 0;
const PFERR_WRITE = 1 << 1;
const PFERR_USER = 1 << 2;
const PFERR_FETCH = 1 << 4;

/**
 * EXIT_REASON_EPT_VIOLATION (`handle_ept_violation`): the guest-physical address from the VMCS, a
 * #PF-style error code from the qualification (read → U, write → W, fetch → I/D, any right in the
 * entries → P), then `kvm_mmu_page_fault`: the TDP MMU maps the gfn, or the access is MMIO and
 * the instruction is emulated. A violation in an IRET that unblocked NMIs blocks them again (the
 * IRET runs again: SDM 28.2.3, "NMI unblocking due to IRET").
 */
function handleEptViolation(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const q = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const gpa = (d.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS) >>> 0) + d.vmcs.high * 4294967296;
  if (q & EptQual.NMI_UNBLOCK && !(d.vmcs.read(VMCS.IDT_VECTORING_INFO_FIELD) & IntrInfo.VALID)) {
    const st = d.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    d.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, st | GuestIntrState.NMI);
  }
  const errorCode =
    (q & EptQual.READ ? PFERR_USER : 0) |
    (q & EptQual.WRITE ? PFERR_WRITE : 0) |
    (q & EptQual.FETCH ? PFERR_FETCH : 0) |
    (q & (EptQual.READABLE | EptQual.WRITABLE | EptQual.EXECUTABLE) ? PFERR_PRESENT : 0);
  return kvmMmuPageFault(vcpu, run, gpa, errorCode);
}

/**
 * EXIT_REASON_EPT_MISCONFIG (`handle_ept_misconfig`): KVM's fast path serves MMIO sptes it marks
 * misconfigured on purpose; this MMU never writes one (an MMIO gfn has no spte, its accesses are
 * EPT violations), so a misconfiguration is the MMU's bug: KVM_EXIT_INTERNAL_ERROR with the
 * exit reason and the guest-physical address, never a guest retry loop.
 */
function handleEptMisconfig(d: VmxDriver, _vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const lo = d.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS);
  const hi = d.vmcs.high;
  return kvmInternalError(run, KVM_INTERNAL_ERROR.UNEXPECTED_EXIT_REASON, ExitReason.EPT_MISCONFIG, lo, hi);
}

/** CR accesses (Table 28-3): MOV to/from CR0/3/4/8, CLTS, LMSW. */
function handleCrAccess(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const q = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const cr = q & 15;
  const type = (q >>> 4) & 3;
  const reg = (q >>> 8) & 15;
  const len = instructionLength(d);
  d.cacheRegs(vcpu);
  d.decacheCrGuestBits(vcpu);
  // In 64-bit mode MOV to CR takes all 64 bits of the register (SDM MOV—Move to Control Registers).
  const long64 = type === 0 && kvmIs64BitMode(vcpu);
  switch (type) {
    case 0:
      if (!kvmSetCr(vcpu, cr, vcpu.regs[reg], long64 ? vcpu.regsHigh[reg] : 0)) {
        return kvmInternalError(run, KVM_INTERNAL_ERROR.UNEXPECTED_EXIT_REASON, ExitReason.CR_ACCESS, q);
      }
      break;
    case 1:
      // Only CR3 and CR8 reads exit (CR0/CR4 reads use the read shadows).
      if (cr !== 3 && cr !== 8) {
        return kvmInternalError(run, KVM_INTERNAL_ERROR.UNEXPECTED_EXIT_REASON, ExitReason.CR_ACCESS, q);
      }
      vcpu.regs[reg] = kvmGetCr(vcpu, cr);
      vcpu.regsHigh[reg] = kvmGetCrHigh(vcpu, cr);
      d.decacheRegs(vcpu);
      break;
    case 2:
      kvmClts(vcpu);
      break;
    case 3:
      kvmLmsw(vcpu, q >>> 16);
      break;
  }
  // A fault injected by the write leaves RIP at the instruction.
  if (d.eventPending(vcpu)) return ExitResult.Reenter;
  skipEmulatedInstruction(vcpu, len);
  // A CR3 load changes no interrupt, timer or mode state: the run loop may re-enter at once.
  return type === 0 && cr === 3 ? ExitResult.ReenterFast : ExitResult.Reenter;
}

/**
 * MOV DR (Table 28-4: DR number in bits 2:0, bit 4 set for MOV from DR, the GPR in 11:8), exiting
 * only while the debugger owns the debug registers: the guest reads and writes its own
 * (`handle_dr`, kvm_get_dr / kvm_set_dr), a bad DR6/DR7 value is #GP(0).
 */
function handleDrAccess(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  const q = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  d.cacheRegs(vcpu);
  if (kvmEmulateMovDr(vcpu, q & 7, (q & 0x10) === 0, (q >>> 8) & 15, kvmIs64BitMode(vcpu))) {
    d.decacheRegs(vcpu);
    skipEmulatedInstruction(vcpu, instructionLength(d));
  }
  return ExitResult.Reenter;
}

/** I/O (Table 28-5): non-string IN/OUT go to userspace; string I/O needs the emulator. */
function handleIo(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const q = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const size = (q & IoQual.SIZE_MASK) + 1;
  const isIn = (q & IoQual.IN) !== 0;
  const port = q >>> IoQual.PORT_SHIFT;
  if (q & IoQual.STRING) {
    // VM-exit instruction information (Table 28-8): address size in bits 9:7, segment 17:15.
    const info = d.vmcs.read(VMCS.VMX_INSTRUCTION_INFO);
    const asz = (info >>> 7) & 7;
    const addrMask = asz === 0 ? 0xffff : 0xffffffff;
    const seg = (info >>> 15) & 7;
    return kvmEmulateStringPio(
      vcpu,
      run,
      isIn,
      size,
      port,
      (q & IoQual.REP) !== 0,
      seg,
      addrMask,
      instructionLength(d),
      asz === 2,
    );
  }
  return kvmEmulatePio(vcpu, run, isIn, size, port, instructionLength(d));
}

function handleRdmsr(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateRdmsr(vcpu, instructionLength(d));
}

function handleWrmsr(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateWrmsr(vcpu, instructionLength(d));
}

/** `handle_pause`: skip it, and a long pause loop yields to another vCPU (`kvm_vcpu_on_spin`). */
function handlePause(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  skipEmulatedInstruction(vcpu, instructionLength(d));
  kvmVcpuOnSpin(vcpu, d.pauseLoopExiting);
  return ExitResult.Reenter;
}

/** INVD, WBINVD: nothing to emulate beyond skipping. */
function handleNop(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  skipEmulatedInstruction(vcpu, instructionLength(d));
  return ExitResult.Reenter;
}

/**
 * `kvm_handle_invalid_op`: RDRAND or RDSEED exited because the vCPU's CPUID lacks it
 * (`vmx_secondary_exec_control`): #UD, as on the CPU that table describes.
 */
function handleInvalidOp(_d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  injectUd(vcpu);
  return ExitResult.Reenter;
}

/** `handle_xsetbv` → `kvm_emulate_xsetbv`. */
function handleXsetbv(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateXsetbv(vcpu, instructionLength(d));
}

function handleVmcall(d: VmxDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateHypercall(vcpu, instructionLength(d));
}

/**
 * `handle_task_switch`: the qualification has the new TSS selector and the source; a switch
 * through a task gate in the IDT also has the event being delivered in the IDT-vectoring
 * information, which the switch itself delivers: it must not be injected again, and a hardware
 * exception's error code goes on the new task's stack. CALL, JMP, IRET and software interrupts
 * save the EIP after the instruction; hardware events the EIP they struck at.
 */
function handleTaskSwitch(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const q = d.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const source = q >>> 30;
  const info = d.vmcs.read(VMCS.IDT_VECTORING_INFO_FIELD);
  const idtValid = (info & IntrInfo.VALID) !== 0;
  const type = (info >>> 8) & 7;
  let hasErrorCode = false;
  let errorCode = 0;
  if (source === TASK_SWITCH_GATE && idtValid) {
    // vmx_complete_interrupts queued the event again: this switch is its delivery.
    d.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
    if (type === IntrType.EXT_INTR) vcpu.interruptQueued = -1;
    // An NMI delivered through a task gate blocks NMIs as any NMI delivery does (vmx_set_nmi_mask).
    if (type === IntrType.NMI) {
      const st = d.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
      d.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, st | GuestIntrState.NMI);
    }
    if (type === IntrType.HARD_EXCEPTION && info & IntrInfo.DELIVER_CODE) {
      hasErrorCode = true;
      errorCode = d.vmcs.read(VMCS.IDT_VECTORING_ERROR_CODE);
    }
  }
  const hardware =
    idtValid && (type === IntrType.HARD_EXCEPTION || type === IntrType.EXT_INTR || type === IntrType.NMI);
  d.cacheRegs(vcpu);
  return kvmTaskSwitch(vcpu, run, {
    selector: q & 0xffff,
    source,
    instructionLength: hardware ? 0 : instructionLength(d),
    external: hardware,
    hasErrorCode,
    errorCode,
  });
}

/** VM-entry failure: invalid guest state (reason 33 with bit 31). */
function handleInvalidState(d: VmxDriver, _vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  run.exitReason = KVM_EXIT.FAIL_ENTRY;
  run.failEntry.hardwareEntryFailureReason = BigInt(d.vmcs.read(VMCS.VM_EXIT_REASON) >>> 0);
  run.failEntry.cpu = 0;
  return ExitResult.Userspace;
}

/** The table, indexed by the basic exit reason (SDM Appendix C). */
export const VMX_EXIT_HANDLERS: readonly (ExitHandler | undefined)[] = (() => {
  const t: (ExitHandler | undefined)[] = new Array(65).fill(undefined);
  t[ExitReason.EXCEPTION_NMI] = handleException;
  t[ExitReason.EXTERNAL_INTERRUPT] = handleExternalInterrupt;
  t[ExitReason.TRIPLE_FAULT] = handleTripleFault;
  t[ExitReason.TASK_SWITCH] = handleTaskSwitch;
  t[ExitReason.INTERRUPT_WINDOW] = handleInterruptWindow;
  t[ExitReason.NMI_WINDOW] = handleNmiWindow;
  t[ExitReason.TPR_BELOW_THRESHOLD] = handleTprBelowThreshold;
  t[ExitReason.CPUID] = handleCpuid;
  t[ExitReason.HLT] = handleHlt;
  t[ExitReason.INVD] = handleNop;
  t[ExitReason.RDRAND] = handleInvalidOp;
  t[ExitReason.RDSEED] = handleInvalidOp;
  t[ExitReason.INVLPG] = handleInvlpg;
  t[ExitReason.VMCALL] = handleVmcall;
  t[ExitReason.CR_ACCESS] = handleCrAccess;
  t[ExitReason.DR_ACCESS] = handleDrAccess;
  t[ExitReason.IO_INSTRUCTION] = handleIo;
  t[ExitReason.MSR_READ] = handleRdmsr;
  t[ExitReason.MSR_WRITE] = handleWrmsr;
  t[ExitReason.INVALID_STATE] = handleInvalidState;
  t[ExitReason.PAUSE_INSTRUCTION] = handlePause;
  t[ExitReason.WBINVD] = handleNop;
  t[ExitReason.XSETBV] = handleXsetbv;
  t[ExitReason.EPT_VIOLATION] = handleEptViolation;
  t[ExitReason.EPT_MISCONFIG] = handleEptMisconfig;
  return t;
})();

/** `kvm_handle_exit`: dispatch by reason, with the named fallback. */
export function vmxHandleExit(d: VmxDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const reason = d.vmcs.read(VMCS.VM_EXIT_REASON);
  const basic = reason & 0xffff;
  if (basic < d.exitCountsLength) d.countExit(vcpu, basic);
  const h = basic < VMX_EXIT_HANDLERS.length ? VMX_EXIT_HANDLERS[basic] : undefined;
  if (h === undefined) return kvmUnknownExit(run, reason);
  return h(d, vcpu, run);
}
