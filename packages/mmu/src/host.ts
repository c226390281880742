/**
 * What the MMU needs from the rest of the hypervisor, and nothing more. The software engine's
 * core implements it over its memory slots, its host-physical page allocator and the silicon's
 * TLB; the unit tests implement it over one ArrayBuffer (see the `@kvm/mmu/testing` entry).
 *
 * Address spaces: `gpa`/`gfn` are guest-physical; `hpfn` is a host page frame number in the one
 * host-physical space the silicon's hardware walker reads (hpa = hpfn * 4096). Guest RAM pages
 * and the shadow pages the MMU allocates both live there.
 *
 * No member may throw: a failure is a return value.
 */
export interface MmuVmHostOps {
  /**
   * Copies `dst.length` bytes (1…32, never crossing a page) of guest-physical memory starting
   * at `gpa` into `dst`. Returns false, leaving `dst` unspecified, when any of those bytes is not
   * guest RAM (MMIO or nothing). Used for guest ptes and the PAE PDPTEs.
   */
  readGuest(gpa: number, dst: Uint8Array): boolean;
  /**
   * Atomically (with respect to other vCPUs and the device model) compares the little-endian
   * 32-bit value at `gpa` (4-byte aligned) with `expected` and, if equal, stores `desired`.
   * Returns true when it stored. False when the value differed or `gpa` is not RAM.
   * The MMU uses it to set accessed/dirty bits in guest ptes (both live in the low dword).
   */
  cmpxchgGuest32(gpa: number, expected: number, desired: number): boolean;
  /**
   * The host page frame backing guest frame `gfn`, or -1 when `gfn` is not RAM (an MMIO
   * region or nothing at all). The answer must not change while an spte maps it: a caller that
   * removes or moves a memory slot calls `kvmMmuZapAll()` first.
   */
  gfnToHpfn(gfn: number): number;
  /**
   * Allocates one zeroed 4 KiB host page for a shadow page table and returns its hpfn, or -1
   * when out of memory. The MMU calls it only when creating a vCPU's context (its PAE root page)
   * and from `mmuTopupMemoryCaches`, before it changes anything, so running out is a clean failure.
   */
  allocPage(): number;
  /** Returns a page obtained from `allocPage` (its contents are garbage from now on). */
  freePage(hpfn: number): void;
  /**
   * A view of exactly 4096 bytes of host page `hpfn` (one the MMU allocated). Its byteOffset
   * must be a multiple of 4. The MMU keeps the view while the page is allocated and writes sptes
   * through it as little-endian 8-byte entries, exactly the bytes the silicon walks.
   */
  pageView(hpfn: number): Uint8Array;
}

/**
 * What the MMU needs from one vCPU: its paging state and its TLB. In a multi-vCPU VM each vCPU
 * context gets its own (see `KvmMmuVm.createVcpuMmu`); the memory members of the VM's host are
 * shared by all.
 */
export interface MmuVcpuHostOps {
  /** Flushes every translation the silicon's TLB caches for this vCPU, now (the acting vCPU). */
  flushTlb(): void;
  /** Flushes the silicon's TLB entries for one guest-virtual page of this vCPU. */
  flushTlbGva(gva: number): void;
  /**
   * Asks this vCPU to flush its whole TLB before it next enters the guest (KVM_REQ_TLB_FLUSH, set
   * by `kvm_flush_remote_tlbs` when another vCPU or the VM took rights away from a shared spte).
   * Optional: without it the MMU calls `flushTlb` at once (right for a vCPU that is not running).
   */
  requestTlbFlush?(): void;
  /**
   * Asks this vCPU to drop its roots and load them again before it next enters the guest
   * (KVM_REQ_MMU_RELOAD, `kvm_reload_remote_mmus`): a root it uses was zapped (it stays valid,
   * emptied, until then). The driver serves it with `kvmMmuReset` (or `kvmMmuLoad` after
   * `kvmMmuUnload`) and loads the new `rootHpa`. Optional: without it the vCPU reloads at its
   * next `pageFault`/`kvmMmuLoad`, and until then runs on the emptied root (which faults).
   */
  requestMmuReload?(): void;
  /**
   * The vCPU's paging state, read (never cached) by the MMU when it changes mode or loads
   * roots. The caller keeps it current; `KvmMmu.kvmSetCr3` writes `cr3` on success.
   */
  readonly paging: PagingState;
}

/** A vCPU's whole view of the host: the VM's memory and its own paging state and TLB. */
export interface MmuHostOps extends MmuVmHostOps, MmuVcpuHostOps {}

/** The guest's control registers, as the vCPU sees them (not the silicon's real ones). */
export interface PagingState {
  /** CR0: PG (bit 31) and WP (bit 16) matter here. */
  cr0: number;
  /**
   * CR3, the guest's, as a plain number below 2^52 (in long mode the whole 64-bit register: bits
   * 11:0 are PWT/PCD and ignored here, bits 63:52 must be zero, as MOV CR3 requires).
   */
  cr3: number;
  /** CR4: PSE (bit 4) and PAE (bit 5) matter here. */
  cr4: number;
  /** Low half of EFER: LME (bit 8), LMA (bit 10: 4-level paging when CR0.PG), NXE (bit 11). */
  efer: number;
  /**
   * CPUID.80000001H:EDX.Page1GB of the guest: whether PS=1 in a 4-level PDPTE maps a 1 GiB page
   * (otherwise the bit is reserved, SDM Vol. 3A 4.5.4). Read on setup/reset; absent means true
   * (x86emu advertises 1 GiB pages).
   */
  gbPages?: boolean;
}

export const X86_CR0_WP = 1 << 16;
export const X86_CR0_PG = 0x80000000;
export const X86_CR4_PSE = 1 << 4;
export const X86_CR4_PAE = 1 << 5;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NX = 1 << 11;

/** gfnToHpfn / allocPage answer for "no page". */
export const INVALID_PAGE = -1;
