/**
 * The in-kernel I/O APIC (KVM's `ioapic.c`; Intel 82093AA datasheet): 24 pins, a memory window
 * at 0xfec00000 (IOREGSEL at +0x00, IOWIN at +0x10), version 0x11, and the redirection table.
 * Each entry (datasheet 3.2.4): vector 7:0, delivery mode 10:8, destination mode 11, delivery
 * status 12, polarity 13, remote IRR 14, trigger mode 15, mask 16, destination 63:56.
 *
 * A level-triggered pin that was delivered sets remote IRR and is not delivered again until the
 * local APIC's EOI of that vector comes back (`updateEoi`); an edge-triggered pin is delivered
 * on each 0→1 transition of its line while unmasked.
 */
import { type LapicIrq, newLapicIrq } from './apic-irq.js';

export const IOAPIC_NUM_PINS = 24;
export const IOAPIC_DEFAULT_BASE_ADDRESS = 0xfec00000;
/** The window's length (`IOAPIC_MEM_LENGTH`). */
export const IOAPIC_MEM_LENGTH = 0x100;
const IOAPIC_VERSION_ID = 0x11;

const IOAPIC_REG_SELECT = 0x00;
const IOAPIC_REG_WINDOW = 0x10;
const IOAPIC_REG_APIC_ID = 0x00;
const IOAPIC_REG_VERSION = 0x01;
const IOAPIC_REG_ARB_ID = 0x02;

/** Redirection entry bits in the low dword. */
export const REDIR = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DEST_MODE: 1 << 11,
  DELIVERY_STATUS: 1 << 12,
  POLARITY: 1 << 13,
  REMOTE_IRR: 1 << 14,
  TRIG_LEVEL: 1 << 15,
  MASK: 1 << 16,
} as const;

/** What the I/O APIC needs from the APIC bus. */
export interface ApicBus {
  /** `kvm_irq_delivery_to_apic`: -1 no destination, else how many local APICs accepted it. */
  deliverToApic(irq: LapicIrq): number;
}

export class KvmIoapic {
  baseAddress = IOAPIC_DEFAULT_BASE_ADDRESS;
  ioregsel = 0;
  id = 0;
  irr = 0;
  /** Edge pins already delivered since their last edge (`irr_delivered`; hidden from GET_IRQCHIP). */
  private irrDelivered = 0;
  /** The table: entry i is [lo, hi] at 2i, 2i+1. */
  readonly redirtbl = new Uint32Array(2 * IOAPIC_NUM_PINS);
  /** Per pin, the OR of every source's level (`irq_states`). */
  private readonly irqStates = new Uint32Array(IOAPIC_NUM_PINS);
  private readonly irqe = newLapicIrq();

  constructor(private readonly bus: ApicBus) {
    this.reset();
  }

