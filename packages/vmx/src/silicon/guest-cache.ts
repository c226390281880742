/**
 * The guest state a VM exit leaves in the processor instead of writing it to the VMCS region.
 *
 * The SDM leaves the VMCS's in-memory format and when the processor writes it back to the
 * region to the implementation (Vol. 3C 25.11.1: "the processor may optimize VMX operation by
 * maintaining the state of an active VMCS in the processor"; VMCLEAR writes it out, 25.11.3).
 * We use that freedom for the guest-state fields the driver rarely touches between an exit and
 * the next entry: the segment registers, GDTR/IDTR, CR0/CR3/CR4 and the SYSENTER MSRs stay in
 * x86emu's `CpuState` across the exit (the *cold groups*). A VMREAD or VMWRITE of one of their
 * fields writes its group back first, a VMWRITE marks the group for loading at the next entry,
 * and VMPTRLD of another VMCS, VMCLEAR and VMXOFF write back everything held. So the driver
 * reads exactly what a full save would have given it, and an entry after an exit whose handler
 * touched none of them moves nothing. RIP, RSP, RFLAGS, DR7, EFER and the non-register state
 * (read or written after almost every exit) are saved and loaded on every exit and entry.
 */
import type { CpuState } from '@kvm/x86emu';
import { GUEST_SEGMENT_FIELDS, VMCS, VMCS_FIELD_COUNT, VMCS_SLOT_BY_ENCODING } from './vmcs-fields.js';
import type { VmcsRegion } from './vmcs-region.js';

/** The segment registers ES, CS, SS, DS, FS, GS, LDTR, TR: selector, base, limit, access rights. */
export const GUEST_SEGMENTS = 1;
/** GDTR and IDTR: base and limit. */
export const GUEST_DTABLES = 2;
/** CR0, CR3, CR4. */
export const GUEST_CRS = 4;
/** IA32_SYSENTER_CS, _ESP, _EIP. */
export const GUEST_SYSENTER = 8;
/** Every cold group. */
export const GUEST_COLD = GUEST_SEGMENTS | GUEST_DTABLES | GUEST_CRS | GUEST_SYSENTER;

const slot = (encoding: number): number => VMCS_SLOT_BY_ENCODING[encoding >>> 1];

/** The guest segment fields as slots, four per segment in x86emu `Seg` order. */
export const SEG_SLOTS: Int16Array = Int16Array.from(GUEST_SEGMENT_FIELDS.flat(), slot);

const S_GDTR_BASE = slot(VMCS.GUEST_GDTR_BASE);
const S_GDTR_LIMIT = slot(VMCS.GUEST_GDTR_LIMIT);
const S_IDTR_BASE = slot(VMCS.GUEST_IDTR_BASE);
const S_IDTR_LIMIT = slot(VMCS.GUEST_IDTR_LIMIT);
const S_CR0 = slot(VMCS.GUEST_CR0);
const S_CR3 = slot(VMCS.GUEST_CR3);
const S_CR4 = slot(VMCS.GUEST_CR4);
const S_SYSENTER_CS = slot(VMCS.GUEST_SYSENTER_CS);
const S_SYSENTER_ESP = slot(VMCS.GUEST_SYSENTER_ESP);
const S_SYSENTER_EIP = slot(VMCS.GUEST_SYSENTER_EIP);

/** VMCS slot → its cold group (0: not held across exits). */
export const GUEST_GROUP_BY_SLOT: Uint8Array = (() => {
  const t = new Uint8Array(VMCS_FIELD_COUNT);
  for (const s of SEG_SLOTS) t[s] = GUEST_SEGMENTS;
  for (const s of [S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT]) t[s] = GUEST_DTABLES;
  for (const s of [S_CR0, S_CR3, S_CR4]) t[s] = GUEST_CRS;
  for (const s of [S_SYSENTER_CS, S_SYSENTER_ESP, S_SYSENTER_EIP]) t[s] = GUEST_SYSENTER;
  return t;
})();

/** A whole field as the processor writes it on exit: the value, the high half 0. */
function put(v: VmcsRegion, s: number, value: number): void {
  v.setLo(s, value >>> 0);
  v.setHi(s, 0);
}

