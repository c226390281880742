import { describe, expect, it } from 'vitest';
import { Serial16550 } from '../../src/devices/serial.js';
import type { IrqSink } from '../../src/devices/types.js';

class Line implements IrqSink {
  level = 0;
  edges = 0;
  setIrq(irq: number, level: number): void {
    expect(irq).toBe(4);
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}

function setup() {
  const line = new Line();
  const out: number[] = [];
  const uart = new Serial16550(line, (b) => out.push(b));
  return { line, out, uart };
}

describe('16550 UART', () => {
  it('transmits THR writes to the output and stays ready (LSR THRE|TEMT)', () => {
    const { out, uart } = setup();
    for (const c of 'hi\n') uart.ioOut(0x3f8, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(uart.ioIn(0x3fd, 1) & 0x60).toBe(0x60);
  });

  it('switches RBR/THR and IER to the divisor latch while LCR.DLAB is set', () => {
    const { out, uart } = setup();
    uart.ioOut(0x3fb, 1, 0x80);
    uart.ioOut(0x3f8, 1, 0x01);
    uart.ioOut(0x3f9, 1, 0x00);
    expect(uart.ioIn(0x3f8, 1)).toBe(0x01);
    uart.ioOut(0x3fb, 1, 0x03);
    expect(out).toEqual([]);
    expect(uart.ioIn(0x3f9, 1)).toBe(0); // IER untouched
    expect(uart.ioIn(0x3fb, 1)).toBe(0x03);
  });

  it('passes the Linux autoconfig loopback test (MCR LOOP|OUT2|RTS reads MSR 0x90)', () => {
    const { out, uart } = setup();
    uart.ioOut(0x3fc, 1, 0x10 | 0x0a);
    expect(uart.ioIn(0x3fe, 1) & 0xf0).toBe(0x90);
    uart.ioOut(0x3f8, 1, 0x41); // loops back into the receiver
    expect(out).toEqual([]);
    expect(uart.ioIn(0x3fd, 1) & 0x01).toBe(1);
    expect(uart.ioIn(0x3f8, 1)).toBe(0x41);
  });

  it('reports a 16550A FIFO in IIR bits 7:6 once FCR enables it', () => {
    const { uart } = setup();
    expect(uart.ioIn(0x3fa, 1) & 0xc0).toBe(0);
    uart.ioOut(0x3fa, 1, 0x01);
    expect(uart.ioIn(0x3fa, 1) & 0xc0).toBe(0xc0);
  });

  it('raises IRQ 4 for received data when enabled and gated by OUT2', () => {
    const { line, uart } = setup();
    uart.ioOut(0x3fc, 1, 0x00); // OUT2 low: no interrupt to the bus
    uart.ioOut(0x3f9, 1, 0x01);
    uart.receive(0x61);
    expect(line.level).toBe(0);
    uart.ioOut(0x3fc, 1, 0x08);
    expect(line.level).toBe(1);
    expect(uart.ioIn(0x3fa, 1) & 0x0f).toBe(0x04);
    expect(uart.ioIn(0x3f8, 1)).toBe(0x61);
    expect(line.level).toBe(0);
    expect(uart.ioIn(0x3fa, 1) & 0x0f).toBe(0x01);
  });

  it('raises THRE on enabling ETBEI, clears it on an IIR read, re-raises after each THR write', () => {
    const { line, uart } = setup();
    uart.ioOut(0x3f9, 1, 0x02);
    expect(line.level).toBe(1);
    expect(uart.ioIn(0x3fa, 1) & 0x0f).toBe(0x02);
    expect(line.level).toBe(0);
    const edges = line.edges;
    uart.ioOut(0x3f8, 1, 0x41);
    expect(line.level).toBe(1);
    expect(line.edges).toBe(edges + 1);
  });

  it('overflows the 16-byte FIFO into LSR.OE, cleared by reading LSR', () => {
    const { uart } = setup();
    for (let i = 0; i < 17; i++) uart.receive(i);
    expect(uart.ioIn(0x3fd, 1) & 0x03).toBe(0x03);
    expect(uart.ioIn(0x3fd, 1) & 0x02).toBe(0);
    const got: number[] = [];
    while (uart.ioIn(0x3fd, 1) & 1) got.push(uart.ioIn(0x3f8, 1));
    expect(got).toEqual([...Array(16).keys()]);
  });

  it('keeps the scratch register', () => {
    const { uart } = setup();
    uart.ioOut(0x3ff, 1, 0x5a);
    expect(uart.ioIn(0x3ff, 1)).toBe(0x5a);
  });
});
