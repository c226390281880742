/**
 * The HPET of QEMU's PC (hw/timer/hpet.c; IA-PC HPET specification 1.0a), on by default as
 * QEMU's `-machine hpet=on`: 1 KiB of registers at 0xFED00000, a 64-bit main counter at 100 MHz
 * (a 10 ns period) and three timers, 64-bit and periodic-capable, routable to I/O APIC input 2
 * (QEMU's `intcap` for pc-piix). With LegacyReplacementRoute (CFG bit 1) timer 0 drives ISA IRQ
 * 0 and timer 1 IRQ 8. Edge-triggered timers pulse their line; level-triggered ones hold it and
 * set their bit in the interrupt status register until the guest writes 1 there.
 *
 * Registers are 32-bit wide as QEMU's (`valid` access size 4); an 8-byte access is its two
 * halves, other sizes read all ones and are ignored on write. Time is the machine's clock
 * (host time, or the -icount virtual clock), read when the guest reads the counter and when
 * the machine `poll`s the device, which also says when it must next be polled.
 *
 * Limit: while LegacyReplacementRoute is set the i8254 keeps driving IRQ 0 (QEMU stops it through
 * the PIT's enable pin, and KVM_SET_PIT2's HPET_LEGACY flag for the in-kernel PIT).
 */
import { holdAsDoubles } from '@kvm/x86emu';
import type { Clock, IrqSink } from './types.js';

export const HPET_BASE = 0xfed00000;
export const HPET_LEN = 0x400;
/** Counter period in femtoseconds (10 ns: 100 MHz), GCAP_ID bits 63:32. */
export const HPET_CLK_PERIOD_FS = 10_000_000;
const NS_PER_TICK = 10;
export const HPET_NUM_TIMERS = 3;
/** GCAP_ID bits 31:0: vendor 8086h, LEG_RT_CAP, COUNT_SIZE_CAP, NUM_TIM_CAP 2, revision 1. */
export const HPET_ID_LOW = (0x8086a001 | ((HPET_NUM_TIMERS - 1) << 8)) >>> 0;

const HPET_ID = 0x000;
const HPET_PERIOD = 0x004;
const HPET_CFG = 0x010;
const HPET_STATUS = 0x020;
const HPET_COUNTER = 0x0f0;
const CFG_ENABLE = 0x1;
const CFG_LEGACY = 0x2;
const TN_TYPE_LEVEL = 0x002;
const TN_ENABLE = 0x004;
const TN_PERIODIC = 0x008;
const TN_PERIODIC_CAP = 0x010;
const TN_SIZE_CAP = 0x020;
const TN_SETVAL = 0x040;
const TN_32BIT = 0x100;
const TN_INT_ROUTE_SHIFT = 9;
/** Writable Tn_CFG bits (QEMU's HPET_TN_CFG_WRITE_MASK without FSB delivery). */
const TN_CFG_WRITE_MASK = 0x3f4e;
/** Tn_INT_ROUTE_CAP: I/O APIC input 2 only (QEMU's pc-piix `intcap`). */
const TN_INT_ROUTE_CAP = 0x4;
const TWO32 = 4294967296;

class HpetTimer {
  /** Tn_CFG low half (the capability half is constant). */
  config = TN_PERIODIC_CAP | TN_SIZE_CAP;
  /**
   * Comparator and period as 32-bit halves (reset: all ones, as QEMU's ~0). Compared as numbers:
   * exact while below 2^53 ticks (2.8 years); beyond, later than any counter value.
   */
  cmpLo = 0xffffffff;
  cmpHi = 0xffffffff;
  perLo = 0;
  perHi = 0;
  get cmp(): number {
    return this.cmpHi * TWO32 + this.cmpLo;
  }
  set cmp(v: number) {
    this.cmpLo = (v % TWO32) >>> 0;
    this.cmpHi = Math.floor(v / TWO32) >>> 0;
  }
  get period(): number {
    return this.perHi * TWO32 + this.perLo;
  }
  /** The line this timer holds raised (level-triggered), or -1. */
  raised = -1;
  /** A one-shot that fired: it waits for a new comparator. */
  oneShotDone = false;
}

export class Hpet {
  readonly name = 'hpet';
  private config = 0;
  /** Interrupt status: one bit per level-triggered timer that fired. */
  private isr = 0;
  /** The counter while halted; while enabled, the counter is (clock − `epochNs`) / 10 ns. */
  private counter = 0;
  private epochNs = 0;
  private readonly timers = Array.from({ length: HPET_NUM_TIMERS }, () => new HpetTimer());

