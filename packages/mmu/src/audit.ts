import { auditMappings, maxShadowLevel } from './audit-mappings.js';
import { describeRole, ROLE_TDP, roleGlevels } from './page-role.js';
import { collectParentPtes } from './parent-ptes.js';
import {
  EPT_SPTE_FORMAT,
  PT_PAT_MASK,
  PT_PCD_MASK,
  PT_PRESENT_MASK,
  PT_PWT_MASK,
  PT_WRITABLE_MASK,
  spteHpfn,
  X86_SPTE_FORMAT,
} from './pte-format.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuVmState } from './vm-state.js';

/**
 * The MMU audit (`kvm_mmu_audit`): checks the invariants the shadow MMU lives by and returns one
 * message per violation (empty: all good). Slow; for tests and audit mode.
 *
 * - every present leaf spte is in its host frame's rmap, and every rmap entry is such an spte;
 * - every directory spte points at a live shadow page one level down that lists it as a parent,
 *   and every recorded parent points back;
 * - no spte maps a write-protected (shadowed as a table) guest frame writable;
 * - no spte carries PCD, PWT or PAT;
 * - the hash, the hpfn index, the active list and the root counts agree with the live pages;
 * - levels: a page is no higher than its mode's shadow root (4 for long mode, 2 under a PAE
 *   root), the 4-level root is a level-4 page of a 4-level guest, the per-level counters agree;
 * - unsync pages are last-level guest tables, their gfn's only role, marked in every parent's
 *   `unsyncChildBitmap` (and so up to the roots); `unsyncChildren` counts the bits;
 * - a zapped root still in use (`invalid`) is empty, out of the hash and some vCPU's root;
 * - each vCPU's reachable shadow tables agree with its guest tables (audit-mappings.ts).
 */
