/**
 * How long a VM entry may run (`kvmEntrySlice`, run-loop.ts): where the host clock drives the VM, a
 * 1,000 Hz host tick's worth of the vCPU's measured rate, never less than ENTRY_SLICE (what every
 * entry ran before), at most ENTRY_SLICE_MAX, and no further than the in-kernel PIT's next deadline
 * where that comes sooner; under -icount (no host clock) always ENTRY_SLICE, so runs replay.
 */
import { describe, expect, it } from 'vitest';
import { HvaSpace } from '../../src/soft/hva-space.js';
import { kvmApicTimerSlack, kvmCreateIrqchip } from '../../src/soft/irqchip/vcpu-irq.js';
import { ENTRY_SLICE, ENTRY_SLICE_MAX, kvmEntrySlice } from '../../src/soft/run-loop.js';
import { SoftVm } from '../../src/soft/vm.js';
import { fakeArch } from './fake-arch.js';

const MS = 1_000_000;

function vcpu() {
  const vm = new SoftVm(fakeArch(), new HvaSpace(), 12288, null);
  return { vm, vcpu: vm.createVcpu(0) };
}

describe('the instructions a VM entry may run', () => {
  it('under -icount (no host clock reading): ENTRY_SLICE, whatever ran before', () => {
    const { vcpu: v } = vcpu();
    for (let i = 0; i < 5; i++) {
      v.instructions += 50_000_000;
      expect(kvmEntrySlice(v, -1)).toBe(ENTRY_SLICE);
    }
  });

  it("a host tick's worth of the rate measured over at least 1 ms, between ENTRY_SLICE and ENTRY_SLICE_MAX", () => {
    const { vcpu: v } = vcpu();
    let t = 5e12;
    expect(kvmEntrySlice(v, t)).toBe(ENTRY_SLICE); // nothing measured yet
    v.instructions += 900_000;
    t += 0.5 * MS;
    expect(kvmEntrySlice(v, t)).toBe(ENTRY_SLICE); // under a tick since: not measured yet
    v.instructions += 1_100_000;
    t += 0.5 * MS;
    expect(kvmEntrySlice(v, t)).toBe(2_000_000); // 2,000,000 in 1 ms
    v.instructions += 30_000_000;
    t += 2 * MS;
    expect(kvmEntrySlice(v, t)).toBe(ENTRY_SLICE_MAX); // 15,000 MIPS: capped
    v.instructions += 50_000;
    t += 1 * MS;
    expect(kvmEntrySlice(v, t)).toBe(ENTRY_SLICE); // a slow millisecond (halted, interpreting): the floor
    // The host clock going back (a new epoch) starts the measurement again.
    expect(kvmEntrySlice(v, t - 10 * MS)).toBe(ENTRY_SLICE);
  });

  it("no further than the host-clock PIT's next deadline, and never under ENTRY_SLICE for it", () => {
    const { vm, vcpu: v } = vcpu();
    const chip = kvmCreateIrqchip();
    vm.irqchip = chip;
    const pit = chip.createPit();
    pit.write(0x43, 0x34); // channel 0, LSB then MSB, mode 2 (rate generator)
    pit.write(0x40, 0x00);
    pit.write(0x40, 0x10); // 4096 input clocks: about 3.4 ms
    const deadline = pit.nextDeadline();
    expect(deadline).toBeGreaterThan(0);
    // 2,000 MIPS measured each millisecond up to 1 ms before the deadline: 2,000,000 an entry;
    // then, within the tick, asked 0.5, 0.3 and 0.05 ms before it: the PIT's share of that.
    kvmEntrySlice(v, deadline - 4 * MS);
    for (const before of [3, 2, 1]) {
      v.instructions += 2_000_000;
      expect(kvmEntrySlice(v, deadline - before * MS)).toBe(2_000_000);
    }
    expect(kvmEntrySlice(v, deadline - 0.5 * MS)).toBe(1_000_000);
    expect(kvmEntrySlice(v, deadline - 0.3 * MS)).toBe(600_000);
    expect(kvmEntrySlice(v, deadline - 0.05 * MS)).toBe(ENTRY_SLICE);
  });
});

describe('the APIC timer bound on an entry', () => {
  it('is whole instructions on the host clock, at least one, though the deadline has a fraction', () => {
    // A fractional budget reaching x86emu's Cpu.run deoptimized its optimized code at each such
    // entry (V8: "lost precision"); the bound ends the entry no later than the deadline.
    const arch = fakeArch();
    const tsc = new Uint32Array([1_000_000, 0]);
    arch.tscCounter = () => tsc;
    const vm = new SoftVm(arch, new HvaSpace(), 12288, null);
    vm.irqchip = kvmCreateIrqchip();
    const v = vm.createVcpu(0);
    const apic = v.apic;
    expect(apic).not.toBeNull();
    for (const [deadline, slack] of [
      [1_000_000 + 2_500.75, 2_500],
      [1_000_000 + 0.4, 1],
      [1_000_000 - 10.5, 1],
    ]) {
      (apic as { nextTimerEvent(): number }).nextTimerEvent = () => deadline;
      expect(kvmApicTimerSlack(v)).toBe(slack);
    }
    (apic as { nextTimerEvent(): number }).nextTimerEvent = () => -1;
    expect(kvmApicTimerSlack(v)).toBe(Number.POSITIVE_INFINITY);
  });
});
