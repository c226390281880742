/**
 * `ArchOps`: what a vendor backend (VMX, SVM) implements for the generic hypervisor, in the shape
 * of 2007 KVM's `struct kvm_arch_ops` with modern KVM's discipline (`kvm-x86-ops.h`): one flat
 * table, every member marked REQUIRED or OPTIONAL, each saying what goes in and what comes out.
 *
 * There is no global table: a backend object is handed to `SoftKvm` explicitly and proves its
 * silicon is usable (`hardwareSetup`) before it is accepted, so two SoftKvms with different
 * backends live side by side (the changelog's "unsupported arch module overwrites kvm_arch_ops").
 *
 * Conventions:
 * - Per-vCPU members take the generic `KvmVcpu`; the backend's own state hangs off `vcpu.arch`
 *   (its `to_vmx()` / `to_svm()`).
 * - Values are 32-bit numbers (the low halves); 64-bit quantities travel as two halves, so long
 *   mode adds fields, never changes a signature.
 * - Nothing here throws for what a guest does. A member may throw `KvmError` only where its doc
 *   says so (an errno the ioctl returns, e.g. EFAULT when guest memory has no host backing).
 */
import { holdAsDoubles } from '@kvm/x86emu';
import type { KvmRunView } from '../abi/run.js';
import type { HostPhysicalMemory } from './host-physical.js';
import type { SoftVcpu as KvmVcpu } from './vcpu.js';

/** The result of `hardwareSetup`: usable, or why not (a message a person can act on). */
export type HardwareCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * What an exit handler returns: ONE contract for every handler (the 2007 code let 1, 0 and a
 * negative errno share an int). Errors are thrown as `KvmError` instead, never returned.
 */
export const ExitResult = {
  /** Handled in the kernel; re-enter the guest. */
  Reenter: 0,
  /** `vcpu.run` (kvm_run) has been filled: return from KVM_RUN to userspace. */
  Userspace: 1,
  /**
   * Handled in the kernel, and nothing the run loop looks at before an entry changed: no
   * interrupt controller, timer, request or event state, no mode (KVM's
   * EXIT_FASTPATH_REENTER_GUEST). The loop enters again at once for what is left of the entry's
   * instructions, skipping its per-entry work (the host-clock carry, the timer and interrupt
   * checks), unless it finds something to do itself (a request, a queued interrupt or NMI, a
   * kick, single-stepping). A shadow #PF the MMU fixed, INVLPG, MOV to CR3.
   */
  ReenterFast: 2,
} as const;
export type ExitResult = (typeof ExitResult)[keyof typeof ExitResult];

/** What entering the guest (`ArchOps.run`) ended with. */
export const EntryResult = {
  /** The guest ran and a VM exit happened: call `handleExit`. */
  Exit: 0,
  /**
   * VM entry failed (VMfailValid/VMfailInvalid, or an entry-check exit): the backend has filled
   * `kvm_run` with KVM_EXIT_FAIL_ENTRY and the hardware reason; return to userspace.
   */
  FailEntry: 1,
} as const;
export type EntryResult = (typeof EntryResult)[keyof typeof EntryResult];

/**
 * A segment register as `get_segment`/`set_segment` exchange it: `struct kvm_segment` with plain
 * numbers (base as two halves). `unusable` is the VMX access-rights bit 16; get and set are
 * symmetric in it (changelog: "SET_SREGS behaves symmetrically to GET_SREGS wrt the segment
 * access rights flag").
 */
