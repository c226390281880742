/**
 * @kvm/mmu — KVM's shadow MMU: a guest page-table walker over pte formats, role-keyed shadow
 * pages cached in a hash, reverse maps, parent pte chains, write-protected guest page tables,
 * emulated pte writes, flood and misalignment zapping, pre-topped memory caches, PAE roots.
 */
export { KvmMmu, kvmMmuCreate, type Cr3LoadResult, type ShadowPageInfo } from './mmu.js';
export type { PageFaultResult } from './fault.js';
export {
  type MmuHostOps,
  type PagingState,
  INVALID_PAGE,
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from './host.js';
export { DEFAULT_MMU_OPTIONS, type MmuOptions, type MmuModeName } from './state.js';
export { type MmuStats, createMmuStats } from './stats.js';
export {
  packRole,
  describeRole,
  roleAccess,
  roleGlevels,
  roleLevel,
  roleMetaphysical,
  roleQuadrant,
} from './page-role.js';
export {
  ACC_ALL,
  ACC_EXEC_MASK,
  ACC_USER_MASK,
  ACC_WRITE_MASK,
  PFERR_FETCH_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PT64_NX_HI_MASK,
  PT_ACCESSED_MASK,
  PT_DIRTY_MASK,
  PT_GLOBAL_MASK,
  PT_PAGE_SIZE_MASK,
  PT_PAT_MASK,
  PT_PCD_MASK,
  PT_PRESENT_MASK,
  PT_PWT_MASK,
  PT_USER_MASK,
  PT_WRITABLE_MASK,
  type PteFormat,
  type PagingModeName,
  makePteFormat,
} from './pte-format.js';
export { GuestWalker, walkAddr, type WalkParams } from './walker.js';
