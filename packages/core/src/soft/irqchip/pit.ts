/**
 * The in-kernel i8254 (KVM_CREATE_PIT2), after KVM's `arch/x86/kvm/i8254.c`: three counters at
 * ports 0x40–0x43 (control word, latch and read-back commands, LSB/MSB/word access), counting
 * at KVM_PIT_FREQ on the host's clock, and channel 0's timer raising GSI 0 (a 0→1→0 pulse from
 * its own IRQ source id, `kvm_pit_inject`). State as KVM_GET/SET_PIT2 exchange it
 * (`struct kvm_pit_state2`).
 *
 * Differences from KVM: ticks missed while the vCPU ran or slept past them are coalesced into one
 * injection (KVM's `reinject=0` policy; its default re-injects each once the previous was
 * acknowledged). With KVM_PIT_SPEAKER_DUMMY the PIT answers port 0x61 as KVM's `speaker_dev`
 * does (channel 2's gate, the speaker enable, OUT2, the refresh toggle); without it the port is
 * userspace's.
 */
import { holdAsDoubles } from '@kvm/x86emu';

/** The host's monotonic clock in ns, the PIT's time base (KVM's `ktime_get`). */
export function hostNowNs(): number {
  return performance.now() * 1e6;
}

/** KVM_PIT_FREQ: the i8254's input clock, Hz. */
export const KVM_PIT_FREQ = 1193182;
/** `min_timer_period_us` (kvm module parameter, default 200): the shortest periodic interval. */
const MIN_TIMER_PERIOD_NS = 200_000;
/** The IRQ source id of the PIT's injections (KVM_USERSPACE_IRQ_SOURCE_ID is 0). */
export const KVM_PIT_IRQ_SOURCE_ID = 2;
/** Byte size of `struct kvm_pit_state2` and of one `kvm_pit_channel_state` in it. */
export const KVM_PIT_STATE2_SIZE = 112;
const CHANNEL_SIZE = 24;

/** `read_state` / `write_state` / `rw_mode` values (RW_STATE_* in i8254.h; LSB is 1). */
const RW_STATE_MSB = 2;
const RW_STATE_WORD0 = 3;
const RW_STATE_WORD1 = 4;

/** `struct kvm_kpit_channel_state`. */
interface PitChannel {
  count: number;
  latchedCount: number;
  countLatched: number;
  statusLatched: number;
  status: number;
  readState: number;
  writeState: number;
  writeLatch: number;
  rwMode: number;
  mode: number;
  bcd: number;
  gate: number;
  /** ns on `now()` when the count was loaded (`count_load_time`). */
  countLoadTime: number;
}

function newChannel(): PitChannel {
  return {
    count: 0,
    latchedCount: 0,
    countLatched: 0,
    statusLatched: 0,
    status: 0,
    readState: 0,
    writeState: 0,
    writeLatch: 0,
    rwMode: 0,
    mode: 0,
    bcd: 0,
    gate: 0,
    countLoadTime: 0,
  };
}

/** `mod_64` for counts that may be 0 (a channel never loaded has count 0x10000 after reset). */
function mod(a: number, b: number): number {
  return b === 0 ? 0 : a % b;
}

export class KvmPit {
  readonly channels: PitChannel[] = [newChannel(), newChannel(), newChannel()];
  /** `kvm_pit_state2.flags` (KVM_PIT_FLAGS_HPET_LEGACY), kept as given. */
  flags = 0;
  /** Channel 0's timer (KVM's hrtimer): armed, its expiry in `now()` ns, period, periodic. */
  private armed = false;
  /** KVM_PIT_SPEAKER_DUMMY was given: port 0x61 is the kernel's (`speaker_dev`). */
  speaker = false;
  /** Port 0x61 bit 1, the speaker enable (`speaker_data_on`). */
  private speakerDataOn = 0;
  private expires = 0;
  private periodNs = 0;
  private periodic = false;

  /**
   * Whether the PIT's clock is the host's (`hostNowNs`, not an icount VM's virtual clock): the run
   * loop then hands it the time it read for the TSC before the same entry (`kvmApicTimerCheck`).
   */
  readonly hostClock: boolean;

  constructor(
    /** The host's monotonic clock, ns (`ktime_get`). */
    private readonly now: () => number,
    /** Pulses GSI 0 (`kvm_set_irq` with the PIT's source id, 1 then 0). */
    private readonly inject: () => void,
  ) {
    this.hostClock = now === hostNowNs;
    // Host nanoseconds (x86emu's double-fields.ts).
    holdAsDoubles(this, ['expires', 'periodNs']);
    // kvm_pit_reset: every channel in the invalid mode 0xff (no timer), gates up but channel 2's.
    for (let j = 0; j < 3; j++) {
      const c = this.channels[j];
      c.mode = 0xff;
      c.gate = j !== 2 ? 1 : 0;
      this.loadCount(j, 0);
    }
  }

