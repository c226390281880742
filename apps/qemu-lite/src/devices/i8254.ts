/**
 * The i8254 programmable interval timer at 0x40–0x43, clocked at 1.193182 MHz, and the PC's
 * system control port B (0x61), which gates channel 2 and shows its output (Linux's
 * pit_calibrate_tsc and quick_pit_calibrate poll exactly these).
 *
 * Counters are not ticked: a channel stores when its count was loaded and derives the current
 * count and output level from the host clock, so reading costs nothing while the guest runs.
 * Channel 0's output drives IRQ 0: `nextDeadline()` says when its next rising edge is due (the
 * vCPU loop waits or kicks for it), `poll(now)` raises the edges that are due. Edges missed
 * while the host was busy are coalesced into one, as a PIC with one IRR bit would anyway.
 *
 * Modes 0–5, LSB/MSB/LSB-then-MSB access, the counter latch command and the read-back command
 * (status and count) follow the 82C54 datasheet. BCD counting is accepted and treated as
 * binary (nobody we know uses it).
 */
import type { Clock, IrqSink, PortIoDevice } from './types.js';

/** The PIT input clock, Hz (14.31818 MHz / 12). */
export const PIT_HZ = 1193182;

const NS_PER_S = 1e9;

/** Access modes of the control word (bits 5–4). */
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;

export class PitChannel {
  /** Reload value in PIT ticks (1–65536; a written 0 means 65536). 0 = never loaded. */
  count = 0;
  mode = 0;
  rwMode = RW_WORD;
  bcd = 0;
  gate: boolean;
  /** Host time (ns) the current count started counting, or of the last gate trigger. */
  loadTimeNs = 0;
  /** Counting is suspended (gate low in modes 0/4) at this many elapsed ticks; -1 = not. */
  frozenTicks = -1;
  /** Waiting for a count after a control word (output per mode, not counting). */
  nullCount = true;
  /** A one-shot mode's terminal count has already raised IRQ 0 (channel 0 only). */
  fired = false;

  /** First byte of an LSB-then-MSB write. */
  writeLsb = -1;
  /** Next read of an unlatched LSB-then-MSB count returns the MSB. */
  readMsbNext = false;
  /** Latched count (counter latch command), -1 = none. */
  latchedCount = -1;
  latchedMsbNext = false;
  /** Latched status byte (read-back), -1 = none. */
  latchedStatus = -1;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  /** PIT ticks elapsed since the count started, at host time `nowNs`. */
  ticks(nowNs: number): number {
    if (this.frozenTicks >= 0) return this.frozenTicks;
    const elapsed = nowNs - this.loadTimeNs;
    return elapsed <= 0 ? 0 : Math.floor((elapsed * PIT_HZ) / NS_PER_S);
  }

  /** The counting element's value (what a latch or a read returns). */
  value(nowNs: number): number {
    if (this.count === 0 || this.nullCount) return 0;
    const d = this.ticks(nowNs);
    const n = this.count;
    switch (this.mode) {
      case 2:
        return n - (d % n);
      case 3: {
        // Decrements by two from an even reload, twice per period (datasheet, mode 3).
        const half = Math.floor(n / 2) + (n & 1);
        const phase = d % n;
        const inHalf = phase < half ? phase : phase - half;
        return (n - 2 * inHalf) & 0xfffe;
      }
      default:
        // Modes 0, 1, 4, 5 count down once and then wrap through 0xffff.
        return (n - d) & 0xffff;
    }
  }

  /** The OUT pin level at `nowNs`. */
  output(nowNs: number): boolean {
    const n = this.count;
    switch (this.mode) {
      case 0:
        // Low after the control word and while counting; high at terminal count.
        return n !== 0 && !this.nullCount && this.ticks(nowNs) >= n;
      case 1:
        return this.nullCount || this.ticks(nowNs) >= n;
      case 2:
        // Low for one clock when the count reaches 1.
        return n === 0 || this.nullCount || this.ticks(nowNs) % n !== n - 1;
      case 3:
        return n === 0 || this.nullCount || this.ticks(nowNs) % n < Math.floor(n / 2) + (n & 1);
      default:
        // Modes 4 and 5: one low clock at terminal count.
        return n === 0 || this.nullCount || this.ticks(nowNs) !== n;
    }
  }

