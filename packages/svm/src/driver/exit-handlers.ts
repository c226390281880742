/**
 * The exit handlers, a table indexed by EXITCODE (`svm_exit_handlers[]`). Same contract as the
 * VMX driver's: `ExitResult.Reenter` or `ExitResult.Userspace`; guest faults injected; only
 * KVM_RUN's own failures thrown. An exit code without a handler (VMEXIT_INVALID included) is
 * reported to userspace with the code.
 */
import {
  ExitResult,
  foldLinearAddress,
  isCanonicalHigh,
  KVM_EXIT,
  KVM_INTERNAL_ERROR,
  type KvmRunView,
  kvmBreakpointExit,
  kvmDebugExit,
  kvmEmulateCpuid,
  kvmEmulateHalt,
  kvmEmulateHypercall,
  kvmEmulateInstruction,
  kvmEmulateMovDr,
  kvmEmulatePio,
  kvmEmulateRdmsr,
  kvmEmulateStringPio,
  kvmEmulateWrmsr,
  kvmEmulateXsetbv,
  kvmGetCr,
  kvmGetCrHigh,
  kvmInternalError,
  kvmIrqWindowOpened,
  kvmIs64BitMode,
  kvmMmuPageFault,
  kvmRipAdd,
  kvmSetCr,
  kvmShutdown,
  kvmTaskSwitch,
  kvmUnknownExit,
  kvmVcpuOnSpin,
  type SoftVcpu,
  skipEmulatedInstruction,
  TASK_SWITCH_CALL,
  TASK_SWITCH_GATE,
  TASK_SWITCH_IRET,
  TASK_SWITCH_JMP,
  vcpuMmu,
} from '@kvm/core';
import { EventInj, EventInjType, IoioInfo, SvmExit, TaskSwitchInfoHi } from '../silicon/svm-arch.js';
import { VMCB } from '../silicon/vmcb-layout.js';
import type { SvmDriver } from './svm.js';

export type SvmExitHandler = (d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView) => ExitResult;

/** Instruction length from nRIP (NRIP save, 15.7.1). */
function insnLen(d: SvmDriver): number {
  const v = d.vmcb;
  return (v.u32(VMCB.NEXT_RIP) - v.u32(VMCB.RIP)) >>> 0;
}

/** #PF: EXITINFO2 is the canonical 64-bit address; the MMU takes it folded to 48 bits. */
function pfInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const v = d.vmcb;
  const gva = foldLinearAddress(v.u32(VMCB.EXITINFO2), v.hi(VMCB.EXITINFO2));
  return kvmMmuPageFault(vcpu, run, gva, v.u32(VMCB.EXITINFO1));
}

/**
 * #VMEXIT(NPF) with nested paging (`npf_interception`): EXITINFO2 is the guest-physical address,
 * EXITINFO1[31:0] the nested walk's error code; the TDP MMU maps the gfn (`kvm_tdp_page_fault`)
 * or the access is MMIO and the instruction is emulated (`kvm_mmu_page_fault`).
 */
function npfInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const v = d.vmcb;
  const gpa = v.hi(VMCB.EXITINFO2) * 4294967296 + v.u32(VMCB.EXITINFO2);
  return kvmMmuPageFault(vcpu, run, gpa, v.u32(VMCB.EXITINFO1));
}

/** #BP, intercepted only for KVM_GUESTDBG_USE_SW_BP: the debugger's (svm.c bp_interception). */
function bpInterception(_d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  return kvmBreakpointExit(vcpu, run);
}

/**
 * #DB, intercepted only while the debugger owns the debug registers (USE_HW_BP): KVM_EXIT_DEBUG
 * with the VMCB's DR6 and DR7 (svm.c db_interception).
 */
function dbInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  return kvmDebugExit(vcpu, run, d.vmcb.u32(VMCB.DR6), d.vmcb.u32(VMCB.DR7));
}