  /** `pit_load_count`: a count of 0 is 65536; channel 0 (re)starts or stops the timer by mode. */
  private loadCount(channel: number, val: number): void {
    const c = this.channels[channel];
    c.count = val === 0 ? 0x10000 : val;
    // Channel 0 counts from its timer instead, and its count_load_time is left as it was.
    if (channel !== 0) {
      c.countLoadTime = this.now();
      return;
    }
    switch (c.mode) {
      case 0:
      case 1:
      case 4:
        this.createTimer(c.count, false);
        break;
      case 2:
      case 3:
        this.createTimer(c.count, true);
        break;
      default:
        this.armed = false; // destroy_pit_timer
    }
  }

  /** `create_pit_timer`: the interval in ns, periodic ones no shorter than min_timer_period_us. */
  private createTimer(val: number, periodic: boolean): void {
    let interval = (val * 1e9) / KVM_PIT_FREQ;
    if (periodic && interval < MIN_TIMER_PERIOD_NS) interval = MIN_TIMER_PERIOD_NS;
    this.periodNs = interval;
    this.periodic = periodic;
    this.armed = true;
    this.expires = this.now() + interval;
  }

  /**
   * PIT input ticks since the count was loaded (`kpit_elapsed` × KVM_PIT_FREQ): channel 0 from
   * its timer (period − remaining, 0 before any timer), the others from count_load_time.
   */
  private ticks(c: PitChannel): number {
    let elapsed: number;
    if (c === this.channels[0]) {
      if (this.periodNs === 0) return 0;
      if (this.armed) this.check(this.now()); // a periodic timer's expiry moves on first
      elapsed = this.periodNs - (this.expires - this.now());
    } else {
      elapsed = this.now() - c.countLoadTime;
    }
    return elapsed <= 0 ? 0 : Math.floor((elapsed * KVM_PIT_FREQ) / 1e9);
  }

  /** `pit_get_count` */
  private getCount(c: PitChannel): number {
    const d = this.ticks(c);
    switch (c.mode) {
      case 0:
      case 1:
      case 4:
      case 5:
        return (c.count - d) & 0xffff;
      case 3:
        // Decrements by two, twice per period.
        return c.count - mod(2 * d, c.count);
      default:
        return c.count - mod(d, c.count);
    }
  }

  /** `pit_get_out`: the counter's OUT pin now. */
  private getOut(c: PitChannel): number {
    const d = this.ticks(c);
    switch (c.mode) {
      case 1:
        return d < c.count ? 1 : 0;
      case 2:
        return mod(d, c.count) === 0 && d !== 0 ? 1 : 0;
      case 3:
        return mod(d, c.count) < (c.count + 1) >>> 1 ? 1 : 0;
      case 4:
      case 5:
        return d === c.count ? 1 : 0;
      default:
        return d >= c.count ? 1 : 0;
    }
  }

  private latchCount(c: PitChannel): void {
    if (c.countLatched) return;
    c.latchedCount = this.getCount(c) & 0xffff;
    c.countLatched = c.rwMode;
  }

  private latchStatus(c: PitChannel): void {
    if (c.statusLatched) return;
    c.status = (this.getOut(c) << 7) | (c.rwMode << 4) | ((c.mode & 7) << 1) | c.bcd;
    c.statusLatched = 1;
  }

  /**
   * `speaker_ioport_read` (port 0x61): speaker enable (bit 1), channel 2's gate (bit 0) and OUT
   * (bit 5), and the DRAM refresh toggle (bit 4; KVM approximates its ~15 µs by 2^14 ns).
   */
  speakerRead(): number {
    const refresh = Math.floor(this.now() / 16384) & 1;
    const c = this.channels[2];
    return (this.speakerDataOn << 1) | c.gate | (this.getOut(c) << 5) | (refresh << 4);
  }

  /** `speaker_ioport_write`: bit 1 the speaker, bit 0 channel 2's gate (`pit_set_gate`). */
  speakerWrite(value: number): void {
    this.speakerDataOn = (value >>> 1) & 1;
    const c = this.channels[2];
    const gate = value & 1;
    // Modes 1, 2, 3 and 5 restart counting on a rising edge; KVM leaves 0 and 4 counting.
    if ((c.mode === 1 || c.mode === 2 || c.mode === 3 || c.mode === 5) && c.gate < gate)
      c.countLoadTime = this.now();
    c.gate = gate;
  }

  /** `pit_ioport_write` for ports 0x40–0x43 (only the low byte of a wider OUT counts). */
  write(port: number, value: number): void {
    const addr = port & 3;
    const val = value & 0xff;
    if (addr === 3) {
      const channel = val >>> 6;
      if (channel === 3) {
        // Read-back command (8254 datasheet): bit 5 clear latches counts, bit 4 clear statuses.
        for (let j = 0; j < 3; j++) {
          if ((val & (2 << j)) === 0) continue;
          if ((val & 0x20) === 0) this.latchCount(this.channels[j]);
          if ((val & 0x10) === 0) this.latchStatus(this.channels[j]);
        }
        return;
      }
      const c = this.channels[channel];
      const access = (val >>> 4) & 3;
      if (access === 0) {
        this.latchCount(c);
        return;
      }
      c.rwMode = access;
      c.readState = access;
      c.writeState = access;
      c.mode = (val >>> 1) & 7;
      if (c.mode > 5) c.mode -= 4; // modes 6 and 7 are 2 and 3
      c.bcd = val & 1;
      return;
    }
    const c = this.channels[addr];
    switch (c.writeState) {
      case RW_STATE_MSB:
        this.loadCount(addr, val << 8);
        break;
      case RW_STATE_WORD0:
        c.writeLatch = val;
        c.writeState = RW_STATE_WORD1;
        break;
      case RW_STATE_WORD1:
        this.loadCount(addr, c.writeLatch | (val << 8));
        c.writeState = RW_STATE_WORD0;
        break;
      default: // RW_STATE_LSB
        this.loadCount(addr, val);
    }
  }

