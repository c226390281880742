import { dropSpte, kvmMmuZapPage } from './page-cache.js';
import { ROLE_CR0_WP, ROLE_NXE, ROLE_PSE, roleAccess, roleGlevels, roleQuadrant } from './page-role.js';
import {
  ACC_EXEC_MASK,
  PT_ACCESSED_MASK,
  PT_DIRTY_MASK,
  PT_PRESENT_MASK,
  PT_USER_MASK,
  PT_WRITABLE_MASK,
  PT64_NX_HI_MASK,
  pte64Gfn,
} from './pte-format.js';
import { mmuSetSpte, SET_SPTE_MMIO } from './set-spte.js';
import { ShadowPage } from './shadow-page.js';
import type { MmuState } from './state.js';

/**
 * `kvm_mmu_pte_write`: the caller has just emulated a write of `bytes` bytes at `gpa` (already
 * in guest memory) to a write-protected guest page table. Every shadow page of that gfn gets the
 * affected sptes updated or dropped (changelog: "Iterate over all shadow pages which correspond
 * to a the given guest page table and remove the mappings").
 *
 * - A write that does not fall inside one guest pte (or is smaller than 4 bytes) zaps the page
 *   (changelog: "A misaligned access affects two shadow ptes … just zap the page").
 * - Floods of writes to one page (fork() write-protecting a whole table) zap it too, so the rest
 *   of the writes run natively (changelog: "if we detect such a flood, zap the page").
 * - A leaf spte whose new guest pte is valid, accessed and of the current mode is rebuilt from
 *   it, re-reading the whole pte from memory (a 4-byte write may have changed half of an 8-byte
 *   one; cmpxchg8b writes all 8); anything else is dropped and refaults. Lost rights flush the TLB.
 */
export function kvmMmuPteWrite(s: MmuState, gpa: number, bytes: number): void {
  const st = s.stats;
  st.pteWrites++;
  const gfn = Math.floor(gpa / 4096);
  const offset = gpa % 4096;
  let flooded = false;
  if (gfn === s.lastPtWriteGfn) {
    if (++s.lastPtWriteCount >= s.options.floodThreshold) flooded = true;
  } else {
    s.lastPtWriteGfn = gfn;
    s.lastPtWriteCount = 1;
  }
  const list = s.kvm.hash.get(gfn);
  if (list === undefined) return;
  // Zapping edits the hash list, so walk a copy, kept in a reused array (no allocation per write).
  const pages = s.scratchPages;
  let n = 0;
  for (let i = 0; i < list.length; i++) if (!list[i].metaphysical) pages[n++] = list[i];
  if (flooded && n > 0) st.floods++;
  for (let k = 0; k < n; k++) {
    const page = pages[k];
    pages[k] = PLACEHOLDER;
    if (page.id < 0) continue;
    const glevels = roleGlevels(page.role);
    const pteSize = glevels === 2 ? 4 : 8;
    const misaligned = ((offset ^ (offset + bytes - 1)) & ~(pteSize - 1)) !== 0 || bytes < 4;
    if (misaligned || flooded) {
      kvmMmuZapPage(s.kvm, page, misaligned ? 'misaligned' : 'flood');
      continue;
    }
    let pageOffset = offset;
    let npte = 1;
    if (glevels === 2) {
      // A 32-bit guest pte is 4 bytes, a shadow pte 8; a guest PDE covers two shadow PDEs.
      pageOffset <<= 1;
      if (page.level === 2) {
        pageOffset &= ~7;
        pageOffset <<= 1;
        npte = 2;
      }
      const quadrant = pageOffset >>> 12;
      pageOffset &= 0xfff;
      if (quadrant !== roleQuadrant(page.role)) continue;
    }
    const index = pageOffset >>> 3;
    const gptePa = gpa - (gpa % pteSize);
    for (let j = 0; j < npte; j++) {
      const present = (page.spt[(index + j) * 2] & PT_PRESENT_MASK) !== 0;
      if (page.level === 1 && updatePte(s, page, index + j, gptePa, pteSize, true)) {
        st.pteUpdated++;
        continue;
      }
      if (present) st.pteZapped++;
      dropSpte(s.kvm, page, index + j);
    }
  }
}

/** What a used slot of the scratch array holds afterwards, so it keeps no zapped page alive. */
const PLACEHOLDER = new ShadowPage();

const gpteBuf = new Uint8Array(8);
const gpteBuf4 = gpteBuf.subarray(0, 4);
const gpteView = new DataView(gpteBuf.buffer);

/**
 * Rebuilds leaf spte `page[index]` from the guest pte at `gptePa` (an emulated write, a sync).
 * False: drop it instead. `canUnsync`: whether mapping a guest table writable may make it unsync
 * (not while syncing, as KVM's sync_page).
 */
export function updatePte(
  s: MmuState,
  page: ShadowPage,
  index: number,
  gptePa: number,
  pteSize: number,
  canUnsync: boolean,
): boolean {
  const ctx = s.ctx;
  const fmt = ctx.fmt;
  // Only pages of the mode in force: their rights and reserved bits are the current ones.
  if (fmt === null || roleGlevels(page.role) !== ctx.rootLevel) return false;
  if (((page.role & ROLE_CR0_WP) !== 0) !== ctx.wp || ((page.role & ROLE_NXE) !== 0) !== ctx.nxe)
    return false;
  if (((page.role & ROLE_PSE) !== 0) !== ctx.pse) return false;
  const dst = pteSize === 8 ? gpteBuf : gpteBuf4;
  if (!s.host.readGuest(gptePa, dst)) return false;
  const lo = gpteView.getUint32(0, true);
  const hi = pteSize === 8 ? gpteView.getUint32(4, true) : 0;
  // Not present, or never accessed (installing it would hide the access from the guest's A bit).
  if ((lo & (PT_PRESENT_MASK | PT_ACCESSED_MASK)) !== (PT_PRESENT_MASK | PT_ACCESSED_MASK)) return false;
  if ((lo & fmt.rsvdLo[2]) !== 0 || (hi & fmt.rsvdHi[2]) !== 0) return false;
  const gfn = pteSize === 4 ? lo >>> 12 : pte64Gfn(lo, hi, fmt.addrHiMask);
  const gAccess =
    (lo & (PT_WRITABLE_MASK | PT_USER_MASK)) | (fmt.nx && hi & PT64_NX_HI_MASK ? 0 : ACC_EXEC_MASK);
  const access = roleAccess(page.role) & gAccess;
  const r = mmuSetSpte(s, page, index, gfn, access, false, false, (lo & PT_DIRTY_MASK) !== 0, canUnsync);
  return r !== SET_SPTE_MMIO;
}
