/**
 * The TLB miss under nested paging (`Cpu.nested`, AMD NPT: APM Vol. 2 15.25): the guest's walk
 * over guest-physical memory, each of its table accesses and the final guest-physical address
 * translated through the nested tables (`paging/nested.ts`), and the combined linear →
 * host-physical translation cached in the one TLB entry with the rights of both dimensions
 * (15.25.9: the TLB holds the combined translation, tagged by ASID). A guest #PF is recorded as
 * usual; a nested fault ends the run as an intercept (`InterceptKind.NestedPageFault`) with RIP
 * at the instruction, the event being delivered, if any, in the vectoring fields (15.25.6,
 * 15.7.2: EXITINTINFO).
 */
import { InterceptKind } from '../api/intercepts.js';
import { StopReason } from '../api/stop-reason.js';
import { NestedFormat, type NestedPaging, NTLB_R, NTLB_W, NTLB_X } from '../paging/nested.js';
import { PFERR, WalkCtl, walkAddr } from '../paging/walker.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { invalidateCodePage } from './fetch.js';

const ALL_RIGHTS = C.TP_SR | C.TP_SW | C.TP_UR | C.TP_UW | C.TP_SX | C.TP_UX;

/**
 * Walks `lin` in both dimensions for `access` (PFERR bits). Returns the TP_* rights of the
 * combined translation with `cpu.walk.pfn` the host frame and `cpu.walk.pageSize` the guest's page
 * size; or -1 after recording the guest's #PF; a nested fault does not return (GUEST_EXIT).
 */
export function tlbWalkNested(cpu: Cpu, lin: number, access: number): number {
  const n = cpu.nested as NestedPaging;
  const w = cpu.walk;
  n.beginWalk();
  let gpa: number;
  let perm: number;
  if (cpu.pagingMode === 0) {
    gpa = lin;
    perm = ALL_RIGHTS;
    w.pageSize = 4096;
  } else {
    // The guest's PAE PDPTEs: under NPT read from its memory on each walk (pdptes null); under
    // EPT the registers loaded at VM entry or MOV CR3 (SDM Vol. 3C 29.3.1; `loadPdptesEpt`).
    const ept = n.format === NestedFormat.Ept;
    if (!walkAddr(n, cpu.pagingMode, cpu.pagingRoot, lin, access, cpu.walkCtl, w, ept ? cpu.pdptes : null)) {
      if (n.faulted) nestedPageFault(cpu, n, lin, true);
      cpu.recordPageFault(lin, w.errorCode);
      return -1;
    }
    // EPT: the walk's accessed/dirty write to a table the EPT maps read-only failed after the
    // walk itself succeeded (the write is not the walk's to report).
    if (n.faulted) nestedPageFault(cpu, n, lin, true);
    // The walk's accessed/dirty writes may land in a frame with decoded code (tlb.ts does the same).
    if (cpu.codePages.size !== 0)
      for (let i = 0; i < n.writtenCount; i++) invalidateCodePage(cpu, n.writtenHpfn[i]);
    gpa = w.pa;
    perm = C.TP_SR | C.TP_SX;
    // Write rights only once the guest's dirty bit is set (tlb.ts).
    if (w.dirty) {
      if (w.writable || !(cpu.walkCtl & WalkCtl.WP)) perm |= C.TP_SW;
      if (w.writable && w.user) perm |= C.TP_UW;
    }
    if (w.user) perm |= C.TP_UR | C.TP_UX;
    if (w.nx) perm &= ~(C.TP_SX | C.TP_UX);
    if (w.global) perm |= C.TP_GLOBAL;
    // (A large page's span is noted by tlb.ts tlbFill, which sees its size.)
    if (w.pageSize === 0x40000000) cpu.tlbHas1G = true;
  }
  // The final guest-physical address, with the access's own kind (a user access at the host level).
  const hpa = n.translate(gpa, access & (PFERR.WRITE | PFERR.FETCH), false);
  if (hpa < 0) nestedPageFault(cpu, n, lin, true);
  // Host-level rights: writes only through a writable, dirty nested entry (the first write walks
  // and sets its D bit), no execution from an NX one, no reads of an EPT execute-only page.
  if (!(n.rights & NTLB_R)) perm &= ~(C.TP_SR | C.TP_UR);
  if (!(n.rights & NTLB_W)) perm &= ~(C.TP_SW | C.TP_UW);
  if (!(n.rights & NTLB_X)) perm &= ~(C.TP_SX | C.TP_UX);
  w.pfn = Math.floor(hpa / 4096);
  return perm;
}

/**
 * The PAE PDPTE registers loaded through EPT at MOV CR3 (or a CR0/CR4 write that reloads them),
 * `check` as in `Cpu.loadPdptes`: under EPT the processor reads them from guest-physical memory
 * and checks their reserved bits then, a #GP(0) (SDM Vol. 3C 29.3.1, 4.4.1) — unlike NPT, which
 * reads them on each walk. A nested fault on the read is an EPT violation or misconfiguration
 * with no guest linear address (qualification bit 7 clear, 28.2.1).
 */
export function loadPdptesEpt(cpu: Cpu, root: number, check: boolean): boolean {
  const n = cpu.nested as NestedPaging;
  const base = (root & 0xffffffe0) >>> 0;
  n.beginWalk();
  for (let i = 0; i < 4; i++) {
    const lo = n.read32(base + i * 8);
    const hi = n.read32(base + i * 8 + 4);
    if (n.faulted) nestedPageFault(cpu, n, 0, false);
    if (check && lo & 1 && (lo & 0x1e6 || hi & 0xfffffff0)) return false;
    cpu.pdptes[i] = hi * 4294967296 + lo;
  }
  return true;
}

/** #VMEXIT(NPF) / an EPT exit: the run stops as an intercept, RIP at the instruction (the fault is restartable). */
function nestedPageFault(cpu: Cpu, n: NestedPaging, lin: number, linearValid: boolean): never {
  const x = cpu.exit;
  x.kind = InterceptKind.NestedPageFault;
  x.instructionLength = 0;
  x.errorCode = n.faultError;
  x.faultAddress = n.faultGpa;
  x.nestedFaultInWalk = n.faultInWalk;
  x.nestedFaultMisconfig = n.faultMisconfig;
  x.nestedFaultRights = n.faultRights;
  x.nestedFaultLinearValid = linearValid;
  x.linearAddress = lin;
  if (cpu.deliveringVector >= 0) {
    x.vectoringValid = true;
    x.vectoringType = cpu.deliveringType;
    x.vectoringVector = cpu.deliveringVector;
    x.vectoringErrorCode = cpu.deliveringError;
    x.vectoringHasErrorCode = cpu.deliveringHasError;
  } else x.vectoringValid = false;
  cpu.stats.intercepts++;
  cpu.stopRequested = StopReason.Intercept;
  throw C.GUEST_EXIT;
}
