/**
 * The ACPI power button (`AcpiPm.powerButton`, the monitor's `system_powerdown`), as QEMU's
 * `acpi_pm1_evt_power_down`: PWRBTN_STS only when the OS set PWRBTN_EN, and the SCI (ISA IRQ 9)
 * held up while a status bit and its enable are both set (ACPI 6.4 4.8.3.1).
 */
import { describe, expect, it } from 'vitest';
import {
  ACPI_PM_BASE,
  ACPI_PM_PORTS,
  ACPI_SCI_IRQ,
  AcpiPm,
  PM1_PWRBTN_EN,
  PM1_PWRBTN_STS,
  PM1A_EVT_PORT,
} from '../../src/devices/acpi-pm.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { IoBus } from '../../src/devices/io-bus.js';

const PM1A_EN_PORT = PM1A_EVT_PORT + 2;

function pm() {
  const lines: [number, number][] = [];
  const dev = new AcpiPm(() => 0, {
    onPowerOff: () => {},
    irq: { setIrq: (irq, level) => lines.push([irq, level]) },
  });
  const bus = new IoBus();
  bus.register(ACPI_PM_BASE, ACPI_PM_PORTS, dev);
  return { dev, bus, lines };
}

describe('the ACPI power button', () => {
  it('is dropped while PWRBTN_EN is clear: no status, no SCI (no ACPI OS to answer it)', () => {
    const { dev, bus, lines } = pm();
    expect(dev.powerButton()).toBe(false);
    expect(bus.ioIn(PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS).toBe(0);
    expect(lines).toEqual([]);
    // Enabling it afterwards finds nothing pending.
    bus.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    expect(dev.sci).toBe(0);
  });

  it('with PWRBTN_EN set, sets PWRBTN_STS and raises the SCI on IRQ 9', () => {
    const { dev, bus, lines } = pm();
    bus.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    expect(dev.powerButton()).toBe(true);
    expect(bus.ioIn(PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS).toBe(PM1_PWRBTN_STS);
    expect(bus.ioIn(PM1A_EVT_PORT, 4) >>> 16).toBe(PM1_PWRBTN_EN);
    expect(dev.sci).toBe(1);
    expect(lines).toEqual([[ACPI_SCI_IRQ, 1]]);
  });

  it('keeps the SCI up (level) until the OS writes 1 to PWRBTN_STS; writing 0 changes nothing', () => {
    const { dev, bus, lines } = pm();
    bus.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    dev.powerButton();
    bus.ioOut(PM1A_EVT_PORT, 2, 0);
    expect(dev.sci).toBe(1);
    bus.ioOut(PM1A_EVT_PORT, 2, PM1_PWRBTN_STS);
    expect(bus.ioIn(PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS).toBe(0);
    expect(dev.sci).toBe(0);
    expect(lines).toEqual([
      [ACPI_SCI_IRQ, 1],
      [ACPI_SCI_IRQ, 0],
    ]);
  });

  it('lowers the SCI when the OS clears PWRBTN_EN (status kept), raises it again when set', () => {
    const { dev, bus } = pm();
    bus.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    dev.powerButton();
    bus.ioOut(PM1A_EN_PORT, 2, 0);
    expect(dev.sci).toBe(0);
    expect(bus.ioIn(PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS).toBe(PM1_PWRBTN_STS);
    // A dword write of the whole event block: status 0 (nothing cleared), enable set again.
    bus.ioOut(PM1A_EVT_PORT, 4, PM1_PWRBTN_EN << 16);
    expect(dev.sci).toBe(1);
  });

  it('a system reset clears status and enable and lowers the SCI', () => {
    const { dev, bus, lines } = pm();
    bus.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    dev.powerButton();
    dev.reset();
    expect(dev.sci).toBe(0);
    expect(lines.at(-1)).toEqual([ACPI_SCI_IRQ, 0]);
    expect(bus.ioIn(PM1A_EVT_PORT, 4)).toBe(0);
  });

  it('reaches a guest through the 8259: IRQ 9 is the slave IR1', () => {
    const pic = new I8259Pair();
    const dev = new AcpiPm(() => 0, { onPowerOff: () => {}, irq: pic });
    for (const [port, v] of [
      [0x20, 0x11],
      [0xa0, 0x11],
      [0x21, 0x08],
      [0xa1, 0x70],
      [0x21, 0x04],
      [0xa1, 0x02],
      [0x21, 0x01],
      [0xa1, 0x01],
      [0x21, 0xfb],
      [0xa1, 0xfd],
    ])
      pic.ioOut(port, 1, v);
    dev.ioOut(PM1A_EN_PORT, 2, PM1_PWRBTN_EN);
    expect(pic.hasInterrupt()).toBe(false);
    dev.powerButton();
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x71);
  });
});
