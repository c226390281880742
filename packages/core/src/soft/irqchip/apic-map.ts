/**
 * Whether KVM's optimized APIC map could route a logical-mode message (`kvm_recalculate_apic_map`
 * → `kvm_recalculate_logical_map`, arch/x86/kvm/lapic.c). KVM answers a logical, non-broadcast
 * interrupt from that map (`kvm_irq_delivery_to_apic_fast`): 0 when no APIC is in the
 * destination, where the slow path's "nobody matched" is -1, which KVM_SIGNAL_MSI turns into
 * EPERM. The map is usable for logical messages unless the software-enabled APICs disagree on
 * the logical model (flat, cluster, x2APIC), or an xAPIC LDR names more than one bit, or two
 * APICs share a bit (`KVM_APIC_MODE_MAP_DISABLED`). An APIC that is software-disabled or whose
 * LDR is 0 does not take part; with none taking part the map is `KVM_APIC_MODE_SW_DISABLED`,
 * which routes every logical message to nobody: usable.
 */
import { APIC, type KvmLapic } from './lapic.js';

const SW_DISABLED = 0;
const XAPIC_FLAT = 1;
const XAPIC_CLUSTER = 2;
const X2APIC = 3;
/** APIC_DFR_FLAT (SDM Vol. 3 11.6.2.2: model 1111b in DFR bits 31:28). */
const APIC_DFR_FLAT = 0xffffffff;

export function kvmLogicalMapUsable(apics: readonly KvmLapic[]): boolean {
  let mode = SW_DISABLED;
  // Slots taken in the flat map (8 bits) or in each of the 16 cluster maps (4 bits).
  let flat = 0;
  const clusters = new Uint16Array(16);
  for (const apic of apics) {
    if (!apic.hwEnabled || !apic.swEnabled) continue;
    let ldr = apic.reg(APIC.LDR) >>> 0;
    if (ldr === 0) continue;
    let m: number;
    if (apic.x2apicMode) m = X2APIC;
    else {
      ldr >>>= 24; // GET_APIC_LOGICAL_ID
      m = apic.reg(APIC.DFR) >>> 0 === APIC_DFR_FLAT ? XAPIC_FLAT : XAPIC_CLUSTER;
    }
    if (mode === SW_DISABLED) mode = m;
    else if (mode !== m) return false;
    // The x2APIC LDR is derived from the ID (read-only): always addressable.
    if (m === X2APIC) continue;
    const mask = m === XAPIC_FLAT ? ldr & 0xff : ldr & 0xf;
    if (mask === 0) continue;
    const taken = m === XAPIC_FLAT ? flat : clusters[(ldr >>> 4) & 0xf];
    // Not a power of two, or the slot is someone else's: KVM_APIC_MODE_MAP_DISABLED.
    if ((mask & (mask - 1)) !== 0) return false;
    if ((taken & mask) !== 0) return false;
    if (m === XAPIC_FLAT) flat |= mask;
    else clusters[(ldr >>> 4) & 0xf] |= mask;
  }
  return true;
}
