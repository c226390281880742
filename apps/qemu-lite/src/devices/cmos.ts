/**
 * The MC146818 CMOS RTC and NVRAM behind the index/data ports 0x70/0x71 (bit 7 of the index is
 * the NMI mask and does not select a register).
 *
 * The clock reads the host's real time (UTC, as Linux guests expect by default) plus an offset
 * the guest sets by writing the time registers; BCD or binary and 12/24-hour per register B, as
 * the datasheet says. Register A reports the 32.768 kHz divider and never update-in-progress
 * (values are computed at the read, so no read can see a torn update). Register D reports a
 * valid battery. NVRAM holds the memory sizes a BIOS would store (0x15–0x18, 0x30–0x31,
 * 0x34–0x35, 0x5b–0x5d) and the century at 0x32.
 */
import type { PortIoDevice } from './types.js';

export const RTC_SECONDS = 0x00;
export const RTC_MINUTES = 0x02;
export const RTC_HOURS = 0x04;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const RTC_CENTURY = 0x32;

const REG_B_PIE = 0x40;
const REG_B_AIE = 0x20;
const REG_B_UIE = 0x10;
const REG_B_SQWE = 0x08;
const REG_B_DM_BINARY = 0x04;
const REG_B_24H = 0x02;

const toBcd = (v: number): number => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const fromBcd = (v: number): number => (v >> 4) * 10 + (v & 0x0f);

export class Cmos implements PortIoDevice {
  readonly name = 'cmos';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  private index = 0;
  private readonly nvram = new Uint8Array(128);
  /** Guest time minus host time, ms (the guest set its clock). */
  private offsetMs = 0;
  private readonly now: () => number;

