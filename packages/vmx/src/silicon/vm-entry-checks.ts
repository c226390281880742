/**
 * The checks VM entry makes before it loads guest state (SDM Vol. 3 Chapter 27, "VM Entries"),
 * the subset that matters for a processor without EPT (the Intel 64 additions in
 * `vm-entry-checks-64.ts`):
 *
 *   27.2.1  VM-execution, VM-exit and VM-entry control fields → VMfailValid(7)
 *   27.2.2  host-state area                                  → VMfailValid(8)
 *   27.3.1  guest-state area                                 → VM exit, reason 33 | bit 31
 *
 * Each function returns 0 when all its checks pass, otherwise a short reason naming the SDM rule
 * (kept in the silicon for the driver's diagnostics; the architecture only reports the number).
 */

import { eptpInvalid } from './ept.js';
import { checkGuestRip64, checkGuestState64, checkHostState64 } from './vm-entry-checks-64.js';
import { GUEST_SEGMENT_FIELDS, VMCS } from './vmcs-fields.js';

import {
  ActivityState,
  AR_UNUSABLE,
  CpuBased,
  GuestIntrState,
  IntrInfo,
  IntrType,
  PinBased,
  SecondaryExec,
  VmEntryCtl,
  VmExitCtl,
} from './vmx-arch.js';
import {
  CR0_FIXED0,
  CR0_FIXED1,
  CR4_FIXED0,
  CR4_FIXED1,
  controlsAllowed,
  MAXPHYADDR,
  type VmxCapabilities,
} from './vmx-capabilities.js';
import type { VmxSilicon } from './vmx-silicon.js';

/** ES, CS, SS, DS, FS, GS: the segments virtual-8086 mode constrains (SDM 27.3.1.2). */
const V86_SEGMENTS = GUEST_SEGMENT_FIELDS.slice(0, 6);

const X86_CR0_PE = 1 << 0;
const X86_CR0_NW = 1 << 29;
const X86_CR0_CD = 1 << 30;
const X86_CR0_PG = 0x80000000;
const X86_CR4_PAE = 1 << 5;
const X86_EFLAGS_IF = 1 << 9;
const X86_EFLAGS_VM = 1 << 17;
/** RFLAGS bits that must be 0 (reserved: 3, 5, 15, 22–31) and bit 1 that must be 1. */
const RFLAGS_RESERVED = (1 << 3) | (1 << 5) | (1 << 15) | 0xffc00000;

/** Exception vectors that deliver an error code (SDM 27.2.1.3). */
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);