/**
 * MOV DR, intercepted only while the debugger owns the debug registers: the guest reads and
 * writes its own (`dr_interception` with decode assists: the GPR in EXITINFO1[3:0]).
 */
function drInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  const code = d.vmcb.u32(VMCB.EXITCODE);
  const write = code >= SvmExit.WRITE_DR0;
  const dr = code - (write ? SvmExit.WRITE_DR0 : SvmExit.READ_DR0);
  const len = insnLen(d);
  d.cacheRegs(vcpu);
  if (kvmEmulateMovDr(vcpu, dr, write, d.vmcb.u32(VMCB.EXITINFO1) & 15, kvmIs64BitMode(vcpu))) {
    d.decacheRegs(vcpu);
    skipEmulatedInstruction(vcpu, len);
  }
  return ExitResult.Reenter;
}

function intrInterception(): ExitResult {
  return ExitResult.Reenter;
}

/** The interrupt window opened (V_IRQ taken). */
function vintrInterception(_d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  return kvmIrqWindowOpened(vcpu);
}

/** SHUTDOWN: the VMCB is undefined afterwards, so it is reinitialised (as svm.c does). */
function shutdownInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  d.initVmcb(vcpu);
  vcpu.vm.mmuResetContext(vcpu);
  return kvmShutdown(vcpu, run);
}

function cpuidInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateCpuid(vcpu, insnLen(d));
}

function haltInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  return kvmEmulateHalt(vcpu, run, insnLen(d));
}

function ioInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const info = d.vmcb.u32(VMCB.EXITINFO1);
  const size = info & IoioInfo.SZ8 ? 1 : info & IoioInfo.SZ16 ? 2 : 4;
  const isIn = (info & IoioInfo.TYPE_IN) !== 0;
  const port = info >>> IoioInfo.PORT_SHIFT;
  const len = (d.vmcb.u32(VMCB.EXITINFO2) - d.vmcb.u32(VMCB.RIP)) >>> 0;
  if (info & IoioInfo.STR) {
    const addrMask = info & IoioInfo.A16 ? 0xffff : 0xffffffff;
    const seg = (info >>> IoioInfo.SEG_SHIFT) & 7;
    const rep = (info & IoioInfo.REP) !== 0;
    return kvmEmulateStringPio(
      vcpu,
      run,
      isIn,
      size,
      port,
      rep,
      seg,
      addrMask,
      len,
      (info & IoioInfo.A64) !== 0,
    );
  }
  return kvmEmulatePio(vcpu, run, isIn, size, port, len);
}

/** `xsetbv_interception` → `kvm_emulate_xsetbv`. */
function xsetbvInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateXsetbv(vcpu, insnLen(d));
}

function msrInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  return d.vmcb.u32(VMCB.EXITINFO1) ? kvmEmulateWrmsr(vcpu, insnLen(d)) : kvmEmulateRdmsr(vcpu, insnLen(d));
}

/**
 * CR reads: decode assists give the GPR in EXITINFO1[3:0] (bit 63 valid) for MOV from CR; SMSW
 * comes without, and is emulated (`cr_interception` → `emulate_on_interception`), so it reads
 * the guest's CR0 (CD and NW included), not the one the hardware runs with.
 */
function crReadInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const cr = d.vmcb.u32(VMCB.EXITCODE) - SvmExit.READ_CR0;
  if (!(d.vmcb.hi(VMCB.EXITINFO1) & 0x80000000)) return kvmEmulateInstruction(vcpu, run);
  const gpr = d.vmcb.u32(VMCB.EXITINFO1) & 15;
  d.cacheRegs(vcpu);
  const value = kvmGetCr(vcpu, cr);
  if (value < 0) return kvmInternalError(run, KVM_INTERNAL_ERROR.UNEXPECTED_EXIT_REASON, cr);
  vcpu.regs[gpr] = value >>> 0;
  vcpu.regsHigh[gpr] = kvmGetCrHigh(vcpu, cr);
  kvmRipAdd(vcpu, insnLen(d));
  d.decacheRegs(vcpu);
  return ExitResult.Reenter;
}

