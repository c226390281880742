import { describe, expect, it } from 'vitest';
import {
  BIOS_PCI_ELCR,
  BIOS_PIC1_IMR,
  BIOS_PIC2_IMR,
  programBiosPic,
  writeBiosDataArea,
} from '../../src/devices/bios-state.js';
import { I8254 } from '../../src/devices/i8254.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { EBDA_START, LEGACY_HOLE_START } from '../../src/machine/memory-map.js';

describe('the state SeaBIOS leaves for a -kernel boot', () => {
  it('IRQ 0 arrives as vector 0x08 and IRQ 8 as 0x70 after the BIOS PIC programming', () => {
    const pic = new I8259Pair();
    programBiosPic(pic);
    pic.setIrq(0, 1);
    expect(pic.acknowledge()).toBe(0x08);
    pic.ioOut(0x20, 1, 0x20); // EOI
    pic.setIrq(8, 1);
    expect(pic.acknowledge()).toBe(0x70);
  });

  it('leaves every line masked but the cascade and the ones SeaBIOS enables (0, 1, 8, 12)', () => {
    const pic = new I8259Pair();
    programBiosPic(pic);
    expect(pic.ioIn(0x21, 1)).toBe(BIOS_PIC1_IMR);
    expect(pic.ioIn(0xa1, 1)).toBe(BIOS_PIC2_IMR);
    expect(BIOS_PIC1_IMR).toBe(0xf8);
    expect(BIOS_PIC2_IMR).toBe(0xee);
    pic.setIrq(4, 1); // the UART's line: masked until the guest opens it
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('with a PCI bus, sets the ELCR for IRQs 10 and 11 (level), as piix_isa_bridge_setup does', () => {
    const pic = new I8259Pair();
    programBiosPic(pic, BIOS_PCI_ELCR);
    expect(pic.ioIn(0x4d0, 1)).toBe(0x00);
    expect(pic.ioIn(0x4d1, 1)).toBe(0x0c);
    const plain = new I8259Pair();
    programBiosPic(plain);
    expect(plain.ioIn(0x4d1, 1)).toBe(0x00);
  });

  it('a PCI line held high past its EOI interrupts again only when the ELCR made it level', () => {
    const take = (elcr: number): number[] => {
      const pic = new I8259Pair();
      programBiosPic(pic, elcr);
      pic.ioOut(0xa1, 1, BIOS_PIC2_IMR & ~(1 << 3)); // the guest's driver opens IRQ 11
      pic.setIrq(11, 1);
      const vectors = [pic.acknowledge()];
      pic.ioOut(0xa0, 1, 0x20); // EOI, slave then master; the device still holds INTx
      pic.ioOut(0x20, 1, 0x20);
      vectors.push(pic.hasInterrupt() ? pic.acknowledge() : -1);
      return vectors;
    };
    expect(take(BIOS_PCI_ELCR)).toEqual([0x73, 0x73]);
    // Edge-triggered (no ELCR), the still-high line is lost: why SeaBIOS sets it.
    expect(take(0)).toEqual([0x73, -1]);
  });

  it('an unprogrammed PIC (no BIOS) would deliver IRQ 0 as vector 0: the bug this fixes', () => {
    const pic = new I8259Pair();
    pic.setIrq(0, 1);
    expect(pic.hasInterrupt() ? pic.acknowledge() : -1).not.toBe(0x08);
  });

  it('PIT channel 0 counts 65536 in mode 3 (18.2 Hz), as SeaBIOS pit_setup leaves it', () => {
    let now = 0;
    const irqs: number[] = [];
    const pit = new I8254(() => now, { setIrq: (irq, level) => level && irqs.push(irq) });
    pit.ioOut(0x43, 1, 0xe2); // read-back: status of channel 0
    const status = pit.ioIn(0x40, 1);
    expect((status >> 1) & 7).toBe(3); // mode 3
    expect((status >> 4) & 3).toBe(3); // lobyte/hibyte
    // One period is 65536 / 1193182 Hz = 54.925 ms.
    expect(pit.nextDeadline()).toBeGreaterThan(54.9e6);
    expect(pit.nextDeadline()).toBeLessThan(55.0e6);
    now = 200e6;
    pit.poll(now);
    expect(irqs[0]).toBe(0);
  });

  it('writes the BDA: COM1 at 0x400, EBDA segment at 0x40E, 639 KiB at 0x413, the EBDA size', () => {
    const ram = new Uint8Array(0x100000).fill(0xaa);
    writeBiosDataArea(ram, EBDA_START, LEGACY_HOLE_START);
    const dv = new DataView(ram.buffer);
    expect(dv.getUint16(0x400, true)).toBe(0x3f8);
    expect(dv.getUint16(0x402, true)).toBe(0); // no COM2
    expect(dv.getUint16(0x408, true)).toBe(0); // no LPT1
    expect(dv.getUint16(0x40e, true)).toBe(0x9fc0);
    expect((dv.getUint16(0x410, true) >> 9) & 7).toBe(1); // one serial port
    expect(dv.getUint16(0x413, true)).toBe(639);
    expect(ram[0x9fc00]).toBe(1); // EBDA size in KiB
    expect(ram[0x3ff]).toBe(0xaa); // the IVT is not touched
  });
});
