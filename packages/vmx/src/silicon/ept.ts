/**
 * EPT on the VMX silicon (SDM Vol. 3C 29.3 "The extended page-table mechanism"): with the
 * secondary control "enable EPT" the guest runs on its own CR0/CR3/CR4 and every guest-physical
 * address goes through the EPT paging structures the EPTP names (x86emu's `NestedPaging` in
 * `NestedFormat.Ept`). A failed translation is an EPT violation (exit 48) or an EPT
 * misconfiguration (exit 49); the guest's PAE PDPTEs come from the VMCS at VM entry and go back
 * to it at VM exit (27.3.2.4, 28.3.4). With "enable VPID" the combined translations survive VM
 * entries and exits (28.3.3.3); the EPT-only (guest-physical) ones are tagged by the EPTP and
 * survive in any case until INVEPT.
 */

/** EPTP bits (SDM Vol. 3C 25.6.11, Table 25-9). */
export const Eptp = {
  /** Memory type of the paging structures, bits 2:0: 0 UC or 6 WB. */
  MT_MASK: 7,
  MT_UC: 0,
  MT_WB: 6,
  /** Page-walk length minus 1, bits 5:3 (3: a 4-level walk). */
  WALK_LENGTH_SHIFT: 3,
  WALK_LENGTH_MASK: 7 << 3,
  WALK_LENGTH_4: 3 << 3,
  /** Accessed and dirty flags enabled (bit 6). */
  AD: 1 << 6,
  /** Bits 11:7 are reserved. */
  RSVD_LO: 0xf80,
} as const;

/**
 * IA32_VMX_EPT_VPID_CAP (MSR 48CH, SDM Appendix A.10) of this silicon: execute-only (bit 0), a
 * 4-level walk (bit 6), WB paging structures (bit 14), 2 MiB and 1 GiB pages (16, 17), INVEPT
 * (20) with its single-context and all-context types (25, 26), A/D flags (21); INVVPID (32) with
 * its individual-address, single-context and all-context types (40, 41, 42).
 */
export const EPT_VPID_CAP_LO =
  ((1 << 0) |
    (1 << 6) |
    (1 << 14) |
    (1 << 16) |
    (1 << 17) |
    (1 << 20) |
    (1 << 21) |
    (1 << 25) |
    (1 << 26)) >>>
  0;
export const EPT_VPID_CAP_HI = (1 << 0) | (1 << 8) | (1 << 9) | (1 << 10);
/** EPT_VPID_CAP bits the driver and the entry checks read. */
export const EptCap = {
  EXECUTE_ONLY: 1 << 0,
  WALK_LENGTH_4: 1 << 6,
  WB: 1 << 14,
  AD: 1 << 21,
} as const;

/** INVEPT types (SDM Vol. 3C 31.3 INVEPT). */
export const InveptType = { SINGLE_CONTEXT: 1, ALL_CONTEXT: 2 } as const;
/** INVVPID types (31.3 INVVPID). */
export const InvvpidType = { INDIVIDUAL_ADDRESS: 0, SINGLE_CONTEXT: 1, ALL_CONTEXT: 2 } as const;

/** Exit qualification of an EPT violation (SDM Vol. 3C 28.2.1, Table 28-7). */
export const EptQual = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  FETCH: 1 << 2,
  /** Bits 5:3: the entries' R, W and X (their AND over the walk). */
  RIGHTS_SHIFT: 3,
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  /** The guest linear address field is valid. */
  LINEAR_VALID: 1 << 7,
  /** With bit 7: the access was to the translated linear address (0: to a guest paging-structure entry). */
  TRANSLATED: 1 << 8,
  NMI_UNBLOCK: 1 << 12,
} as const;

/**
 * Why an EPTP cannot be used (SDM Vol. 3C 26.2.1.1), or 0: a memory type the capability MSR
 * allows (UC, WB), a walk length of 4, bit 6 only with the A/D capability, bits 11:7 and
 * 63:MAXPHYADDR zero.
 */
export function eptpInvalid(lo: number, hi: number, maxPhyAddr: number): string | 0 {
  const mt = lo & Eptp.MT_MASK;
  if (mt !== Eptp.MT_WB && mt !== Eptp.MT_UC) return 'EPTP: memory type not UC or WB';
  if ((lo & Eptp.WALK_LENGTH_MASK) !== Eptp.WALK_LENGTH_4) return 'EPTP: page-walk length not 4';
  if (lo & Eptp.AD && !(EPT_VPID_CAP_LO & EptCap.AD)) return 'EPTP: A/D flags without the capability';
  if (lo & Eptp.RSVD_LO) return 'EPTP: reserved bits 11:7';
  if (hi >>> (maxPhyAddr - 32) !== 0) return 'EPTP: bits above MAXPHYADDR';
  return 0;
}
