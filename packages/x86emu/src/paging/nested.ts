/**
 * Nested (two-dimensional) paging, AMD's NPT (APM Vol. 2 15.25): in guest mode the guest's own
 * CR0/CR3/CR4/EFER translate linear → guest-physical through the guest's tables, and every
 * guest-physical address — each entry the guest walk reads or writes, and the final one — is
 * translated again, guest-physical → host-physical, through the hypervisor's nested tables at
 * N_CR3. The nested tables are in the host's 4-level long-mode format and are walked by the host
 * rules of 15.25.5: every nested access is a user access (so every nested entry needs U/S = 1),
 * NX applies with the host's EFER.NXE, and the guest walk's own accesses to its tables count as
 * user WRITES (so a read-only nested page under a guest page table faults with W set, as KVM's
 * `PFERR_NESTED_GUEST_PAGE` = GUEST_PAGE | WRITE | PRESENT expects of the hardware).
 *
 * A failed nested walk is a nested page fault: the silicon's #VMEXIT(NPF) (15.25.6), with the
 * #PF-style error code of the nested walk, the faulting guest-physical address, and whether it
 * happened on the final translation or during the guest's table walk (EXITINFO1 bits 32/33).
 *
 * This object is also the guest walker's `PhysicalMemory` (`read32`/`write32` at guest-physical
 * addresses), so `walkAddr` is written once for both dimensions.
 *
 * Two nested-entry formats (`format`): AMD's NPT, the host's long-mode format walked by
 * `walkAddr` as above, and Intel's EPT (SDM Vol. 3C 29.3; `paging/ept.ts`), whose entries carry
 * R/W/X rights, and whose failures are an EPT violation or an EPT misconfiguration
 * (`faultMisconfig`), with the rights of the entries used (`faultRights`) for the exit
 * qualification. Under EPT the guest's table accesses are reads (writes when EPTP bit 6 enables
 * the accessed/dirty flags, 29.3.5), and the guest walk's own A/D writes need write rights.
 */
import type { PhysicalMemory } from '../api/physical-memory.js';
import { holdAsDoubles } from '../double-fields.js';
import { pageOffset } from './bits.js';
import { EPT_EXEC, EPT_READ, EPT_WRITE, EptWalkResult, EptWalkStatus, walkEpt } from './ept.js';
import { PFERR, WalkCtl, WalkResult, walkAddr } from './walker.js';

/** `NestedPaging.format`: the nested tables' entry format. */
export const NestedFormat = { Npt: 0, Ept: 1 } as const;
export type NestedFormat = (typeof NestedFormat)[keyof typeof NestedFormat];

/** The nested walk's control bits: the host pages in long mode, user accesses only (no WP), 1 GiB pages. */
const NESTED_CTL = WalkCtl.PAGE1G | WalkCtl.PSE;

/** Nested-TLB rights: readable (present, user), writable (W with D set), executable (no NX). */
export const NTLB_R = 1;
export const NTLB_W = 2;
export const NTLB_X = 4;
/**
 * Entries of the nested TLB (direct-mapped by gfn): 64 MiB of guest-physical frames. 1,024 (4 MiB)
 * missed on a fifth of its lookups in Debian's boot on `-accel vmx` (198 k of 996 k, 256 MiB of
 * RAM; each miss an EPT walk of four entries): the guest's page tables and its data page
 * further than 4 MiB apart evicted one another. A flush fills the gfn array: INVEPT and the
 * TLB_CONTROL flushes are rare (199 in that boot).
 */
const NTLB_SIZE = 16384;
const NTLB_MASK = NTLB_SIZE - 1;

export class NestedPaging implements PhysicalMemory {
  /** Host-physical address of the nested PML4 (the VMCB's N_CR3). */
  root = 0;
  /** The host's EFER.NXE: whether nested entries may carry NX (bit 63), else it is reserved. */
  nxe = true;
  /** The entry format of the nested tables (`NestedFormat`); set with the nested TLB flushed. */
  format: NestedFormat = NestedFormat.Npt;
  /** EPT: the accessed and dirty flags are enabled (EPTP bit 6). */
  eptAd = false;
  /** EPT: execute-only translations are supported (IA32_VMX_EPT_VPID_CAP bit 0). */
  eptExecOnly = true;
  /** The last nested walk. */
  readonly walk = new WalkResult();
  /** The last EPT walk. */
  readonly eptWalk = new EptWalkResult();
  /** The NTLB_* rights of the last successful `translate`. */
  rights = 0;

