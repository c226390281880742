import { describe, expect, it } from 'vitest';
import {
  ACPI_PM_BASE,
  ACPI_PM_PORTS,
  AcpiPm,
  PM_TMR_PORT,
  PM1_SCI_EN,
  PM1_SLP_EN,
  PM1_TMR_STS,
  PM1A_CNT_PORT,
  PM1A_EVT_PORT,
} from '../../src/devices/acpi-pm.js';
import { IoBus } from '../../src/devices/io-bus.js';
import { RESET_CONTROL_PORT, ResetControl } from '../../src/devices/reset-control.js';

function pm(timerBits?: 24 | 32) {
  let now = 5e9; // the machine powered on at host time 5 s
  let powerOffs = 0;
  const dev = new AcpiPm(() => now, { timerBits, onPowerOff: () => powerOffs++ });
  const bus = new IoBus();
  bus.register(ACPI_PM_BASE, ACPI_PM_PORTS, dev);
  return {
    dev,
    bus,
    advance: (ns: number) => {
      now += ns;
    },
    powerOffs: () => powerOffs,
  };
}

describe('ACPI PM timer', () => {
  it('counts 3.579545 MHz from power-on', () => {
    const m = pm();
    expect(m.bus.ioIn(PM_TMR_PORT, 4)).toBe(0);
    m.advance(1e9);
    expect(m.bus.ioIn(PM_TMR_PORT, 4)).toBe(3_579_545);
    m.advance(1000); // 1 µs is 3.58 ticks
    expect(m.bus.ioIn(PM_TMR_PORT, 4)).toBe(3_579_548);
  });

  it('stays exact after days of host time (no precision lost in the product)', () => {
    const m = pm();
    m.advance(86_400e9 * 3 + 7);
    const ticks = 86_400 * 3 * 3_579_545 + Math.floor((7 * 3_579_545) / 1e9);
    expect(m.bus.ioIn(PM_TMR_PORT, 4)).toBe(ticks % 2 ** 32);
  });

  it('wraps at 2^32, or at 2^24 when the FADT says 24 bits', () => {
    const wide = pm(32);
    const narrow = pm(24);
    const ns = 2000e9; // 7,159,090,000 ticks
    wide.advance(ns);
    narrow.advance(ns);
    expect(wide.bus.ioIn(PM_TMR_PORT, 4)).toBe(7_159_090_000 % 2 ** 32);
    expect(narrow.bus.ioIn(PM_TMR_PORT, 4)).toBe(7_159_090_000 % 2 ** 24);
  });

  it('sets TMR_STS when the top bit toggles; writing 1 clears it', () => {
    const m = pm(24);
    expect(m.bus.ioIn(PM1A_EVT_PORT, 2) & PM1_TMR_STS).toBe(0);
    m.advance(Math.ceil((2 ** 23 / 3_579_545) * 1e9));
    expect(m.bus.ioIn(PM1A_EVT_PORT, 2) & PM1_TMR_STS).toBe(PM1_TMR_STS);
    m.bus.ioOut(PM1A_EVT_PORT, 2, PM1_TMR_STS);
    expect(m.bus.ioIn(PM1A_EVT_PORT, 2) & PM1_TMR_STS).toBe(0);
  });

  it('restarts from 0 at a system reset', () => {
    const m = pm();
    m.advance(1e9);
    m.bus.reset();
    expect(m.bus.ioIn(PM_TMR_PORT, 4)).toBe(0);
  });
});

describe('ACPI PM1a control', () => {
  it('reads SCI_EN set (always in ACPI mode) and never SLP_EN', () => {
    const m = pm();
    expect(m.bus.ioIn(PM1A_CNT_PORT, 2)).toBe(PM1_SCI_EN);
    m.bus.ioOut(PM1A_CNT_PORT, 2, 5 << 10);
    expect(m.bus.ioIn(PM1A_CNT_PORT, 2)).toBe((5 << 10) | PM1_SCI_EN);
  });

  it('powers off on SLP_EN with S5 SLP_TYP (0), as the DSDT says', () => {
    const m = pm();
    m.bus.ioOut(PM1A_CNT_PORT, 2, (0 << 10) | PM1_SLP_EN);
    expect(m.powerOffs()).toBe(1);
    expect(m.bus.ioIn(PM1A_CNT_PORT, 2) & PM1_SLP_EN).toBe(0);
  });

  it('ignores SLP_EN with a sleep type the DSDT does not offer, and SLP_TYP without SLP_EN', () => {
    const m = pm();
    m.bus.ioOut(PM1A_CNT_PORT, 2, (1 << 10) | PM1_SLP_EN);
    m.bus.ioOut(PM1A_CNT_PORT, 2, 0);
    expect(m.powerOffs()).toBe(0);
  });

  it('takes SLP_EN through a byte write to the high byte, as an OS may write it', () => {
    const m = pm();
    m.bus.ioOut(PM1A_CNT_PORT + 1, 1, PM1_SLP_EN >> 8);
    expect(m.powerOffs()).toBe(1);
  });

  it('keeps PM1_EN as written and reads it at the upper half of the event block', () => {
    const m = pm();
    m.bus.ioOut(PM1A_EVT_PORT + 2, 2, 0x0120);
    expect(m.bus.ioIn(PM1A_EVT_PORT + 2, 2)).toBe(0x0120);
    expect(m.bus.ioIn(PM1A_EVT_PORT, 4) >>> 16).toBe(0x0120);
  });
});

describe('reset control (0xcf9)', () => {
  it('resets on RST_CPU and keeps SYS_RST otherwise, as PIIX', () => {
    let resets = 0;
    const dev = new ResetControl(() => resets++);
    dev.ioOut(RESET_CONTROL_PORT, 1, 0x02);
    expect(resets).toBe(0);
    expect(dev.ioIn(RESET_CONTROL_PORT, 1)).toBe(0x02);
    dev.ioOut(RESET_CONTROL_PORT, 1, 0x06);
    expect(resets).toBe(1);
    expect(dev.ioIn(RESET_CONTROL_PORT, 1)).toBe(0);
  });
});