export function auditMmu(s: MmuVmState): string[] {
  const out: string[] = [];
  const name = (p: ShadowPage) => `page#${p.id} gfn=${p.gfn.toString(16)} (${describeRole(p.role)})`;
  const refs: number[] = [];
  let live = 0;
  let unsync = 0;
  const rootRefs = new Map<ShadowPage, number>();
  for (const v of s.vcpus) {
    for (const p of v.paeRootPages) if (p !== null) rootRefs.set(p, (rootRefs.get(p) ?? 0) + 1);
    if (v.rootPage !== null) rootRefs.set(v.rootPage, (rootRefs.get(v.rootPage) ?? 0) + 1);
  }

  const perLevel = [0, 0, 0, 0, 0];
  for (const page of s.pagesById) {
    if (page === null) continue;
    live++;
    if (page.level < 1 || page.level > maxShadowLevel(page.role))
      out.push(`${name(page)} at an impossible level`);
    else perLevel[page.level]++;
    const hashed = (s.hash.get(page.gfn) ?? []).includes(page);
    if (page.invalid) {
      if (hashed) out.push(`${name(page)} is invalid but still in the hash`);
      if (page.rootCount === 0) out.push(`${name(page)} is invalid and no root: it should be freed`);
      for (let i = 0; i < 1024; i++) {
        if (page.spt[i] !== 0) {
          out.push(`${name(page)} is invalid but not empty`);
          break;
        }
      }
    } else if (!hashed) out.push(`${name(page)} missing from the hash`);
    if (s.byHpfn.get(page.hpfn) !== page) out.push(`${name(page)} missing from the hpfn index`);
    if ((rootRefs.get(page) ?? 0) !== page.rootCount) {
      out.push(`${name(page)} rootCount ${page.rootCount} but ${rootRefs.get(page) ?? 0} root slots use it`);
    }
    for (let i = 0; i < 512; i++) {
      const lo = page.spt[i * 2];
      const hi = page.spt[i * 2 + 1];
      const marked = (page.presentBitmap[i >>> 5] >>> (i & 31)) & 1;
      if (marked !== (lo & PT_PRESENT_MASK))
        out.push(`${name(page)}[${i}] present ${lo & 1} but bitmap ${marked}`);
      if (!(lo & PT_PRESENT_MASK)) {
        if (lo !== 0 || hi !== 0) out.push(`${name(page)}[${i}] not present but not zero`);
        continue;
      }
      const hpfn = spteHpfn(lo, hi);
      const ref = page.id * 512 + i;
      if (page.level === 1) {
        // (An EPT leaf holds its memory type in bits 5:3: only the x86 format's cache bits are checked.)
        if (s.spteFmt === X86_SPTE_FORMAT && lo & (PT_PWT_MASK | PT_PCD_MASK | PT_PAT_MASK))
          out.push(`${name(page)}[${i}] carries PCD/PWT/PAT`);
        else if (s.spteFmt === EPT_SPTE_FORMAT && (lo & 0x7f) !== (EPT_SPTE_FORMAT.leafLo | (lo & 7)))
          out.push(`${name(page)}[${i}] is not an EPT leaf with memory type WB and ignore-PAT`);
        const n = s.rmap.collect(hpfn, refs);
        if (!refs.slice(0, n).includes(ref)) out.push(`${name(page)}[${i}] → hpfn ${hpfn} not in rmap`);
      } else {
        const child = s.byHpfn.get(hpfn);
        if (child === undefined) {
          out.push(`${name(page)}[${i}] points at hpfn ${hpfn}, no shadow page`);
          continue;
        }
        if (child.level !== page.level - 1)
          out.push(`${name(page)}[${i}] child ${name(child)} at wrong level`);
        const n = collectParentPtes(child, refs);
        if (!refs.slice(0, n).includes(ref)) out.push(`${name(child)} lacks parent ${name(page)}[${i}]`);
      }
    }
    let bits = 0;
    for (const w of page.unsyncChildBitmap) for (let x = w; x !== 0; x &= x - 1) bits++;
    if (bits !== page.unsyncChildren)
      out.push(`${name(page)} has ${bits} unsync child bits but unsyncChildren = ${page.unsyncChildren}`);
    if (page.level === 1 && bits !== 0) out.push(`${name(page)} is a page table with unsync child bits`);
    if (page.unsync) {
      unsync++;
      if (page.level !== 1 || page.metaphysical || page.invalid)
        out.push(`${name(page)} is unsync but not a valid last-level guest table`);
      if ((s.hash.get(page.gfn) ?? []).some((p) => p !== page && !p.metaphysical))
        out.push(`${name(page)} is unsync but its gfn has other roles`);
    }
    const n = collectParentPtes(page, refs);
    for (const ref of refs.slice(0, n)) {
      const parent = s.pageByRef(ref);
      if (
        parent !== null &&
        (page.unsync || page.unsyncChildren > 0) &&
        !(parent.unsyncChildBitmap[(ref & 511) >>> 5] & (1 << (ref & 31)))
      )
        out.push(
          `${name(page)} is or holds unsync pages but parent ${name(parent)}[${ref & 511}] lacks the bit`,
        );
      const at = (ref & 511) * 2;
      if (parent === null) out.push(`${name(page)} has parent ref ${ref} in no live page`);
      else if (
        !(parent.spt[at] & PT_PRESENT_MASK) ||
        spteHpfn(parent.spt[at], parent.spt[at + 1]) !== page.hpfn
      ) {
        out.push(`${name(page)} has parent ${name(parent)}[${ref & 511}] that does not point at it`);
      }
    }
  }
  if (live !== s.nPages) out.push(`${live} live pages but nPages = ${s.nPages}`);
  if (unsync !== s.stats.unsyncPages)
    out.push(`${unsync} unsync pages but the counter says ${s.stats.unsyncPages}`);
  const st = s.stats;
  const counted = [0, st.shadowPagesL1, st.shadowPagesL2, st.shadowPagesL3, st.shadowPagesL4];
  for (let l = 1; l <= 4; l++) {
    if (counted[l] !== perLevel[l])
      out.push(`${perLevel[l]} live level-${l} pages but the counter says ${counted[l]}`);
  }
  for (const v of s.vcpus) {
    const root = v.rootPage;
    if (v.ctx.shadowRootLevel === 4 && v.rootHpa >= 0) {
      if (root === null || root.hpfn * 4096 !== v.rootHpa)
        out.push('4-level roots loaded but rootHpa is not the root page');
      else if (root.level !== 4 || (roleGlevels(root.role) !== 4 && !(root.role & ROLE_TDP)))
        out.push(`root ${name(root)} is not a 4-level PML4`);
      else if (v.tdp !== ((root.role & ROLE_TDP) !== 0))
        out.push(`root ${name(root)} ${v.tdp ? 'is not the TDP map' : 'is a TDP page under shadow paging'}`);
    }
    if (v.ctx.shadowRootLevel !== 4 && root !== null)
      out.push(`a 4-level root ${name(root)} in a PAE-shadowed mode`);
    auditMappings(v, out, name);
  }
  let listed = 0;
  for (let p = s.activeHead; p !== null && listed <= live; p = p.next) listed++;
  if (listed !== live) out.push(`active list holds ${listed} pages, ${live} live`);

  for (const hpfn of s.rmap.hpfns()) {
    const n = s.rmap.collect(hpfn, refs);
    for (const ref of refs.slice(0, n)) {
      const page = s.pageByRef(ref);
      const at = (ref & 511) * 2;
      if (page === null || page.level !== 1)
        out.push(`rmap of hpfn ${hpfn} holds ref ${ref}, not a leaf spte`);
      else if (!(page.spt[at] & PT_PRESENT_MASK) || spteHpfn(page.spt[at], page.spt[at + 1]) !== hpfn) {
        out.push(`rmap of hpfn ${hpfn} holds ${name(page)}[${ref & 511}] which maps something else`);
      }
    }
  }

  for (const [gfn, list] of s.hash) {
    // An unsync table's frame is writable by design.
    if (!list.some((p) => !p.metaphysical) || list.some((p) => p.unsync)) continue;
    const hpfn = s.host.gfnToHpfn(gfn);
    if (hpfn < 0) continue;
    const n = s.rmap.collect(hpfn, refs);
    for (const ref of refs.slice(0, n)) {
      const page = s.pageByRef(ref);
      if (page !== null && page.spt[(ref & 511) * 2] & PT_WRITABLE_MASK) {
        out.push(
          `gfn ${gfn.toString(16)} is a shadowed page table but ${name(page)}[${ref & 511}] maps it writable`,
        );
      }
    }
  }
  return out;
}