/** 27.2.1: the control fields, against the silicon's allowed settings. */
export function checkControls(cpu: VmxSilicon, caps: VmxCapabilities): string | 0 {
  const f = (e: number): number => cpu.field(e);
  const pin = f(VMCS.PIN_BASED_VM_EXEC_CONTROL);
  const proc = f(VMCS.CPU_BASED_VM_EXEC_CONTROL);
  if (!controlsAllowed(pin, caps.pin)) return 'pin-based controls: reserved bits';
  // Against the true controls (IA32_VMX_BASIC bit 55: CR3-load/store exiting may be 0).
  if (!controlsAllowed(proc, caps.procTrue)) return 'processor-based controls: reserved bits';
  const proc2 = proc & CpuBased.ACTIVATE_SECONDARY_CONTROLS ? f(VMCS.SECONDARY_VM_EXEC_CONTROL) : 0;
  if (!controlsAllowed(proc2, caps.proc2)) return 'secondary controls: reserved bits';
  // 27.2.1.1: virtual NMIs need NMI exiting, and NMI-window exiting needs virtual NMIs.
  if (!(pin & PinBased.NMI_EXITING) && pin & PinBased.VIRTUAL_NMIS) return 'virtual NMIs without NMI exiting';
  if (!(pin & PinBased.VIRTUAL_NMIS) && proc & CpuBased.NMI_WINDOW_EXITING)
    return 'NMI-window exiting without virtual NMIs';
  if (proc & CpuBased.TPR_SHADOW) {
    if (!cpu.validPageAddress(f(VMCS.VIRTUAL_APIC_PAGE_ADDR))) return 'virtual-APIC address not page-aligned';
    // Without "virtualize APIC accesses"/virtual-interrupt delivery: bits 31:4 of the threshold are 0.
    if (f(VMCS.TPR_THRESHOLD) & ~0xf) return 'TPR threshold bits 31:4';
  }
  if (f(VMCS.CR3_TARGET_COUNT) > 4) return 'CR3-target count > 4';
  // 26.2.1.1: a VPID of 0 cannot be enabled; the EPTP must name a usable walk (ept.ts).
  if (proc2 & SecondaryExec.ENABLE_VPID && (f(VMCS.VIRTUAL_PROCESSOR_ID) & 0xffff) === 0) return 'VPID 0';
  if (proc2 & SecondaryExec.ENABLE_EPT) {
    const why = eptpInvalid(f(VMCS.EPT_POINTER), cpu.fieldHigh(VMCS.EPT_POINTER), MAXPHYADDR);
    if (why !== 0) return why;
  }
  if (proc & CpuBased.USE_IO_BITMAPS) {
    if (!cpu.validPageAddress(f(VMCS.IO_BITMAP_A)) || !cpu.validPageAddress(f(VMCS.IO_BITMAP_B))) {
      return 'I/O bitmap address not page-aligned';
    }
  }
  if (proc & CpuBased.USE_MSR_BITMAPS && !cpu.validPageAddress(f(VMCS.MSR_BITMAP))) {
    return 'MSR bitmap address not page-aligned';
  }
  if (!controlsAllowed(f(VMCS.VM_EXIT_CONTROLS), caps.exit)) return 'VM-exit controls: reserved bits';
  const entry = f(VMCS.VM_ENTRY_CONTROLS);
  if (!controlsAllowed(entry, caps.entry)) return 'VM-entry controls: reserved bits';
  // 27.2.1.3: event injection.
  const info = f(VMCS.VM_ENTRY_INTR_INFO_FIELD);
  if (info & IntrInfo.VALID) {
    const type = (info & IntrInfo.TYPE_MASK) >>> IntrInfo.TYPE_SHIFT;
    const vector = info & IntrInfo.VECTOR_MASK;
    if (type === 1 || type === IntrType.OTHER) return 'event injection: reserved type';
    if (type === IntrType.NMI && vector !== 2) return 'event injection: NMI with vector ≠ 2';
    if (type === IntrType.HARD_EXCEPTION && vector > 31) return 'event injection: exception vector > 31';
    if (info & 0x7ffff000) return 'event injection: reserved bits 30:12';
    const unrestricted =
      proc & CpuBased.ACTIVATE_SECONDARY_CONTROLS &&
      f(VMCS.SECONDARY_VM_EXEC_CONTROL) & SecondaryExec.UNRESTRICTED_GUEST;
    // With unrestricted guest and CR0.PE = 0 nothing delivers an error code (real mode has none).
    const pe = (f(VMCS.GUEST_CR0) & X86_CR0_PE) !== 0 || !unrestricted;
    const mustDeliver =
      type === IntrType.HARD_EXCEPTION && pe && ((ERROR_CODE_VECTORS >>> vector) & 1) === 1 && vector < 32;
    if (((info & IntrInfo.DELIVER_CODE) !== 0) !== mustDeliver)
      return 'event injection: deliver-error-code bit';
    if (info & IntrInfo.DELIVER_CODE && f(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE) & 0xffff8000) {
      return 'event injection: error code bits 31:15';
    }
    if (
      type === IntrType.SOFT_INTR ||
      type === IntrType.PRIV_SOFT_EXCEPTION ||
      type === IntrType.SOFT_EXCEPTION
    ) {
      const len = f(VMCS.VM_ENTRY_INSTRUCTION_LEN);
      if (len < 1 || len > 15) return 'event injection: instruction length not in 1–15';
    }
  }
  return 0;
}

