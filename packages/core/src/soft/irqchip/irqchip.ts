/**
 * A VM's in-kernel irqchip (KVM_CREATE_IRQCHIP): the 8259 pair, the I/O APIC, the GSI routing
 * table, and the APIC bus that joins them to every vCPU's local APIC
 * (`kvm_irq_delivery_to_apic`). KVM_IRQ_LINE and KVM_SIGNAL_MSI enter here.
 */
import { APIC_DEST, APIC_DM, type LapicIrq, newLapicIrq } from './apic-irq.js';
import { kvmLogicalMapUsable } from './apic-map.js';
import { type ApicBus, KvmIoapic } from './ioapic.js';
import {
  defaultIrqRouting,
  type IrqRoutingTable,
  KVM_IRQ_ROUTING_MSI,
  KVM_IRQCHIP_IOAPIC,
} from './irq-routing.js';
import type { KvmLapic } from './lapic.js';
import { KvmPic } from './pic.js';
import { hostNowNs, KVM_PIT_IRQ_SOURCE_ID, KvmPit } from './pit.js';

/** `KVM_USERSPACE_IRQ_SOURCE_ID`: KVM_IRQ_LINE's source; others (the PIT) get their own bit. */
export const KVM_USERSPACE_IRQ_SOURCE_ID = 0;

export class KvmIrqchip implements ApicBus {
  readonly pic = new KvmPic();
  readonly ioapic: KvmIoapic;
  routing: IrqRoutingTable = defaultIrqRouting();
  /** Every vCPU's local APIC, in creation order (`kvm_for_each_vcpu`). */
  readonly apics: KvmLapic[] = [];
  /**
   * KVM_RUN of a vCPU halted with nothing armed to wake it waits for a kick, as `kvm_vcpu_block`
   * sleeps until a signal (`SoftKvmOptions.haltBlocks`); false: it returns EINTR at once, for a
   * thread that drives several vCPUs in turn and must not sleep in one of them.
   */
  haltBlocks = false;
  /** KVM_CREATE_PIT2's i8254 (`kvm->arch.vpit`), null until then. */
  pit: KvmPit | null = null;
  private readonly msi = newLapicIrq();

  constructor() {
    this.ioapic = new KvmIoapic(this);
  }

  /**
   * KVM_CREATE_PIT2 (`kvm_create_pit`): a reset i8254 on `now` (the host clock, or an icount VM's
   * virtual one), pulsing GSI 0; with `speaker` (KVM_PIT_SPEAKER_DUMMY) it takes port 0x61 too.
   */
  createPit(now: () => number = hostNowNs, speaker = false): KvmPit {
    this.pit = new KvmPit(now, () => {
      this.setIrq(KVM_PIT_IRQ_SOURCE_ID, 0, 1);
      this.setIrq(KVM_PIT_IRQ_SOURCE_ID, 0, 0);
    });
    this.pit.speaker = speaker;
    return this.pit;
  }

  addApic(apic: KvmLapic): void {
    this.apics.push(apic);
  }

  removeApic(apic: KvmLapic): void {
    const i = this.apics.indexOf(apic);
    if (i >= 0) this.apics.splice(i, 1);
  }

  /**
   * `kvm_set_irq`: drive GSI `gsi` to `level` from `sourceId` through every route it has. The
   * sum of the chips' answers that were not negative (delivered counts, 0 coalesced), or -1 when
   * every route ignored it (masked, or no route at all).
   */
  setIrq(sourceId: number, gsi: number, level: number): number {
    const routes = this.routing.get(gsi);
    let ret = -1;
    if (routes === undefined) return ret;
    for (let i = routes.length - 1; i >= 0; i--) {
      const e = routes[i];
      let r: number;
      if (e.type === KVM_IRQ_ROUTING_MSI) {
        r = level ? this.deliverMsi(e.addressLo, e.data) : -1;
      } else if (e.irqchip === KVM_IRQCHIP_IOAPIC) {
        r = this.ioapic.setIrq(e.pin, sourceId, level);
      } else {
        r = this.pic.setIrq(e.pin, sourceId, level);
      }
      if (r < 0) continue;
      ret = r + Math.max(ret, 0);
    }
    return ret;
  }

  /**
   * `kvm_set_msi` (Intel SDM Vol. 3 11.11): address bits 19:12 the destination, bit 2 logical;
   * data bits 7:0 the vector, 10:8 the delivery mode, 15 the trigger mode.
   */
  deliverMsi(addressLo: number, data: number): number {
    const irq = this.msi;
    irq.destId = (addressLo >>> 12) & 0xff;
    irq.destMode = (addressLo >>> 2) & 1;
    irq.vector = data & 0xff;
    irq.deliveryMode = (data >>> 8) & 7;
    irq.trigMode = (data >>> 15) & 1;
    irq.level = 1;
    irq.shorthand = APIC_DEST.NOSHORT;
    return this.deliverToApic(irq);
  }

  /** The I/O APIC's deliveries have no source APIC. */
  deliverToApic(irq: LapicIrq): number {
    return this.deliver(irq, null);
  }

  /**
   * `kvm_irq_delivery_to_apic`: every present APIC the message matches takes it (lowest
   * priority: the first such APIC that is software-enabled). Returns how many accepted, or -1 if
   * none matched. KVM's map-based fast path answers 0 rather than -1 for a physical, non-broadcast
   * destination once the VM has vCPUs, and for a logical one while its map can route logical
   * messages (apic-map.ts; a logical destination 0 included), and the same answers are given here.
   */
  deliver(irq: LapicIrq, src: KvmLapic | null): number {
    if (irq.shorthand === APIC_DEST.SELF && src !== null) {
      return src.acceptIrq(irq.deliveryMode, irq.vector, irq.level, irq.trigMode);
    }
    const broadcast = irq.destId === 0xff || irq.destId === 0xffffffff;
    let r =
      irq.shorthand === APIC_DEST.NOSHORT && irq.destMode === 0 && !broadcast && this.apics.length > 0
        ? 0
        : -1;
    let lowest: KvmLapic | null = null;
    for (const apic of this.apics) {
      if (!apic.hwEnabled) continue;
      if (!apic.matchDest(src, irq.shorthand, irq.destId, irq.destMode)) continue;
      if (irq.deliveryMode === APIC_DM.LOWEST) {
        if (lowest === null && apic.swEnabled) lowest = apic;
        continue;
      }
      if (r < 0) r = 0;
      r += apic.acceptIrq(irq.deliveryMode, irq.vector, irq.level, irq.trigMode);
    }
    if (lowest !== null) r = lowest.acceptIrq(irq.deliveryMode, irq.vector, irq.level, irq.trigMode);
    if (
      r < 0 &&
      irq.destMode === 1 &&
      irq.shorthand === APIC_DEST.NOSHORT &&
      !broadcast &&
      this.apics.length > 0 &&
      kvmLogicalMapUsable(this.apics)
    )
      r = 0;
    return r;
  }

  /** `kvm_ioapic_send_eoi`: an APIC's EOI reaches the I/O APIC if one of its pins uses the vector. */
  eoi(vector: number, level: boolean): void {
    if (this.ioapic.handlesVector(vector)) this.ioapic.updateEoi(vector, level);
  }
}
