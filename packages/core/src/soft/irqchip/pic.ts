/**
 * The in-kernel i8259A pair (KVM's `i8259.c`, itself QEMU's model): master at ports 0x20/0x21,
 * slave at 0xa0/0xa1 cascaded on master pin 2, and the ELCR (edge/level control) at
 * 0x4d0/0x4d1. Its output (`output`) is the INTR line the BSP's local APIC takes through LINT0
 * in ExtINT mode (`kvm_cpu_has_extint`); `readIrq` is the INTA cycle (`kvm_pic_read_irq`).
 *
 * State is exactly `struct kvm_pic_state` per chip, so KVM_GET/SET_IRQCHIP copy it byte for byte.
 */

/** One 8259 (`struct kvm_kpic_state`). */
export class KpicState {
  lastIrr = 0;
  irr = 0;
  imr = 0;
  isr = 0;
  priorityAdd = 0;
  irqBase = 0;
  readRegSelect = 0;
  poll = 0;
  specialMask = 0;
  initState = 0;
  autoEoi = 0;
  rotateOnAutoEoi = 0;
  specialFullyNestedMode = 0;
  init4 = 0;
  elcr = 0;
  /** Which pins the ELCR may make level-triggered: 0xf8 master, 0xde slave (`kvm_create_pic`). */
  elcrMask: number;

  constructor(elcrMask: number) {
    this.elcrMask = elcrMask;
  }

  /** `struct kvm_pic_state`, 16 bytes, in `out` at `o`. */
  save(out: Uint8Array, o: number): void {
    out[o] = this.lastIrr;
    out[o + 1] = this.irr;
    out[o + 2] = this.imr;
    out[o + 3] = this.isr;
    out[o + 4] = this.priorityAdd;
    out[o + 5] = this.irqBase;
    out[o + 6] = this.readRegSelect;
    out[o + 7] = this.poll;
    out[o + 8] = this.specialMask;
    out[o + 9] = this.initState;
    out[o + 10] = this.autoEoi;
    out[o + 11] = this.rotateOnAutoEoi;
    out[o + 12] = this.specialFullyNestedMode;
    out[o + 13] = this.init4;
    out[o + 14] = this.elcr;
    out[o + 15] = this.elcrMask;
  }

  /** KVM_SET_IRQCHIP memcpy()s the whole struct, elcr_mask included. */
  load(b: Uint8Array, o: number): void {
    this.lastIrr = b[o];
    this.irr = b[o + 1];
    this.imr = b[o + 2];
    this.isr = b[o + 3];
    this.priorityAdd = b[o + 4];
    this.irqBase = b[o + 5];
    this.readRegSelect = b[o + 6];
    this.poll = b[o + 7];
    this.specialMask = b[o + 8];
    this.initState = b[o + 9];
    this.autoEoi = b[o + 10];
    this.rotateOnAutoEoi = b[o + 11];
    this.specialFullyNestedMode = b[o + 12];
    this.init4 = b[o + 13];
    this.elcr = b[o + 14];
    this.elcrMask = b[o + 15];
  }
}

/** Ports the PIC pair claims (`picdev_in_range`). */
export function picOwnsPort(port: number): boolean {
  return port === 0x20 || port === 0x21 || port === 0xa0 || port === 0xa1 || port === 0x4d0 || port === 0x4d1;
}

/** The pair (`struct kvm_pic`). */
export class KvmPic {
  readonly pics: [KpicState, KpicState] = [new KpicState(0xf8), new KpicState(0xde)];
  /** The master's INT output (`s->output`). */
  output = false;
  /** Per pin, the OR of every source's level (`irq_states`, one bit per irq source id). */
  private readonly irqStates = new Uint32Array(16);

  /** `pic_set_irq1`: 1 delivered, 0 coalesced, -1 masked. */
  private setIrq1(s: KpicState, irq: number, level: number): number {
    const mask = 1 << irq;
    let ret = 1;
    if (s.elcr & mask) {
      if (level) {
        ret = s.irr & mask ? 0 : 1;
        s.irr |= mask;
        s.lastIrr |= mask;
      } else {
        s.irr &= ~mask;
        s.lastIrr &= ~mask;
      }
    } else if (level) {
      // Edge: only a 0→1 transition of the line latches IRR.
      if ((s.lastIrr & mask) === 0) {
        ret = s.irr & mask ? 0 : 1;
        s.irr |= mask;
      }
      s.lastIrr |= mask;
    } else {
      s.lastIrr &= ~mask;
    }
    return s.imr & mask ? -1 : ret;
  }

