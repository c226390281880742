/**
 * ACPI fixed-hardware power management registers, at the ports of QEMU's PIIX4 PM function
 * (base 0x600), which the FADT points to (ACPI 6.4 4.8):
 *
 *   0x600  PM1a_STS (2)  status, write 1 to clear (4.8.3.1.1)
 *   0x602  PM1a_EN  (2)  enables
 *   0x604  PM1a_CNT (2)  SCI_EN (bit 0, always set: SMI_CMD is 0), SLP_TYP (12:10), SLP_EN (13)
 *   0x608  PM_TMR   (4)  3.579545 MHz free-running counter, 24 or 32 bits (4.8.3.3)
 *
 * Writing SLP_EN with S5's SLP_TYP (0, as the DSDT's \_S5 says) powers the machine off, as
 * QEMU's `acpi_pm1_cnt_write` does; other sleep types (S1–S4) are not offered by the DSDT and
 * are ignored. The timer counts host time from the machine's power-on; TMR_STS is set when the
 * timer's top bit has toggled since it was last cleared, which is what polling OSes read.
 *
 * The power button (`powerButton`, the monitor's `system_powerdown`) is QEMU's
 * `acpi_pm1_evt_power_down`: when the OS has set PWRBTN_EN it sets PWRBTN_STS, and the SCI (ISA
 * IRQ 9, level, active high as the FADT and the MADT say) is held up for as long as some status
 * bit and its enable are both set (QEMU `acpi_pm1_evt_get_sts` / `acpi_update_sci`, ACPI 6.4
 * 4.8.3.1); the OS's write of 1 to PWRBTN_STS, or its clearing of PWRBTN_EN, lowers it. With the
 * button's enable clear (no ACPI OS yet) the press is dropped, as on QEMU. TMR_STS only counts
 * towards the SCI when the OS reads the status (no host timer watches the top bit: no OS we run
 * sets TMR_EN).
 */
import type { Clock, IrqSink, PortIoDevice } from './types.js';

export const ACPI_PM_BASE = 0x600;
export const PM1A_EVT_PORT = ACPI_PM_BASE;
export const PM1A_CNT_PORT = ACPI_PM_BASE + 4;
export const PM_TMR_PORT = ACPI_PM_BASE + 8;
/** Ports from the base that the device claims: PM1a_EVT (4), PM1a_CNT (2), pad (2), PM_TMR (4). */
export const ACPI_PM_PORTS = 12;
/** The SCI's ISA IRQ (QEMU's pc machine), named in the FADT and MADT. */
export const ACPI_SCI_IRQ = 9;
/** The PM timer's frequency (ACPI 6.4 4.8.3.3). */
export const PM_TIMER_HZ = 3_579_545;

/** PM1 status bits (ACPI 6.4 Table 4.16). */
export const PM1_TMR_STS = 1 << 0;
export const PM1_PWRBTN_STS = 1 << 8;
export const PM1_WAK_STS = 1 << 15;
/** PM1 enable bits (ACPI 6.4 Table 4.17): each the same bit as its status. */
export const PM1_TMR_EN = 1 << 0;
export const PM1_PWRBTN_EN = 1 << 8;
/** The status bits that raise the SCI when enabled (QEMU's `acpi_update_sci` mask, no RTC/GBL). */
const PM1_SCI_EVENTS = PM1_TMR_STS | PM1_PWRBTN_STS;
/** PM1 control bits (ACPI 6.4 Table 4.18). */
export const PM1_SCI_EN = 1 << 0;
export const PM1_SLP_TYP_SHIFT = 10;
export const PM1_SLP_EN = 1 << 13;
/** SLP_TYP that means S5 (soft off), as in the DSDT's \_S5 package. */
export const PM1_SLP_TYP_S5 = 0;

export interface AcpiPmOptions {
  /** 24 or 32 (FADT TMR_VAL_EXT). Default 32, as QEMU. */
  timerBits?: 24 | 32;
  /** Called when the guest enters S5. */
  onPowerOff(): void;
  /** Where the SCI goes (ISA IRQ `ACPI_SCI_IRQ`); default: nowhere. */
  irq?: IrqSink;
}

