/**
 * The typed KVM API: one interface per kind of file descriptor, as the kernel has them
 * (`/dev/kvm`, a VM, a vCPU). Both engines implement these — `@kvm/host` over the real
 * `/dev/kvm`, `SoftKvm` over our software engine — and a VMM sees nothing else.
 *
 * Every method that mirrors an ioctl names it. A method throws `KvmError` carrying the errno
 * Linux returns for the same misuse; nothing else escapes.
 */

import type {
  KvmRunDebug,
  KvmRunEx,
  KvmRunFailEntry,
  KvmRunHypercall,
  KvmRunInternal,
  KvmRunIo,
  KvmRunMmio,
  KvmRunSystemEvent,
  VcpuExit,
} from '../abi/run.js';
import type {
  KvmCpuidEntry2,
  KvmFpu,
  KvmGuestDebug,
  KvmIrqchip,
  KvmLapicState,
  KvmMsi,
  KvmMsrEntry,
  KvmPitConfig,
  KvmPitState2,
  KvmRegs,
  KvmSregs,
  KvmTranslation,
  KvmUserspaceMemoryRegion,
  KvmVcpuEvents,
} from './structs.js';

/** The `/dev/kvm` system handle. */
export interface Kvm {
  /** Which engine serves this handle: `'host'`, or `'vmx'` / `'svm'` for the software engine. */
  readonly engine: string;
  /** KVM_GET_API_VERSION: 12 on every engine we accept. */
  getApiVersion(): number;
  /** KVM_CHECK_EXTENSION: 0 when absent, else a positive value (often 1, sometimes a count). */
  checkExtension(cap: number): number;
  /** KVM_GET_VCPU_MMAP_SIZE: bytes of each vCPU's shared `kvm_run` area. */
  getVcpuMmapSize(): number;
  /** KVM_GET_SUPPORTED_CPUID */
  getSupportedCpuid(): KvmCpuidEntry2[];
  /** KVM_GET_MSR_INDEX_LIST: MSRs saved and restored with the vCPU; only ones the CPU has. */
  getMsrIndexList(): number[];
  /** KVM_CREATE_VM */
  createVm(): Vm;
  /** KVM_GET_EMULATED_CPUID (added; optional for implementations outside `openKvm`). */
  getEmulatedCpuid?(): KvmCpuidEntry2[];
  /** KVM_GET_MSR_FEATURE_INDEX_LIST (added; optional). */
  getMsrFeatureIndexList?(): number[];
  /**
   * Closes the system handle. VMs created from it stay valid until they are closed themselves
   * (the changelog's "oops on early close of /dev/kvm" can't happen).
   */
  close(): void;
}

/**
 * Host memory for guest RAM: what `mmap(MAP_ANONYMOUS)` gives a VMM. `userspaceAddr` is what
 * goes into `kvm_userspace_memory_region.userspace_addr`; `buffer` views the same bytes
 * without a copy: a SharedArrayBuffer where the engine was asked to share guest memory between
 * threads (the software engine's `sharedMemory` option), as MAP_SHARED memory is shared.
 */
export interface HostMemory {
  readonly userspaceAddr: bigint;
  readonly size: number;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /**
   * Where the memory starts in `buffer` (undefined: 0). The software engine's wasm arena hands
   * out RAM inside one WebAssembly.Memory's buffer (`jitBackend: 'wasm'`).
   */
  readonly byteOffset?: number;
}

