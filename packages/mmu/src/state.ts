import { PageFaultResults } from './fault.js';
import type { MmuHostOps } from './host.js';
import type { MmuMemoryCaches } from './memory-caches.js';
import { makePteFormat, type PagingModeName, type PteFormat, type SpteFormat } from './pte-format.js';
import type { Rmap } from './rmap.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuStats } from './stats.js';
import type { MmuVmState } from './vm-state.js';
import { GuestWalker, type WalkParams } from './walker.js';

/** Options fixed at kvmMmuCreate. */
export interface MmuOptions {
  /**
   * Keep shadow pages across CR3 switches (the default). False reproduces the first KVM
   * release: every CR3 load drops every shadow page.
   */
  shadowCache: boolean;
  /** The most shadow pages alive at once (KVM_NUM_MMU_PAGES was 256). At least 16. */
  maxShadowPages: number;
  /** Run the invariant audit after every public operation that changes shadow state. */
  audit: boolean;
  /** Consecutive emulated pte writes to one guest page that count as a flood (KVM: 3). */
  floodThreshold: number;
  /** Guest MAXPHYADDR, for reserved-bit checks (default 36). */
  maxPhyAddr: number;
  /**
   * Let last-level guest page tables go out of sync (writable, resynced on CR3 load and INVLPG:
   * KVM's unsync pages) instead of emulating every write to them. The driver must then
   * intercept INVLPG and call `invlpg`. Default true.
   */
  unsync: boolean;
  /**
   * Two-dimensional paging (KVM's `tdp_enabled`; AMD NPT): the roots are one direct map of
   * guest-physical memory in the host's 4-level format (the nested tables the silicon walks
   * after the guest's own tables), built on nested page faults (`pageFault` with the
   * guest-physical address: `kvm_tdp_page_fault`), with no guest table shadowed or
   * write-protected. The guest's paging state still drives `gvaToGpa` and `loadPdptrs`. Default false.
   */
  tdp: boolean;
  /**
   * With `tdp`: the map in Intel's EPT entry format (`EPT_SPTE_FORMAT`, KVM's
   * `kvm_mmu_set_ept_masks` under kvm-intel's `ept=1`) instead of the x86 format AMD's NPT walks.
   * Default false.
   */
  ept: boolean;
  /**
   * With `tdp`: how many guest frames a nested page fault maps at once, the aligned group of that
   * many entries of the level-1 table around the faulting one (a power of two, 1–512). KVM maps
   * 8 (`direct_pte_prefetch`, PTE_PREFETCH_NUM) and, where the host backs the slot with huge
   * pages, the whole 2 MiB at once (`kvm_mmu_hugepage_adjust`); this map's RAM is one host
   * allocation, so the default, 512, does what a 2 MiB leaf would (one exit per 2 MiB instead of
   * one per page) with the 4 KiB leaves the rest of the MMU knows. Default 512.
   */
  tdpPrefetch: number;
}

export const DEFAULT_MMU_OPTIONS: MmuOptions = {
  shadowCache: true,
  maxShadowPages: 256,
  audit: false,
  floodThreshold: 3,
  maxPhyAddr: 36,
  unsync: true,
  tdp: false,
  ept: false,
  tdpPrefetch: 512,
};

export type MmuModeName = 'nonpaging' | PagingModeName;

/** The per-mode context (`struct kvm_mmu`): which walker format, how many levels. */
export interface MmuContext {
  mode: MmuModeName;
  /** null for nonpaging (gva = gpa). */
  fmt: PteFormat | null;
  /** Guest levels: 0 (paging off), 2, 3, 4. Goes into every role as `glevels`. */
  rootLevel: number;
  /** Shadow levels the silicon walks: 3 (PAE, four roots in one page) or 4 (4-level shadow, or the TDP map). */
  shadowRootLevel: number;
  wp: boolean;
  nxe: boolean;
  pse: boolean;
}

/**
 * One vCPU's MMU context (`struct kvm_mmu` and the MMU fields of `kvm_vcpu_arch`): its paging
 * mode, its roots, its PDPTEs, its walker and flood state, over the VM's shared pages
 * (`kvm`, an {@link MmuVmState}). The getters name the shared parts the fault path uses.
 */
export class MmuState {
  ctx: MmuContext = {
    mode: 'nonpaging',
    fmt: null,
    rootLevel: 0,
    shadowRootLevel: 3,
    wp: false,
    nxe: false,
    pse: false,
  };
  /** The page holding the four PAE root entries (`pae_root`), and its sptes. */
  paeRootHpfn = -1;
  paeRoot: Uint32Array = new Uint32Array(8);
  /** The four root shadow pages behind paeRoot (null: guest PDPTE not present). */
  readonly paeRootPages: (ShadowPage | null)[] = [null, null, null, null];
  /** The single root for 4-level shadow paging. */
  rootPage: ShadowPage | null = null;
  /** What the silicon loads as CR3 (host-physical), or -1 when roots are not loaded. */
  rootHpa = -1;
  /** PDPTEs loaded at the last PAE CR3 load, as lo/hi halves, and the CR3 they came from. */
  readonly pdptes = new Uint32Array(8);
  pdptesCr3 = -1;

  /** The guest CR3 the current roots were built from. */
  rootCr3 = 0;
  /** Walker parameters for the current mode (null when paging is off). */
  walkParams: WalkParams | null = null;
  readonly walker = new GuestWalker();
  /** Emulated pte write flood detection (`vcpu->arch.last_pt_write_gfn`, `last_pt_write_count`). */
  lastPtWriteGfn = -1;
  lastPtWriteCount = 0;
  /** Scratch for the shadow pages of one gfn (kvmMmuPteWrite). */
  readonly scratchPages: ShadowPage[] = [];
  /** pageFault's reusable answers (the fault path allocates nothing). */
  readonly results = new PageFaultResults();
  /** PDPTE loading without allocation: the PAE format (for PDPTE reserved bits) and buffers. */
  readonly pdpteFmt: PteFormat;
  readonly pdpteBuf = new Uint8Array(32);
  readonly pdpteView = new DataView(this.pdpteBuf.buffer);
  readonly pdpteNext = new Uint32Array(8);

  constructor(
    readonly kvm: MmuVmState,
    readonly host: MmuHostOps,
  ) {
    this.pdpteFmt = makePteFormat('paging32E', { nxe: false, pse: true, maxPhyAddr: kvm.options.maxPhyAddr });
  }

  get stats(): MmuStats {
    return this.kvm.stats;
  }
  get caches(): MmuMemoryCaches {
    return this.kvm.caches;
  }
  get rmap(): Rmap {
    return this.kvm.rmap;
  }
  get options(): MmuOptions {
    return this.kvm.options;
  }
  /** Two-dimensional paging (`MmuOptions.tdp`). */
  get tdp(): boolean {
    return this.kvm.options.tdp;
  }
  /** The format of the entries this MMU writes (`MmuOptions.ept`). */
  get spteFmt(): SpteFormat {
    return this.kvm.spteFmt;
  }
  get byHpfn(): Map<number, ShadowPage> {
    return this.kvm.byHpfn;
  }

  /** Requests a flush of every vCPU's TLB at the end of the current operation. */
  requestTlbFlush(): void {
    this.kvm.pendingTlbFlush = true;
  }

  /** Issues the requested flush: this vCPU's TLB now, the others' before they next enter. */
  flushPending(): void {
    this.kvm.flushPending(this);
  }
}