  /** `now` gives host wall-clock milliseconds since the epoch (Date.now by default). */
  constructor(ramSize: number, now: () => number = Date.now) {
    this.now = now;
    this.nvram[RTC_REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    this.nvram[RTC_REG_B] = REG_B_24H; // BCD, 24-hour: what PC BIOSes leave
    this.nvram[RTC_REG_D] = 0x80; // valid RAM and time
    // Base memory in KiB (640), extended memory above 1 MiB in KiB (capped at 63 MiB), and
    // memory above 16 MiB in 64 KiB units: the classic BIOS NVRAM layout.
    const baseKiB = 640;
    const extKiB = Math.min(Math.max(0, (ramSize - 0x100000) / 1024), 0xfc00);
    const above16M = Math.min(Math.max(0, (ramSize - 0x1000000) / 65536), 0xffff);
    this.nvram[0x15] = baseKiB & 0xff;
    this.nvram[0x16] = baseKiB >> 8;
    this.nvram[0x17] = extKiB & 0xff;
    this.nvram[0x18] = extKiB >> 8;
    this.nvram[0x30] = extKiB & 0xff;
    this.nvram[0x31] = extKiB >> 8;
    this.nvram[0x34] = above16M & 0xff;
    this.nvram[0x35] = above16M >> 8;
  }

  /**
   * System reset: the MC146818's RESET pin clears the interrupt enables (PIE, AIE, UIE) and
   * SQWE in register B and the flags in register C (datasheet, "RESET"). The clock keeps
   * running and NVRAM keeps its contents: they are battery-backed, which is why the guest's
   * time offset survives a reboot.
   */
  reset(): void {
    this.nvram[RTC_REG_B] &= ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
    this.nvram[RTC_REG_C] = 0;
  }

  private encode(value: number): number {
    return this.nvram[RTC_REG_B] & REG_B_DM_BINARY ? value : toBcd(value);
  }

  private decode(value: number): number {
    return this.nvram[RTC_REG_B] & REG_B_DM_BINARY ? value : fromBcd(value);
  }

  private encodeHours(hours: number): number {
    if (this.nvram[RTC_REG_B] & REG_B_24H) return this.encode(hours);
    const pm = hours >= 12;
    const h12 = hours % 12 === 0 ? 12 : hours % 12;
    return this.encode(h12) | (pm ? 0x80 : 0);
  }

  private decodeHours(raw: number): number {
    if (this.nvram[RTC_REG_B] & REG_B_24H) return this.decode(raw);
    const h12 = this.decode(raw & 0x7f) % 12;
    return raw & 0x80 ? h12 + 12 : h12;
  }

  /** The guest's current time as a Date (UTC fields). */
  guestTime(): Date {
    return new Date(this.now() + this.offsetMs);
  }

  private readTime(reg: number): number {
    const t = this.guestTime();
    switch (reg) {
      case RTC_SECONDS:
        return this.encode(t.getUTCSeconds());
      case RTC_MINUTES:
        return this.encode(t.getUTCMinutes());
      case RTC_HOURS:
        return this.encodeHours(t.getUTCHours());
      case RTC_DAY_OF_WEEK:
        return this.encode(t.getUTCDay() + 1);
      case RTC_DAY_OF_MONTH:
        return this.encode(t.getUTCDate());
      case RTC_MONTH:
        return this.encode(t.getUTCMonth() + 1);
      case RTC_YEAR:
        return this.encode(t.getUTCFullYear() % 100);
      default:
        return this.encode(Math.floor(t.getUTCFullYear() / 100));
    }
  }

  /** The guest wrote time register `reg`: move the offset so that field reads back as written. */
  private writeTime(reg: number, raw: number): void {
    const t = this.guestTime();
    const fields = {
      year: t.getUTCFullYear(),
      month: t.getUTCMonth(),
      day: t.getUTCDate(),
      hours: t.getUTCHours(),
      minutes: t.getUTCMinutes(),
      seconds: t.getUTCSeconds(),
    };
    switch (reg) {
      case RTC_SECONDS:
        fields.seconds = this.decode(raw);
        break;
      case RTC_MINUTES:
        fields.minutes = this.decode(raw);
        break;
      case RTC_HOURS:
        fields.hours = this.decodeHours(raw);
        break;
      case RTC_DAY_OF_MONTH:
        fields.day = this.decode(raw);
        break;
      case RTC_MONTH:
        fields.month = this.decode(raw) - 1;
        break;
      case RTC_YEAR:
        fields.year = Math.floor(fields.year / 100) * 100 + this.decode(raw);
        break;
      case RTC_CENTURY:
        fields.year = this.decode(raw) * 100 + (fields.year % 100);
        break;
      default:
        return; // day of week follows from the date
    }
    const target = Date.UTC(
      fields.year,
      fields.month,
      fields.day,
      fields.hours,
      fields.minutes,
      fields.seconds,
    );
    if (Number.isFinite(target)) this.offsetMs = target - (this.now() - t.getUTCMilliseconds());
  }

  /** Seconds, minutes, hours, weekday, date, month, year, century (not the alarms 1, 3, 5). */
  private isTimeRegister(reg: number): boolean {
    return (reg <= RTC_YEAR && reg !== 1 && reg !== 3 && reg !== 5) || reg === RTC_CENTURY;
  }

  ioIn(port: number, _size: number): number {
    if ((port & 1) === 0) return 0xff; // the index port is write-only
    const reg = this.index;
    if (this.isTimeRegister(reg)) return this.readTime(reg);
    if (reg === RTC_REG_C) {
      // Reading C acknowledges the RTC's interrupt flags; we raise none.
      const value = this.nvram[RTC_REG_C];
      this.nvram[RTC_REG_C] = 0;
      return value;
    }
    return this.nvram[reg];
  }

  ioOut(port: number, _size: number, value: number): void {
    value &= 0xff;
    if ((port & 1) === 0) {
      this.index = value & 0x7f;
      return;
    }
    const reg = this.index;
    if (reg === RTC_REG_C || reg === RTC_REG_D) return; // read-only
    if (reg === RTC_REG_A) {
      this.nvram[reg] = value & 0x7f; // UIP (bit 7) is read-only
      return;
    }
    if (this.isTimeRegister(reg)) {
      this.writeTime(reg, value);
      return;
    }
    this.nvram[reg] = value;
  }
}
