/**
 * The ABI's structures as plain objects. Field names are `<linux/kvm.h>`'s, camel-cased; 64-bit
 * fields are `bigint` (these cross the ABI once per ioctl, never per instruction). The codecs in
 * `../abi/` read and write them from the kernel's exact byte layout.
 */

/** struct kvm_regs */
export interface KvmRegs {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rsp: bigint;
  rbp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
}

/** struct kvm_segment. `unusable` is the VMX access-rights bit 16, kept symmetric by SET/GET_SREGS. */
export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable */
export interface KvmDtable {
  base: bigint;
  limit: number;
}

/** struct kvm_sregs. `interruptBitmap` is the 256-bit pending-interrupt bitmap as four u64s. */
export interface KvmSregs {
  cs: KvmSegment;
  ds: KvmSegment;
  es: KvmSegment;
  fs: KvmSegment;
  gs: KvmSegment;
  ss: KvmSegment;
  tr: KvmSegment;
  ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

/** struct kvm_msr_entry */
export interface KvmMsrEntry {
  index: number;
  data: bigint;
}

/** struct kvm_cpuid_entry2 */
export interface KvmCpuidEntry2 {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_userspace_memory_region */
export interface KvmUserspaceMemoryRegion {
  slot: number;
  flags: number;
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
}

/** struct kvm_fpu: the legacy x87/SSE image. `fpr` is 8×16 bytes, `xmm` 16×16 bytes. */
export interface KvmFpu {
  fpr: Uint8Array;
  fcw: number;
  fsw: number;
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  xmm: Uint8Array;
  mxcsr: number;
}

/** struct kvm_guest_debug (x86: `debugreg[8]` in `arch`). */
export interface KvmGuestDebug {
  control: number;
  debugreg: bigint[];
}

/** struct kvm_irq_level */
export interface KvmIrqLevel {
  irq: number;
  level: number;
}

/** struct kvm_irqchip: `chip` is the 512-byte union (kvm_pic_state or kvm_ioapic_state). */
export interface KvmIrqchip {
  chipId: number;
  chip: Uint8Array;
}

/** struct kvm_lapic_state: the first 1 KiB of the APIC register page (KVM_APIC_REG_SIZE). */
export interface KvmLapicState {
  regs: Uint8Array;
}

/** struct kvm_msi */
export interface KvmMsi {
  addressLo: number;
  addressHi: number;
  data: number;
  flags: number;
  devid: number;
}

/** struct kvm_irq_routing_entry; `u` is the 32-byte union (irqchip {irqchip, pin} or msi). */
export interface KvmIrqRoutingEntry {
  gsi: number;
  type: number;
  flags: number;
  u: Uint8Array;
}

/** struct kvm_pit_config */
export interface KvmPitConfig {
  flags: number;
}

/**
 * struct kvm_vcpu_events (KVM_GET/SET_VCPU_EVENTS), its nested structs flattened: the event
 * being injected, the interrupt shadow (`KVM_X86_SHADOW_INT_*`), NMI pending / masked, `flags`
 * (`KVM_VCPUEVENT_VALID_*`).
 */
export interface KvmVcpuEvents {
  exceptionInjected: number;
  exceptionNr: number;
  exceptionHasErrorCode: number;
  exceptionPending: number;
  exceptionErrorCode: number;
  interruptInjected: number;
  interruptNr: number;
  interruptSoft: number;
  interruptShadow: number;
  nmiInjected: number;
  nmiPending: number;
  nmiMasked: number;
  sipiVector: number;
  flags: number;
  smiSmm: number;
  smiPending: number;
  smiSmmInsideNmi: number;
  smiLatchedInit: number;
  tripleFaultPending: number;
  exceptionHasPayload: number;
  exceptionPayload: bigint;
}

/** struct kvm_mp_state: a vCPU's multiprocessing state (`KVM_MP_STATE_*`). */
export interface KvmMpState {
  mpState: number;
}

/** struct kvm_pit_channel_state: one i8254 counter (KVM_GET/SET_PIT2). */
export interface KvmPitChannelState {
  count: number;
  latchedCount: number;
  countLatched: number;
  statusLatched: number;
  status: number;
  readState: number;
  writeState: number;
  writeLatch: number;
  rwMode: number;
  mode: number;
  bcd: number;
  gate: number;
  /** ns of the kernel's clock when the count was loaded (__s64). */
  countLoadTime: bigint;
}

/** struct kvm_pit_state2: the three counters and `flags` (KVM_PIT_FLAGS_HPET_LEGACY). */
export interface KvmPitState2 {
  channels: KvmPitChannelState[];
  flags: number;
}

/** struct kvm_translation: KVM_TRANSLATE's answer for one guest linear address (gva). */
export interface KvmTranslation {
  linearAddress: bigint;
  physicalAddress: bigint;
  valid: number;
  writeable: number;
  usermode: number;
}

/** struct kvm_interrupt */
export interface KvmInterrupt {
  irq: number;
}

/** struct kvm_debug_exit_arch (x86): kvm_run.debug.arch for KVM_EXIT_DEBUG. */
export interface KvmDebugExitArch {
  exception: number;
  pc: bigint;
  dr6: bigint;
  dr7: bigint;
}