/** 27.2.2: the host-state area. */
export function checkHostState(cpu: VmxSilicon): string | 0 {
  const f = (e: number): number => cpu.field(e);
  const cr0 = f(VMCS.HOST_CR0);
  const cr4 = f(VMCS.HOST_CR4);
  if ((cr0 & CR0_FIXED0) >>> 0 !== CR0_FIXED0 || (cr0 & ~CR0_FIXED1) !== 0) return 'host CR0 fixed bits';
  if ((cr4 & CR4_FIXED0) >>> 0 !== CR4_FIXED0 || (cr4 & ~CR4_FIXED1) !== 0) return 'host CR4 fixed bits';
  if (cpu.longMode) {
    const why = checkHostState64(cpu);
    if (why !== 0) return why;
  } else if (f(VMCS.VM_EXIT_CONTROLS) & VmExitCtl.HOST_ADDR_SPACE_SIZE) {
    // Reserved (allowed-0 only) without Intel 64; the control check refuses it first.
    return 'host address-space size on a 32-bit processor';
  }
  for (const e of [
    VMCS.HOST_ES_SELECTOR,
    VMCS.HOST_CS_SELECTOR,
    VMCS.HOST_SS_SELECTOR,
    VMCS.HOST_DS_SELECTOR,
    VMCS.HOST_FS_SELECTOR,
    VMCS.HOST_GS_SELECTOR,
    VMCS.HOST_TR_SELECTOR,
  ]) {
    if (f(e) & 7) return 'host selector RPL/TI not 0';
  }
  if (f(VMCS.HOST_CS_SELECTOR) === 0) return 'host CS selector is 0';
  if (f(VMCS.HOST_TR_SELECTOR) === 0) return 'host TR selector is 0';
  return 0;
}

