import { ROLE_NXE, ROLE_TDP, roleAccess, roleGlevels } from './page-role.js';
import {
  ACC_EXEC_MASK,
  PAGE_SHIFT,
  PT_DIRTY_MASK,
  PT_PAGE_SIZE_MASK,
  PT_PRESENT_MASK,
  PT_USER_MASK,
  PT_WRITABLE_MASK,
  PT64_NX_HI_MASK,
  spteHpfn,
} from './pte-format.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuState } from './state.js';
import { GuestWalker, walkAddr64 } from './walker.js';

/**
 * The audit's shadow-against-guest part (`audit_mappings` in KVM's mmu.c): every leaf spte
 * reachable from the current roots, with the linear address its position names (4-level: up to
 * bit 47, as halves), must map the host frame of the gfn the guest's own tables give for that
 * address, with no right the guest does not grant — W only on a dirty guest pte (or a supervisor
 * write with CR0.WP=0, then without U), U only with U, no XD missing where the guest refuses
 * execution. Also per page: no PS in any spte (shadow leaves are 4 KiB), XD only in leaves and
 * only in pages built with NXE, leaves of pages whose inherited rights lack execute have XD.
 */
export function auditMappings(s: MmuState, out: string[], name: (p: ShadowPage) => string): void {
  const a = new MappingAudit(s, out, name);
  if (s.ctx.shadowRootLevel === 4) {
    if (s.rootPage !== null) a.walk(s.rootPage, 4, 0);
    return;
  }
  for (let i = 0; i < 4; i++) {
    const p = s.paeRootPages[i];
    if (p !== null) a.walk(p, 2, i * 2 ** 30);
  }
}

class MappingAudit {
  private readonly w = new GuestWalker();

  constructor(
    private readonly s: MmuState,
    private readonly out: string[],
    private readonly name: (p: ShadowPage) => string,
  ) {}

  walk(page: ShadowPage, level: number, base: number): void {
    const s = this.s;
    if (page.level !== level) {
      this.out.push(`${this.name(page)} reached at level ${level}`);
      return;
    }
    const span = 2 ** (PAGE_SHIFT + 9 * (level - 1));
    const nxe = (page.role & ROLE_NXE) !== 0;
    for (let i = 0; i < 512; i++) {
      const lo = page.spt[i * 2];
      const hi = page.spt[i * 2 + 1];
      if (!(lo & PT_PRESENT_MASK)) continue;
      const where = `${this.name(page)}[${i}]`;
      if (lo & PT_PAGE_SIZE_MASK) this.out.push(`${where} has PS (shadow leaves are 4 KiB)`);
      if (hi & PT64_NX_HI_MASK && (level > 1 || !nxe)) this.out.push(`${where} has XD`);
      const va = base + i * span;
      if (level > 1) {
        const child = s.byHpfn.get(spteHpfn(lo, hi));
        if (child !== undefined) this.walk(child, level - 1, va);
        continue;
      }
      if (!(roleAccess(page.role) & ACC_EXEC_MASK) && nxe && !(hi & PT64_NX_HI_MASK))
        this.out.push(`${where} lacks the XD its inherited rights ask for`);
      // An unsync table's sptes may be stale until the next sync (KVM's audit skips them too).
      if (!page.unsync) this.leaf(where, lo, hi, va);
    }
  }

  private leaf(where: string, lo: number, hi: number, va: number): void {
    const s = this.s;
    const gvaLo = va % 2 ** 32;
    const gvaHi = Math.floor(va / 2 ** 32);
    const at = `${where} (gva ${va.toString(16)})`;
    let gfn: number;
    let gw = true;
    let gu = true;
    let gx = true;
    let dirty = true;
    if (s.tdp) {
      // The TDP map: the position is the guest-physical address itself, every right granted.
      gfn = Math.floor(va / 4096);
    } else if (s.ctx.fmt === null) {
      gfn = gvaLo >>> PAGE_SHIFT;
    } else {
      const w = this.w;
      if (!walkAddr64(w, s.host, s.walkParams!, gvaLo, gvaHi, 0, false)) {
        this.out.push(`${at} is mapped but the guest's tables do not map it`);
        return;
      }
      gfn = w.gfn;
      gw = (w.access & PT_WRITABLE_MASK) !== 0;
      gu = (w.access & PT_USER_MASK) !== 0;
      gx = !s.ctx.nxe || (w.access & ACC_EXEC_MASK) !== 0;
      dirty = (w.pteLo[w.level] & PT_DIRTY_MASK) !== 0;
    }
    if (spteHpfn(lo, hi) !== s.host.gfnToHpfn(gfn))
      this.out.push(`${at} maps hpfn ${spteHpfn(lo, hi)}, the guest maps gfn ${gfn.toString(16)}`);
    const sw = (lo & PT_WRITABLE_MASK) !== 0;
    const su = (lo & PT_USER_MASK) !== 0;
    if (sw && (!dirty || (!gw && (s.ctx.wp || su))))
      this.out.push(`${at} is writable but the guest pte is ${dirty ? 'read-only' : 'clean'}`);
    if (su && !gu) this.out.push(`${at} is user-accessible, the guest's is not`);
    if (!gx && !(hi & PT64_NX_HI_MASK)) this.out.push(`${at} is executable, the guest's is not`);
  }
}

/** Guest levels → the highest shadow level a page of that role may have (PAE shadows: 2). */
export function maxShadowLevel(role: number): number {
  return roleGlevels(role) === 4 || role & ROLE_TDP ? 4 : 2;
}