/** A virtual machine. */
export interface Vm {
  /** Anonymous, page-aligned, zeroed host memory to back a memory slot. */
  allocateMemory(size: number): HostMemory;
  /**
   * KVM_SET_USER_MEMORY_REGION. `memorySize` 0 deletes the slot. Misaligned addresses or sizes
   * are EINVAL, an overlap with another slot EEXIST, as in Linux.
   */
  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void;
  /** KVM_CREATE_VCPU: an id already used is EEXIST, one out of range EINVAL. */
  createVcpu(id: number): Vcpu;
  /** KVM_SET_TSS_ADDR: three pages the kernel may use on Intel hosts (real-mode emulation). */
  setTssAddr(addr: number): void;
  /** KVM_CREATE_IRQCHIP: in-kernel PIC/IOAPIC/LAPIC. Engines without one fail with ENOTTY/EINVAL. */
  createIrqchip(): void;
  /** KVM_CREATE_PIT2: in-kernel i8254 (needs the irqchip). */
  createPit2(config: KvmPitConfig): void;
  /** KVM_IRQ_LINE: drive an in-kernel irqchip input (needs the irqchip). */
  irqLine(irq: number, level: number): void;
  /**
   * KVM_SIGNAL_MSI: injects one MSI (`struct kvm_msi`: address, data, flags) into the in-kernel
   * irqchip's APIC bus, as a device's MSI or MSI-X write would. Returns how many local APICs
   * took it (0: none did, e.g. software-disabled or not addressed); EPERM when the delivery found
   * no APIC at all (`kvm_irq_delivery_to_apic`'s -1, e.g. before any vCPU exists), EINVAL with no
   * irqchip or a flag other than KVM_MSI_VALID_DEVID (Linux's `kvm_send_userspace_msi`).
   */
  signalMsi(msi: KvmMsi): number;
  /**
   * KVM_GET_IRQCHIP: chip `chipId` (`KVM_IRQCHIP_PIC_MASTER` 0, `_PIC_SLAVE` 1, `_IOAPIC` 2) as
   * `struct kvm_irqchip`; `chip` holds a `kvm_pic_state` or `kvm_ioapic_state` (decode with
   * `kvmPicState` / `kvmIoapicState`). ENXIO without the irqchip, EINVAL for another chip id.
   */
  getIrqchip(chipId: number): KvmIrqchip;
  /** KVM_SET_IRQCHIP: loads one chip's state (errnos as `getIrqchip`). */
  setIrqchip(chip: KvmIrqchip): void;
  /** KVM_GET_PIT2: the in-kernel i8254's three counters. ENXIO without KVM_CREATE_PIT2. */
  getPit2(): KvmPitState2;
  /** KVM_SET_PIT2: loads the in-kernel i8254 (ENXIO without one). */
  setPit2(state: KvmPitState2): void;
  /** KVM_SET_IDENTITY_MAP_ADDR: one page KVM may use on Intel hosts (added; optional). */
  setIdentityMapAddr?(addr: bigint): void;
  /** KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM) (added; optional). */
  checkExtension?(cap: number): number;
  /**
   * Counters the engine keeps for this VM (exits by reason, shadow pages, zaps, …), by name.
   * The host engine reports what it can see from userspace.
   */
  getStats(): Record<string, number>;
  /** Closes the VM and every vCPU it has. */
  close(): void;
}

/** KVM_RUN's shared page, as typed fields over its bytes (`struct kvm_run`). */
export interface KvmRunArea {
  /** The raw bytes of `struct kvm_run` (and the io data page after it). */
  readonly bytes: Uint8Array;
  requestInterruptWindow: number;
  immediateExit: number;
  /**
   * In: the software engine's KVM_RUN_SOFT_* flags (`padding1[0]`; KVM_CAP_SOFT_NO_USER_WRITES_HINT),
   * cleared by the KVM_RUN that reads them. The kernel's KVM ignores the byte.
   */
  softRunFlags: number;
  readonly exitReason: number;
  readonly readyForInterruptInjection: number;
  readonly ifFlag: number;
  cr8: bigint;
  apicBase: bigint;
  /** The exit payloads (added): typed views over the exit union, allocation-free (`KvmRunView`). */
  readonly io: KvmRunIo;
  readonly mmio: KvmRunMmio;
  readonly failEntry: KvmRunFailEntry;
  readonly internal: KvmRunInternal;
  readonly ex: KvmRunEx;
  readonly debug: KvmRunDebug;
  readonly systemEvent: KvmRunSystemEvent;
  readonly hypercall: KvmRunHypercall;
  /** The current exit as a tagged-union value (added; allocates). */
  exit(): VcpuExit;
}

