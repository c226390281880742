import { describe, expect, it } from 'vitest';
import { I8259Pair } from '../../src/devices/i8259.js';

/** Linux's init_8259A sequence: master at 0x30, slave at 0x38, cascade on IR2, 8086 mode. */
function initLikeLinux(pic: I8259Pair, masterBase = 0x30, slaveBase = 0x38): void {
  pic.ioOut(0x21, 1, 0xff);
  pic.ioOut(0xa1, 1, 0xff);
  pic.ioOut(0x20, 1, 0x11); // ICW1: edge, cascade, ICW4
  pic.ioOut(0x21, 1, masterBase); // ICW2
  pic.ioOut(0x21, 1, 0x04); // ICW3: slave on IR2
  pic.ioOut(0x21, 1, 0x01); // ICW4: 8086
  pic.ioOut(0xa0, 1, 0x11);
  pic.ioOut(0xa1, 1, slaveBase);
  pic.ioOut(0xa1, 1, 0x02);
  pic.ioOut(0xa1, 1, 0x01);
  pic.ioOut(0x21, 1, 0x00); // unmask all
  pic.ioOut(0xa1, 1, 0x00);
}

describe('i8259 pair', () => {
  it('delivers the ICW2 vector base plus the line after the init sequence', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(4, 1);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x34);
    // In service and not yet EOI'd: IR4 does not fire again, the ISR shows it.
    expect(pic.hasInterrupt()).toBe(false);
    pic.ioOut(0x20, 1, 0x0b); // OCW3: read ISR
    expect(pic.ioIn(0x20, 1)).toBe(0x10);
  });

  it('latches edges: a line held high requests once, a new edge requests again', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.setIrq(0, 1);
    expect(pic.acknowledge()).toBe(0x30);
    pic.ioOut(0x20, 1, 0x20); // non-specific EOI
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, 1); // still high: no new edge
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, 0);
    pic.setIrq(0, 1);
    expect(pic.hasInterrupt()).toBe(true);
  });

  it('orders by priority and nests: a higher line preempts, a lower waits for EOI', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.setIrq(3, 1);
    pic.setIrq(1, 1);
    expect(pic.acknowledge()).toBe(0x31);
    expect(pic.hasInterrupt()).toBe(false); // IR3 is lower than the in-service IR1
    pic.setIrq(0, 1);
    expect(pic.acknowledge()).toBe(0x30); // IR0 preempts IR1
    pic.ioOut(0x20, 1, 0x20); // EOI clears the highest in service: IR0
    expect(pic.hasInterrupt()).toBe(false);
    pic.ioOut(0x20, 1, 0x61); // specific EOI for IR1
    expect(pic.acknowledge()).toBe(0x33);
  });

  it('masks through OCW1 and keeps the request pending in IRR', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.ioOut(0x21, 1, 0x10);
    expect(pic.ioIn(0x21, 1)).toBe(0x10);
    pic.setIrq(4, 1);
    expect(pic.hasInterrupt()).toBe(false);
    pic.ioOut(0x20, 1, 0x0a); // OCW3: read IRR
    expect(pic.ioIn(0x20, 1)).toBe(0x10);
    pic.ioOut(0x21, 1, 0x00);
    expect(pic.acknowledge()).toBe(0x34);
  });

  it('cascades slave lines through master IR2 and needs EOI on both chips', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.setIrq(12, 1);
    expect(pic.acknowledge()).toBe(0x3c);
    pic.setIrq(14, 1);
    expect(pic.hasInterrupt()).toBe(false);
    pic.ioOut(0xa0, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(false); // master IR2 still in service
    pic.ioOut(0x20, 1, 0x20);
    expect(pic.acknowledge()).toBe(0x3e);
  });

  it('returns the spurious IR7 vector when the request vanished before INTA', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    expect(pic.acknowledge()).toBe(0x37);
    pic.ioOut(0x20, 1, 0x0b);
    expect(pic.ioIn(0x20, 1)).toBe(0); // spurious IR7 does not set ISR
  });

  it('auto-EOI mode leaves nothing in service', () => {
    const pic = new I8259Pair();
    pic.ioOut(0x20, 1, 0x13); // ICW1: single, ICW4
    pic.ioOut(0x21, 1, 0x40);
    pic.ioOut(0x21, 1, 0x03); // ICW4: auto EOI, 8086
    pic.ioOut(0x21, 1, 0x00);
    pic.setIrq(5, 1);
    expect(pic.acknowledge()).toBe(0x45);
    pic.setIrq(5, 0);
    pic.setIrq(5, 1);
    expect(pic.acknowledge()).toBe(0x45);
  });

  it('rotates priority on rotate-on-non-specific-EOI', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.setIrq(0, 1);
    pic.setIrq(1, 1);
    expect(pic.acknowledge()).toBe(0x30);
    pic.ioOut(0x20, 1, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest
    pic.setIrq(0, 0);
    pic.setIrq(0, 1);
    expect(pic.acknowledge()).toBe(0x31); // IR1 now outranks IR0
  });

  it('answers poll mode with the line and acknowledges it', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.setIrq(6, 1);
    pic.ioOut(0x20, 1, 0x0c); // OCW3: poll
    expect(pic.ioIn(0x20, 1)).toBe(0x86);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('level-triggers lines set in ELCR, within the chipset mask', () => {
    const pic = new I8259Pair();
    initLikeLinux(pic);
    pic.ioOut(0x4d1, 1, 0xff);
    expect(pic.ioIn(0x4d1, 1)).toBe(0xde);
    pic.setIrq(9, 1);
    expect(pic.acknowledge()).toBe(0x39);
    pic.ioOut(0xa0, 1, 0x20);
    pic.ioOut(0x20, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(true); // still high: requests again
    pic.setIrq(9, 0);
    // The master latched the cascade edge; the slave's request is gone: a spurious IR15, as on
    // real hardware (and why Linux counts spurious slave interrupts).
    expect(pic.acknowledge()).toBe(0x3f);
    expect(pic.hasInterrupt()).toBe(false);
  });
});