  /** `kvm_ioapic_reset`: every pin masked, base at 0xfec00000. */
  reset(): void {
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) this.redirtbl[2 * i] |= REDIR.MASK;
    this.baseAddress = IOAPIC_DEFAULT_BASE_ADDRESS;
    this.ioregsel = 0;
    this.irr = 0;
    this.irrDelivered = 0;
    this.id = 0;
  }

  inRange(gpa: number): boolean {
    return gpa >= this.baseAddress && gpa < this.baseAddress + IOAPIC_MEM_LENGTH;
  }

  /** `ioapic_read_indirect` */
  private readIndirect(): number {
    switch (this.ioregsel) {
      case IOAPIC_REG_VERSION:
        return (((IOAPIC_NUM_PINS - 1) & 0xff) << 16) | IOAPIC_VERSION_ID;
      case IOAPIC_REG_APIC_ID:
      case IOAPIC_REG_ARB_ID:
        return ((this.id & 0xf) << 24) >>> 0;
      default: {
        const index = (this.ioregsel - 0x10) >> 1;
        if (index < 0 || index >= IOAPIC_NUM_PINS) return 0xffffffff;
        return this.redirtbl[2 * index + (this.ioregsel & 1)];
      }
    }
  }

  /** `ioapic_write_indirect`: remote IRR and delivery status are read-only. */
  private writeIndirect(val: number): void {
    switch (this.ioregsel) {
      case IOAPIC_REG_VERSION:
      case IOAPIC_REG_ARB_ID:
        return;
      case IOAPIC_REG_APIC_ID:
        this.id = (val >>> 24) & 0xf;
        return;
    }
    const index = (this.ioregsel - 0x10) >> 1;
    if (index < 0 || index >= IOAPIC_NUM_PINS) return;
    const t = this.redirtbl;
    const old = t[2 * index];
    if (this.ioregsel & 1) {
      t[2 * index + 1] = val;
    } else {
      const ro = REDIR.REMOTE_IRR | REDIR.DELIVERY_STATUS;
      t[2 * index] = ((val & ~ro) | (old & ro)) >>> 0;
    }
    let lo = t[2 * index];
    // Linux and Xen expect remote IRR to clear when an entry is made edge-triggered: it stands in
    // for an EOI on I/O APICs without the EOI register (ioapic_write_indirect).
    if (!(lo & REDIR.TRIG_LEVEL)) {
      lo = (lo & ~REDIR.REMOTE_IRR) >>> 0;
      t[2 * index] = lo;
    }
    if (lo & REDIR.TRIG_LEVEL && this.irr & (1 << index)) this.service(index);
  }

  /** `ioapic_service`: deliver pin `irq`; -1 when masked or awaiting EOI. */
  private service(irq: number): number {
    const lo = this.redirtbl[2 * irq];
    const level = (lo & REDIR.TRIG_LEVEL) !== 0;
    if (lo & REDIR.MASK || (level && lo & REDIR.REMOTE_IRR)) return -1;
    const e = this.irqe;
    e.destId = this.redirtbl[2 * irq + 1] >>> 24;
    e.vector = lo & REDIR.VECTOR;
    e.destMode = lo & REDIR.DEST_MODE ? 1 : 0;
    e.trigMode = level ? 1 : 0;
    e.deliveryMode = (lo >>> REDIR.DELIVERY_MODE_SHIFT) & 7;
    e.level = 1;
    e.shorthand = 0;
    if (!level) this.irrDelivered |= 1 << irq;
    const ret = this.bus.deliverToApic(e);
    if (ret && level) this.redirtbl[2 * irq] = (this.redirtbl[2 * irq] | REDIR.REMOTE_IRR) >>> 0;
    return ret;
  }

  /** `ioapic_set_irq` on the combined line level. */
  private setIrqLevel(irq: number, level: boolean): number {
    const mask = 1 << irq;
    if (!level) {
      this.irr &= ~mask;
      return 1;
    }
    const edge = !(this.redirtbl[2 * irq] & REDIR.TRIG_LEVEL);
    const oldIrr = this.irr;
    this.irr |= mask;
    if (edge) {
      this.irrDelivered &= ~mask;
      // Coalesced: the previous edge was never delivered (the pin is masked).
      if (oldIrr === this.irr) return 0;
    }
    return this.service(irq);
  }

  /** `kvm_ioapic_set_irq` for pin `irq` from irq source `sourceId`. */
  setIrq(irq: number, sourceId: number, level: number): number {
    const bit = 1 << sourceId;
    if (level) this.irqStates[irq] |= bit;
    else this.irqStates[irq] &= ~bit;
    return this.setIrqLevel(irq, this.irqStates[irq] !== 0);
  }

  /**
   * `kvm_ioapic_update_eoi`: a local APIC's EOI of `vector`. For a level-triggered EOI, each pin
   * with that vector gets its remote IRR cleared and, if still asserted and unmasked, is
   * delivered again.
   */
  updateEoi(vector: number, levelTriggered: boolean): void {
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
      const lo = this.redirtbl[2 * i];
      if ((lo & REDIR.VECTOR) !== vector || !levelTriggered) continue;
      this.redirtbl[2 * i] = (lo & ~REDIR.REMOTE_IRR) >>> 0;
      if (!(lo & REDIR.MASK) && this.irr & (1 << i)) this.service(i);
    }
  }

  /** Is `vector` one some level-triggered pin delivers (`kvm_ioapic_handles_vector`)? */
  handlesVector(vector: number): boolean {
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
      const lo = this.redirtbl[2 * i];
      if ((lo & REDIR.VECTOR) === vector && lo & REDIR.TRIG_LEVEL) return true;
    }
    return false;
  }

  /** `ioapic_mmio_read`: 1, 2, 4 or 8 bytes at `gpa` into `data`. */
  mmioRead(gpa: number, data: Uint8Array): void {
    const off = (gpa - this.baseAddress) & 0xff;
    let result = 0;
    if (off === IOAPIC_REG_SELECT) result = this.ioregsel;
    else if (off === IOAPIC_REG_WINDOW) result = this.readIndirect();
    data.fill(0);
    for (let i = 0; i < Math.min(4, data.length); i++) data[i] = (result >>> (8 * i)) & 0xff;
  }

  /** `ioapic_mmio_write`: the low 4 bytes of the value written count. */
  mmioWrite(gpa: number, data: Uint8Array): void {
    const len = data.length;
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return;
    let val = 0;
    for (let i = Math.min(4, len) - 1; i >= 0; i--) val = (val << 8) | data[i];
    val >>>= 0;
    const off = (gpa - this.baseAddress) & 0xff;
    if (off === IOAPIC_REG_SELECT) this.ioregsel = val & 0xff;
    else if (off === IOAPIC_REG_WINDOW) this.writeIndirect(val);
  }

  /** KVM_GET_IRQCHIP (`kvm_get_ioapic`): `struct kvm_ioapic_state` at `o`; IRR without delivered edges. */
  save(out: Uint8Array, o: number): void {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    dv.setUint32(o, this.baseAddress >>> 0, true);
    dv.setUint32(o + 4, Math.floor(this.baseAddress / 0x100000000), true);
    dv.setUint32(o + 8, this.ioregsel, true);
    dv.setUint32(o + 12, this.id, true);
    dv.setUint32(o + 16, (this.irr & ~this.irrDelivered) >>> 0, true);
    dv.setUint32(o + 20, 0, true);
    for (let i = 0; i < 2 * IOAPIC_NUM_PINS; i++) dv.setUint32(o + 24 + 4 * i, this.redirtbl[i], true);
  }

  /** KVM_SET_IRQCHIP (`kvm_set_ioapic`): the state, then every pin in its IRR raised again. */
  load(b: Uint8Array, o: number): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.baseAddress = dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 0x100000000;
    this.ioregsel = dv.getUint32(o + 8, true);
    this.id = dv.getUint32(o + 12, true);
    const irr = dv.getUint32(o + 16, true);
    for (let i = 0; i < 2 * IOAPIC_NUM_PINS; i++) this.redirtbl[i] = dv.getUint32(o + 24 + 4 * i, true);
    this.irr = 0;
    this.irrDelivered = 0;
    // kvm_ioapic_inject_all
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) if (irr & (1 << i)) this.setIrqLevel(i, true);
  }
}
