import { auditMmu } from './audit.js';
import { handlePageFault, type PageFaultResult, PF_NO_MEMORY } from './fault.js';
import {
  EFER_LMA,
  EFER_NX,
  type MmuHostOps,
  type MmuVmHostOps,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from './host.js';
import {
  dropSpte,
  kvmMmuFreeSomePages,
  kvmMmuGetPage,
  kvmMmuPutRoot,
  kvmMmuZapAllPages,
} from './page-cache.js';
import { roleQuadrant } from './page-role.js';
import {
  ACC_ALL,
  hpfnHi,
  hpfnLo,
  makePteFormat,
  PAGE_SHIFT,
  PT_PRESENT_MASK,
  pte64Gfn,
  pteIndex,
  spteHpfn,
} from './pte-format.js';
import { kvmMmuPteWrite, updatePte } from './pte-write.js';
import { HOST_IS_LITTLE_ENDIAN, type ShadowPage } from './shadow-page.js';
import {
  DEFAULT_MMU_OPTIONS,
  type MmuContext,
  type MmuModeName,
  type MmuOptions,
  MmuState,
} from './state.js';
import type { MmuStats } from './stats.js';
import { mmuSyncRoots } from './unsync.js';
import { MmuVmState } from './vm-state.js';
import { walkAddr64 } from './walker.js';
import { kvmMmuUnprotectPage } from './write-protect.js';

/** Outcome of {@link KvmMmu.kvmSetCr3}. */
export type Cr3LoadResult =
  /** CR3 loaded, roots switched. */
  | 'ok'
  /** Inject #GP(0) and leave CR3 alone: PAE PDPTEs unreadable or with reserved bits, or (long mode) CR3 beyond MAXPHYADDR. */
  | 'gp'
  /** CR3 loaded but the host could not supply pages for the new roots: fail KVM_RUN with ENOMEM. */
  | 'no-memory';

const AUDIT_LOG_MAX = 200;

/**
 * One vCPU's shadow MMU context (`struct kvm_mmu`: its paging mode, roots and walker) over the
 * VM's shared shadow pages. Create it with {@link kvmMmuCreate} (a one-vCPU VM of its own) or
 * `KvmMmuVm.createVcpuMmu` (one more vCPU of a VM), then call {@link KvmMmu.kvmMmuSetup} once
 * the vCPU's registers are known. See the README for the calling protocol a VMX/SVM driver
 * follows.
 */
export class KvmMmu {
  /** @internal */
  readonly s: MmuState;

  /** @internal use kvmMmuCreate or KvmMmuVm.createVcpuMmu. */
  constructor(
    kvm: MmuVmState,
    host: MmuHostOps,
    paeRootHpfn: number,
    private readonly ownsVm: boolean,
  ) {
    this.s = new MmuState(kvm, host);
    this.s.paeRootHpfn = paeRootHpfn;
    const view = host.pageView(paeRootHpfn);
    this.s.paeRoot = new Uint32Array(view.buffer, view.byteOffset, 8);
    this.s.paeRoot.fill(0);
    kvm.vcpus.push(this.s);
  }

  /** Live counters of the whole VM's MMU (a plain object; read any time). */
  get stats(): MmuStats {
    return this.s.kvm.stats;
  }

  /** Host-physical address of the shadow root the silicon must use as CR3, or -1 when none is loaded. */
  get rootHpa(): number {
    return this.s.rootHpa;
  }

  /** Two-dimensional paging (`MmuOptions.tdp`): the roots map guest-physical memory, not the guest's tables. */
  get tdp(): boolean {
    return this.s.tdp;
  }

  /** The mode the MMU context was last initialised for. */
  get mode(): MmuModeName {
    return this.s.ctx.mode;
  }

  /** Shadow levels the silicon walks from rootHpa: 3 (PAE: 4 roots in one page) or 4. */
  get shadowRootLevel(): number {
    return this.s.ctx.shadowRootLevel;
  }

  /** The PAE PDPTEs last loaded, as [lo0, hi0, lo1, hi1, …] (a copy). */
  get pdptes(): Uint32Array {
    return this.s.pdptes.slice();
  }

  /** Violations audit mode has found so far (at most 200 kept). */
  get auditLog(): readonly string[] {
    return this.s.kvm.auditLog;
  }

  /**
   * Second phase of creation (`kvm_mmu_setup`): initialises the context for the vCPU's current
   * paging state and loads roots. False: the host is out of pages (ENOMEM); call again later.
   */
  kvmMmuSetup(): boolean {
    initContext(this.s);
    const ok = loadRootsAndFlush(this.s);
    this.finish('setup');
    return ok;
  }

  /**
   * The paging mode changed (a write to CR0.PG/WP, CR4.PAE/PSE or EFER.NXE/LMA): drop the roots,
   * re-initialise the context (nonpaging, paging32, paging32E, paging64) and load roots for it.
   * Cached shadow pages stay (roles keep the modes apart). When entering PAE paging the caller
   * should already have checked the PDPTEs with loadPdptrs (and injected #GP if they are bad);
   * otherwise they are loaded here and unreadable ones count as not present.
   * False: out of host pages (roots not loaded; kvmMmuLoad retries).
   */
  kvmMmuReset(): boolean {
    this.s.stats.resets++;
    mmuFreeRoots(this.s);
    initContext(this.s);
    const ok = loadRootsAndFlush(this.s);
    this.finish('reset');
    return ok;
  }

  /**
   * The guest loaded CR3 (`host.paging.cr3` already holds it): switch roots, looking the new
   * ones up in the shadow cache, and flush the silicon TLB. In PAE mode the PDPTEs are those of
   * the last loadPdptrs (loaded here if that was for another CR3). False: out of host pages.
   * Prefer kvmSetCr3, which does the checks and the PDPTE load as MOV CR3 does.
   */
  kvmMmuNewCr3(): boolean {
    const s = this.s;
    s.stats.cr3Switches++;
    mmuFreeRoots(s);
    if (!s.options.shadowCache) kvmMmuZapAllPages(s.kvm, 'cacheOff');
    s.rootCr3 = s.host.paging.cr3;
    if (s.ctx.mode === 'paging32E' && s.pdptesCr3 !== s.rootCr3) loadPdptrsOrClear(s, s.rootCr3);
    updateWalkParams(s);
    const hits = s.stats.cacheHits;
    const misses = s.stats.cacheMisses;
    const ok = loadRootsAndFlush(s);
    s.stats.cr3RootHits += s.stats.cacheHits - hits;
    s.stats.cr3RootMisses += s.stats.cacheMisses - misses;
    this.finish('new cr3');
    return ok;
  }

  /**
   * MOV to CR3 as the hypervisor performs it: in PAE mode loads and checks the four PDPTEs
   * (changelog: "In pae mode, a load of cr3 loads the four third-level page table entries in
   * addition to cr3 itself"); on success stores `cr3` into `host.paging.cr3` and switches roots.
   * A CR3 pointing at no guest memory is not an error in 32-bit mode (walks through it fault
   * into the guest as not-present); in PAE mode its PDPTEs cannot be read and the result is 'gp'.
   */
  kvmSetCr3(cr3: number): Cr3LoadResult {
    const s = this.s;
    if (s.ctx.mode === 'paging32E' && !this.loadPdptrs(cr3)) return 'gp';
    // Long mode: CR3 bits 63:MAXPHYADDR are reserved, MOV CR3 #GPs (SDM Vol. 3A 4.5; KVM's
    // kvm_set_cr3 with `cr3 & CR3_L_MODE_RESERVED_BITS`).
    if (s.ctx.mode === 'paging64' && !(cr3 >= 0 && cr3 < s.kvm.maxPhyAddrBytes)) return 'gp';
    s.host.paging.cr3 = cr3;
    return this.kvmMmuNewCr3() ? 'ok' : 'no-memory';
  }

  /**
   * `load_pdptrs`: reads the four PAE PDPTEs at `cr3` (bits 31:5) and keeps them if every
   * present one is free of reserved bits. False (nothing changed) otherwise: the caller injects
   * #GP(0), as a real CPU does on the MOV to CR0/CR3/CR4 that would have loaded them.
   */
  loadPdptrs(cr3: number): boolean {
    const s = this.s;
    const fmt = s.pdpteFmt;
    const buf = s.pdpteBuf;
    if (!s.host.readGuest((cr3 >>> 0) & 0xffffffe0, buf)) return false;
    const v = s.pdpteView;
    const next = s.pdpteNext;
    for (let i = 0; i < 4; i++) {
      const lo = v.getUint32(i * 8, true);
      const hi = v.getUint32(i * 8 + 4, true);
      if (lo & PT_PRESENT_MASK && ((lo & fmt.rsvdLo[6]) !== 0 || (hi & fmt.rsvdHi[6]) !== 0)) return false;
      next[i * 2] = lo;
      next[i * 2 + 1] = hi;
    }
    s.pdptes.set(next);
    s.pdptesCr3 = cr3;
    return true;
  }

  /**
   * Makes sure roots are loaded (`kvm_mmu_load`); call before entering the guest. Roots another
   * operation zapped while this vCPU used them (see `MmuHostOps.requestMmuReload`) are dropped
   * and loaded again: re-read `rootHpa` (and, PAE, the four root entries) after it. False: the
   * host is out of pages (ENOMEM).
   */
  kvmMmuLoad(): boolean {
    const s = this.s;
    const ok = mmuLoadRoots(s);
    s.flushPending();
    return ok;
  }

  /**
   * The #PF exit handler's entry point. `errorCode` is the silicon's: its W, U and I/D bits say
   * what the access was. See {@link PageFaultResult} for what to do with the answer (the object
   * is reused by the next call). `gva` is a plain number: 32 bits outside long mode, the 48-bit
   * linear address in long mode (x86emu's fault address; a sign-extended canonical value above
   * 2^53 is not exact as a number: use {@link pageFault64}).
   */
  pageFault(gva: number, errorCode: number): PageFaultResult {
    return this.pageFault64(gva >>> 0, Math.floor(gva / 0x100000000) >>> 0, errorCode);
  }

  /**
   * {@link pageFault} with the linear address as two 32-bit halves (`gvaHi` = bits 63:32; in
   * long mode only bits 47:32 matter, outside it `gvaHi` is ignored). Allocates nothing.
   */
  pageFault64(gvaLo: number, gvaHi: number, errorCode: number): PageFaultResult {
    const s = this.s;
    s.stats.pageFaults++;
    // Changelog: allocate "before the main mmu machinery, where we can bail out on failure
    // before any damage is done".
    if (!s.caches.mmuTopupMemoryCaches() || !this.kvmMmuLoad()) {
      s.stats.pfNoMemory++;
      return PF_NO_MEMORY;
    }
    // The low half as int32 (`| 0`): a small integer V8 passes without boxing, where a uint32
    // above 2^31 would be a heap number per call.
    const r = handlePageFault(s, gvaLo | 0, s.ctx.shadowRootLevel === 4 ? gvaHi & 0xffff : 0, errorCode);
    s.flushPending();
    this.finish('page fault');
    return r;
  }

  /**
   * An emulated instruction wrote `bytes` bytes at `gpa` (within one page); the new bytes are
   * already in guest memory. Updates or drops the affected sptes of every shadow page of that gfn
   * (see pte-write.ts). Call it for every emulated write to guest RAM, as KVM's
   * emulator_write_phys does: for a page that is not shadowed it costs a hash lookup, and the
   * flood counter expects to see the writes in between.
   */
  kvmMmuPteWrite(gpa: number, bytes: number): void {
    const s = this.s;
    s.caches.mmuTopupMemoryCaches();
    kvmMmuPteWrite(s, gpa, bytes);
    s.flushPending();
    this.finish('pte write');
  }

  /**
   * Stops shadowing guest frame `gfn` as a page table (emulation of a write to it failed: it is
   * probably an ordinary page now). True: done, retry the instruction natively.
   */
  kvmMmuUnprotectPage(gfn: number): boolean {
    const r = kvmMmuUnprotectPage(this.s.kvm, gfn);
    this.s.flushPending();
    this.finish('unprotect');
    return r;
  }

  /** kvmMmuUnprotectPage for the frame `gva` maps (e.g. the faulting CR2). */
  /** (`gva` as in {@link gvaToGpa}.) */
  kvmMmuUnprotectPageVirt(gva: number): boolean {
    const gpa = this.gvaToGpa(gva);
    if (gpa < 0) return false;
    return this.kvmMmuUnprotectPage(Math.floor(gpa / 4096));
  }

  /**
   * Guest-virtual → guest-physical through the guest's tables, for an access described by the
   * #PF error-code bits in `access` (0: supervisor read). Sets no accessed/dirty bits. -1 when the
   * guest would fault.
   */
  gvaToGpa(gva: number, access = 0): number {
    return this.gvaToGpa64(gva >>> 0, Math.floor(gva / 0x100000000) >>> 0, access);
  }

  /** {@link gvaToGpa} with the linear address as halves (long mode: bits 47:0 are used). */
  gvaToGpa64(gvaLo: number, gvaHi: number, access = 0): number {
    const s = this.s;
    if (s.ctx.fmt === null) return gvaLo >>> 0;
    if (!walkAddr64(s.walker, s.host, s.walkParams!, gvaLo | 0, gvaHi | 0, access, false)) return -1;
    return s.walker.gfn * 4096 + (gvaLo & 0xfff);
  }

  /**
   * INVLPG, which the driver must intercept when `unsync` is on (the default): the guest may
   * have rewritten the gpte of an out-of-sync table natively, and INVLPG is where it may rely on
   * the new one. Syncs the leaf spte for `gva` from its gpte when its table is unsync, drops it
   * otherwise (2007: "Since we write protect shadowed guest page tables, there is no need to trap
   * page invalidations" — true only without unsync), and flushes that address.
   */
  invlpg(gva: number): void {
    const s = this.s;
    s.stats.invlpg++;
    if (s.tdp) {
      // No guest table is shadowed: only the silicon's combined translation goes (KVM's
      // invlpg with TDP: `kvm_x86_ops.flush_tlb_gva`).
      s.stats.tlbFlushGva++;
      s.host.flushTlbGva(gva);
      return;
    }
    const gvaHi = s.ctx.shadowRootLevel === 4 ? Math.floor(gva / 0x100000000) & 0xffff : 0;
    const page = leafShadowPage(s, gva | 0, gvaHi);
    if (page !== null) {
      const index = ((gva >>> 0) >>> PAGE_SHIFT) & 511;
      // An unsync table's spte is synced from its gpte (`FNAME(invlpg)`): the guest may have
      // rewritten it natively. A protected table's spte is in sync; it is dropped (refaults).
      if (page.unsync && page.spt[index * 2] & PT_PRESENT_MASK) {
        s.stats.sptesResynced++;
        const pteSize = s.ctx.rootLevel === 2 ? 4 : 8;
        const base = page.gfn * 4096 + (pteSize === 4 ? roleQuadrant(page.role) * 2048 : 0);
        if (!updatePte(s, page, index, base + index * pteSize, pteSize, false)) dropSpte(s.kvm, page, index);
      } else dropSpte(s.kvm, page, index);
    }
    // This vCPU drops the one address; the others may cache it too (the spte is shared), and
    // they get a full flush (KVM's invlpg: kvm_flush_remote_tlbs when an spte was dropped).
    const remote = s.kvm.pendingTlbFlush;
    s.kvm.pendingTlbFlush = false;
    s.stats.tlbFlushGva++;
    s.host.flushTlbGva(gva);
    if (remote) s.kvm.flushOthers(s);
    this.finish('invlpg');
  }

  /**
   * Zaps every shadow page of the VM, e.g. when a memory slot goes away (roots in use stay valid,
   * emptied, until their vCPUs reload them).
   */
  kvmMmuZapAll(): void {
    kvmMmuZapAllPages(this.s.kvm, 'all');
    this.s.flushPending();
    this.finish('zap all');
  }

  /**
   * Frees this vCPU's context (its roots and PAE root page) back to the host; the VM's shadow
   * pages stay for the other vCPUs (a context from {@link kvmMmuCreate} frees its VM's too). The
   * object must not be used afterwards.
   */
  kvmMmuDestroy(): void {
    const s = this.s;
    mmuFreeRoots(s);
    const at = s.kvm.vcpus.indexOf(s);
    if (at >= 0) s.kvm.vcpus.splice(at, 1);
    if (this.ownsVm) kvmMmuVmFree(s.kvm);
    if (s.paeRootHpfn >= 0) s.host.freePage(s.paeRootHpfn);
    s.paeRootHpfn = -1;
    s.rootHpa = -1;
  }

  /** Checks every invariant of the VM's MMU now; returns the violations (empty when all hold). */
  audit(): string[] {
    this.s.stats.auditRuns++;
    return auditMmu(this.s.kvm);
  }

  /** A summary of the VM's live shadow pages, for tests and debugging. */
  shadowPages(): ShadowPageInfo[] {
    return shadowPagesOf(this.s.kvm);
  }

  private finish(what: string): void {
    mmuAuditIfOn(this.s.kvm, what);
  }
}

/**
 * `kvm_mmu_load` without its flush: roots loaded (if none are, or they were zapped) and synced.
 * A sync that takes rights away leaves the flush pending (`MmuVmState.pendingTlbFlush`). False:
 * out of host pages.
 */
function mmuLoadRoots(s: MmuState): boolean {
  if (s.rootHpa >= 0) {
    if (!rootsInvalid(s)) return true;
    mmuFreeRoots(s);
  }
  if (!s.caches.mmuTopupMemoryCaches()) return false;
  kvmMmuFreeSomePages(s.kvm);
  mmuAllocRoots(s);
  // New roots (a CR3 load, a mode change, a reload): nothing stale may be seen through them
  // (`mmu_sync_roots` in kvm_mmu_load).
  mmuSyncRoots(s);
  return true;
}

/**
 * Loads roots after a root switch and flushes this vCPU's TLB once, for the switch and for
 * whatever the sync took away (KVM: one KVM_REQ_TLB_FLUSH_CURRENT): the sync's write protection
 * flushed on its own before, then the switch again, with nothing filled in between. The other
 * vCPUs still get their requests when the sync took rights away from shared sptes.
 */
function loadRootsAndFlush(s: MmuState): boolean {
  const ok = mmuLoadRoots(s);
  const remote = s.kvm.pendingTlbFlush;
  s.kvm.pendingTlbFlush = false;
  s.host.flushTlb();
  s.stats.tlbFlushes++;
  if (remote) s.kvm.flushOthers(s);
  return ok;
}

/** Audit mode: checks the invariants after a public operation and logs what broke. */
export function mmuAuditIfOn(kvm: MmuVmState, what: string): void {
  if (!kvm.options.audit) return;
  kvm.stats.auditRuns++;
  const bad = auditMmu(kvm);
  if (bad.length === 0) return;
  kvm.stats.auditFailures += bad.length;
  for (const msg of bad) if (kvm.auditLog.length < AUDIT_LOG_MAX) kvm.auditLog.push(`after ${what}: ${msg}`);
}

/** The live shadow pages, newest first. */
export function shadowPagesOf(kvm: MmuVmState): ShadowPageInfo[] {
  const out: ShadowPageInfo[] = [];
  for (let p = kvm.activeHead; p !== null; p = p.next) {
    out.push({
      gfn: p.gfn,
      role: p.role,
      level: p.level,
      metaphysical: p.metaphysical,
      hpfn: p.hpfn,
      rootCount: p.rootCount,
      invalid: p.invalid,
      unsync: p.unsync,
    });
  }
  return out;
}

/** Gives every shadow page and cached page of the VM back to the host (no vCPU may use it). */
export function kvmMmuVmFree(kvm: MmuVmState): void {
  kvmMmuZapAllPages(kvm, 'all');
  kvm.caches.release();
}

/** A live shadow page as {@link KvmMmu.shadowPages} reports it (newest first). */
export interface ShadowPageInfo {
  gfn: number;
  role: number;
  level: number;
  metaphysical: boolean;
  hpfn: number;
  rootCount: number;
  /** Zapped while a root in use: kept for its users until they reload (KVM's `role.invalid`). */
  invalid: boolean;
  /** A last-level guest table left writable, its sptes resynced on CR3 load and INVLPG. */
  unsync: boolean;
}

/**
 * First phase of creation (`kvm_mmu_create`): allocates the page that holds the four PAE roots.
 * Returns null when the host has no page for it (ENOMEM). Throws RangeError only for nonsense
 * options (a programming error, not a guest action).
 */
export function kvmMmuCreate(host: MmuHostOps, options: Partial<MmuOptions> = {}): KvmMmu | null {
  const kvm = new MmuVmState(host, checkMmuOptions(options));
  return kvmMmuCreateVcpu(kvm, host, true);
}

/** The options with defaults filled in; RangeError for nonsense (a programming error). */
export function checkMmuOptions(options: Partial<MmuOptions>): MmuOptions {
  const opts: MmuOptions = { ...DEFAULT_MMU_OPTIONS, ...options };
  if (!Number.isInteger(opts.maxShadowPages) || opts.maxShadowPages < 16) {
    throw new RangeError(`maxShadowPages must be an integer >= 16, got ${opts.maxShadowPages}`);
  }
  if (!Number.isInteger(opts.maxPhyAddr) || opts.maxPhyAddr < 32 || opts.maxPhyAddr > 52) {
    throw new RangeError(`maxPhyAddr must be 32..52, got ${opts.maxPhyAddr}`);
  }
  if (!Number.isInteger(opts.floodThreshold) || opts.floodThreshold < 1) {
    throw new RangeError(`floodThreshold must be a positive integer, got ${opts.floodThreshold}`);
  }
  const n = opts.tdpPrefetch;
  if (!Number.isInteger(n) || n < 1 || n > 512 || (n & (n - 1)) !== 0) {
    throw new RangeError(`tdpPrefetch must be a power of two 1..512, got ${n}`);
  }
  if (opts.ept && !opts.tdp) throw new RangeError('ept (the EPT entry format) needs tdp');
  if (!HOST_IS_LITTLE_ENDIAN) throw new RangeError('@kvm/mmu needs a little-endian host');
  return opts;
}

/** A vCPU context over `kvm` (`kvm_mmu_create`: its PAE root page). Null: no page (ENOMEM). */
export function kvmMmuCreateVcpu(kvm: MmuVmState, host: MmuHostOps, ownsVm: boolean): KvmMmu | null {
  const paeRoot = host.allocPage();
  if (paeRoot < 0) return null;
  return new KvmMmu(kvm, host, paeRoot, ownsVm);
}

/** The VM half alone, for KvmMmuVm. */
export function newMmuVmState(host: MmuVmHostOps, options: Partial<MmuOptions>): MmuVmState {
  return new MmuVmState(host, checkMmuOptions(options));
}

/** `init_kvm_mmu`: picks the context for the vCPU's paging state. */
function initContext(s: MmuState): void {
  const { cr0, cr4, efer } = s.host.paging;
  const wp = (cr0 & X86_CR0_WP) !== 0;
  const nxe = (efer & EFER_NX) !== 0;
  const pse = (cr4 & X86_CR4_PSE) !== 0;
  const maxPhyAddr = s.options.maxPhyAddr;
  let ctx: MmuContext;
  if (!(cr0 & X86_CR0_PG)) {
    ctx = {
      mode: 'nonpaging',
      fmt: null,
      rootLevel: 0,
      shadowRootLevel: 3,
      wp: false,
      nxe: false,
      pse: false,
    };
  } else if (efer & EFER_LMA) {
    // Long mode (CR0.PG with EFER.LMA): 4-level guest tables, shadowed by a 4-level hierarchy
    // whose root is a shadow PML4 (KVM: `paging64_init_context`, `shadow_root_level` 4).
    const gbPages = s.host.paging.gbPages !== false;
    const fmt = makePteFormat('paging64', { nxe, pse: true, maxPhyAddr, gbPages });
    ctx = { mode: 'paging64', fmt, rootLevel: 4, shadowRootLevel: 4, wp, nxe, pse: true };
  } else if (cr4 & X86_CR4_PAE) {
    const fmt = makePteFormat('paging32E', { nxe, pse: true, maxPhyAddr });
    ctx = { mode: 'paging32E', fmt, rootLevel: 3, shadowRootLevel: 3, wp, nxe, pse: true };
  } else {
    // 32-bit guests are shadowed with PAE tables (the silicon's own mode), four roots per CR3.
    const fmt = makePteFormat('paging32', { nxe: false, pse, maxPhyAddr });
    ctx = { mode: 'paging32', fmt, rootLevel: 2, shadowRootLevel: 3, wp, nxe: false, pse };
  }
  // TDP: the silicon walks the 4-level direct map whatever the guest's mode (`ctx` still
  // describes the guest's tables, for gvaToGpa and the PDPTEs).
  if (s.tdp) ctx.shadowRootLevel = 4;
  s.ctx = ctx;
  s.rootCr3 = s.host.paging.cr3;
  // Entering (or staying in) PAE paging through CR0/CR4 reloads the PDPTEs from memory, as the
  // CPU does (SDM Vol. 3A 4.4.1); the caller has already refused invalid ones with #GP.
  if (ctx.mode === 'paging32E') loadPdptrsOrClear(s, s.rootCr3);
  updateWalkParams(s);
}

/** Updated in place: a CR3 switch allocates nothing. */
function updateWalkParams(s: MmuState): void {
  const fmt = s.ctx.fmt;
  if (fmt === null) {
    s.walkParams = null;
    return;
  }
  const p = s.walkParams;
  if (p === null) {
    s.walkParams = { fmt, cr3: s.rootCr3, pdptes: s.pdptes, wp: s.ctx.wp };
    return;
  }
  p.fmt = fmt;
  p.cr3 = s.rootCr3;
  p.wp = s.ctx.wp;
}

/** Loads PDPTEs without a caller to report #GP to: unreadable or reserved ones become not present. */
function loadPdptrsOrClear(s: MmuState, cr3: number): void {
  const fmt = s.pdpteFmt;
  const buf = s.pdpteBuf;
  const ok = s.host.readGuest((cr3 >>> 0) & 0xffffffe0, buf);
  const v = s.pdpteView;
  for (let i = 0; i < 4; i++) {
    const lo = ok ? v.getUint32(i * 8, true) : 0;
    const hi = ok ? v.getUint32(i * 8 + 4, true) : 0;
    const bad = (lo & fmt.rsvdLo[6]) !== 0 || (hi & fmt.rsvdHi[6]) !== 0;
    s.pdptes[i * 2] = bad ? 0 : lo;
    s.pdptes[i * 2 + 1] = bad ? 0 : hi;
  }
  s.pdptesCr3 = cr3;
}

/**
 * `mmu_alloc_roots`. PAE shadow (every mode but 4-level): one page of four root entries, each
 * pointing at a level-2 shadow page — the guest PD a PDPTE names (PAE), a quarter of the guest
 * PD (32-bit, quadrant i), or a metaphysical 1 GiB identity map (paging off). Changelog: "allocate
 * a single pae shadow that will hold the four lower-level pages, which will act as roots".
 */
function mmuAllocRoots(s: MmuState): void {
  const ctx = s.ctx;
  if (s.tdp) {
    // `mmu_alloc_direct_roots`: one direct root for guest-physical memory, gfn 0 at level 4.
    const root = kvmMmuGetPage(s, 0, 0, 4, true, ACC_ALL, -1);
    root.rootCount++;
    s.rootPage = root;
    s.rootHpa = root.hpfn * 4096;
    return;
  }
  if (ctx.shadowRootLevel === 4) {
    const root = kvmMmuGetPage(s, Math.floor(s.rootCr3 / 4096), 0, 4, false, ACC_ALL, -1);
    root.rootCount++;
    s.rootPage = root;
    s.rootHpa = root.hpfn * 4096;
    return;
  }
  for (let i = 0; i < 4; i++) {
    let gfn: number;
    if (ctx.rootLevel === 3) {
      const lo = s.pdptes[i * 2];
      if (!(lo & PT_PRESENT_MASK)) {
        s.paeRootPages[i] = null;
        s.paeRoot[i * 2] = 0;
        s.paeRoot[i * 2 + 1] = 0;
        continue;
      }
      gfn = pte64Gfn(lo, s.pdptes[i * 2 + 1], ctx.fmt!.addrHiMask);
    } else if (ctx.rootLevel === 2) {
      gfn = (s.rootCr3 >>> PAGE_SHIFT) & 0xfffff;
    } else {
      gfn = i << 18;
    }
    const page = kvmMmuGetPage(s, gfn, i * 0x40000000, 2, ctx.rootLevel === 0, ACC_ALL, -1);
    page.rootCount++;
    s.paeRootPages[i] = page;
    // A PAE PDPTE has only P and the address (bits 2:1 and 8:5 are reserved).
    s.paeRoot[i * 2] = (hpfnLo(page.hpfn) | PT_PRESENT_MASK) >>> 0;
    s.paeRoot[i * 2 + 1] = hpfnHi(page.hpfn);
  }
  s.rootHpa = s.paeRootHpfn * 4096;
}

/**
 * `mmu_free_roots`: the root pages stay cached, they just stop being this vCPU's roots (a zapped
 * one is freed by its last user).
 */
function mmuFreeRoots(s: MmuState): void {
  for (let i = 0; i < 4; i++) {
    const page = s.paeRootPages[i];
    if (page !== null) kvmMmuPutRoot(s.kvm, page);
    s.paeRootPages[i] = null;
    s.paeRoot[i * 2] = 0;
    s.paeRoot[i * 2 + 1] = 0;
  }
  if (s.rootPage !== null) kvmMmuPutRoot(s.kvm, s.rootPage);
  s.rootPage = null;
  s.rootHpa = -1;
}

/** Whether a root of this vCPU was zapped since it was loaded (it must reload). */
function rootsInvalid(s: MmuState): boolean {
  if (s.rootPage !== null) return s.rootPage.invalid;
  const r = s.paeRootPages;
  return r[0]?.invalid === true || r[1]?.invalid === true || r[2]?.invalid === true || r[3]?.invalid === true;
}

/** The level-1 shadow page that holds `gva`'s leaf, if the shadow tables reach that far. */
function leafShadowPage(s: MmuState, gvaLo: number, gvaHi: number): ShadowPage | null {
  let page: ShadowPage | null;
  let level: number;
  if (s.ctx.shadowRootLevel === 3) {
    page = s.paeRootPages[(gvaLo >>> 30) & 3];
    level = 2;
  } else {
    page = s.rootPage;
    level = 4;
  }
  while (page !== null && level > 1) {
    const at = pteIndex(gvaLo, gvaHi, PAGE_SHIFT + 9 * (level - 1), 511) * 2;
    if (!(page.spt[at] & PT_PRESENT_MASK)) return null;
    page = s.byHpfn.get(spteHpfn(page.spt[at], page.spt[at + 1])) ?? null;
    level--;
  }
  return page;
}
