/**
 * An interrupt message on the APIC bus (`struct kvm_lapic_irq`): what an IPI, an IOAPIC
 * redirection entry or an MSI becomes before `kvm_irq_delivery_to_apic` finds its destinations.
 * Field values are the ICR's encodings (SDM Vol. 3 11.6.1), unshifted where KVM keeps them so.
 */
export interface LapicIrq {
  vector: number;
  /** ICR bits 10:8 shifted down: 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 6 SIPI, 7 ExtINT. */
  deliveryMode: number;
  /** 0 physical, 1 logical. */
  destMode: number;
  /** 1 assert, 0 de-assert (ICR bit 14). */
  level: number;
  /** 0 edge, 1 level (ICR bit 15). */
  trigMode: number;
  /** ICR bits 19:18: 0 none, 1 self, 2 all including self, 3 all excluding self. */
  shorthand: number;
  /** Physical APIC ID or logical destination (8 bits in xAPIC mode, 32 in x2APIC mode). */
  destId: number;
}

/** Delivery modes (SDM Vol. 3 Table 11-x, ICR bits 10:8). */
export const APIC_DM = {
  FIXED: 0,
  LOWEST: 1,
  SMI: 2,
  REMRD: 3,
  NMI: 4,
  INIT: 5,
  STARTUP: 6,
  EXTINT: 7,
} as const;

/** Destination shorthands (ICR bits 19:18). */
export const APIC_DEST = { NOSHORT: 0, SELF: 1, ALLINC: 2, ALLBUT: 3 } as const;

export function newLapicIrq(): LapicIrq {
  return { vector: 0, deliveryMode: 0, destMode: 0, level: 0, trigMode: 0, shorthand: 0, destId: 0 };
}