/** 27.3.1: the guest-state area (failure is a VM exit with reason 33, not VMfail). */
export function checkGuestState(cpu: VmxSilicon): string | 0 {
  const proc = cpu.field(VMCS.CPU_BASED_VM_EXEC_CONTROL);
  const unrestricted =
    (proc & CpuBased.ACTIVATE_SECONDARY_CONTROLS) !== 0 &&
    (cpu.field(VMCS.SECONDARY_VM_EXEC_CONTROL) & SecondaryExec.UNRESTRICTED_GUEST) !== 0;
  const cr0 = cpu.field(VMCS.GUEST_CR0);
  const fixed0 = (unrestricted ? CR0_FIXED0 & ~(X86_CR0_PE | X86_CR0_PG) : CR0_FIXED0) >>> 0;
  if ((cr0 & fixed0) >>> 0 !== fixed0 || (cr0 & ~CR0_FIXED1) !== 0) return 'guest CR0 fixed bits';
  if (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) return 'guest CR0.PG without PE';
  if (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD)) return 'guest CR0.NW without CD';
  const cr4 = cpu.field(VMCS.GUEST_CR4);
  if ((cr4 & CR4_FIXED0) >>> 0 !== CR4_FIXED0 || (cr4 & ~CR4_FIXED1) !== 0) return 'guest CR4 fixed bits';
  // 27.3.1.6: with EPT and PAE paging the PDPTE fields are loaded: a present one with reserved
  // bits (2:1, 8:5, 63:MAXPHYADDR) fails the entry.
  if (
    proc & CpuBased.ACTIVATE_SECONDARY_CONTROLS &&
    cpu.field(VMCS.SECONDARY_VM_EXEC_CONTROL) & SecondaryExec.ENABLE_EPT &&
    cr0 & X86_CR0_PG &&
    cr4 & X86_CR4_PAE &&
    !(cpu.field(VMCS.VM_ENTRY_CONTROLS) & VmEntryCtl.IA32E_MODE)
  ) {
    for (let i = 0; i < 4; i++) {
      const lo = cpu.field(VMCS.GUEST_PDPTR0 + 2 * i);
      const hi = cpu.fieldHigh(VMCS.GUEST_PDPTR0 + 2 * i);
      if (lo & 1 && (lo & 0x1e6 || hi >>> (MAXPHYADDR - 32) !== 0)) return 'guest PDPTE reserved bits';
    }
  }
  if (cpu.longMode) {
    const why = checkGuestState64(cpu);
    if (why !== 0) return why;
  } else if (cpu.field(VMCS.VM_ENTRY_CONTROLS) & VmEntryCtl.IA32E_MODE) {
    return 'IA-32e mode guest on a 32-bit processor';
  }
  const rflags = cpu.field(VMCS.GUEST_RFLAGS);
  const info = cpu.field(VMCS.VM_ENTRY_INTR_INFO_FIELD);
  const flags = checkGuestRflags(rflags, cr0, info);
  if (flags !== 0) return flags;
  const v86 = (rflags & X86_EFLAGS_VM) !== 0;

  // Segment registers (27.3.1.2).
  const trAr = cpu.field(VMCS.GUEST_TR_AR_BYTES);
  if (trAr & AR_UNUSABLE) return 'TR unusable';
  if ((trAr & 0xf) !== 11 && (trAr & 0xf) !== 3) return 'TR type not a busy TSS';
  if (trAr & 0x10 || !(trAr & 0x80)) return 'TR: S must be 0 and P 1';
  if (cpu.field(VMCS.GUEST_TR_SELECTOR) & 4) return 'TR selector TI = 1';
  const ldtrAr = cpu.field(VMCS.GUEST_LDTR_AR_BYTES);
  if (!(ldtrAr & AR_UNUSABLE)) {
    if ((ldtrAr & 0xf) !== 2 || ldtrAr & 0x10 || !(ldtrAr & 0x80)) return 'LDTR not an LDT descriptor';
  }
  if (v86) {
    for (const [sel, base, limit, arE] of V86_SEGMENTS) {
      if (cpu.field(base) !== cpu.field(sel) << 4) return 'virtual-8086: base ≠ selector × 16';
      if (cpu.field(limit) !== 0xffff) return 'virtual-8086: limit ≠ FFFFH';
      if (cpu.field(arE) !== 0xf3) return 'virtual-8086: access rights ≠ F3H';
    }
  } else {
    const csAr = cpu.field(VMCS.GUEST_CS_AR_BYTES);
    const csType = csAr & 0xf;
    const csOk =
      csType === 9 || csType === 11 || csType === 13 || csType === 15 || (unrestricted && csType === 3);
    if (!csOk) return 'CS type';
    if (!(csAr & 0x10) || !(csAr & 0x80)) return 'CS: S and P must be 1';
    const ssAr = cpu.field(VMCS.GUEST_SS_AR_BYTES);
    if (!(ssAr & AR_UNUSABLE)) {
      if ((ssAr & 0xf) !== 3 && (ssAr & 0xf) !== 7) return 'SS type';
      if (!(ssAr & 0x80)) return 'SS not present';
    }
  }
  return checkGuestNonRegister(cpu, rflags, info);
}

/**
 * 27.3.1.4's RFLAGS rules and 27.3.1.5's IF rule for an injected external interrupt. Shared by
 * the whole check and the one after an exit whose handler wrote no cold field (`checkHotGuestState`).
 */
function checkGuestRflags(rflags: number, cr0: number, info: number): string | 0 {
  if (rflags & RFLAGS_RESERVED || !(rflags & 2)) return 'guest RFLAGS reserved bits';
  if (rflags & X86_EFLAGS_VM && !(cr0 & X86_CR0_PE)) return 'guest RFLAGS.VM with CR0.PE = 0';
  const injectingIntr =
    (info & IntrInfo.VALID) !== 0 && (info & IntrInfo.TYPE_MASK) >>> 8 === IntrType.EXT_INTR;
  if (injectingIntr && !(rflags & X86_EFLAGS_IF)) return 'injecting an external interrupt with RFLAGS.IF = 0';
  return 0;
}

