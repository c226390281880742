/**
 * Nested paging on the SVM silicon (APM Vol. 2 15.25): NP_ENABLE bit 0 in the VMCB runs the
 * guest on its own CR0/CR3/CR4/EFER with every guest-physical address translated through the
 * nested tables at N_CR3 (x86emu's `NestedPaging`), and a nested page fault is #VMEXIT(NPF).
 */
/** NP_ENABLE bit 0 (APM Table B-1, offset 90h). */
export const NP_ENABLE = 1;

/**
 * EXITINFO1's high half on #VMEXIT(NPF) (15.25.6): bit 32 set when the fault was on the final
 * guest-physical address, bit 33 when it was on an access of the guest's page-table walk.
 */
export const NPF_INFO_HI_FINAL = 1 << 0;
export const NPF_INFO_HI_TABLE = 1 << 1;