export interface ArchSegment {
  base: number;
  baseHigh: number;
  /** Byte-granular limit (already scaled by G, as kvm_segment has it). */
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

/** A fresh zeroed `ArchSegment`. */
export function newArchSegment(): ArchSegment {
  const seg: ArchSegment = {
    base: 0,
    baseHigh: 0,
    limit: 0,
    selector: 0,
    type: 0,
    present: 0,
    dpl: 0,
    db: 0,
    s: 0,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  };
  // Bases and their high halves, limits of 4 GiB - 1: uint32 values at or above 2^31 (x86emu's
  // double-fields.ts).
  holdAsDoubles(seg, ['base', 'baseHigh', 'limit']);
  return seg;
}

/** Segment registers, numbered as x86emu's `Seg` (the SDM's Sreg encoding, then LDTR, TR). */
export const VcpuSreg = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;

/** GDTR / IDTR as `get_gdt`/`set_gdt` exchange them. */
export interface ArchDtable {
  base: number;
  baseHigh: number;
  limit: number;
}

/** The vendor of a CPU as CPUID leaf 0 spells it. */
export type CpuVendor = 'GenuineIntel' | 'AuthenticAMD';

/**
 * A host CPU as the generic part and the backends' hardware checks see it: CPUID and MSRs.
 * The silicon models implement it (and much more, which only their own driver uses).
 */
export interface HostCpu {
  /** CPUID (`leaf`, `subleaf`) into `out` = [EAX, EBX, ECX, EDX]. */
  cpuid(leaf: number, subleaf: number, out: Uint32Array): void;
  /** RDMSR: fills `out[0]` low, `out[1]` high; false when the MSR does not exist (#GP). */
  rdmsr(index: number, out: Uint32Array): boolean;
  /** WRMSR: false when refused (#GP: no such MSR, reserved bits, or locked). */
  wrmsr(index: number, lo: number, hi: number): boolean;
}

/**
 * The vendor operations. REQUIRED members must be implemented; OPTIONAL ones may be absent and
 * the generic part says what it does instead.
 */
export interface ArchOps {
  /** REQUIRED. `'vmx'` or `'svm'`: the `Kvm.engine` name of a SoftKvm on this backend. */
  readonly name: string;
  /** REQUIRED. The silicon this backend programs (CPUID/MSR view, for the generic checks). */
  readonly cpu: HostCpu;
  /**
   * REQUIRED. The machine's host-physical memory, which the silicon reads (control structures,
   * bitmaps, shadow page tables) and where every VM's RAM slots and hypervisor pages get frames.
   */
  readonly memory: HostPhysicalMemory;

  /**
   * REQUIRED. `hardware_setup` + `cpu_has_kvm_support` + `disabled_by_bios` + `hardware_enable`:
   * proves the silicon is usable (right vendor, the feature bit, not disabled by firmware) and
   * turns virtualization on (VMXON / EFER.SVME). Returns why not instead of throwing; SoftKvm
   * refuses the backend with that reason. Called once, before anything else.
   */
  hardwareSetup(): HardwareCheck;
  /** OPTIONAL. `hardware_disable` (VMXOFF / clear EFER.SVME) when the last SoftKvm user closes. */
  hardwareUnsetup?(): void;

  /**
   * REQUIRED. Is this MSR implemented by the silicon (RDMSR would not #GP)? The generic part
   * filters KVM_GET_MSR_INDEX_LIST through it at set-up, as KVM checks `msrs_to_save` with
   * `rdmsr_safe` at module load (changelog: MSR_STAR is not on every processor).
   */
  hasMsr(index: number): boolean;

