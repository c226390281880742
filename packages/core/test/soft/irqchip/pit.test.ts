/**
 * The in-kernel i8254 (`KvmPit`, after KVM's i8254.c) on a fake clock: what a guest reads through
 * ports 0x40–0x43 and when channel 0 pulses GSI 0.
 */
import { describe, expect, it } from 'vitest';
import { hostNowNs, KVM_PIT_FREQ, KVM_PIT_STATE2_SIZE, KvmPit } from '../../../src/soft/irqchip/pit.js';

/** ns for `ticks` PIT input clocks (and a little more, so that the floor lands on `ticks`). */
const ns = (ticks: number): number => (ticks * 1e9) / KVM_PIT_FREQ + 0.01;

function pit(): { p: KvmPit; clock: { t: number }; pulses: () => number } {
  const clock = { t: 1_000_000 };
  let n = 0;
  const p = new KvmPit(
    () => clock.t,
    () => n++,
  );
  return { p, clock, pulses: () => n };
}

describe('KvmPit', () => {
  it('starts with no timer (mode 0xff) and every count 65536', () => {
    const { p, clock, pulses } = pit();
    expect(p.nextDeadline()).toBe(-1);
    clock.t += 1e9;
    expect(p.check(clock.t)).toBe(false);
    expect(pulses()).toBe(0);
    const b = new Uint8Array(KVM_PIT_STATE2_SIZE);
    p.save(b, 0);
    const dv = new DataView(b.buffer);
    for (const j of [0, 1, 2]) {
      expect(dv.getUint32(24 * j, true)).toBe(0x10000);
      expect(b[24 * j + 13]).toBe(0xff); // mode
      expect(b[24 * j + 15]).toBe(j === 2 ? 0 : 1); // gate
    }
  });

  it('counts a mode 2 channel down and reads it LSB then MSB, or latched', () => {
    const { p, clock } = pit();
    p.write(0x43, 0xb4); // channel 2, LSB/MSB, mode 2
    p.write(0x42, 0x00);
    p.write(0x42, 0x10); // count 0x1000
    clock.t += ns(0x100);
    expect(p.read(0x42) | (p.read(0x42) << 8)).toBe(0x0f00);
    p.write(0x43, 0x80); // latch channel 2
    clock.t += ns(0x100); // the latch holds the value of the moment it was taken
    expect(p.read(0x42) | (p.read(0x42) << 8)).toBe(0x0f00);
    expect(p.read(0x42) | (p.read(0x42) << 8)).toBe(0x0e00);
    clock.t += ns(0xe00);
    expect(p.read(0x42) | (p.read(0x42) << 8)).toBe(0x1000); // reloaded
  });

  it('returns the status byte of the read-back command: OUT, access, mode, BCD', () => {
    const { p, clock } = pit();
    p.write(0x43, 0x30); // channel 0, LSB/MSB, mode 0
    p.write(0x40, 100);
    p.write(0x40, 0);
    p.write(0x43, 0xe2); // read back status of channel 0
    expect(p.read(0x40)).toBe(0x30); // OUT low while counting
    clock.t += ns(100);
    p.write(0x43, 0xe2);
    expect(p.read(0x40)).toBe(0xb0); // OUT high at terminal count
  });

  it('pulses GSI 0 once per period, coalescing periods that passed unseen', () => {
    const { p, clock, pulses } = pit();
    p.write(0x43, 0x34); // channel 0, LSB/MSB, mode 2
    p.write(0x40, 0xa9);
    p.write(0x40, 0x04); // 1193: ~1 ms
    const period = ns(1193);
    expect(p.nextDeadline()).toBeCloseTo(clock.t + period, 1);
    clock.t += period * 0.5;
    expect(p.check(clock.t)).toBe(false);
    clock.t += period * 0.5;
    expect(p.check(clock.t)).toBe(true);
    clock.t += period * 3.5;
    expect(p.check(clock.t)).toBe(true); // three periods late: one pulse
    expect(pulses()).toBe(2);
    expect(p.nextDeadline()).toBeGreaterThan(clock.t);
  });

  it("says whether its clock is the host's, whose reading the run loop shares with the TSC's", () => {
    // The run loop reads the host clock once an entry (kvmTscSync) and hands it to a PIT on that
    // clock; an icount VM's PIT keeps reading its own (virtual) clock.
    expect(new KvmPit(hostNowNs, () => {}).hostClock).toBe(true);
    expect(pit().p.hostClock).toBe(false);
  });

  it('fires a mode 0 channel 0 once; a periodic interval under 200 us is raised to it', () => {
    const { p, clock, pulses } = pit();
    p.write(0x43, 0x30);
    p.write(0x40, 10);
    p.write(0x40, 0);
    clock.t += ns(10);
    expect(p.check(clock.t)).toBe(true);
    clock.t += ns(100000);
    expect(p.check(clock.t)).toBe(false);
    expect(p.nextDeadline()).toBe(-1);
    p.write(0x43, 0x34);
    p.write(0x40, 2);
    p.write(0x40, 0);
    expect(p.nextDeadline() - clock.t).toBeCloseTo(200_000, 3);
    expect(pulses()).toBe(1);
  });

  it('round-trips kvm_pit_state2 and restarts channel 0 from the loaded count', () => {
    const { p, clock } = pit();
    const b = new Uint8Array(KVM_PIT_STATE2_SIZE);
    p.save(b, 0);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 1193, true);
    b[12] = 3; // rw_mode
    b[13] = 2; // mode 2
    dv.setUint32(72, 1, true); // flags
    p.load(b, 0);
    expect(p.nextDeadline()).toBeCloseTo(clock.t + ns(1193), 1);
    const back = new Uint8Array(KVM_PIT_STATE2_SIZE);
    p.save(back, 0);
    expect([...back.subarray(0, 16)]).toEqual([...b.subarray(0, 16)]);
    expect(new DataView(back.buffer).getUint32(72, true)).toBe(1);
  });
});
