/**
 * KVM_EXIT_*: why KVM_RUN returned, `kvm_run.exit_reason`. Values are `<linux/kvm.h>`'s (the
 * layout test checks them against the machine's header), the other architectures' included so
 * that a number never goes unnamed.
 */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  S390_SIEIC: 13,
  S390_RESET: 14,
  DCR: 15,
  NMI: 16,
  INTERNAL_ERROR: 17,
  OSI: 18,
  PAPR_HCALL: 19,
  S390_UCONTROL: 20,
  WATCHDOG: 21,
  S390_TSCH: 22,
  EPR: 23,
  SYSTEM_EVENT: 24,
  S390_STSI: 25,
  IOAPIC_EOI: 26,
  HYPERV: 27,
  ARM_NISV: 28,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
  DIRTY_RING_FULL: 31,
  AP_RESET_HOLD: 32,
  X86_BUS_LOCK: 33,
  XEN: 34,
  RISCV_SBI: 35,
  RISCV_CSR: 36,
  NOTIFY: 37,
} as const;

export type KvmExitName = keyof typeof KVM_EXIT;

/** The exit-reason names indexed by number, for dispatch tables and counters. */
export const KVM_EXIT_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, value] of Object.entries(KVM_EXIT)) names[value] = name;
  return names;
})();

/** `'KVM_EXIT_IO'` for 2; `'KVM_EXIT_<n>'` for a number we do not list. */
export function exitReasonName(reason: number): string {
  return `KVM_EXIT_${KVM_EXIT_NAMES[reason] ?? reason}`;
}

/** kvm_run.io.direction */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.internal.suberror for KVM_EXIT_INTERNAL_ERROR. */
export const KVM_INTERNAL_ERROR = {
  /** The in-kernel emulator could not emulate an instruction. */
  EMULATION: 1,
  /** An exception was raised while delivering another one (double fault in the emulation). */
  SIMUL_EX: 2,
  /** An event could not be delivered through the IDT (e.g. a fault while vectoring). */
  DELIVERY_EV: 3,
  /** The hardware reported an exit reason KVM does not handle. */
  UNEXPECTED_EXIT_REASON: 4,
} as const;

/** kvm_run.emulation_failure.flags: `insn_size`/`insn_bytes` are valid. */
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1n;

/** kvm_run.system_event.type for KVM_EXIT_SYSTEM_EVENT. */
export const KVM_SYSTEM_EVENT = {
  SHUTDOWN: 1,
  RESET: 2,
  CRASH: 3,
  WAKEUP: 4,
  SUSPEND: 5,
  SEV_TERM: 6,
} as const;
