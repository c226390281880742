/**
 * The I/O APIC (82093AA datasheet) and the 8259 pair (8259A datasheet, KVM's i8259.c): what a
 * guest programs through their registers and what reaches the APIC bus or INTR.
 */
import { describe, expect, it } from 'vitest';
import type { LapicIrq } from '../../../src/soft/irqchip/apic-irq.js';
import { KvmIoapic } from '../../../src/soft/irqchip/ioapic.js';
import { KvmIrqchip } from '../../../src/soft/irqchip/irqchip.js';
import { KvmPic } from '../../../src/soft/irqchip/pic.js';

class Bus {
  got: LapicIrq[] = [];
  answer = 1;
  deliverToApic(irq: LapicIrq): number {
    this.got.push({ ...irq });
    return this.answer;
  }
}

function write32(io: KvmIoapic, off: number, v: number): void {
  io.mmioWrite(0xfec00000 + off, new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]));
}

function read32(io: KvmIoapic, off: number): number {
  const b = new Uint8Array(4);
  io.mmioRead(0xfec00000 + off, b);
  return new DataView(b.buffer).getUint32(0, true);
}

/** Programs pin `pin`'s redirection entry through IOREGSEL/IOWIN. */
function program(io: KvmIoapic, pin: number, lo: number, hi = 0): void {
  write32(io, 0, 0x10 + 2 * pin + 1);
  write32(io, 0x10, hi);
  write32(io, 0, 0x10 + 2 * pin);
  write32(io, 0x10, lo);
}

describe('I/O APIC', () => {
  it('reads its version (0x11, 24 entries) and ID through IOREGSEL/IOWIN', () => {
    const io = new KvmIoapic(new Bus());
    write32(io, 0, 1);
    expect(read32(io, 0x10)).toBe(0x170011);
    write32(io, 0, 0);
    write32(io, 0x10, 0x0a000000);
    expect(read32(io, 0x10)).toBe(0x0a000000);
    write32(io, 0, 0x10 + 2 * 30);
    expect(read32(io, 0x10)).toBe(0xffffffff);
  });

  it('delivers an edge once per rising edge, never while masked (coalesced instead)', () => {
    const bus = new Bus();
    const io = new KvmIoapic(bus);
    expect(io.setIrq(3, 0, 1)).toBe(-1); // masked at reset
    program(io, 3, 0x31, 0x01000000);
    // The edge that came while masked stays latched in IRR: raising the line again is coalesced.
    expect(io.setIrq(3, 0, 1)).toBe(0);
    expect(bus.got).toEqual([]);
    expect(io.setIrq(3, 0, 0)).toBe(1);
    expect(io.setIrq(3, 0, 1)).toBe(1);
    expect(bus.got).toEqual([
      { vector: 0x31, deliveryMode: 0, destMode: 0, level: 1, trigMode: 0, shorthand: 0, destId: 1 },
    ]);
    expect(io.setIrq(3, 0, 1)).toBe(0); // no new edge
    expect(io.setIrq(3, 0, 0)).toBe(1);
    expect(io.setIrq(3, 0, 1)).toBe(1);
    expect(bus.got.length).toBe(2);
  });

  it('sets remote IRR on a level delivery and re-delivers on EOI while the line stays high', () => {
    const bus = new Bus();
    const io = new KvmIoapic(bus);
    program(io, 9, 0x8039); // level, vector 0x39
    expect(io.setIrq(9, 0, 1)).toBe(1);
    write32(io, 0, 0x10 + 18);
    expect(read32(io, 0x10) & 0x4000).toBe(0x4000);
    // Remote IRR blocks further deliveries of the still-asserted line.
    expect(io.setIrq(9, 0, 1)).toBe(-1);
    expect(bus.got.length).toBe(1);
    io.updateEoi(0x39, true);
    expect(bus.got.length).toBe(2);
    io.setIrq(9, 0, 0);
    io.updateEoi(0x39, true);
    expect(bus.got.length).toBe(2);
    expect(read32(io, 0x10) & 0x4000).toBe(0);
  });

  it('keeps remote IRR and delivery status read-only, and clears remote IRR when made edge', () => {
    const bus = new Bus();
    const io = new KvmIoapic(bus);
    program(io, 2, 0x8030);
    io.setIrq(2, 0, 1);
    write32(io, 0, 0x14);
    write32(io, 0x10, 0x8030 & ~0x4000);
    expect(read32(io, 0x10)).toBe(0xc030);
    write32(io, 0x10, 0x0030);
    expect(read32(io, 0x10)).toBe(0x0030);
  });

  it('hides delivered edges from KVM_GET_IRQCHIP and re-raises IRR pins on KVM_SET_IRQCHIP', () => {
    const bus = new Bus();
    const io = new KvmIoapic(bus);
    program(io, 4, 0x44);
    io.setIrq(4, 0, 1);
    io.setIrq(6, 0, 1); // masked: stays in IRR
    const state = new Uint8Array(216);
    io.save(state, 0);
    expect(new DataView(state.buffer).getUint32(16, true)).toBe(1 << 6);
    const other = new KvmIoapic(bus);
    new DataView(state.buffer).setUint32(16, (1 << 4) | (1 << 6), true);
    other.load(state, 0);
    expect(bus.got.length).toBe(2);
  });
});