  /**
   * REQUIRED. `vcpu_create`: allocate the control structure (VMCS / VMCB) and the backend's
   * per-vCPU state into `vcpu.arch`, including the guest MSR save area (changelog: MSR set-up
   * moved from vcpu_setup to vcpu_create, no allocation in atomic context). May throw
   * KvmError(ENOMEM); must then leave nothing allocated.
   */
  vcpuCreate(vcpu: KvmVcpu): void;
  /**
   * REQUIRED. `vcpu_setup`: put the vCPU in its reset state (real mode at F000:FFF0) by
   * programming the control structure. Called once after `vcpuCreate` and the MMU's create.
   */
  vcpuSetup(vcpu: KvmVcpu): void;
  /**
   * REQUIRED. `vcpu_free`: release the control structure and everything `vcpuCreate` made. Must
   * not touch the control structure after releasing it (changelog: "vmwrite errors on vm
   * shutdown"), and must be safe on a vCPU whose create failed half-way.
   */
  vcpuFree(vcpu: KvmVcpu): void;
  /**
   * OPTIONAL. `vcpu_after_set_cpuid`: KVM_SET_CPUID2 gave the vCPU a new CPUID table, and what the
   * control structure does may depend on it (VMX exits on RDRAND/RDSEED where the table lacks
   * them, so that the guest gets #UD as the CPU it was told of would give). Default: nothing.
   */
  vcpuAfterSetCpuid?(vcpu: KvmVcpu): void;
  /** REQUIRED. `vcpu_load`: make this vCPU's control structure current (VMPTRLD). */
  vcpuLoad(vcpu: KvmVcpu): void;
  /** OPTIONAL. `vcpu_put`: the vCPU leaves the processor. Default: nothing. */
  vcpuPut?(vcpu: KvmVcpu): void;
  /**
   * OPTIONAL. Called at each KVM_RUN: userspace may have written guest memory since the last one
   * (a loader, device DMA, a debugger's INT3), which hardware sees at once. A software processor
   * with a decode cache must not run what it decoded before without checking the bytes again
   * (x86emu's `Cpu.revalidateCode`). Not called for a run userspace gave the no-user-writes hint
   * (KVM_CAP_SOFT_NO_USER_WRITES_HINT) in a VM of one vCPU. Default: nothing (no cache).
   */
  revalidateCode?(vcpu: KvmVcpu): void;
  /**
   * OPTIONAL. The kernel itself wrote [hpa, hpa + length) of guest RAM (an emulated instruction's
   * store, a pte write the shadow MMU emulates): a software processor drops what it decoded or
   * compiled from those bytes (x86emu's `Cpu.invalidateCode`). Default: nothing (no cache).
   */
  invalidateCode?(vcpu: KvmVcpu, hpa: number, length: number): void;

  /**
   * REQUIRED. `cache_regs`: copy the registers that live in the control structure (RSP, RIP,
   * and RAX on SVM) into `vcpu.regs` / `vcpu.rip`. The generic part calls it before reading them.
   */
  cacheRegs(vcpu: KvmVcpu): void;
  /** REQUIRED. `decache_regs`: the reverse, after the generic part changed them. */
  decacheRegs(vcpu: KvmVcpu): void;
  /** REQUIRED. RFLAGS, the architectural value. */
  getRflags(vcpu: KvmVcpu): number;
  /** REQUIRED. */
  setRflags(vcpu: KvmVcpu, rflags: number): void;

  /** REQUIRED. `get_segment` into `out` (access rights symmetric with `setSegment`). */
  getSegment(vcpu: KvmVcpu, seg: number, out: ArchSegment): void;
  /**
   * OPTIONAL. `get_segment_base`: the segment's base, bits 31:0, without the rest of `getSegment`
   * (one field of the control structure where that is four): what `kvm_get_linear_rip` needs at
   * every port I/O exit and its completion. Default: `getSegment`'s `base`.
   */
  getSegmentBase?(vcpu: KvmVcpu, seg: number): number;
  /** REQUIRED. `set_segment`. */
  setSegment(vcpu: KvmVcpu, seg: number, value: ArchSegment): void;
  /** REQUIRED. GDTR / IDTR. */
  getGdt(vcpu: KvmVcpu, out: ArchDtable): void;
  setGdt(vcpu: KvmVcpu, value: ArchDtable): void;
  getIdt(vcpu: KvmVcpu, out: ArchDtable): void;
  setIdt(vcpu: KvmVcpu, value: ArchDtable): void;

