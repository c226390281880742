/**
 * The VMCS components, written ONCE as data: name (as KVM's vmx.h names them), encoding (SDM
 * Vol. 3 Appendix B) and width. Everything else is derived: the encoding → slot table the VMCS
 * uses to lay fields out in its region, the read-only set, and the checks of VMREAD/VMWRITE.
 *
 * An encoding is structured (SDM Vol. 3 25.11.2, "Structure of VMCS Component Encoding"):
 *   bit 0       access type: 0 full, 1 high (the upper 32 bits of a 64-bit field)
 *   bits 9:1    index
 *   bits 11:10  type: 0 control, 1 VM-exit information (read-only data), 2 guest state, 3 host state
 *   bit 12      reserved (0)
 *   bits 14:13  width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural
 * The test checks each row's width against its encoding's bits 14:13.
 */

export const VmcsWidth = { W16: 0, W64: 1, W32: 2, Natural: 3 } as const;
export type VmcsWidth = (typeof VmcsWidth)[keyof typeof VmcsWidth];

const W16 = VmcsWidth.W16;
const W64 = VmcsWidth.W64;
const W32 = VmcsWidth.W32;
const NAT = VmcsWidth.Natural;

/** [name, encoding, width] */
const ROWS = [
  // 16-bit control fields
  ['VIRTUAL_PROCESSOR_ID', 0x0000, W16],
  ['POSTED_INTR_NV', 0x0002, W16],
  // 16-bit guest-state fields
  ['GUEST_ES_SELECTOR', 0x0800, W16],
  ['GUEST_CS_SELECTOR', 0x0802, W16],
  ['GUEST_SS_SELECTOR', 0x0804, W16],
  ['GUEST_DS_SELECTOR', 0x0806, W16],
  ['GUEST_FS_SELECTOR', 0x0808, W16],
  ['GUEST_GS_SELECTOR', 0x080a, W16],
  ['GUEST_LDTR_SELECTOR', 0x080c, W16],
  ['GUEST_TR_SELECTOR', 0x080e, W16],
  ['GUEST_INTR_STATUS', 0x0810, W16],
  // 16-bit host-state fields
  ['HOST_ES_SELECTOR', 0x0c00, W16],
  ['HOST_CS_SELECTOR', 0x0c02, W16],
  ['HOST_SS_SELECTOR', 0x0c04, W16],
  ['HOST_DS_SELECTOR', 0x0c06, W16],
  ['HOST_FS_SELECTOR', 0x0c08, W16],
  ['HOST_GS_SELECTOR', 0x0c0a, W16],
  ['HOST_TR_SELECTOR', 0x0c0c, W16],
  // 64-bit control fields
  ['IO_BITMAP_A', 0x2000, W64],
  ['IO_BITMAP_B', 0x2002, W64],
  ['MSR_BITMAP', 0x2004, W64],
  ['VM_EXIT_MSR_STORE_ADDR', 0x2006, W64],
  ['VM_EXIT_MSR_LOAD_ADDR', 0x2008, W64],
  ['VM_ENTRY_MSR_LOAD_ADDR', 0x200a, W64],
  ['EXECUTIVE_VMCS_POINTER', 0x200c, W64],
  ['PML_ADDRESS', 0x200e, W64],
  ['TSC_OFFSET', 0x2010, W64],
  ['VIRTUAL_APIC_PAGE_ADDR', 0x2012, W64],
  ['APIC_ACCESS_ADDR', 0x2014, W64],
  ['POSTED_INTR_DESC_ADDR', 0x2016, W64],
  ['VM_FUNCTION_CONTROL', 0x2018, W64],
  ['EPT_POINTER', 0x201a, W64],
  ['EOI_EXIT_BITMAP0', 0x201c, W64],
  ['EOI_EXIT_BITMAP1', 0x201e, W64],
  ['EOI_EXIT_BITMAP2', 0x2020, W64],
  ['EOI_EXIT_BITMAP3', 0x2022, W64],
  ['VMREAD_BITMAP', 0x2026, W64],
  ['VMWRITE_BITMAP', 0x2028, W64],
  ['XSS_EXIT_BITMAP', 0x202c, W64],
  ['TSC_MULTIPLIER', 0x2032, W64],
  // 64-bit read-only data fields
  ['GUEST_PHYSICAL_ADDRESS', 0x2400, W64],
  // 64-bit guest-state fields
  ['VMCS_LINK_POINTER', 0x2800, W64],
  ['GUEST_IA32_DEBUGCTL', 0x2802, W64],
  ['GUEST_IA32_PAT', 0x2804, W64],
  ['GUEST_IA32_EFER', 0x2806, W64],
  ['GUEST_IA32_PERF_GLOBAL_CTRL', 0x2808, W64],
  ['GUEST_PDPTR0', 0x280a, W64],
  ['GUEST_PDPTR1', 0x280c, W64],
  ['GUEST_PDPTR2', 0x280e, W64],
  ['GUEST_PDPTR3', 0x2810, W64],
  // 64-bit host-state fields
  ['HOST_IA32_PAT', 0x2c00, W64],
  ['HOST_IA32_EFER', 0x2c02, W64],
  ['HOST_IA32_PERF_GLOBAL_CTRL', 0x2c04, W64],
  // 32-bit control fields
  ['PIN_BASED_VM_EXEC_CONTROL', 0x4000, W32],
  ['CPU_BASED_VM_EXEC_CONTROL', 0x4002, W32],
  ['EXCEPTION_BITMAP', 0x4004, W32],
  ['PAGE_FAULT_ERROR_CODE_MASK', 0x4006, W32],
  ['PAGE_FAULT_ERROR_CODE_MATCH', 0x4008, W32],
  ['CR3_TARGET_COUNT', 0x400a, W32],
  ['VM_EXIT_CONTROLS', 0x400c, W32],
  ['VM_EXIT_MSR_STORE_COUNT', 0x400e, W32],
  ['VM_EXIT_MSR_LOAD_COUNT', 0x4010, W32],
  ['VM_ENTRY_CONTROLS', 0x4012, W32],
  ['VM_ENTRY_MSR_LOAD_COUNT', 0x4014, W32],
  ['VM_ENTRY_INTR_INFO_FIELD', 0x4016, W32],
  ['VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018, W32],
  ['VM_ENTRY_INSTRUCTION_LEN', 0x401a, W32],
  ['TPR_THRESHOLD', 0x401c, W32],
  ['SECONDARY_VM_EXEC_CONTROL', 0x401e, W32],
  ['PLE_GAP', 0x4020, W32],
  ['PLE_WINDOW', 0x4022, W32],
  // 32-bit read-only data fields
  ['VM_INSTRUCTION_ERROR', 0x4400, W32],
  ['VM_EXIT_REASON', 0x4402, W32],
  ['VM_EXIT_INTR_INFO', 0x4404, W32],
  ['VM_EXIT_INTR_ERROR_CODE', 0x4406, W32],
  ['IDT_VECTORING_INFO_FIELD', 0x4408, W32],
  ['IDT_VECTORING_ERROR_CODE', 0x440a, W32],
  ['VM_EXIT_INSTRUCTION_LEN', 0x440c, W32],
  ['VMX_INSTRUCTION_INFO', 0x440e, W32],
  // 32-bit guest-state fields
  ['GUEST_ES_LIMIT', 0x4800, W32],
  ['GUEST_CS_LIMIT', 0x4802, W32],
  ['GUEST_SS_LIMIT', 0x4804, W32],
  ['GUEST_DS_LIMIT', 0x4806, W32],
  ['GUEST_FS_LIMIT', 0x4808, W32],
  ['GUEST_GS_LIMIT', 0x480a, W32],
  ['GUEST_LDTR_LIMIT', 0x480c, W32],
  ['GUEST_TR_LIMIT', 0x480e, W32],
  ['GUEST_GDTR_LIMIT', 0x4810, W32],
  ['GUEST_IDTR_LIMIT', 0x4812, W32],
  ['GUEST_ES_AR_BYTES', 0x4814, W32],
  ['GUEST_CS_AR_BYTES', 0x4816, W32],
  ['GUEST_SS_AR_BYTES', 0x4818, W32],
  ['GUEST_DS_AR_BYTES', 0x481a, W32],
  ['GUEST_FS_AR_BYTES', 0x481c, W32],
  ['GUEST_GS_AR_BYTES', 0x481e, W32],
  ['GUEST_LDTR_AR_BYTES', 0x4820, W32],
  ['GUEST_TR_AR_BYTES', 0x4822, W32],
  ['GUEST_INTERRUPTIBILITY_INFO', 0x4824, W32],
  ['GUEST_ACTIVITY_STATE', 0x4826, W32],
  ['GUEST_SMBASE', 0x4828, W32],
  ['GUEST_SYSENTER_CS', 0x482a, W32],
  ['VMX_PREEMPTION_TIMER_VALUE', 0x482e, W32],
  // 32-bit host-state field
  ['HOST_IA32_SYSENTER_CS', 0x4c00, W32],
  // Natural-width control fields
  ['CR0_GUEST_HOST_MASK', 0x6000, NAT],
  ['CR4_GUEST_HOST_MASK', 0x6002, NAT],
  ['CR0_READ_SHADOW', 0x6004, NAT],
  ['CR4_READ_SHADOW', 0x6006, NAT],
  ['CR3_TARGET_VALUE0', 0x6008, NAT],
  ['CR3_TARGET_VALUE1', 0x600a, NAT],
  ['CR3_TARGET_VALUE2', 0x600c, NAT],
  ['CR3_TARGET_VALUE3', 0x600e, NAT],
  // Natural-width read-only data fields
  ['EXIT_QUALIFICATION', 0x6400, NAT],
  ['IO_RCX', 0x6402, NAT],
  ['IO_RSI', 0x6404, NAT],
  ['IO_RDI', 0x6406, NAT],
  ['IO_RIP', 0x6408, NAT],
  ['GUEST_LINEAR_ADDRESS', 0x640a, NAT],
  // Natural-width guest-state fields
  ['GUEST_CR0', 0x6800, NAT],
  ['GUEST_CR3', 0x6802, NAT],
  ['GUEST_CR4', 0x6804, NAT],
  ['GUEST_ES_BASE', 0x6806, NAT],
  ['GUEST_CS_BASE', 0x6808, NAT],
  ['GUEST_SS_BASE', 0x680a, NAT],
  ['GUEST_DS_BASE', 0x680c, NAT],
  ['GUEST_FS_BASE', 0x680e, NAT],
  ['GUEST_GS_BASE', 0x6810, NAT],
  ['GUEST_LDTR_BASE', 0x6812, NAT],
  ['GUEST_TR_BASE', 0x6814, NAT],
  ['GUEST_GDTR_BASE', 0x6816, NAT],
  ['GUEST_IDTR_BASE', 0x6818, NAT],
  ['GUEST_DR7', 0x681a, NAT],
  ['GUEST_RSP', 0x681c, NAT],
  ['GUEST_RIP', 0x681e, NAT],
  ['GUEST_RFLAGS', 0x6820, NAT],
  ['GUEST_PENDING_DBG_EXCEPTIONS', 0x6822, NAT],
  ['GUEST_SYSENTER_ESP', 0x6824, NAT],
  ['GUEST_SYSENTER_EIP', 0x6826, NAT],
  // Natural-width host-state fields
  ['HOST_CR0', 0x6c00, NAT],
  ['HOST_CR3', 0x6c02, NAT],
  ['HOST_CR4', 0x6c04, NAT],
  ['HOST_FS_BASE', 0x6c06, NAT],
  ['HOST_GS_BASE', 0x6c08, NAT],
  ['HOST_TR_BASE', 0x6c0a, NAT],
  ['HOST_GDTR_BASE', 0x6c0c, NAT],
  ['HOST_IDTR_BASE', 0x6c0e, NAT],
  ['HOST_IA32_SYSENTER_ESP', 0x6c10, NAT],
  ['HOST_IA32_SYSENTER_EIP', 0x6c12, NAT],
  ['HOST_RSP', 0x6c14, NAT],
  ['HOST_RIP', 0x6c16, NAT],
] as const;

export type VmcsFieldName = (typeof ROWS)[number][0];

export interface VmcsFieldDef {
  readonly name: VmcsFieldName;
  readonly encoding: number;
  readonly width: VmcsWidth;
  /** Position in the VMCS region's field area (8 bytes each). */
  readonly slot: number;
}

/** Every field, in table order. */
export const VMCS_FIELDS: readonly VmcsFieldDef[] = ROWS.map(([name, encoding, width], slot) => ({
  name,
  encoding,
  width,
  slot,
}));

/** Encodings by name: `VMCS.GUEST_RIP === 0x681e`. */
export const VMCS = Object.fromEntries(VMCS_FIELDS.map((f) => [f.name, f.encoding])) as Readonly<
  Record<VmcsFieldName, number>
>;

/**
 * The guest-state fields of each segment register (SDM Vol. 3C 25.4.1): selector, base, limit,
 * access rights, for ES, CS, SS, DS, FS, GS, LDTR, TR (x86emu's `Seg` order; the first six are
 * the data and code segments).
 */
export const GUEST_SEGMENT_FIELDS: readonly (readonly [number, number, number, number])[] = (
  ['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'] as const
).map((s) => [
  VMCS[`GUEST_${s}_SELECTOR`],
  VMCS[`GUEST_${s}_BASE`],
  VMCS[`GUEST_${s}_LIMIT`],
  VMCS[`GUEST_${s}_AR_BYTES`],
]);

/** Encoding bits 11:10: the field's type. */
export const VmcsFieldType = { Control: 0, ExitInfo: 1, Guest: 2, Host: 3 } as const;

export function encodingWidth(encoding: number): number {
  return (encoding >>> 13) & 3;
}
export function encodingType(encoding: number): number {
  return (encoding >>> 10) & 3;
}

/**
 * Slot of each full encoding, indexed by `encoding >>> 1` (the index, type and width bits);
 * -1 for an encoding the processor does not support. The "high" access of a 64-bit field
 * (bit 0 = 1) uses the same slot's upper half.
 */
export const VMCS_SLOT_BY_ENCODING: Int16Array = (() => {
  const t = new Int16Array(0x8000 >>> 1).fill(-1);
  for (const f of VMCS_FIELDS) t[f.encoding >>> 1] = f.slot;
  return t;
})();

/** Number of field slots in a VMCS region. */
export const VMCS_FIELD_COUNT = VMCS_FIELDS.length;