  /** Host time of the next rising edge of OUT after `nowNs` (channel 0 → IRQ 0), or Infinity. */
  nextRisingEdge(nowNs: number): number {
    const n = this.count;
    if (n === 0 || this.nullCount || !this.gate || this.frozenTicks >= 0) return Number.POSITIVE_INFINITY;
    const d = this.ticks(nowNs);
    let edgeTick: number;
    switch (this.mode) {
      case 0:
      case 1:
        if (this.fired) return Number.POSITIVE_INFINITY;
        edgeTick = n;
        break;
      case 4:
      case 5:
        if (this.fired) return Number.POSITIVE_INFINITY;
        edgeTick = n + 1;
        break;
      default:
        // Modes 2 and 3 rise at every reload: ticks n, 2n, 3n, …
        edgeTick = (Math.floor(d / n) + 1) * n;
        break;
    }
    return this.loadTimeNs + Math.ceil((edgeTick * NS_PER_S) / PIT_HZ);
  }
}

export class I8254 implements PortIoDevice {
  readonly name = 'i8254';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  readonly channels: [PitChannel, PitChannel, PitChannel];
  private readonly clock: Clock;
  private readonly irq: IrqSink;
  /** When channel 0 next raises IRQ 0 (ns), kept current by every change. */
  private deadlineNs = Number.POSITIVE_INFINITY;

  /**
   * At reset channel 0 counts 65536 in mode 3 (the 18.2 Hz tick a PC BIOS leaves behind) and
   * channel 2's gate is low until port 0x61 raises it.
   */
  constructor(
    clock: Clock,
    irq: IrqSink,
    /**
     * False: channel 0 starts unprogrammed (no IRQ 0 until the guest writes a count), as KVM's
     * in-kernel PIT after KVM_CREATE_PIT2 (`kvm_pit_reset` loads mode 0xff, no timer). Used with
     * an in-kernel PIC, which nobody programmed the BIOS way either.
     */
    private readonly biosTick = true,
  ) {
    this.clock = clock;
    this.irq = irq;
    this.channels = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
    this.reset();
  }

  /**
   * Power-on and system reset: fresh channels, channel 0 restarted in mode 3 from now. (A real
   * 8254 has no reset pin; its state after RESET is what the BIOS programs, which this stands in
   * for, as QEMU's `pit_reset_common` does.)
   */
  reset(): void {
    this.channels[0] = new PitChannel(true);
    this.channels[1] = new PitChannel(true);
    this.channels[2] = new PitChannel(false);
    const ch0 = this.channels[0];
    if (!this.biosTick) {
      this.updateDeadline(this.clock());
      return;
    }
    ch0.mode = 3;
    ch0.count = 0x10000;
    ch0.nullCount = false;
    ch0.loadTimeNs = this.clock();
    this.updateDeadline(ch0.loadTimeNs);
  }

  /** Host time (ns) of the next IRQ 0 edge, Infinity when the timer is idle. */
  nextDeadline(): number {
    return this.deadlineNs;
  }

  /** Raises IRQ 0 if its edge is due; returns whether it did. */
  poll(nowNs: number): boolean {
    if (nowNs < this.deadlineNs) return false;
    const ch0 = this.channels[0];
    if (ch0.mode !== 2 && ch0.mode !== 3) ch0.fired = true;
    // A rising edge: the PIC latches it in IRR (edge-triggered IRQ 0).
    this.irq.setIrq(0, 0);
    this.irq.setIrq(0, 1);
    this.irq.setIrq(0, 0);
    this.updateDeadline(nowNs);
    return true;
  }

  private updateDeadline(nowNs: number): void {
    this.deadlineNs = this.channels[0].nextRisingEdge(nowNs);
  }

  /** Channel 2's gate, driven by port 0x61 bit 0. */
  setGate2(level: boolean): void {
    const ch = this.channels[2];
    if (ch.gate === level) return;
    const now = this.clock();
    ch.gate = level;
    if (ch.mode === 0 || ch.mode === 4) {
      // Gate low suspends counting in modes 0 and 4; high resumes it.
      if (!level) ch.frozenTicks = ch.ticks(now);
      else if (ch.frozenTicks >= 0) {
        ch.loadTimeNs = now - Math.floor((ch.frozenTicks * NS_PER_S) / PIT_HZ);
        ch.frozenTicks = -1;
      }
    } else if (level) {
      // A rising gate triggers modes 1 and 5 and restarts modes 2 and 3.
      ch.loadTimeNs = now;
      ch.frozenTicks = -1;
    } else if (ch.mode === 2 || ch.mode === 3) {
      ch.frozenTicks = ch.ticks(now);
    }
  }

