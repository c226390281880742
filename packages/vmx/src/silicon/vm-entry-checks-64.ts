/**
 * The VM-entry checks an Intel 64 processor adds for 64-bit state (SDM Vol. 3 26.2.4, 26.3.1):
 * the address-space size of the host and the guest ("host address-space size", "IA-32e mode
 * guest", IA32_EFER's LMA/LME), canonical bases and RIP, CS.L with CS.D, the 64-bit TSS, and the
 * high halves of fields that hold 32-bit values. Same contract as `vm-entry-checks.ts`: 0 or the
 * SDM rule broken (diagnostics only; the architecture reports a number).
 */
import { VMCS } from './vmcs-fields.js';
import { AR_UNUSABLE, VmEntryCtl, VmExitCtl } from './vmx-arch.js';
import { isCanonical, MAXPHYADDR } from './vmx-capabilities.js';
import type { VmxSilicon } from './vmx-silicon.js';

const X86_CR0_PG = 0x80000000;
const X86_CR4_PAE = 1 << 5;
const X86_EFLAGS_VM = 1 << 17;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** IA32_EFER bits that are not reserved: SCE, LME, LMA, NXE (SDM Vol. 4 Table 2-2). */
const EFER_VALID = (1 << 0) | EFER_LME | EFER_LMA | (1 << 11);
/** Access rights: L (bit 13) and D/B (bit 14). */
const AR_L = 1 << 13;
const AR_DB = 1 << 14;

/** 26.2.2/26.2.4: host state on a processor with Intel 64 (error 8 when broken). */
export function checkHostState64(cpu: VmxSilicon): string | 0 {
  const exit = cpu.field(VMCS.VM_EXIT_CONTROLS);
  const hostSize = (exit & VmExitCtl.HOST_ADDR_SPACE_SIZE) !== 0;
  const ia32e = (cpu.field(VMCS.VM_ENTRY_CONTROLS) & VmEntryCtl.IA32E_MODE) !== 0;
  // 26.2.4: the host returns to the address-space size it runs in.
  if (cpu.hostEfer & EFER_LMA) {
    if (!hostSize) return 'host address-space size must be 1 on a host in IA-32e mode';
  } else if (hostSize || ia32e) {
    return 'host address-space size / IA-32e mode guest on a host outside IA-32e mode';
  }
  if (hostSize) {
    if (!(cpu.field(VMCS.HOST_CR4) & X86_CR4_PAE))
      return 'host CR4.PAE must be 1 with host address-space size';
    if (!isCanonical(cpu.fieldHigh(VMCS.HOST_RIP))) return 'host RIP not canonical';
  } else {
    if (cpu.fieldHigh(VMCS.HOST_RIP) !== 0) return 'host RIP bits 63:32 not 0';
    if (cpu.field(VMCS.HOST_SS_SELECTOR) === 0) return 'host SS selector is 0';
  }
  for (const e of [
    VMCS.HOST_FS_BASE,
    VMCS.HOST_GS_BASE,
    VMCS.HOST_GDTR_BASE,
    VMCS.HOST_IDTR_BASE,
    VMCS.HOST_TR_BASE,
    VMCS.HOST_IA32_SYSENTER_ESP,
    VMCS.HOST_IA32_SYSENTER_EIP,
  ]) {
    if (!isCanonical(cpu.fieldHigh(e))) return 'host base or SYSENTER address not canonical';
  }
  if (exit & VmExitCtl.LOAD_IA32_EFER) {
    const efer = cpu.field(VMCS.HOST_IA32_EFER);
    if (efer & ~EFER_VALID || cpu.fieldHigh(VMCS.HOST_IA32_EFER)) return 'host IA32_EFER reserved bits';
    const want = hostSize ? EFER_LME | EFER_LMA : 0;
    if ((efer & (EFER_LME | EFER_LMA)) !== want) return 'host IA32_EFER.LMA/LME ≠ host address-space size';
  }
  return 0;
}

/** The guest segment base fields whose bits 63:32 must be 0 (usable ES, SS, DS; CS always). */
/** As (base, access rights) encoding pairs, flat: iterated without destructuring on every entry. */
const LOW_BASES: readonly number[] = [
  VMCS.GUEST_CS_BASE,
  VMCS.GUEST_CS_AR_BYTES,
  VMCS.GUEST_SS_BASE,
  VMCS.GUEST_SS_AR_BYTES,
  VMCS.GUEST_DS_BASE,
  VMCS.GUEST_DS_AR_BYTES,
  VMCS.GUEST_ES_BASE,
  VMCS.GUEST_ES_AR_BYTES,
];