/**
 * Writes `groups` of the guest state from the processor into the region, as the exit's save
 * (SDM 28.3.1, 28.3.2) would have. `longMode`: the natural-width fields are saved whole (Intel 64).
 */
export function saveColdGroups(s: CpuState, v: VmcsRegion, groups: number, longMode: boolean): void {
  if (groups & GUEST_SEGMENTS) {
    for (let i = 0; i < 8; i++) {
      put(v, SEG_SLOTS[4 * i], s.segSel[i]);
      const base = SEG_SLOTS[4 * i + 1];
      v.setLo(base, s.segBase[i]);
      v.setHi(base, s.segBaseHigh[i]);
      put(v, SEG_SLOTS[4 * i + 2], s.segLimit[i]);
      put(v, SEG_SLOTS[4 * i + 3], s.segAttr[i]);
    }
  }
  if (groups & GUEST_DTABLES) {
    put(v, S_GDTR_BASE, s.dtBase[0]);
    v.setHi(S_GDTR_BASE, s.dtBaseHigh[0]);
    put(v, S_GDTR_LIMIT, s.dtLimit[0]);
    put(v, S_IDTR_BASE, s.dtBase[1]);
    v.setHi(S_IDTR_BASE, s.dtBaseHigh[1]);
    put(v, S_IDTR_LIMIT, s.dtLimit[1]);
  }
  if (groups & GUEST_CRS) {
    put(v, S_CR0, s.cr[0]);
    put(v, S_CR3, s.cr[3]);
    v.setHi(S_CR3, s.crHigh[3]);
    put(v, S_CR4, s.cr[4]);
  }
  if (groups & GUEST_SYSENTER) {
    put(v, S_SYSENTER_CS, s.sysenter[0]);
    put(v, S_SYSENTER_ESP, s.sysenter[1]);
    put(v, S_SYSENTER_EIP, s.sysenter[2]);
    if (longMode) {
      v.setHi(S_SYSENTER_ESP, s.sysenterHigh[1]);
      v.setHi(S_SYSENTER_EIP, s.sysenterHigh[2]);
    }
  }
}

/** Loads `groups` of the guest state from the region into the processor (SDM 27.3.2). */
export function loadColdGroups(s: CpuState, v: VmcsRegion, groups: number): void {
  if (groups & GUEST_SEGMENTS) {
    for (let i = 0; i < 8; i++) {
      const base = SEG_SLOTS[4 * i + 1];
      s.segSel[i] = v.lo(SEG_SLOTS[4 * i]);
      s.segBase[i] = v.lo(base);
      s.segBaseHigh[i] = v.hi(base);
      s.segLimit[i] = v.lo(SEG_SLOTS[4 * i + 2]);
      s.segAttr[i] = v.lo(SEG_SLOTS[4 * i + 3]);
    }
  }
  if (groups & GUEST_DTABLES) {
    s.dtBase[0] = v.lo(S_GDTR_BASE);
    s.dtBaseHigh[0] = v.hi(S_GDTR_BASE);
    s.dtLimit[0] = v.lo(S_GDTR_LIMIT);
    s.dtBase[1] = v.lo(S_IDTR_BASE);
    s.dtBaseHigh[1] = v.hi(S_IDTR_BASE);
    s.dtLimit[1] = v.lo(S_IDTR_LIMIT);
  }
  if (groups & GUEST_CRS) {
    s.cr[0] = v.lo(S_CR0);
    s.cr[3] = v.lo(S_CR3);
    s.crHigh[3] = v.hi(S_CR3);
    s.cr[4] = v.lo(S_CR4);
  }
  if (groups & GUEST_SYSENTER) {
    s.sysenter[0] = v.lo(S_SYSENTER_CS);
    // Natural-width fields: 64-bit addresses on an Intel 64 part (the high halves read 0 on the
    // 32-bit part, whose fields hold 32 bits).
    s.sysenter[1] = v.lo(S_SYSENTER_ESP);
    s.sysenterHigh[1] = v.hi(S_SYSENTER_ESP);
    s.sysenter[2] = v.lo(S_SYSENTER_EIP);
    s.sysenterHigh[2] = v.hi(S_SYSENTER_EIP);
  }
}
