import { dropSpte } from './page-cache.js';
import {
  ACC_EXEC_MASK,
  ACC_USER_MASK,
  ACC_WRITE_MASK,
  hpfnHi,
  hpfnLo,
  PT_PRESENT_MASK,
  PT_WRITABLE_MASK,
  spteHpfn,
} from './pte-format.js';
import { markSptePresent, type ShadowPage, spteRef } from './shadow-page.js';
import type { MmuState } from './state.js';
import { mmuNeedWriteProtect } from './unsync.js';

export const SET_SPTE_OK = 0;
/** A write fault on a guest page table: the instruction must be emulated. */
export const SET_SPTE_EMULATE = 1;
/** The gfn is not RAM: nothing mapped, the access is MMIO. */
export const SET_SPTE_MMIO = 2;

/**
 * Installs the leaf spte `page[index]` mapping guest frame `gfn` with guest rights `access`
 * (`set_pte_common` / `mmu_set_spte`). The spte is built from scratch, so it never carries the
 * guest's PCD, PWT, PAT or G bits (changelog: "the cache is a host resource … force these bits to
 * zero on shadow page table entries at all times").
 *
 * - W only when the guest pte is dirty (`dirty`), so the first write faults and the walker sets D;
 *   and never when `gfn` is a shadowed guest page table (then a write fault must be emulated),
 *   unless that table is, or may now go (`canUnsync`), out of sync (`mmu_need_write_protect`).
 * - CR0.WP=0: a supervisor write to a read-only page is allowed by the guest, so the spte becomes
 *   writable but not user (a later user access faults and gets the guest's rights back).
 * - Rights taken away from a present spte request a TLB flush (changelog: "If we reduce
 *   permissions on a pte, we must flush the cached copy of the pte from the guest's tlb").
 */
export function mmuSetSpte(
  s: MmuState,
  page: ShadowPage,
  index: number,
  gfn: number,
  access: number,
  writeFault: boolean,
  userFault: boolean,
  dirty: boolean,
  canUnsync: boolean,
): number {
  const hpfn = s.host.gfnToHpfn(gfn);
  if (hpfn < 0) {
    dropSpte(s.kvm, page, index);
    return SET_SPTE_MMIO;
  }
  let w = (access & ACC_WRITE_MASK) !== 0;
  let u = (access & ACC_USER_MASK) !== 0;
  if (writeFault && !w && !userFault && !s.ctx.wp) {
    w = true;
    u = false;
  }
  if (!dirty) w = false;
  let result = SET_SPTE_OK;
  if (w && mmuNeedWriteProtect(s, gfn, canUnsync)) {
    w = false;
    if (writeFault) result = SET_SPTE_EMULATE;
  }
  // The entry in the MMU's format (x86, or EPT for the TDP map under EPT: pte-format.ts).
  const f = s.spteFmt;
  const x = (access & ACC_EXEC_MASK) !== 0;
  const lo =
    (hpfnLo(hpfn) | f.leafLo | (w ? f.writableLo : 0) | (u ? f.userLo : 0) | (x ? f.execLo : 0)) >>> 0;
  const hi = (hpfnHi(hpfn) | (x ? 0 : f.nxHi)) >>> 0;
  const at = index * 2;
  const oldLo = page.spt[at];
  const oldHi = page.spt[at + 1];
  const ref = spteRef(page, index);
  if (oldLo & PT_PRESENT_MASK) {
    const oldHpfn = spteHpfn(oldLo, oldHi);
    if (oldHpfn !== hpfn) {
      if (s.rmap.remove(oldHpfn, ref)) s.stats.rmapRemoves++;
      else s.stats.inconsistencies++;
      s.rmap.add(hpfn, ref);
      s.stats.rmapAdds++;
      s.requestTlbFlush();
    } else if (
      (oldLo & PT_WRITABLE_MASK && !w) ||
      (oldLo & f.userLo && !u) ||
      (oldLo & f.execLo && !x) ||
      (!(oldHi & f.nxHi) && hi & f.nxHi)
    ) {
      s.requestTlbFlush();
    }
  } else {
    s.rmap.add(hpfn, ref);
    s.stats.rmapAdds++;
  }
  page.spt[at] = lo;
  page.spt[at + 1] = hi;
  markSptePresent(page, index);
  return result;
}
