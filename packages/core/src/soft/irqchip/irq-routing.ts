/**
 * GSI routing (`virt/kvm/irqchip.c`, x86's `irq_comm.c`): which irqchip pins or MSI message a
 * global system interrupt number drives. KVM_CREATE_IRQCHIP installs the default table (GSI 0–15
 * to both the 8259 pair and the I/O APIC pin of the same number, 16–23 to the I/O APIC only);
 * KVM_SET_GSI_ROUTING replaces it, validated as Linux does (every refusal is EINVAL).
 */
import type { KvmIrqRoutingEntry } from '../../api/structs.js';

export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
/** `KVM_MAX_IRQ_ROUTES` */
export const KVM_MAX_IRQ_ROUTES = 4096;
/** `KVM_MSI_VALID_DEVID`: the only entry flag Linux accepts, and only on MSI routes. */
const KVM_MSI_VALID_DEVID = 1;

/** A kernel routing entry (`struct kvm_kernel_irq_routing_entry`). PIC slave pins are 8–15. */
export interface KernelRoutingEntry {
  readonly gsi: number;
  readonly type: number;
  readonly irqchip: number;
  readonly pin: number;
  readonly addressLo: number;
  readonly addressHi: number;
  readonly data: number;
}

/** Entries by GSI (`kvm_irq_routing_table.map`). */
export type IrqRoutingTable = ReadonlyMap<number, readonly KernelRoutingEntry[]>;

function irqchipEntry(gsi: number, irqchip: number, pin: number): KernelRoutingEntry {
  return { gsi, type: KVM_IRQ_ROUTING_IRQCHIP, irqchip, pin, addressLo: 0, addressHi: 0, data: 0 };
}

/** `kvm_setup_default_irq_routing` */
export function defaultIrqRouting(): IrqRoutingTable {
  const t = new Map<number, KernelRoutingEntry[]>();
  for (let gsi = 0; gsi < 24; gsi++) {
    const list: KernelRoutingEntry[] = [];
    if (gsi < 16) list.push(irqchipEntry(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi));
    list.push(irqchipEntry(gsi, KVM_IRQCHIP_IOAPIC, gsi));
    t.set(gsi, list);
  }
  return t;
}

/**
 * `kvm_set_irq_routing` + `kvm_set_routing_entry`: the new table, or a reason for EINVAL (a GSI
 * ≥ 4096, entry flags, a second route of one GSI to the same irqchip, MSI sharing a GSI, an
 * unknown type or irqchip, a pin beyond the chip).
 */
export function buildIrqRouting(entries: readonly KvmIrqRoutingEntry[]): IrqRoutingTable | string {
  for (const e of entries) if (e.gsi >= KVM_MAX_IRQ_ROUTES) return `gsi ${e.gsi} ≥ ${KVM_MAX_IRQ_ROUTES}`;
  const t = new Map<number, KernelRoutingEntry[]>();
  for (const ue of entries) {
    const dv = new DataView(ue.u.buffer, ue.u.byteOffset, ue.u.byteLength);
    const allowed = ue.type === KVM_IRQ_ROUTING_MSI ? KVM_MSI_VALID_DEVID : 0;
    if (ue.flags & ~allowed) return `gsi ${ue.gsi}: flags 0x${ue.flags.toString(16)}`;
    const chip = dv.getUint32(0, true);
    const list = t.get(ue.gsi) ?? [];
    for (const ei of list) {
      if (ei.type === KVM_IRQ_ROUTING_MSI || ue.type === KVM_IRQ_ROUTING_MSI || ei.irqchip === chip) {
        return `gsi ${ue.gsi} routed twice to one irqchip, or shared with an MSI`;
      }
    }
    let e: KernelRoutingEntry;
    if (ue.type === KVM_IRQ_ROUTING_IRQCHIP) {
      const pin = dv.getUint32(4, true);
      if (chip === KVM_IRQCHIP_PIC_MASTER || chip === KVM_IRQCHIP_PIC_SLAVE) {
        if (pin >= 8) return `pic pin ${pin}`;
        e = irqchipEntry(ue.gsi, chip, pin + (chip === KVM_IRQCHIP_PIC_SLAVE ? 8 : 0));
      } else if (chip === KVM_IRQCHIP_IOAPIC) {
        if (pin >= 24) return `ioapic pin ${pin}`;
        e = irqchipEntry(ue.gsi, chip, pin);
      } else {
        return `irqchip ${chip}`;
      }
    } else if (ue.type === KVM_IRQ_ROUTING_MSI) {
      e = {
        gsi: ue.gsi,
        type: KVM_IRQ_ROUTING_MSI,
        irqchip: -1,
        pin: 0,
        addressLo: dv.getUint32(0, true),
        addressHi: dv.getUint32(4, true),
        data: dv.getUint32(8, true),
      };
    } else {
      return `routing type ${ue.type}`;
    }
    list.push(e);
    t.set(ue.gsi, list);
  }
  return t;
}