/** 26.3.1: guest state on a processor with Intel 64 (exit reason 33 when broken). */
export function checkGuestState64(cpu: VmxSilicon): string | 0 {
  const ia32e = (cpu.field(VMCS.VM_ENTRY_CONTROLS) & VmEntryCtl.IA32E_MODE) !== 0;
  const cr0 = cpu.field(VMCS.GUEST_CR0);
  // 26.3.1.1: control registers, debug registers and MSRs.
  if (ia32e && (!(cr0 & X86_CR0_PG) || !(cpu.field(VMCS.GUEST_CR4) & X86_CR4_PAE)))
    return 'IA-32e mode guest needs CR0.PG and CR4.PAE';
  if (cpu.fieldHigh(VMCS.GUEST_CR0) || cpu.fieldHigh(VMCS.GUEST_CR4)) return 'guest CR0/CR4 bits 63:32 not 0';
  if (cpu.fieldHigh(VMCS.GUEST_CR3) >>> (MAXPHYADDR - 32) !== 0) return 'guest CR3 beyond MAXPHYADDR';
  if (cpu.fieldHigh(VMCS.GUEST_DR7)) return 'guest DR7 bits 63:32 not 0';
  if (
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_SYSENTER_ESP)) ||
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_SYSENTER_EIP))
  )
    return 'guest IA32_SYSENTER_ESP/EIP not canonical';
  const entry = cpu.field(VMCS.VM_ENTRY_CONTROLS);
  if (entry & VmEntryCtl.LOAD_IA32_EFER) {
    const efer = cpu.field(VMCS.GUEST_IA32_EFER);
    if (efer & ~EFER_VALID || cpu.fieldHigh(VMCS.GUEST_IA32_EFER)) return 'guest IA32_EFER reserved bits';
    if (((efer & EFER_LMA) !== 0) !== ia32e) return 'guest IA32_EFER.LMA ≠ IA-32e mode guest';
    if (cr0 & X86_CR0_PG && ((efer & EFER_LMA) !== 0) !== ((efer & EFER_LME) !== 0))
      return 'guest IA32_EFER.LME ≠ LMA with CR0.PG';
  }
  // 26.3.1.2: segment registers.
  const csAr = cpu.field(VMCS.GUEST_CS_AR_BYTES);
  const csL = ia32e && (csAr & AR_L) !== 0;
  if (csL && csAr & AR_DB) return 'CS.L and CS.D both set in an IA-32e mode guest';
  if (ia32e && (cpu.field(VMCS.GUEST_TR_AR_BYTES) & 0xf) !== 11)
    return 'TR not a 64-bit busy TSS in an IA-32e mode guest';
  // Checked on every entry: no array literal to iterate (the exit path allocates nothing).
  if (
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_FS_BASE)) ||
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_GS_BASE)) ||
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_TR_BASE))
  )
    return 'guest FS/GS/TR base not canonical';
  if (
    !(cpu.field(VMCS.GUEST_LDTR_AR_BYTES) & AR_UNUSABLE) &&
    !isCanonical(cpu.fieldHigh(VMCS.GUEST_LDTR_BASE))
  )
    return 'guest LDTR base not canonical';
  for (let i = 0; i < LOW_BASES.length; i += 2) {
    const base = LOW_BASES[i];
    if (
      (base === VMCS.GUEST_CS_BASE || !(cpu.field(LOW_BASES[i + 1]) & AR_UNUSABLE)) &&
      cpu.fieldHigh(base) !== 0
    )
      return 'guest CS/SS/DS/ES base bits 63:32 not 0';
  }
  // 26.3.1.3: descriptor-table registers.
  if (!isCanonical(cpu.fieldHigh(VMCS.GUEST_GDTR_BASE)) || !isCanonical(cpu.fieldHigh(VMCS.GUEST_IDTR_BASE)))
    return 'guest GDTR/IDTR base not canonical';
  return checkGuestRip64(cpu, csAr);
}

/** 26.3.1.4: RIP and RFLAGS on a processor with Intel 64 (CS's access rights given: see `checkHotGuestState`). */
export function checkGuestRip64(cpu: VmxSilicon, csAr: number): string | 0 {
  const ia32e = (cpu.field(VMCS.VM_ENTRY_CONTROLS) & VmEntryCtl.IA32E_MODE) !== 0;
  const csL = ia32e && (csAr & AR_L) !== 0;
  const ripHi = cpu.fieldHigh(VMCS.GUEST_RIP);
  if (csL ? !isCanonical(ripHi) : ripHi !== 0) return 'guest RIP not canonical / bits 63:32 not 0';
  if (cpu.fieldHigh(VMCS.GUEST_RFLAGS)) return 'guest RFLAGS bits 63:32 not 0';
  if (ia32e && cpu.field(VMCS.GUEST_RFLAGS) & X86_EFLAGS_VM) return 'guest RFLAGS.VM in an IA-32e mode guest';
  return 0;
}