export class AcpiPm implements PortIoDevice {
  readonly name = 'acpi-pm';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  readonly timerBits: 24 | 32;
  private readonly onPowerOff: () => void;
  private readonly irq: IrqSink | undefined;
  /** The level the SCI line was last driven to. */
  private sciLevel = 0;
  private sts = 0;
  private en = 0;
  private cnt = PM1_SCI_EN;
  /** Host time (ns) at power-on: the timer reads 0 there. */
  private epochNs: number;
  /** The timer's top bit when TMR_STS was last cleared (or at reset). */
  private lastTopBit = 0;

  constructor(
    private readonly clock: Clock,
    options: AcpiPmOptions,
  ) {
    this.timerBits = options.timerBits ?? 32;
    this.onPowerOff = options.onPowerOff;
    this.irq = options.irq;
    this.epochNs = clock();
  }

  /** The SCI's level now: some event's status and enable both set. */
  get sci(): number {
    return this.sciLevel;
  }

  /**
   * The power button is pressed (QEMU `acpi_pm1_evt_power_down`): PWRBTN_STS and the SCI if the
   * OS enabled the event. Returns whether the press was latched (false: PWRBTN_EN is clear).
   */
  powerButton(): boolean {
    if ((this.en & PM1_PWRBTN_EN) === 0) return false;
    this.sts |= PM1_PWRBTN_STS;
    this.updateSci();
    return true;
  }

  private updateSci(): void {
    const level = this.sts & this.en & PM1_SCI_EVENTS ? 1 : 0;
    if (level === this.sciLevel) return;
    this.sciLevel = level;
    this.irq?.setIrq(ACPI_SCI_IRQ, level);
  }

  reset(): void {
    this.sts = 0;
    this.en = 0;
    this.cnt = PM1_SCI_EN;
    this.epochNs = this.clock();
    this.lastTopBit = 0;
    this.updateSci();
  }

  /** The PM timer's value now: ticks of 3.579545 MHz since power-on, modulo 2^timerBits. */
  timer(): number {
    const ns = Math.max(0, this.clock() - this.epochNs);
    // Split into whole seconds and the rest so the products stay exact below 2^53.
    const seconds = Math.floor(ns / 1e9);
    const ticks = seconds * PM_TIMER_HZ + Math.floor(((ns - seconds * 1e9) * PM_TIMER_HZ) / 1e9);
    return this.timerBits === 32 ? ticks % 2 ** 32 : ticks % 2 ** 24;
  }

  private status(): number {
    const topBit = Math.floor(this.timer() / 2 ** (this.timerBits - 1)) & 1;
    if (topBit !== this.lastTopBit) {
      this.sts |= PM1_TMR_STS;
      this.updateSci();
    }
    this.lastTopBit = topBit;
    return this.sts;
  }

  ioIn(port: number, size: number): number {
    const offset = port - ACPI_PM_BASE;
    if (offset >= 8) {
      // A narrower read of the timer returns its low bytes, as the 32-bit register decoded bytewise.
      const shift = (offset - 8) * 8;
      return Math.floor(this.timer() / 2 ** shift) % 2 ** (size * 8);
    }
    const evt = (this.status() | (this.en << 16)) >>> 0;
    const cnt = this.cnt & ~PM1_SLP_EN;
    const word = offset < 4 ? evt : cnt;
    const shift = (offset & 3) * 8;
    const value = Math.floor(word / 2 ** shift);
    return size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
  }

  ioOut(port: number, size: number, value: number): void {
    const offset = port - ACPI_PM_BASE;
    // Spread the access into the bytes it covers, then act on each register it touched.
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      if (at === 0 || at === 1)
        this.sts &= ~(byte << (8 * at)); // write 1 to clear
      else if (at === 2 || at === 3)
        this.en = (this.en & ~(0xff << (8 * (at - 2)))) | (byte << (8 * (at - 2)));
      else if (at === 4 || at === 5)
        this.writeCnt((this.cnt & ~(0xff << (8 * (at - 4)))) | (byte << (8 * (at - 4))));
    }
    if (offset < 4) this.updateSci();
  }

  private writeCnt(value: number): void {
    // SCI_EN stays set: with SMI_CMD 0 the hardware is always in ACPI mode (ACPI 6.4 4.8.2.5).
    this.cnt = (value & ~PM1_SLP_EN) | PM1_SCI_EN;
    if (value & PM1_SLP_EN) {
      const slpTyp = (value >> PM1_SLP_TYP_SHIFT) & 7;
      if (slpTyp === PM1_SLP_TYP_S5) this.onPowerOff();
    }
  }
}
