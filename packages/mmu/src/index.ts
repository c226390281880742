/**
 * @kvm/mmu — KVM's shadow MMU: a guest page-table walker over pte formats, role-keyed shadow
 * pages cached in a hash, reverse maps, parent pte chains, write-protected guest page tables,
 * emulated pte writes, flood and misalignment zapping, pre-topped memory caches, PAE roots.
 */

export type { PageFaultResult } from './fault.js';
export {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  INVALID_PAGE,
  type MmuHostOps,
  type MmuVcpuHostOps,
  type MmuVmHostOps,
  type PagingState,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from './host.js';
export { type Cr3LoadResult, KvmMmu, kvmMmuCreate, type ShadowPageInfo } from './mmu.js';
export { KvmMmuVm, kvmMmuCreateVm } from './mmu-vm.js';
export {
  describeRole,
  packRole,
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
  EPT_SPTE_FORMAT,
  makePteFormat,
  type PagingModeName,
  PFERR_FETCH_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
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
  PT64_NX_HI_MASK,
  type PteFormat,
  type SpteFormat,
  VMX_EPT_EXECUTABLE_MASK,
  VMX_EPT_IPAT_BIT,
  VMX_EPT_MT_WB,
  VMX_EPT_READABLE_MASK,
  VMX_EPT_WRITABLE_MASK,
  X86_SPTE_FORMAT,
} from './pte-format.js';
export { DEFAULT_MMU_OPTIONS, type MmuModeName, type MmuOptions } from './state.js';
export { createMmuStats, type MmuStats } from './stats.js';
export { GuestWalker, type WalkParams, walkAddr, walkAddr64 } from './walker.js';