  /**
   * `legacyIrq0`: the line LegacyReplacementRoute gives timer 0: ISA IRQ 0 for the 8259, and
   * with an I/O APIC its input 2 (HPET 1.0a 2.3.9.2.2; QEMU reaches it through its GSI 0 → pin 2
   * routing, qemu-lite's lines are KVM's default routing, so it is GSI 2 here).
   */
  constructor(
    private readonly clock: Clock,
    private readonly irq: IrqSink,
    private readonly legacyIrq0 = 0,
  ) {
    // Host nanoseconds (x86emu's double-fields.ts).
    holdAsDoubles(this, ['epochNs']);
  }

  /** The GPA range this device decodes. */
  claimsMmio(gpa: number, len: number): boolean {
    return gpa >= HPET_BASE && gpa + len <= HPET_BASE + HPET_LEN;
  }

  private get enabled(): boolean {
    return (this.config & CFG_ENABLE) !== 0;
  }

  /** The main counter now. */
  ticks(now = this.clock()): number {
    return this.enabled ? Math.max(0, Math.floor((now - this.epochNs) / NS_PER_TICK)) : this.counter;
  }

  mmioRead(gpa: number, data: Uint8Array): void {
    const off = gpa - HPET_BASE;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length === 8 && (off & 7) === 0) {
      view.setUint32(0, this.read32(off), true);
      view.setUint32(4, this.read32(off + 4), true);
    } else if (data.length === 4 && (off & 3) === 0) {
      view.setUint32(0, this.read32(off), true);
    } else {
      data.fill(0xff);
    }
  }

  mmioWrite(gpa: number, data: Uint8Array): void {
    const off = gpa - HPET_BASE;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length === 8 && (off & 7) === 0) {
      this.write32(off, view.getUint32(0, true));
      this.write32(off + 4, view.getUint32(4, true));
    } else if (data.length === 4 && (off & 3) === 0) {
      this.write32(off, view.getUint32(0, true));
    }
  }

  private read32(off: number): number {
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_NUM_TIMERS) {
      const t = this.timers[(off - 0x100) >>> 5];
      switch ((off - 0x100) & 0x1f) {
        case 0x0:
          return t.config >>> 0;
        case 0x4:
          return TN_INT_ROUTE_CAP;
        case 0x8:
          return t.cmpLo;
        case 0xc:
          return t.cmpHi;
        default:
          return 0;
      }
    }
    switch (off) {
      case HPET_ID:
        return HPET_ID_LOW;
      case HPET_PERIOD:
        return HPET_CLK_PERIOD_FS;
      case HPET_CFG:
        return this.config;
      case HPET_STATUS:
        return this.isr;
      case HPET_COUNTER:
        return (this.ticks() % TWO32) >>> 0;
      case HPET_COUNTER + 4:
        return Math.floor(this.ticks() / TWO32) >>> 0;
      default:
        return 0;
    }
  }

  private write32(off: number, v: number): void {
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_NUM_TIMERS) {
      this.writeTimer(this.timers[(off - 0x100) >>> 5], (off - 0x100) & 0x1f, v >>> 0);
      return;
    }
    const now = this.clock();
    switch (off) {
      case HPET_CFG: {
        const old = this.config;
        const next = (old & ~0x3) | (v & 0x3);
        if (!(old & CFG_ENABLE) && next & CFG_ENABLE) {
          // The counter resumes from where it was halted.
          this.epochNs = now - this.counter * NS_PER_TICK;
        } else if (old & CFG_ENABLE && !(next & CFG_ENABLE)) {
          this.counter = this.ticks(now);
        }
        this.config = next;
        if ((old ^ next) & (CFG_ENABLE | CFG_LEGACY)) {
          // Routes changed or interrupts stopped: drop what the timers held.
          for (const t of this.timers) this.lower(t);
        }
        this.poll(now);
        return;
      }
      case HPET_STATUS:
        // Write 1 to clear a level-triggered timer's status, and its line.
        for (let i = 0; i < HPET_NUM_TIMERS; i++) {
          if (v & this.isr & (1 << i)) {
            this.isr &= ~(1 << i);
            this.lower(this.timers[i]);
          }
        }
        return;
      case HPET_COUNTER:
      case HPET_COUNTER + 4: {
        // Writable while halted (the specification: software halts the counter first).
        if (this.enabled) return;
        const lo = off === HPET_COUNTER ? v : this.counter % TWO32;
        const hi = off === HPET_COUNTER ? Math.floor(this.counter / TWO32) : v;
        this.counter = Math.min(hi * TWO32 + lo, Number.MAX_SAFE_INTEGER);
        return;
      }
      default:
        return;
    }
  }

  private writeTimer(t: HpetTimer, reg: number, v: number): void {
    switch (reg) {
      case 0x0: {
        t.config = (t.config & ~TN_CFG_WRITE_MASK) | (v & TN_CFG_WRITE_MASK);
        if (t.config & TN_32BIT) {
          t.cmpHi = 0;
          t.perHi = 0;
        }
        if (!(t.config & TN_ENABLE)) this.lower(t);
        return;
      }
      case 0x8:
      case 0xc: {
        const high = reg === 0xc;
        const value = t.config & TN_32BIT ? (high ? 0 : v) : v;
        // A periodic timer's comparator write sets the period; with SETVAL also the comparator.
        if (!(t.config & TN_PERIODIC) || t.config & TN_SETVAL) {
          if (high) t.cmpHi = value;
          else t.cmpLo = value;
        }
        if (t.config & TN_PERIODIC) {
          if (high) t.perHi = value;
          else t.perLo = value;
        }
        t.config &= ~TN_SETVAL;
        t.oneShotDone = false;
        this.poll();
        return;
      }
      default:
        return;
    }
  }

  /** The line a timer drives: legacy routes for timers 0 and 1, else Tn_INT_ROUTE_CNF. */
  private route(i: number): number {
    if (i <= 1 && this.config & CFG_LEGACY) return i === 0 ? this.legacyIrq0 : 8;
    return (this.timers[i].config >>> TN_INT_ROUTE_SHIFT) & 0x1f;
  }

  private lower(t: HpetTimer): void {
    if (t.raised >= 0) {
      this.irq.setIrq(t.raised, 0);
      t.raised = -1;
    }
  }

  /** Fires every enabled timer whose comparator the counter has reached (`hpet_timer`). */
  poll(now = this.clock()): void {
    if (!this.enabled) return;
    const c = this.ticks(now);
    for (let i = 0; i < HPET_NUM_TIMERS; i++) {
      const t = this.timers[i];
      if (!(t.config & TN_ENABLE) || t.oneShotDone) continue;
      const cmp = t.config & TN_32BIT ? t.cmpLo + (c - (c % TWO32)) : t.cmp;
      if (c < cmp) continue;
      if (t.config & TN_PERIODIC && t.period > 0) {
        // Past comparators are coalesced into one interrupt, as QEMU's timer callback does.
        const next = cmp + Math.floor((c - cmp) / t.period + 1) * t.period;
        t.cmp = t.config & TN_32BIT ? next % TWO32 : next;
      } else {
        // A one-shot fires once, until a new comparator is written (in 32-bit mode QEMU fires it
        // again when the counter wraps round to it; not modelled).
        t.oneShotDone = true;
      }
      this.fire(i);
    }
  }

  private fire(i: number): void {
    const t = this.timers[i];
    const line = this.route(i);
    if (t.config & TN_TYPE_LEVEL) {
      this.isr |= 1 << i;
      t.raised = line;
      this.irq.setIrq(line, 1);
    } else {
      this.irq.setIrq(line, 1);
      this.irq.setIrq(line, 0);
    }
  }

  /** The clock time at which `poll` next has work, or +Infinity. */
  nextDeadline(): number {
    if (!this.enabled) return Number.POSITIVE_INFINITY;
    let best = Number.POSITIVE_INFINITY;
    const c = this.ticks();
    for (const t of this.timers) {
      if (!(t.config & TN_ENABLE) || t.oneShotDone) continue;
      const cmp = t.config & TN_32BIT ? t.cmpLo + (c - (c % TWO32)) : t.cmp;
      if (cmp >= Number.MAX_SAFE_INTEGER) continue;
      best = Math.min(best, this.epochNs + Math.max(cmp, c) * NS_PER_TICK);
    }
    return best;
  }

  /** Power-on state (QEMU `hpet_reset`). */
  reset(): void {
    for (const t of this.timers) {
      this.lower(t);
      t.config = TN_PERIODIC_CAP | TN_SIZE_CAP;
      t.cmpLo = t.cmpHi = 0xffffffff;
      t.perLo = t.perHi = 0;
      t.oneShotDone = false;
    }
    this.config = 0;
    this.isr = 0;
    this.counter = 0;
    this.epochNs = 0;
  }
}
