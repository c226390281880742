import type { MmuVmHostOps } from './host.js';
import { MmuMemoryCaches } from './memory-caches.js';
import { EPT_SPTE_FORMAT, type SpteFormat, X86_SPTE_FORMAT } from './pte-format.js';
import { Rmap } from './rmap.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuOptions, MmuState } from './state.js';
import { createMmuStats, type MmuStats } from './stats.js';

/**
 * The shadow MMU's per-VM half (what KVM keeps in `kvm->arch`): the shadow page cache (hash,
 * active list, page ids), the reverse maps, the memory caches, the counters, and the vCPU
 * contexts that use them. Write protection and zapping act here, for every vCPU at once; a vCPU's
 * own paging state, roots and walker are its {@link MmuState}.
 */
export class MmuVmState {
  readonly stats: MmuStats = createMmuStats();
  readonly caches: MmuMemoryCaches;
  readonly rmap: Rmap;
  /** The shadow page hash: gfn → valid pages for that gfn (any role). Invalid roots are not here. */
  readonly hash = new Map<number, ShadowPage[]>();
  /** Host frame of a shadow page → the page (KVM's page_header()). */
  readonly byHpfn = new Map<number, ShadowPage>();
  /** SpteRef page ids → page. */
  readonly pagesById: (ShadowPage | null)[] = [];
  readonly freeIds: number[] = [];
  readonly spare: ShadowPage[] = [];
  /** Active list: head = newest; eviction takes the tail. */
  activeHead: ShadowPage | null = null;
  activeTail: ShadowPage | null = null;
  nPages = 0;
  /** The vCPU contexts over this VM's pages (`kvm_for_each_vcpu`). */
  readonly vcpus: MmuState[] = [];
  /** Set when sptes lost rights; every vCPU's TLB is flushed at the end of the operation. */
  pendingTlbFlush = false;
  /** Scratch for rmap / parent collection (never shrinks). */
  readonly scratchRefs: number[] = [];
  readonly scratchRefs2: number[] = [];
  /** Violations found by audit mode since creation (bounded). */
  readonly auditLog: string[] = [];
  /** 2^MAXPHYADDR: a long-mode CR3 at or above it is #GP. */
  readonly maxPhyAddrBytes: number;

  constructor(
    readonly host: MmuVmHostOps,
    readonly options: MmuOptions,
  ) {
    this.caches = new MmuMemoryCaches(host);
    this.rmap = new Rmap(this.caches);
    this.maxPhyAddrBytes = 2 ** options.maxPhyAddr;
    this.spteFmt = options.tdp && options.ept ? EPT_SPTE_FORMAT : X86_SPTE_FORMAT;
  }
  /** The format of the sptes (`MmuOptions.ept`: EPT for the TDP map under EPT, x86 otherwise). */
  readonly spteFmt: SpteFormat;

  /** Requests a flush of every vCPU's TLB at the end of the current operation. */
  requestTlbFlush(): void {
    this.pendingTlbFlush = true;
  }

  /**
   * `kvm_flush_remote_tlbs` for the flush requested during an operation: the vCPU performing it
   * (`actor`, null for a VM-wide operation such as a slot change) flushes at once, as before;
   * every other vCPU gets KVM_REQ_TLB_FLUSH, so none enters the guest again with a translation
   * the shared shadow tables no longer grant.
   */
  flushPending(actor: MmuState | null): void {
    if (!this.pendingTlbFlush) return;
    this.pendingTlbFlush = false;
    this.stats.tlbFlushes++;
    if (actor !== null) actor.host.flushTlb();
    this.flushOthers(actor);
  }

  /** The remote half of {@link flushPending}: a flush request to every vCPU but `actor`. */
  flushOthers(actor: MmuState | null): void {
    const vcpus = this.vcpus;
    for (let i = 0; i < vcpus.length; i++) {
      const v = vcpus[i];
      if (v === actor) continue;
      this.stats.remoteTlbFlushes++;
      if (v.host.requestTlbFlush !== undefined) v.host.requestTlbFlush();
      else v.host.flushTlb();
    }
  }

  pageByRef(ref: number): ShadowPage | null {
    return this.pagesById[Math.floor(ref / 512)] ?? null;
  }
}
