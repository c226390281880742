/**
 * The MMU's counters, a plain object of numbers (`kvm_stat` for the MMU, and more). Read it any
 * time; `KvmMmu.stats` is live.
 */
export interface MmuStats {
  /** pageFault() calls, and how each ended. */
  pageFaults: number;
  pfFixed: number;
  pfGuest: number;
  pfEmulate: number;
  pfMmio: number;
  pfNoMemory: number;
  /** Guest faults (pfGuest) whose error code has RSVD: reserved bits in some guest entry. */
  pfRsvd: number;
  /** Faults fixed or emulated through a guest 2/4 MiB page and through a 1 GiB page. */
  pfLarge2M: number;
  pfLarge1G: number;
  /** TDP: frames a nested page fault mapped besides the faulting one (`MmuOptions.tdpPrefetch`). */
  tdpPrefetched: number;
  /** Shadow pages created (cache misses that allocated), freed, and live now. */
  shadowPagesCreated: number;
  shadowPagesFreed: number;
  shadowPagesLive: number;
  /** Live shadow pages by level: page tables, directories, PDPTs, PML4s. */
  shadowPagesL1: number;
  shadowPagesL2: number;
  shadowPagesL3: number;
  shadowPagesL4: number;
  /** kvmMmuZapPage calls, by cause. */
  shadowPagesZapped: number;
  zapFlood: number;
  zapMisaligned: number;
  zapUnprotect: number;
  zapEvict: number;
  zapAll: number;
  zapCacheOff: number;
  /** Unsync pages a sync could not rebuild in the current mode (zapped instead). */
  zapSync: number;
  /**
   * Roots in use that a zap reached (invalidated: kept, emptied and unhashed until their last
   * user reloads) or eviction reached (skipped, moved to the head of the active list).
   */
  zapRootKept: number;
  /** kvmMmuGetPage lookups that found an existing page. */
  cacheHits: number;
  cacheMisses: number;
  /** CR3 loads; root pages found in / missing from the cache on them. */
  cr3Switches: number;
  cr3RootHits: number;
  cr3RootMisses: number;
  /** Reverse-map entries added and removed. */
  rmapAdds: number;
  rmapRemoves: number;
  /** Parent pte links added and removed. */
  parentPteAdds: number;
  parentPteRemoves: number;
  /** Guest frames newly write-protected, and sptes whose W bit that removed. */
  writeProtects: number;
  sptesWriteProtected: number;
  /** kvmMmuPteWrite calls; sptes they updated and dropped; floods detected. */
  pteWrites: number;
  pteUpdated: number;
  pteZapped: number;
  floods: number;
  /**
   * Unsync shadow pages: live now, times a page went out of sync (`kvm_unsync_page`), pages
   * synced (`kvm_sync_page`), sptes rebuilt or dropped from their gptes by a sync or INVLPG.
   */
  unsyncPages: number;
  unsyncs: number;
  syncPages: number;
  sptesResynced: number;
  /** kvmMmuUnprotectPage calls that zapped something. */
  unprotects: number;
  /** Silicon TLB flushes requested: full and single-address. */
  tlbFlushes: number;
  tlbFlushGva: number;
  /**
   * Flushes asked of vCPUs other than the one acting (`kvm_flush_remote_tlbs`: KVM_REQ_TLB_FLUSH
   * on each), and reloads asked of the vCPUs whose root was zapped (KVM_REQ_MMU_RELOAD).
   */
  remoteTlbFlushes: number;
  mmuReloadRequests: number;
  /** Zapped roots freed when their last user let go of them (`role.invalid` roots). */
  invalidRootsFreed: number;
  /** invlpg hook calls. */
  invlpg: number;
  /** kvmMmuReset calls (paging-mode changes). */
  resets: number;
  /** Internal invariant slips noticed on the way (a missing rmap or parent entry). */
  inconsistencies: number;
  /** Audit runs and the violations they found. */
  auditRuns: number;
  auditFailures: number;
}

export function createMmuStats(): MmuStats {
  return {
    pageFaults: 0,
    pfFixed: 0,
    pfGuest: 0,
    pfEmulate: 0,
    pfMmio: 0,
    pfNoMemory: 0,
    pfRsvd: 0,
    pfLarge2M: 0,
    pfLarge1G: 0,
    tdpPrefetched: 0,
    shadowPagesCreated: 0,
    shadowPagesFreed: 0,
    shadowPagesLive: 0,
    shadowPagesL1: 0,
    shadowPagesL2: 0,
    shadowPagesL3: 0,
    shadowPagesL4: 0,
    shadowPagesZapped: 0,
    zapFlood: 0,
    zapMisaligned: 0,
    zapUnprotect: 0,
    zapEvict: 0,
    zapAll: 0,
    zapCacheOff: 0,
    zapSync: 0,
    zapRootKept: 0,
    cacheHits: 0,
    cacheMisses: 0,
    cr3Switches: 0,
    cr3RootHits: 0,
    cr3RootMisses: 0,
    rmapAdds: 0,
    rmapRemoves: 0,
    parentPteAdds: 0,
    parentPteRemoves: 0,
    writeProtects: 0,
    sptesWriteProtected: 0,
    pteWrites: 0,
    pteUpdated: 0,
    pteZapped: 0,
    floods: 0,
    unsyncPages: 0,
    unsyncs: 0,
    syncPages: 0,
    sptesResynced: 0,
    unprotects: 0,
    tlbFlushes: 0,
    tlbFlushGva: 0,
    remoteTlbFlushes: 0,
    mmuReloadRequests: 0,
    invalidRootsFreed: 0,
    invlpg: 0,
    resets: 0,
    inconsistencies: 0,
    auditRuns: 0,
    auditFailures: 0,
  };
}

/** Why a page was zapped; each cause has its counter above. */
export type ZapCause = 'flood' | 'misaligned' | 'unprotect' | 'evict' | 'all' | 'cacheOff' | 'sync';
