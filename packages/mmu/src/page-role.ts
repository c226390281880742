/**
 * The shadow page role (`union kvm_mmu_page_role`): everything besides the gfn that decides
 * whether two shadow pages are interchangeable, packed into one number so that a cache lookup
 * compares a single value. Changelog: "Define a hashtable for caching shadow page tables… The
 * key to the cache is a combination of…".
 *
 *   bits 0-3   glevels      guest paging levels (0 = paging off, 2, 3, 4): real mode, 32-bit,
 *                           PAE and long-mode shadows can be cached side by side (SMP bring-up).
 *                           4 is the long-mode bit: only a long-mode guest has 4-level tables,
 *                           and only its shadow pages reach levels 3 and 4
 *   bits 4-7   level        level of this shadow table (1 = page table); a guest page used as
 *                           both a table and a directory gets one shadow page per level
 *   bits 8-9   quadrant     32-bit guests only: a guest table spans 4 MiB but a PAE shadow table
 *                           2 MiB (a guest directory 4 GiB, a shadow directory 1 GiB), so up to
 *                           4 shadow pages share one guest page at one level
 *   bit  10    metaphysical no guest table behind it (paging off, or a guest large page): do not
 *                           write-protect the gfn
 *   bits 11-13 access       ACC_* inherited from the guest entries above this table, so that
 *                           two paths with different rights never share leaf sptes
 *   bit  14    cr0Wp        CR0.WP at creation: sptes built with WP=0 grant supervisor writes
 *   bit  15    nxe          EFER.NXE at creation: decides whether XD is honoured
 *   bit  16    pse          CR4.PSE at creation: decides whether a 32-bit PDE's PS is honoured
 *   bit  17    tdp          a page of the two-dimensional map (NPT): gfn → host frame in the host's
 *                           4-level format, independent of the guest's mode (glevels 0,
 *                           metaphysical: KVM's `role.direct` of a TDP root)
 */

export const ROLE_GLEVELS_SHIFT = 0;
export const ROLE_LEVEL_SHIFT = 4;
export const ROLE_QUADRANT_SHIFT = 8;
export const ROLE_METAPHYSICAL = 1 << 10;
export const ROLE_ACCESS_SHIFT = 11;
export const ROLE_CR0_WP = 1 << 14;
export const ROLE_NXE = 1 << 15;
export const ROLE_PSE = 1 << 16;
export const ROLE_TDP = 1 << 17;

/** Packs a role. All fields are small integers; flags are booleans. */
export function packRole(
  glevels: number,
  level: number,
  quadrant: number,
  metaphysical: boolean,
  access: number,
  cr0Wp: boolean,
  nxe: boolean,
  pse: boolean,
): number {
  return (
    (glevels << ROLE_GLEVELS_SHIFT) |
    (level << ROLE_LEVEL_SHIFT) |
    (quadrant << ROLE_QUADRANT_SHIFT) |
    (metaphysical ? ROLE_METAPHYSICAL : 0) |
    (access << ROLE_ACCESS_SHIFT) |
    (cr0Wp ? ROLE_CR0_WP : 0) |
    (nxe ? ROLE_NXE : 0) |
    (pse ? ROLE_PSE : 0)
  );
}

/** The role of a TDP page at `level` (1–4): direct, every right (the leaves carry the slot's). */
export function tdpRole(level: number, access: number): number {
  return packRole(0, level, 0, true, access, false, false, false) | ROLE_TDP;
}

export function roleGlevels(role: number): number {
  return (role >>> ROLE_GLEVELS_SHIFT) & 0xf;
}
export function roleLevel(role: number): number {
  return (role >>> ROLE_LEVEL_SHIFT) & 0xf;
}
export function roleQuadrant(role: number): number {
  return (role >>> ROLE_QUADRANT_SHIFT) & 0x3;
}
export function roleMetaphysical(role: number): boolean {
  return (role & ROLE_METAPHYSICAL) !== 0;
}
export function roleAccess(role: number): number {
  return (role >>> ROLE_ACCESS_SHIFT) & 0x7;
}

/** A readable form, for audit messages and debugging. */
export function describeRole(role: number): string {
  return (
    `glevels=${roleGlevels(role)}${roleGlevels(role) === 4 ? ' (long)' : ''} level=${roleLevel(role)} quadrant=${roleQuadrant(role)}` +
    `${roleMetaphysical(role) ? ' metaphysical' : ''} access=${roleAccess(role)}` +
    `${role & ROLE_CR0_WP ? ' wp' : ''}${role & ROLE_NXE ? ' nxe' : ''}${role & ROLE_PSE ? ' pse' : ''}` +
    `${role & ROLE_TDP ? ' tdp' : ''}`
  );
}