  /**
   * The nested TLB: gfn → host frame with its rights, filled by successful nested walks, so that
   * the guest's table walks and final accesses after a guest TLB flush (its MOV CR3, INVLPG) do
   * not walk the nested tables again. Like the hardware's, it is the hypervisor's to flush when
   * it changes the nested tables (`flush`: TLB_CONTROL at VMRUN, or its own flush: APM 15.16.1);
   * the guest's own flushes leave it.
   */
  private readonly ntlbGfn = new Int32Array(NTLB_SIZE).fill(-1);
  private readonly ntlbHpfn = new Float64Array(NTLB_SIZE);
  private readonly ntlbRights = new Uint8Array(NTLB_SIZE);

  /** Set by a failed nested walk: its #PF-style error code, the gPA, and where it happened. */
  faulted = false;
  faultError = 0;
  faultGpa = 0;
  /** True: the fault was on an access of the guest's page-table walk (EXITINFO1 bit 33), else the final gPA (bit 32). */
  faultInWalk = false;
  /** EPT: the failure was a misconfiguration (exit 49), not a violation. */
  faultMisconfig = false;
  /** EPT: the AND of the R/W/X bits of the entries the failed walk used (EPT_READ…EPT_EXEC). */
  faultRights = 0;

  /**
   * A one-entry cache of the guest-table frame last translated, valid for one combined walk
   * (`beginWalk`): the guest walker reads an 8-byte entry as two 32-bit halves and then may
   * write its accessed bit, all in one frame.
   */
  private lastGfn = -1;
  private lastHpfn = 0;
  private lastRights = 0;
  /** Host frames the guest walk wrote (accessed/dirty bits), for the caller's code-page check. */
  readonly writtenHpfn = new Float64Array(4);
  writtenCount = 0;

  constructor(readonly host: PhysicalMemory) {
    // A guest-physical address, the root's host-physical one (double-fields.ts).
    holdAsDoubles(this, ['faultGpa', 'root']);
  }

  /** Starts a combined walk: forgets the frame cache and the written frames. */
  beginWalk(): void {
    this.lastGfn = -1;
    this.faulted = false;
    this.writtenCount = 0;
  }

  /**
   * gPA → hPA through the nested tables for an access of kind `access` (PFERR bits; USER is
   * added: 15.25.5). -1 when the nested walk fails, with the fault recorded (`faultInWalk` as
   * given). Sets the nested accessed/dirty bits as the hardware does.
   */
  translate(gpa: number, access: number, inWalk: boolean): number {
    const gfn = Math.floor(gpa / 4096);
    const i = gfn & NTLB_MASK;
    const need = access & PFERR.WRITE ? NTLB_W : access & PFERR.FETCH ? NTLB_X : NTLB_R;
    if (this.ntlbGfn[i] === gfn && this.ntlbRights[i] & need) {
      this.rights = this.ntlbRights[i];
      return this.ntlbHpfn[i] * 4096 + pageOffset(gpa);
    }
    if (this.format === NestedFormat.Ept) return this.translateEpt(gpa, access, inWalk, gfn, i);
    const w = this.walk;
    if (
      !walkAddr(
        this.host,
        3,
        this.root,
        gpa,
        access | PFERR.USER,
        NESTED_CTL | (this.nxe ? WalkCtl.NXE : 0),
        w,
      )
    ) {
      this.faulted = true;
      this.faultError = w.errorCode;
      this.faultGpa = gpa;
      this.faultInWalk = inWalk;
      this.faultMisconfig = false;
      return -1;
    }
    const rights = NTLB_R | (w.writable && w.dirty ? NTLB_W : 0) | (w.nx ? 0 : NTLB_X);
    // Guest frames within 2^31 pages (MAXPHYADDR 43): every gfn the Int32Array can tag.
    if (gfn < 0x80000000) {
      this.ntlbGfn[i] = gfn;
      this.ntlbHpfn[i] = w.pfn;
      this.ntlbRights[i] = rights;
    }
    this.rights = rights;
    return w.pa;
  }