  /** `get_priority`: the highest priority in `mask` (0 highest), 8 if none. */
  private getPriority(s: KpicState, mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + s.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** `pic_get_irq`: the pin this chip would raise, or -1. */
  private getIrq(s: KpicState): number {
    const p = this.getPriority(s, s.irr & ~s.imr);
    if (p === 8) return -1;
    let mask = s.isr;
    // Special fully nested mode: the slave's in-service request does not block the master.
    if (s.specialFullyNestedMode && s === this.pics[0]) mask &= ~(1 << 2);
    const cur = this.getPriority(s, mask);
    return p < cur ? (p + s.priorityAdd) & 7 : -1;
  }

  /** `pic_update_irq`: the slave's request cascades into master pin 2, then the master's output. */
  private update(): void {
    if (this.getIrq(this.pics[1]) >= 0) {
      this.setIrq1(this.pics[0], 2, 1);
      this.setIrq1(this.pics[0], 2, 0);
    }
    this.output = this.getIrq(this.pics[0]) >= 0;
  }

  /** `kvm_pic_set_irq` for pin 0–15 and irq source `sourceId`: 1 delivered, 0 coalesced, -1 masked. */
  setIrq(irq: number, sourceId: number, level: number): number {
    const bit = 1 << sourceId;
    if (level) this.irqStates[irq] |= bit;
    else this.irqStates[irq] &= ~bit;
    const ret = this.setIrq1(this.pics[irq >> 3], irq & 7, this.irqStates[irq] !== 0 ? 1 : 0);
    this.update();
    return ret;
  }

  /** `pic_intack` */
  private intack(s: KpicState, irq: number): void {
    s.isr |= 1 << irq;
    // A level-sensitive request stays in IRR until the device drops it.
    if (!(s.elcr & (1 << irq))) s.irr &= ~(1 << irq);
    if (s.autoEoi) {
      if (s.rotateOnAutoEoi) s.priorityAdd = (irq + 1) & 7;
      s.isr &= ~(1 << irq);
    }
  }

  /** `kvm_pic_read_irq`: the INTA cycle; returns the vector (spurious IRQ 7 / 15 when nothing). */
  readIrq(): number {
    const [m, sl] = this.pics;
    let irq = this.getIrq(m);
    let intno: number;
    if (irq >= 0) {
      this.intack(m, irq);
      if (irq === 2) {
        let irq2 = this.getIrq(sl);
        if (irq2 >= 0) this.intack(sl, irq2);
        else irq2 = 7; // spurious IRQ on the slave
        intno = sl.irqBase + irq2;
      } else {
        intno = m.irqBase + irq;
      }
    } else {
      irq = 7; // spurious IRQ on the master
      intno = m.irqBase + irq;
    }
    this.update();
    return intno & 0xff;
  }

  /** `pic_ioport_write` (ICW1–4, OCW1–3). */
  private ioportWrite(s: KpicState, addr: number, val: number): void {
    if ((addr & 1) === 0) {
      if (val & 0x10) {
        // ICW1
        s.init4 = val & 1;
        s.lastIrr = 0;
        s.imr = 0;
        s.priorityAdd = 0;
        s.specialMask = 0;
        s.readRegSelect = 0;
        if (!s.init4) {
          s.specialFullyNestedMode = 0;
          s.autoEoi = 0;
        }
        s.initState = 1;
      } else if (val & 0x08) {
        // OCW3
        if (val & 0x04) s.poll = 1;
        if (val & 0x02) s.readRegSelect = val & 1;
        if (val & 0x40) s.specialMask = (val >> 5) & 1;
      } else {
        // OCW2
        const cmd = val >> 5;
        switch (cmd) {
          case 0:
          case 4:
            s.rotateOnAutoEoi = cmd >> 2;
            break;
          case 1: // non-specific EOI
          case 5: {
            const p = this.getPriority(s, s.isr);
            if (p !== 8) {
              const irq = (p + s.priorityAdd) & 7;
              if (cmd === 5) s.priorityAdd = (irq + 1) & 7;
              s.isr &= ~(1 << irq);
              this.update();
            }
            break;
          }
          case 3: // specific EOI
            s.isr &= ~(1 << (val & 7));
            this.update();
            break;
          case 6:
            s.priorityAdd = (val + 1) & 7;
            this.update();
            break;
          case 7: {
            const irq = val & 7;
            s.priorityAdd = (irq + 1) & 7;
            s.isr &= ~(1 << irq);
            this.update();
            break;
          }
          default:
            break;
        }
      }
      return;
    }
    switch (s.initState) {
      case 0: // OCW1: the mask
        s.imr = val;
        this.update();
        break;
      case 1: // ICW2: vector base
        s.irqBase = val & 0xf8;
        s.initState = 2;
        break;
      case 2: // ICW3: cascade wiring (fixed here)
        s.initState = s.init4 ? 3 : 0;
        break;
      case 3: // ICW4
        s.specialFullyNestedMode = (val >> 4) & 1;
        s.autoEoi = (val >> 1) & 1;
        s.initState = 0;
        break;
    }
  }

  /** `pic_poll_read` */
  private pollRead(s: KpicState, addr: number): number {
    let ret = this.getIrq(s);
    if (ret >= 0) {
      if (addr >> 7) {
        this.pics[0].isr &= ~(1 << 2);
        this.pics[0].irr &= ~(1 << 2);
      }
      s.irr &= ~(1 << ret);
      s.isr &= ~(1 << ret);
      if (addr >> 7 || ret !== 2) this.update();
    } else {
      ret = 7;
      this.update();
    }
    return ret;
  }

  /** `picdev_write`: one byte to a PIC port. Wider accesses are ignored, as in KVM. */
  write(port: number, size: number, val: number): void {
    if (size !== 1) return;
    val &= 0xff;
    if (port === 0x4d0 || port === 0x4d1) {
      const s = this.pics[port & 1];
      s.elcr = val & s.elcrMask;
      return;
    }
    this.ioportWrite(this.pics[port >> 7], port, val);
  }

  /** `picdev_read`: one byte from a PIC port (0 for a wider access). */
  read(port: number, size: number): number {
    if (size !== 1) return 0;
    if (port === 0x4d0 || port === 0x4d1) return this.pics[port & 1].elcr;
    const s = this.pics[port >> 7];
    if (s.poll) {
      const r = this.pollRead(s, port);
      s.poll = 0;
      return r;
    }
    if ((port & 1) === 0) return s.readRegSelect ? s.isr : s.irr;
    return s.imr;
  }

  /** KVM_GET_IRQCHIP for chip 0 (master) or 1 (slave). */
  saveChip(chip: number, out: Uint8Array, o: number): void {
    this.pics[chip].save(out, o);
  }

  /** KVM_SET_IRQCHIP for chip 0 or 1, then `kvm_pic_update_irq`. */
  loadChip(chip: number, b: Uint8Array, o: number): void {
    this.pics[chip].load(b, o);
    this.update();
  }
}