  /**
   * REQUIRED. `decache_cr4_guest_bits` (and CR0's): refresh `vcpu.cr0` / `vcpu.cr4` from the
   * bits the guest may change without an exit, which KVM's copy may be missing (changelog:
   * "get the fresh contents of these bits from the guest by means of a new arch operation").
   */
  decacheCrGuestBits(vcpu: KvmVcpu): void;
  /**
   * REQUIRED. `set_cr0`: the guest's CR0 (as the guest sees it) → `vcpu.cr0` and the real CR0 /
   * read shadow. Handles entering/leaving paging and protected mode; the caller resets the MMU.
   */
  setCr0(vcpu: KvmVcpu, cr0: number): void;
  /**
   * REQUIRED. `set_cr3` (`load_mmu_pgd`): install a REAL CR3 (the shadow root hpa from the MMU).
   * Installs only: the MMU has flushed the TLB (`flushTlb`) for the root switch already.
   */
  setCr3(vcpu: KvmVcpu, rootHpa: number): void;
  /** REQUIRED. `set_cr4`: the guest's CR4 → `vcpu.cr4`, real CR4 and read shadow. */
  setCr4(vcpu: KvmVcpu, cr4: number): void;
  /** REQUIRED. `set_efer`: the guest's EFER (low half; LMA derived as the SDM says). */
  setEfer(vcpu: KvmVcpu, eferLo: number, eferHi: number): void;
  /** REQUIRED. CR2 as the guest sees it (written by a #PF delivered to the guest), low half. */
  getCr2(vcpu: KvmVcpu): number;
  /** OPTIONAL. Its high half (a canonical 64-bit address in IA-32e mode). Default: 0. */
  getCr2High?(vcpu: KvmVcpu): number;
  /** REQUIRED. `cr2High`: bits 63:32 (0 when omitted). */
  setCr2(vcpu: KvmVcpu, cr2: number, cr2High?: number): void;

  /**
   * REQUIRED. `get_msr`: an MSR the backend owns (SYSENTER_*, EFER, TSC, …) into `out`; false
   * if it does not own it (the generic part then tries its own, then #GP).
   */
  getMsr(vcpu: KvmVcpu, index: number, out: Uint32Array): boolean;
  /** REQUIRED. `set_msr`: false if not owned or the value is refused. */
  setMsr(vcpu: KvmVcpu, index: number, lo: number, hi: number): boolean;
  /**
   * OPTIONAL. The silicon's time-stamp counter as live 32-bit words [low, high]: IA32_TSC, which
   * the guest's RDTSC reads (no TSC offset in these models; SDM Vol. 3, "Time-Stamp Counter"). The clock work
   * before every entry (`tsc-counter.ts`) reads and carries it here instead of through
   * getMsr/setMsr's MSR dispatch. Default: getMsr/setMsr(IA32_TSC).
   */
  tscCounter?(vcpu: KvmVcpu): Uint32Array;