  /** `pit_ioport_read`: a latched status first, then a latched count, else the live count. */
  read(port: number): number {
    const addr = port & 3;
    if (addr === 3) return 0;
    const c = this.channels[addr];
    if (c.statusLatched) {
      c.statusLatched = 0;
      return c.status;
    }
    if (c.countLatched) {
      switch (c.countLatched) {
        case RW_STATE_MSB:
          c.countLatched = 0;
          return c.latchedCount >>> 8;
        case RW_STATE_WORD0:
          c.countLatched = RW_STATE_MSB;
          return c.latchedCount & 0xff;
        default:
          c.countLatched = 0;
          return c.latchedCount & 0xff;
      }
    }
    const count = this.getCount(c);
    switch (c.readState) {
      case RW_STATE_MSB:
        return (count >>> 8) & 0xff;
      case RW_STATE_WORD0:
        c.readState = RW_STATE_WORD1;
        return count & 0xff;
      case RW_STATE_WORD1:
        c.readState = RW_STATE_WORD0;
        return (count >>> 8) & 0xff;
      default: // RW_STATE_LSB
        return count & 0xff;
    }
  }

  /** Channel 0's next expiry in `now()` ns, or -1: what a halted vCPU may sleep until. */
  nextDeadline(): number {
    return this.armed ? this.expires : -1;
  }

  /** The PIT's clock now, ns. */
  clock(): number {
    return this.now();
  }

  /** `pit_timer_fn`: injects once if channel 0's timer is due; returns whether it was. */
  check(now: number): boolean {
    if (!this.armed || now < this.expires) return false;
    if (this.periodic) {
      // Coalesce missed periods into this one injection.
      const missed = Math.floor((now - this.expires) / this.periodNs);
      this.expires += (missed + 1) * this.periodNs;
    } else {
      this.armed = false;
    }
    this.inject();
    return true;
  }

  /** KVM_GET_PIT2 into `struct kvm_pit_state2` at `b[o]`. */
  save(b: Uint8Array, o: number): void {
    const dv = new DataView(b.buffer, b.byteOffset + o, KVM_PIT_STATE2_SIZE);
    for (let j = 0; j < 3; j++) {
      const c = this.channels[j];
      const p = CHANNEL_SIZE * j;
      dv.setUint32(p, c.count, true);
      dv.setUint16(p + 4, c.latchedCount, true);
      const u8s = [
        c.countLatched,
        c.statusLatched,
        c.status,
        c.readState,
        c.writeState,
        c.writeLatch,
        c.rwMode,
        c.mode,
        c.bcd,
        c.gate,
      ];
      for (let k = 0; k < u8s.length; k++) dv.setUint8(p + 6 + k, u8s[k]);
      dv.setBigInt64(p + 16, BigInt(Math.floor(c.countLoadTime)), true);
    }
    dv.setUint32(72, this.flags, true);
    for (let k = 76; k < KVM_PIT_STATE2_SIZE; k++) dv.setUint8(k, 0);
  }

  /** KVM_SET_PIT2 (`kvm_vm_ioctl_set_pit2`): the channels as given, then every count reloaded. */
  load(b: Uint8Array, o: number): void {
    const dv = new DataView(b.buffer, b.byteOffset + o, KVM_PIT_STATE2_SIZE);
    for (let j = 0; j < 3; j++) {
      const c = this.channels[j];
      const p = CHANNEL_SIZE * j;
      c.count = dv.getUint32(p, true);
      c.latchedCount = dv.getUint16(p + 4, true);
      c.countLatched = dv.getUint8(p + 6);
      c.statusLatched = dv.getUint8(p + 7);
      c.status = dv.getUint8(p + 8);
      c.readState = dv.getUint8(p + 9);
      c.writeState = dv.getUint8(p + 10);
      c.writeLatch = dv.getUint8(p + 11);
      c.rwMode = dv.getUint8(p + 12);
      c.mode = dv.getUint8(p + 13);
      c.bcd = dv.getUint8(p + 14);
      c.gate = dv.getUint8(p + 15);
    }
    this.flags = dv.getUint32(72, true);
    // kvm_pit_load_count(pit, i, channels[i].count, …): each timer restarts from now.
    for (let j = 0; j < 3; j++) this.loadCount(j, this.channels[j].count);
  }
}