  private writeControl(value: number, now: number): void {
    const select = value >> 6;
    if (select === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1–3 channels.
      for (let i = 0; i < 3; i++) {
        if ((value & (2 << i)) === 0) continue;
        const ch = this.channels[i];
        if ((value & 0x20) === 0 && ch.latchedCount < 0) {
          ch.latchedCount = ch.value(now);
          ch.latchedMsbNext = false;
        }
        if ((value & 0x10) === 0 && ch.latchedStatus < 0) {
          ch.latchedStatus =
            (ch.output(now) ? 0x80 : 0) |
            (ch.nullCount ? 0x40 : 0) |
            (ch.rwMode << 4) |
            (ch.mode << 1) |
            ch.bcd;
        }
      }
      return;
    }
    const ch = this.channels[select];
    const access = (value >> 4) & 3;
    if (access === RW_LATCH) {
      // Counter latch: a second latch before the first is read is ignored.
      if (ch.latchedCount < 0) {
        ch.latchedCount = ch.value(now);
        ch.latchedMsbNext = false;
      }
      return;
    }
    ch.rwMode = access;
    let mode = (value >> 1) & 7;
    if (mode > 5) mode -= 4; // 6 and 7 are aliases of 2 and 3
    ch.mode = mode;
    ch.bcd = value & 1;
    ch.nullCount = true;
    ch.fired = false;
    ch.writeLsb = -1;
    ch.readMsbNext = false;
    ch.frozenTicks = -1;
    if (select === 0) this.updateDeadline(now);
  }

  private loadCount(index: number, raw: number, now: number): void {
    const ch = this.channels[index];
    ch.count = raw === 0 ? 0x10000 : raw;
    ch.nullCount = false;
    ch.fired = false;
    ch.loadTimeNs = now;
    ch.frozenTicks = -1;
    if (!ch.gate && (ch.mode === 0 || ch.mode === 4)) ch.frozenTicks = 0;
    if (index === 0) this.updateDeadline(now);
  }

  private writeCount(index: number, value: number, now: number): void {
    const ch = this.channels[index];
    switch (ch.rwMode) {
      case RW_LSB:
        this.loadCount(index, value, now);
        break;
      case RW_MSB:
        this.loadCount(index, value << 8, now);
        break;
      default:
        if (ch.writeLsb < 0) {
          ch.writeLsb = value;
        } else {
          this.loadCount(index, ch.writeLsb | (value << 8), now);
          ch.writeLsb = -1;
        }
    }
  }

  private readCount(index: number, now: number): number {
    const ch = this.channels[index];
    if (ch.latchedStatus >= 0) {
      const status = ch.latchedStatus;
      ch.latchedStatus = -1;
      return status;
    }
    if (ch.latchedCount >= 0) {
      const latched = ch.latchedCount;
      if (ch.rwMode === RW_LSB) {
        ch.latchedCount = -1;
        return latched & 0xff;
      }
      if (ch.rwMode === RW_MSB) {
        ch.latchedCount = -1;
        return (latched >> 8) & 0xff;
      }
      if (!ch.latchedMsbNext) {
        ch.latchedMsbNext = true;
        return latched & 0xff;
      }
      ch.latchedCount = -1;
      ch.latchedMsbNext = false;
      return (latched >> 8) & 0xff;
    }
    const current = ch.value(now);
    if (ch.rwMode === RW_LSB) return current & 0xff;
    if (ch.rwMode === RW_MSB) return (current >> 8) & 0xff;
    const msb = ch.readMsbNext;
    ch.readMsbNext = !msb;
    return msb ? (current >> 8) & 0xff : current & 0xff;
  }

  ioIn(port: number, _size: number): number {
    const index = port & 3;
    if (index === 3) return 0xff; // the control word register is write-only
    return this.readCount(index, this.clock());
  }

  ioOut(port: number, _size: number, value: number): void {
    const index = port & 3;
    const now = this.clock();
    if (index === 3) this.writeControl(value & 0xff, now);
    else this.writeCount(index, value & 0xff, now);
  }
}

/**
 * System control port B (0x61): bit 0 gates PIT channel 2, bit 1 enables the speaker, bit 4
 * toggles with DRAM refresh (every 15.085 µs), bit 5 is channel 2's output.
 */
export class SystemControlPortB implements PortIoDevice {
  readonly name = 'port61';
  private value = 0;
  private readonly pit: I8254;
  private readonly clock: Clock;

  constructor(pit: I8254, clock: Clock) {
    this.pit = pit;
    this.clock = clock;
  }

  /** System reset: speaker off, channel 2's gate low (the PIT's own reset lowers it too). */
  reset(): void {
    this.value = 0;
  }

  ioIn(_port: number, _size: number): number {
    const now = this.clock();
    const refresh = Math.floor(now / 15085) & 1;
    const out2 = this.pit.channels[2].output(now);
    return (this.value & 0x03) | (refresh << 4) | (out2 ? 0x20 : 0);
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.value = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }
}