  /**
   * REQUIRED. Can the guest take a maskable interrupt at the next entry (RFLAGS.IF = 1, no STI /
   * MOV SS shadow, no event already being injected)?
   */
  interruptAllowed(vcpu: KvmVcpu): boolean;
  /** REQUIRED. Inject external interrupt `vector` at the next entry (VM-entry injection / EVENTINJ). */
  injectIrq(vcpu: KvmVcpu, vector: number): void;
  /**
   * REQUIRED. Ask for an exit as soon as the guest can take an interrupt (interrupt-window
   * exiting / V_IRQ + VINTR intercept), or stop asking (`enable` false).
   */
  setIrqWindow(vcpu: KvmVcpu, enable: boolean): void;
  /**
   * OPTIONAL. Inject an NMI at the next entry. Without it KVM_NMI is EINVAL on this backend.
   */
  injectNmi?(vcpu: KvmVcpu): void;
  /** OPTIONAL (with `injectNmi`). Can an NMI be injected now (no NMI blocking, no event pending)? */
  nmiAllowed?(vcpu: KvmVcpu): boolean;
  /**
   * OPTIONAL (with `injectNmi`). `enable_nmi_window`: an NMI is queued but `nmiAllowed` said no;
   * ask for an exit as soon as it can be injected (VMX NMI-window exiting; SVM's IRET intercept).
   * Without it the NMI waits for the next exit of any kind.
   */
  enableNmiWindow?(vcpu: KvmVcpu): void;
  /**
   * OPTIONAL. `get_nmi_mask` / `set_nmi_mask`: whether the guest is handling an NMI (blocked
   * until its IRET), for KVM_GET/SET_VCPU_EVENTS. Without them the mask reads 0 and is not set.
   */
  getNmiMask?(vcpu: KvmVcpu): boolean;
  setNmiMask?(vcpu: KvmVcpu, masked: boolean): void;
  /**
   * OPTIONAL. `get_interrupt_shadow` / `set_interrupt_shadow`: KVM_X86_SHADOW_INT_STI (1) and
   * KVM_X86_SHADOW_INT_MOV_SS (2), for KVM_GET/SET_VCPU_EVENTS.
   */
  getInterruptShadow?(vcpu: KvmVcpu): number;
  setInterruptShadow?(vcpu: KvmVcpu, mask: number): void;
  /**
   * OPTIONAL. `update_cr8_intercept`, called before each entry with an in-kernel LAPIC: `tpr` is
   * TPR[7:4] (CR8), `maxIrr` the priority class of the highest requested vector or -1. The
   * backend lets the guest write CR8 without exits while that cannot unmask the interrupt, and
   * exits when it can (VMX TPR shadow + TPR threshold; SVM V_TPR and the CR8 write intercept).
   */
  updateCr8Intercept?(vcpu: KvmVcpu, tpr: number, maxIrr: number): void;
  /**
   * OPTIONAL. The vector of a hardware exception already waiting to be injected at the next
   * entry (one the exit interrupted, queued again by the backend), or -1. Lets the generic part
   * combine a new exception with it as `kvm_multiple_exception` does (#DF, triple fault); without
   * it a new exception simply replaces the pending one.
   */
  pendingException?(vcpu: KvmVcpu): number;
  /** REQUIRED. Inject an exception (e.g. #PF with `vcpu.cr2` already set, #GP, #UD). */
  injectException(vcpu: KvmVcpu, vector: number, errorCode: number, hasErrorCode: boolean): void;

  /** REQUIRED. `tlb_flush`: drop every cached translation of this vCPU. */
  flushTlb(vcpu: KvmVcpu): void;

  /**
   * OPTIONAL. `flush_tlb_guest`: drop the guest's own translations, linear and combined (VMX:
   * INVVPID of the vCPU's VPID), keeping those of the hypervisor's TDP map (EPT's guest-physical
   * mappings), which the guest cannot have changed. What a guest's TLB flush asks for under TDP
   * (a CR4.PGE toggle); without it `flushTlb` serves.
   */
  flushTlbGuest?(vcpu: KvmVcpu): void;

  /**
   * OPTIONAL. `flush_tlb_gva` (`vpid_sync_vcpu_addr`, INVLPGA): drop the cached translation of
   * linear `gva` (x86emu's folded 48-bit form); without it the MMU's INVLPG flushes everything.
   */
  flushTlbGva?(vcpu: KvmVcpu, gva: number): void;

  /**
   * REQUIRED. Enter the guest (VMLAUNCH/VMRESUME or VMRUN) with at most `budget` instructions and
   * return when it exits. The budget expiring is an exit too (the model's preemption timer).
   */
  run(vcpu: KvmVcpu, budget: number): EntryResult;
  /**
   * REQUIRED. Handle the exit `run` reported, dispatching by a table indexed by the exit reason
   * (`kvm_vmx_exit_handlers[]` / `svm_exit_handlers[]`), with a named fallback for reasons the
   * table lacks (KVM_EXIT_UNKNOWN with the hardware reason).
   */
  handleExit(vcpu: KvmVcpu, run: KvmRunView): ExitResult;

  /** OPTIONAL. Counters the backend keeps (exits by reason), merged into `Vm.getStats()`. */
  stats?(vcpu: KvmVcpu, into: Record<string, number>): void;
}