describe('8259 pair', () => {
  /** ICW1–4 as a BIOS does: vectors 0x08 / 0x70, cascade on IRQ 2. */
  function initPic(pic: KvmPic): void {
    for (const [port, v] of [
      [0x20, 0x11],
      [0x21, 0x08],
      [0x21, 0x04],
      [0x21, 0x01],
      [0xa0, 0x11],
      [0xa1, 0x70],
      [0xa1, 0x02],
      [0xa1, 0x01],
    ])
      pic.write(port, 1, v);
  }

  it('raises INTR for an unmasked edge and answers INTA with the programmed vector', () => {
    const pic = new KvmPic();
    initPic(pic);
    expect(pic.setIrq(1, 0, 1)).toBe(1);
    expect(pic.output).toBe(true);
    expect(pic.readIrq()).toBe(0x09);
    expect(pic.output).toBe(false);
    pic.write(0x20, 1, 0x0b); // OCW3: read ISR
    expect(pic.read(0x20, 1)).toBe(0x02);
    pic.write(0x20, 1, 0x20); // non-specific EOI
    expect(pic.read(0x20, 1)).toBe(0);
  });

  it('cascades the slave through master IRQ 2', () => {
    const pic = new KvmPic();
    initPic(pic);
    pic.setIrq(12, 0, 1);
    expect(pic.output).toBe(true);
    expect(pic.readIrq()).toBe(0x74);
  });

  it('masks through OCW1 (-1) and keeps level-triggered requests (ELCR) in IRR after INTA', () => {
    const pic = new KvmPic();
    initPic(pic);
    pic.write(0x21, 1, 0x08);
    expect(pic.setIrq(3, 0, 1)).toBe(-1);
    expect(pic.output).toBe(false);
    pic.write(0x4d0, 1, 0xff);
    expect(pic.read(0x4d0, 1)).toBe(0xf8); // only IRQ 3–7 may be level on the master
    pic.setIrq(5, 0, 1);
    expect(pic.readIrq()).toBe(0x0d);
    expect(pic.read(0x20, 1) & 0x20).toBe(0x20); // IRR still set
  });
});

describe('GSI routing through the irqchip', () => {
  it('sends an MSI to the APIC bus from a routed GSI and refuses routes Linux refuses', () => {
    const chip = new KvmIrqchip();
    // No APICs: an MSI reaches nobody.
    expect(chip.deliverMsi(0xfee00000, 0x30)).toBe(-1);
    expect(chip.setIrq(0, 30, 1)).toBe(-1);
  });
});