/** 27.3.1.5: non-register state (activity, interruptibility, the VMCS link pointer). */
function checkGuestNonRegister(cpu: VmxSilicon, rflags: number, info: number): string | 0 {
  const activity = cpu.field(VMCS.GUEST_ACTIVITY_STATE);
  if (activity !== ActivityState.ACTIVE && activity !== ActivityState.HLT)
    return 'activity state not supported';
  const intr = cpu.field(VMCS.GUEST_INTERRUPTIBILITY_INFO);
  if (intr & ~0xf) return 'interruptibility state reserved bits';
  if (
    (intr & (GuestIntrState.STI | GuestIntrState.MOV_SS)) ===
    (GuestIntrState.STI | GuestIntrState.MOV_SS)
  ) {
    return 'blocking by STI and by MOV SS together';
  }
  if (!(rflags & X86_EFLAGS_IF) && intr & GuestIntrState.STI) return 'blocking by STI with RFLAGS.IF = 0';
  const injectingIntr =
    (info & IntrInfo.VALID) !== 0 && (info & IntrInfo.TYPE_MASK) >>> 8 === IntrType.EXT_INTR;
  if (injectingIntr && intr & (GuestIntrState.STI | GuestIntrState.MOV_SS)) {
    return 'injecting an external interrupt under STI/MOV SS blocking';
  }
  // An NMI cannot be injected while virtual NMIs are blocked.
  if (
    (info & IntrInfo.VALID) !== 0 &&
    (info & IntrInfo.TYPE_MASK) >>> 8 === IntrType.NMI &&
    cpu.field(VMCS.PIN_BASED_VM_EXEC_CONTROL) & PinBased.VIRTUAL_NMIS &&
    intr & GuestIntrState.NMI
  ) {
    return 'injecting an NMI under virtual-NMI blocking';
  }
  if (
    cpu.field(VMCS.VMCS_LINK_POINTER) !== 0xffffffff ||
    cpu.fieldHigh(VMCS.VMCS_LINK_POINTER) !== 0xffffffff
  ) {
    return 'VMCS link pointer not FFFFFFFF_FFFFFFFFH';
  }
  return 0;
}

/**
 * The guest-state checks an entry makes when the processor holds the guest state the last exit
 * left and the driver has written none of its cold fields since (`guest-cache.ts`), with the
 * controls unchanged: only the rules over the fields written on every exit (RIP, RFLAGS, the
 * interruptibility and activity state, the link pointer), with CR0 and CS's access rights as the
 * processor holds them. A state the exit saved passes the others, which read only cold fields and
 * controls. A guest in virtual-8086 mode gets the whole check (its segment rules read RFLAGS.VM).
 */
export function checkHotGuestState(cpu: VmxSilicon, cr0: number, csAr: number): string | 0 {
  if (cpu.longMode) {
    const why = checkGuestRip64(cpu, csAr);
    if (why !== 0) return why;
  }
  const rflags = cpu.field(VMCS.GUEST_RFLAGS);
  const info = cpu.field(VMCS.VM_ENTRY_INTR_INFO_FIELD);
  const flags = checkGuestRflags(rflags, cr0, info);
  if (flags !== 0) return flags;
  return checkGuestNonRegister(cpu, rflags, info);
}

/**
 * 27.2.1.1, "use TPR shadow" without "virtualize APIC accesses": bits 3:0 of the TPR threshold
 * must not exceed VTPR[7:4] (byte 80H of the virtual-APIC page). Read from memory, so checked on
 * every entry rather than only after a VMWRITE.
 */
export function checkTprThreshold(cpu: VmxSilicon): string | 0 {
  if (!(cpu.field(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CpuBased.TPR_SHADOW)) return 0;
  const hpa = cpu.field(VMCS.VIRTUAL_APIC_PAGE_ADDR);
  const page = cpu.memory.pageView(Math.floor(hpa / 4096));
  const vtpr = page === null ? 0 : page[0x80] >>> 4;
  return (cpu.field(VMCS.TPR_THRESHOLD) & 0xf) > vtpr ? 'TPR threshold above VTPR[7:4]' : 0;
}