/** A virtual CPU. `run()` is synchronous: call it from the thread that owns this vCPU. */
export interface Vcpu {
  readonly id: number;
  /** The vCPU's `kvm_run` area, valid for the vCPU's lifetime (a `KvmRunView`). */
  readonly kvmRun: KvmRunArea;
  /**
   * KVM_RUN: runs the guest until an exit userspace must see; returns `kvm_run.exit_reason`
   * (`KVM_EXIT_*`). Details are in `kvmRun`. Throws `KvmError` with EINTR when kicked
   * (see `kickHandle`) before or during the run, as the kernel does on a signal.
   */
  run(): number;
  /** KVM_GET_REGS / KVM_SET_REGS */
  getRegs(): KvmRegs;
  setRegs(regs: KvmRegs): void;
  /** KVM_GET_SREGS / KVM_SET_SREGS */
  getSregs(): KvmSregs;
  setSregs(sregs: KvmSregs): void;
  /** KVM_GET_MSRS: reads as many as the engine can, in order; returns those it read. */
  getMsrs(indices: number[]): KvmMsrEntry[];
  /** KVM_SET_MSRS: returns how many were set (stops at the first it can't). */
  setMsrs(entries: KvmMsrEntry[]): number;
  /** KVM_SET_CPUID2 */
  setCpuid2(entries: KvmCpuidEntry2[]): void;
  /** KVM_INTERRUPT: queue external interrupt `irq` (only without an in-kernel irqchip). */
  interrupt(irq: number): void;
  /** KVM_GET_FPU / KVM_SET_FPU */
  getFpu(): KvmFpu;
  setFpu(fpu: KvmFpu): void;
  /** KVM_GET_XSAVE / KVM_SET_XSAVE: `struct kvm_xsave`'s 4096-byte region, the XSAVE image. */
  getXsave(): Uint8Array;
  setXsave(region: Uint8Array): void;
  /** KVM_GET_XCRS / KVM_SET_XCRS: the extended control registers (XCR0 only on x86). */
  getXcrs(): { xcr: number; value: bigint }[];
  setXcrs(xcrs: { xcr: number; value: bigint }[], flags?: number): void;
  /** KVM_SET_GUEST_DEBUG */
  setGuestDebug(debug: KvmGuestDebug): void;
  /** KVM_GET_LAPIC: the local APIC's register page (EINVAL without the in-kernel irqchip). */
  getLapic(): KvmLapicState;
  /** KVM_SET_LAPIC: loads the register page (EINVAL without the in-kernel irqchip). */
  setLapic(state: KvmLapicState): void;
  /**
   * KVM_GET_MP_STATE: `KVM_MP_STATE.RUNNABLE`, `UNINITIALIZED` (an AP not yet started),
   * `INIT_RECEIVED` (waiting for a SIPI) or `HALTED` (HLT inside the kernel, with the in-kernel
   * irqchip). What a VMM asks after KVM_RUN returned EINTR, to tell a halted vCPU from a kick.
   */
  getMpState(): number;
  /** KVM_SET_MP_STATE: anything but RUNNABLE needs the in-kernel irqchip (EINVAL). */
  setMpState(state: number): void;
  /** KVM_GET_CPUID2: the table last set with KVM_SET_CPUID2 (added; optional). */
  getCpuid2?(): KvmCpuidEntry2[];
  /** KVM_NMI: queue an NMI (`kvm_inject_nmi`), with or without the in-kernel irqchip (added; optional). */
  nmi?(): void;
  /**
   * KVM_GET_VCPU_EVENTS: the event waiting for injection, the interrupt shadow, NMI pending and
   * masked (added; optional).
   */
  getVcpuEvents?(): KvmVcpuEvents;
  /** KVM_SET_VCPU_EVENTS: loads them; unknown flags, SMM or a bad exception vector are EINVAL (added; optional). */
  setVcpuEvents?(events: KvmVcpuEvents): void;
  /** KVM_TRANSLATE: the guest page walk for linear address `gva` (added; optional). */
  translate?(gva: bigint): KvmTranslation;
  /** KVM_SET_SIGNAL_MASK: signals blocked during KVM_RUN, `null` to clear (added; optional). */
  setSignalMask?(sigset: Uint8Array | null): void;
  /**
   * A structured-cloneable token that another thread passes to its engine's `kick` to make this
   * vCPU leave `run()` promptly (KVM: `immediate_exit` plus a signal to the vCPU thread).
   */
  kickHandle(): VcpuKickHandle;
  close(): void;
}

/** What a thread needs to kick a vCPU out of `run()`; engine-specific but plain data. */
export interface VcpuKickHandle {
  readonly engine: string;
  readonly [key: string]: unknown;
}