/**
 * CR writes. MOV to CR has its GPR in EXITINFO1 (bit 63 valid); CLTS and LMSW (CR0 writes, any
 * operand) do not, and are emulated as `cr_interception` does without decode assists.
 */
function crWriteInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const v = d.vmcb;
  const cr = v.u32(VMCB.EXITCODE) - SvmExit.WRITE_CR0;
  if (!(v.hi(VMCB.EXITINFO1) & 0x80000000)) return kvmEmulateInstruction(vcpu, run);
  const len = insnLen(d);
  d.cacheRegs(vcpu);
  const gpr = v.u32(VMCB.EXITINFO1) & 15;
  // In 64-bit mode MOV to CR takes all 64 bits of the register.
  const high = kvmIs64BitMode(vcpu) ? vcpu.regsHigh[gpr] : 0;
  if (!kvmSetCr(vcpu, cr, vcpu.regs[gpr], high)) {
    return kvmInternalError(run, KVM_INTERNAL_ERROR.UNEXPECTED_EXIT_REASON, v.u32(VMCB.EXITCODE));
  }
  // A fault injected by the write leaves RIP at the instruction.
  if (d.eventPending(vcpu)) return ExitResult.Reenter;
  skipEmulatedInstruction(vcpu, len);
  // A CR3 load changes no interrupt, timer or mode state: the run loop may re-enter at once.
  return cr === 3 ? ExitResult.ReenterFast : ExitResult.Reenter;
}

/**
 * `task_switch_interception`: EXITINFO1 the new TSS selector, EXITINFO2 the IRET/JMP bits and an
 * exception's error code; a task gate in the IDT has its event in EXITINTINFO, which the switch
 * delivers (so `svm_complete_interrupts` must not inject it again). CALL, JMP, IRET, INT n and
 * INT3/INTO save the EIP after the instruction (nRIP); hardware events the EIP they struck at.
 */
function taskSwitchInterception(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const v = d.vmcb;
  const infoHi = v.hi(VMCB.EXITINFO2);
  const intInfo = v.u32(VMCB.EXITINTINFO);
  const idtValid = (intInfo & EventInj.VALID) !== 0;
  const type = (intInfo >>> 8) & 7;
  const vector = intInfo & 0xff;
  const source =
    infoHi & TaskSwitchInfoHi.IRET
      ? TASK_SWITCH_IRET
      : infoHi & TaskSwitchInfoHi.JMP
        ? TASK_SWITCH_JMP
        : idtValid
          ? TASK_SWITCH_GATE
          : TASK_SWITCH_CALL;
  let hasErrorCode = false;
  if (source === TASK_SWITCH_GATE) {
    v.set64(VMCB.EVENTINJ, 0, 0);
    if (type === EventInjType.INTR || type === EventInjType.SOFT) vcpu.interruptQueued = -1;
    hasErrorCode = type === EventInjType.EXCEPTION && (infoHi & TaskSwitchInfoHi.HAS_ERROR_CODE) !== 0;
  }
  // INT3 (3) and INTO (4) are exceptions by type but instructions to skip, as INT n.
  const skip =
    source !== TASK_SWITCH_GATE ||
    type === EventInjType.SOFT ||
    (type === EventInjType.EXCEPTION && (vector === 3 || vector === 4));
  d.cacheRegs(vcpu);
  return kvmTaskSwitch(vcpu, run, {
    selector: v.u32(VMCB.EXITINFO1) & 0xffff,
    source,
    instructionLength: skip ? insnLen(d) : 0,
    external: !skip,
    hasErrorCode,
    errorCode: hasErrorCode ? v.u32(VMCB.EXITINFO2) : 0,
  });
}

/**
 * INVLPG, intercepted for the shadow MMU's unsync pages (svm.c `invlpg_interception` with decode
 * assists: EXITINFO1 is the linear address). A non-canonical operand invalidates nothing.
 */
function invlpgInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  const v = d.vmcb;
  const hi = v.hi(VMCB.EXITINFO1);
  if (isCanonicalHigh(hi)) vcpuMmu(vcpu).mmu.invlpg(foldLinearAddress(v.u32(VMCB.EXITINFO1), hi));
  skipEmulatedInstruction(vcpu, insnLen(d));
  return ExitResult.ReenterFast;
}

function nopInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  skipEmulatedInstruction(vcpu, insnLen(d));
  return ExitResult.Reenter;
}

/** `pause_interception`: skip it, and a long pause loop yields to another vCPU (`kvm_vcpu_on_spin`). */
function pauseInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  skipEmulatedInstruction(vcpu, insnLen(d));
  kvmVcpuOnSpin(vcpu, d.pauseFilterCount !== 0);
  return ExitResult.Reenter;
}

/** `iret_interception`: the NMI handler is returning (the window opens once the IRET has run). */
function iretInterception(d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  d.iretIntercepted(vcpu);
  return ExitResult.Reenter;
}

/** VMMCALL (0F 01 D9, three bytes). */
function vmmcallInterception(_d: SvmDriver, vcpu: SoftVcpu): ExitResult {
  return kvmEmulateHypercall(vcpu, 3);
}

export const SVM_EXIT_HANDLERS: readonly (SvmExitHandler | undefined)[] = (() => {
  const t: (SvmExitHandler | undefined)[] = new Array(SvmExit.NPF + 1).fill(undefined);
  for (const cr of [0, 3, 4, 8]) {
    t[SvmExit.READ_CR0 + cr] = crReadInterception;
    t[SvmExit.WRITE_CR0 + cr] = crWriteInterception;
  }
  for (let dr = 0; dr < 8; dr++) {
    t[SvmExit.READ_DR0 + dr] = drInterception;
    t[SvmExit.WRITE_DR0 + dr] = drInterception;
  }
  t[SvmExit.EXCP_BASE + 1] = dbInterception;
  t[SvmExit.EXCP_BASE + 3] = bpInterception;
  t[SvmExit.EXCP_BASE + 14] = pfInterception;
  t[SvmExit.INTR] = intrInterception;
  t[SvmExit.VINTR] = vintrInterception;
  t[SvmExit.IRET] = iretInterception;
  t[SvmExit.CPUID] = cpuidInterception;
  t[SvmExit.INVD] = nopInterception;
  t[SvmExit.INVLPG] = invlpgInterception;
  t[SvmExit.PAUSE] = pauseInterception;
  t[SvmExit.HLT] = haltInterception;
  t[SvmExit.IOIO] = ioInterception;
  t[SvmExit.MSR] = msrInterception;
  t[SvmExit.SHUTDOWN] = shutdownInterception;
  t[SvmExit.TASK_SWITCH] = taskSwitchInterception;
  t[SvmExit.VMMCALL] = vmmcallInterception;
  t[SvmExit.WBINVD] = nopInterception;
  t[SvmExit.XSETBV] = xsetbvInterception;
  t[SvmExit.NPF] = npfInterception;
  return t;
})();

/** `handle_exit`: VMEXIT_INVALID is a failed entry; other codes go through the table. */
export function svmHandleExit(d: SvmDriver, vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const v = d.vmcb;
  const code = v.u32(VMCB.EXITCODE);
  const codeHi = v.hi(VMCB.EXITCODE);
  if (codeHi === 0xffffffff && code === 0xffffffff) {
    run.exitReason = KVM_EXIT.FAIL_ENTRY;
    run.failEntry.hardwareEntryFailureReason = 0xffffffffffffffffn;
    run.failEntry.cpu = 0;
    return ExitResult.Userspace;
  }
  d.countExit(vcpu, code);
  const h = codeHi === 0 && code < SVM_EXIT_HANDLERS.length ? SVM_EXIT_HANDLERS[code] : undefined;
  if (h === undefined) return kvmUnknownExit(run, code);
  return h(d, vcpu, run);
}