  /** `translate` through EPT paging structures (`walkEpt`), the rights kept in NTLB_* form. */
  private translateEpt(gpa: number, access: number, inWalk: boolean, gfn: number, i: number): number {
    const w = this.eptWalk;
    const st = walkEpt(this.host, this.root, gpa, access, this.eptAd, this.eptExecOnly, w);
    if (st !== EptWalkStatus.Ok) {
      this.faulted = true;
      this.faultError = access & (PFERR.WRITE | PFERR.FETCH);
      this.faultGpa = gpa;
      this.faultInWalk = inWalk;
      this.faultMisconfig = st === EptWalkStatus.Misconfig;
      this.faultRights = st === EptWalkStatus.Misconfig ? 0 : w.rights;
      return -1;
    }
    const r = w.rights;
    // Write rights are cached only once the leaf is dirty (with A/D on), as for NPT.
    const rights =
      (r & EPT_READ ? NTLB_R : 0) | (r & EPT_WRITE && w.dirty ? NTLB_W : 0) | (r & EPT_EXEC ? NTLB_X : 0);
    if (gfn < 0x80000000) {
      this.ntlbGfn[i] = gfn;
      this.ntlbHpfn[i] = w.pfn;
      this.ntlbRights[i] = rights;
    }
    this.rights = rights;
    return w.pa;
  }

  /** Drops every nested translation (the hypervisor changed the nested tables, or N_CR3/ASID). */
  flush(): void {
    this.ntlbGfn.fill(-1);
  }

  /**
   * The host frame of guest-table frame `gfn` for the guest walk, or -1: NPT translates it as a
   * user write (15.25.5); EPT as a read, or a write with the A/D flags on (SDM 29.3.5).
   */
  private tableFrame(gpa: number): number {
    const gfn = Math.floor(gpa / 4096);
    if (gfn === this.lastGfn) return this.lastHpfn;
    if (this.faulted) return -1;
    const kind = this.format === NestedFormat.Ept && !this.eptAd ? 0 : PFERR.WRITE;
    const hpa = this.translate(gpa, kind, true);
    if (hpa < 0) return -1;
    this.lastGfn = gfn;
    this.lastHpfn = Math.floor(hpa / 4096);
    this.lastRights = this.rights;
    return this.lastHpfn;
  }

  // ---- PhysicalMemory at guest-physical addresses, for the guest walk --------------------------
  // A nested fault reads as 0 (a not-present entry) so that the guest walk stops; the caller sees
  // `faulted` and reports the NPF instead of the #PF the walk computed.

  read32(gpa: number): number {
    const hpfn = this.tableFrame(gpa);
    return hpfn < 0 ? 0 : this.host.read32(hpfn * 4096 + pageOffset(gpa));
  }

  write32(gpa: number, value: number): void {
    let hpfn = this.tableFrame(gpa);
    if (hpfn < 0) return;
    // The guest walk's accessed/dirty write is a write to guest memory: under EPT it needs write
    // rights on the table's frame, which its read did not ask for.
    if (!(this.lastRights & NTLB_W)) {
      const hpa = this.translate(gpa, PFERR.WRITE, true);
      if (hpa < 0) return;
      hpfn = Math.floor(hpa / 4096);
      this.lastRights = this.rights;
    }
    this.host.write32(hpfn * 4096 + pageOffset(gpa), value);
    if (this.writtenCount < 4) this.writtenHpfn[this.writtenCount++] = hpfn;
  }

  pageView(): Uint8Array | null {
    return null;
  }
  read8(gpa: number): number {
    return (this.read32(gpa - (gpa % 4)) >>> (8 * (gpa % 4))) & 0xff;
  }
  read16(gpa: number): number {
    return (this.read32(gpa - (gpa % 4)) >>> (8 * (gpa % 4))) & 0xffff;
  }
  write8(): void {}
  write16(): void {}
}
