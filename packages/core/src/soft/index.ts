/** The software engine's generic part (KVM's kvm_main.c): SoftKvmDevice and the ArchOps contract. */
export {
  ARCH_CAP,
  CPUID_7_EDX_ARCH_CAPABILITIES,
  MSR_IA32_ARCH_CAPABILITIES,
  SOFT_ARCH_CAPABILITIES_HI,
  SOFT_ARCH_CAPABILITIES_LO,
} from './arch-capabilities.js';
export * from './arch-ops.js';
export * from './canonical.js';
export { COMMON_MSRS, type CommonMsrEntry, CommonMsrs, KVM_MAX_MCE_BANKS } from './common-msrs.js';
export { GuestDebugRegs } from './debugregs.js';
export { SOFT_VCPU_MMAP_SIZE, SoftKvmDevice, type SoftKvmOptions } from './device.js';
export { kvmEmulateInstruction } from './emulate.js';
export { FERR_IRQ, kvmFerr } from './ferr.js';
export { GuestFpu } from './fpu.js';
export {
  DB_VECTOR,
  kvmBreakpointExit,
  kvmDebugExit,
  kvmEmulateMovDr,
  kvmGuestDebugExceptions,
  kvmGuestDebugOwnsBp,
  kvmUsesHwBp,
} from './guest-debug.js';
export { loadGuestGprs, saveGuestGprs } from './guest-gprs.js';
export { DEFAULT_WASM_RAM_BYTES, HostPhysicalMemory, siliconHostMemory } from './host-physical.js';
export { ARENA_HVA, type HvaArena, HvaSpace, PAGE_SHIFT, PAGE_SIZE } from './hva-space.js';
export { type IcountShift, MAX_ICOUNT_SHIFT } from './icount.js';
export { KVM_INTERNAL_ERROR_NO_LONG_MODE_MSR, siliconHasLongMode } from './long-mode.js';
export { GFN_NO_SLOT, GFN_UNBACKED, type MemorySlot, MemorySlots } from './memslots.js';
export { shadowMmuOps, syncPaging, type VcpuMmu, vcpuMmu } from './mmu-glue.js';
export { EMULATED_MSRS, MSR, MSRS_TO_SAVE } from './msrs.js';
export { PendingPio, PIO_DATA_OFFSET } from './pio.js';
export { DEFAULT_RUN_BUDGET, kvmVcpuRun, RUN_NS, TURN_USERSPACE_EXITS } from './run-loop.js';
export * from './silicon.js';
export {
  CPUID_7_2_EDX_BHI_CTRL,
  CPUID_7_EDX_SPEC_CTRL,
  CPUID_7_EDX_SPEC_CTRL_ALL,
  CPUID_7_EDX_SSBD,
  CPUID_7_EDX_STIBP,
  MSR_IA32_PRED_CMD,
  MSR_IA32_SPEC_CTRL,
  PRED_CMD_IBPB,
  SPEC_CTRL,
  SPEC_CTRL_SUPPORTED,
  SPEC_CTRL_SUPPORTED_BHI,
  siliconHasBhiCtrl,
} from './spec-ctrl.js';
export { KVM_DEFAULT_PLE_GAP, kvmVcpuOnSpin, SPIN_YIELD_PAUSES } from './spin.js';
export {
  kvmTaskSwitch,
  TASK_SWITCH_CALL,
  TASK_SWITCH_GATE,
  TASK_SWITCH_IRET,
  TASK_SWITCH_JMP,
  type TaskSwitchRequest,
} from './task-switch.js';
export { SOFT_TSC_KHZ, type TscClockMode } from './tsc-clock.js';
export { fromKvmSegment, KVM_NR_INTERRUPTS, KvmRequest, SoftVcpu, toKvmSegment } from './vcpu.js';
export { KVM_MAX_VCPU_IDS, KVM_MAX_VCPUS, SoftVm, type VcpuMmuOps } from './vm.js';
export * from './x86.js';
export { kvmEmulateXsetbv } from './xsave.js';
