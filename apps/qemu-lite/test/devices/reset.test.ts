/**
 * System reset of each device (`reset()`, what a guest reset does through `IoBus.reset`): after
 * the guest has programmed it, a reset device answers every register read as a new one does,
 * except the CMOS, whose clock and NVRAM are battery-backed.
 */
import { describe, expect, it } from 'vitest';
import { Cmos } from '../../src/devices/cmos.js';
import { FW_CFG_PORT_DATA, FW_CFG_PORT_SEL, FwCfg } from '../../src/devices/fw-cfg.js';
import { I8042 } from '../../src/devices/i8042.js';
import { I8254, SystemControlPortB } from '../../src/devices/i8254.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { IoBus } from '../../src/devices/io-bus.js';
import { Serial16550 } from '../../src/devices/serial.js';
import { SystemControlPortA } from '../../src/devices/system-port-a.js';
import type { IrqSink, PortIoDevice } from '../../src/devices/types.js';

class Lines implements IrqSink {
  readonly levels = new Map<number, number>();
  setIrq(irq: number, level: number): void {
    this.levels.set(irq, level);
  }
}

/** Reads `ports` in order (reads have side effects, so both devices see the same sequence). */
const readAll = (d: PortIoDevice, ports: number[]): number[] => ports.map((p) => d.ioIn(p, 1));

describe('device reset', () => {
  it('UART: registers, FIFO and the interrupt line back to power-on', () => {
    const lines = new Lines();
    const uart = new Serial16550(lines, () => {});
    uart.ioOut(0x3fb, 1, 0x83); // DLAB, 8N1
    uart.ioOut(0x3f8, 1, 0x01); // divisor 115200
    uart.ioOut(0x3fb, 1, 0x03);
    uart.ioOut(0x3f9, 1, 0x03); // RDI | THRI
    uart.ioOut(0x3fa, 1, 0xc7); // FIFO on
    uart.ioOut(0x3fc, 1, 0x0b); // DTR, RTS, OUT2
    uart.ioOut(0x3ff, 1, 0x5a);
    uart.receive(0x41);
    expect(lines.levels.get(4)).toBe(1);
    uart.reset();
    expect(lines.levels.get(4)).toBe(0);
    const ports = [0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x3f8];
    expect(readAll(uart, ports)).toEqual(readAll(new Serial16550(new Lines(), () => {}), ports));
    uart.ioOut(0x3fb, 1, 0x80);
    expect(uart.ioIn(0x3f8, 1)).toBe(0x0c); // the divisor a BIOS leaves
  });

  it('PIC pair: waits for ICW1 with IMR, IRR, ISR and ELCR cleared; INTR deasserted', () => {
    const pic = new I8259Pair();
    for (const [port, value] of [
      [0x20, 0x11],
      [0x21, 0x20],
      [0x21, 0x04],
      [0x21, 0x01],
      [0x21, 0xfa],
      [0x4d0, 0x20],
    ])
      pic.ioOut(port, 1, value);
    pic.setIrq(0, 1);
    expect(pic.hasInterrupt()).toBe(true);
    pic.reset();
    expect(pic.hasInterrupt()).toBe(false);
    const ports = [0x21, 0xa1, 0x20, 0xa0, 0x4d0, 0x4d1];
    expect(readAll(pic, ports)).toEqual(readAll(new I8259Pair(), ports));
    expect(pic.master.vectorBase).toBe(0);
  });

  it('PIT: channel 0 back in mode 3 counting 65536 from the reset, port 0x61 cleared', () => {
    let now = 1_000_000;
    const clock = () => now;
    const lines = new Lines();
    const pit = new I8254(clock, lines);
    const portB = new SystemControlPortB(pit, clock);
    pit.ioOut(0x43, 1, 0x34); // ch0 mode 2
    pit.ioOut(0x40, 1, 100);
    pit.ioOut(0x40, 1, 0);
    portB.ioOut(0x61, 1, 0x03);
    now += 5_000_000;
    pit.reset();
    portB.reset();
    const fresh = new I8254(clock, new Lines());
    expect(pit.nextDeadline()).toBe(fresh.nextDeadline());
    expect(pit.channels[0].mode).toBe(3);
    expect(pit.channels[2].gate).toBe(false);
    expect(portB.ioIn(0x61, 1) & 0x03).toBe(0);
  });

  it('i8042: output buffer emptied, command byte and IRQ 1 back to power-on', () => {
    const lines = new Lines();
    const kbc = new I8042(lines, () => {});
    kbc.ioOut(0x64, 1, 0x60);
    kbc.ioOut(0x60, 1, 0x03); // command byte: both interrupts, no SYS, no XLATE
    kbc.ioOut(0x64, 1, 0xaa); // self test: 0x55 waiting, IRQ 1 raised
    expect(lines.levels.get(1)).toBe(1);
    kbc.reset();
    expect(lines.levels.get(1)).toBe(0);
    const fresh = new I8042(new Lines(), () => {});
    expect(kbc.ioIn(0x64, 1)).toBe(fresh.ioIn(0x64, 1));
    kbc.ioOut(0x64, 1, 0x20);
    fresh.ioOut(0x64, 1, 0x20);
    expect(kbc.ioIn(0x60, 1)).toBe(fresh.ioIn(0x60, 1));
  });

  it('CMOS: keeps the time the guest set and its NVRAM; clears interrupt enables and flags', () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const cmos = new Cmos(64 << 20, () => now);
    const write = (reg: number, v: number) => {
      cmos.ioOut(0x70, 1, reg);
      cmos.ioOut(0x71, 1, v);
    };
    const read = (reg: number) => {
      cmos.ioOut(0x70, 1, reg);
      return cmos.ioIn(0x71, 1);
    };
    write(0x04, 0x08); // hours 08 (BCD): the guest moved its clock
    write(0x40, 0x99); // NVRAM
    write(0x0b, 0x72); // PIE | AIE | UIE, 24 h
    now += 1000;
    cmos.reset();
    expect(read(0x04)).toBe(0x08);
    expect(read(0x40)).toBe(0x99);
    expect(read(0x0b)).toBe(0x02);
    expect(read(0x0c)).toBe(0);
  });

  it('fw_cfg: the selection is dropped; port 0x92 reads A20 set and no reset', () => {
    const fw = new FwCfg({ ramSize: 1 << 20, cpus: 1, cmdline: '', nographic: true });
    fw.ioOut(FW_CFG_PORT_SEL, 2, 0x0000);
    expect(fw.ioIn(FW_CFG_PORT_DATA, 1)).toBe(0x51); // 'Q'
    fw.reset();
    expect(fw.ioIn(FW_CFG_PORT_DATA, 1)).toBe(0);
    const portA = new SystemControlPortA(() => {});
    portA.ioOut(0x92, 1, 0x00);
    portA.reset();
    expect(portA.ioIn(0x92, 1)).toBe(0x02);
  });

  it('IoBus.reset resets every device once, in registration order', () => {
    const order: string[] = [];
    const device = (name: string): PortIoDevice => ({
      name,
      ioIn: () => 0,
      ioOut: () => {},
      reset: () => order.push(name),
    });
    const bus = new IoBus();
    const pic = device('pic');
    bus.register(0x20, 2, pic);
    bus.register(0xa0, 2, pic);
    bus.register(0x3f8, 8, device('uart'));
    bus.register(0x80, 1, { name: 'stateless', ioIn: () => 0, ioOut: () => {} });
    bus.reset();
    expect(order).toEqual(['pic', 'uart']);
  });
});
