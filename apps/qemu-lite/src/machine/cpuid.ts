/**
 * The CPUID the guest sees: KVM_GET_SUPPORTED_CPUID, minus what this machine does not have.
 *
 * - No local APIC unless the in-kernel irqchip is used: leaf 1 EDX.APIC (bit 9), ECX.x2APIC
 *   (bit 21) and ECX.TSC-deadline (bit 24, a local APIC timer mode) are cleared. A guest that
 *   believed them would program an APIC nobody emulates (Linux would wait for its timer).
 *   KVM recomputes EDX.APIC from IA32_APIC_BASE.EN at run time, so the machine also clears
 *   that enable bit (`machine.ts`); clearing the CPUID bit alone is not enough.
 * - Leaf 1 ECX.hypervisor (bit 31) is set, as every VMM does, so guests know they are guests.
 * - KVM's paravirtual leaf 0x40000001: only the clock source features (kvmclock MSRs, which
 *   the kernel handles itself) and NOP_IO_DELAY are kept. PV EOI, PV unhalt, PV IPIs, async
 *   page-fault interrupts and the like all need a local APIC or in-kernel help we do not set up.
 */
import type { KvmCpuidEntry2 } from '@kvm/core';

const LEAF1_EDX_APIC = 1 << 9;
const LEAF1_ECX_X2APIC = 1 << 21;
const LEAF1_ECX_TSC_DEADLINE = 1 << 24;
const LEAF1_ECX_HYPERVISOR = 1 << 31;

/** KVM_FEATURE_* bits we keep: CLOCKSOURCE (0), NOP_IO_DELAY (1), CLOCKSOURCE2 (3), CLOCKSOURCE_STABLE_BIT (24). */
const KVM_FEATURES_KEPT = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 24);

export interface GuestCpuidOptions {
  /** The in-kernel irqchip (LAPIC) is present. */
  localApic: boolean;
}

export function guestCpuid(supported: readonly KvmCpuidEntry2[], opts: GuestCpuidOptions): KvmCpuidEntry2[] {
  return supported.map((entry) => {
    const e = { ...entry };
    if (e.function === 1) {
      e.ecx |= LEAF1_ECX_HYPERVISOR;
      if (!opts.localApic) {
        e.edx &= ~LEAF1_EDX_APIC;
        e.ecx &= ~(LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE);
      }
      e.ecx >>>= 0;
      e.edx >>>= 0;
    } else if (e.function === 0x40000001 && !opts.localApic) {
      e.eax = (e.eax & KVM_FEATURES_KEPT) >>> 0;
    }
    return e;
  });
}
