/**
 * The -icount clock (core's icount.ts): the guest TSC counts virtual nanoseconds at the 1 GHz
 * CPUID advertises, 2^shift per retired instruction, so `shift=N` repeats exactly and `shift=auto`
 * may move the shift under the guest (QEMU's `icount_adjust`) to keep virtual time near real time;
 * an auto clock's halt waits for real time instead of skipping past it (QEMU's sleep=on).
 */
import { Errno, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

const MSR_IA32_TSC = 0x10;
const tsc = (vcpu: Vcpu): number => Number(vcpu.getMsrs([MSR_IA32_TSC])[0].data);

/** mov ecx, LOOPS; a: dec ecx; jnz a; out 0x10, al; hlt — 2 × LOOPS + 2 instructions to the OUT. */
const LOOPS = 50_000;
const countdown = [
  0x66,
  0xb9,
  LOOPS & 0xff,
  (LOOPS >> 8) & 0xff,
  0,
  0,
  0x66,
  0x49,
  0x75,
  0xfc,
  0xe6,
  0x10,
  0xf4,
];

/** sti; hlt; jmp $-1, with a one-shot APIC timer TMICT ticks away (divide by 1). */
function haltWithTimer(kvm: Kvm, tmict: number): Vcpu {
  const vcpu = realModeVcpu(kvm, [0xfb, 0xf4, 0xeb, 0xfd]);
  const lapic = vcpu.getLapic();
  const regs = new DataView(lapic.regs.buffer, lapic.regs.byteOffset, lapic.regs.byteLength);
  regs.setUint32(0xf0, 0x1ff, true);
  regs.setUint32(0x320, 0x40, true);
  regs.setUint32(0x3e0, 0xb, true);
  regs.setUint32(0x380, tmict, true);
  regs.setUint32(0x390, tmict, true);
  vcpu.setLapic(lapic);
  return vcpu;
}

describe.each([
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
])('the -icount clock ($name)', ({ open }) => {
  it('shift=N: the TSC is virtual ns, 2^N a retired instruction, and CPUID says 1 GHz', () => {
    for (const shift of [0, 2, 5]) {
      const kvm = open({ icountShift: shift, tscClock: 'instructions' });
      expect(kvm.getSupportedCpuid().find((e) => e.function === 0x15)?.ecx).toBe(1_000_000_000);
      const vcpu = realModeVcpu(kvm, countdown, { irqchip: false });
      expect(runErrno(vcpu)).toBe(0);
      // 2 × LOOPS + 2 instructions, the OUT counted or not (an exit's instruction may count later).
      expect(tsc(vcpu)).toBeGreaterThanOrEqual(2 * LOOPS * 2 ** shift);
      expect(tsc(vcpu)).toBeLessThan((2 * LOOPS + 4) * 2 ** shift);
    }
  });

  it('shift=auto: over a busy guest the virtual clock stays within a factor of 4 of real time', () => {
    const kvm = open({
      icountShift: 'auto',
      tscClock: 'instructions',
      haltBlocks: false,
      runBudget: 200_000,
    });
    const vcpu = realModeVcpu(kvm, [0xeb, 0xfe], { irqchip: false }); // jmp $
    const spin = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) expect(runErrno(vcpu)).toBe(Errno.EINTR);
    };
    // QEMU's auto starts at shift 3 (125 MIPS); whatever this machine runs, a few adjustments
    // (every 100 ms virtual or 1 s real) bring the shift to it.
    spin(4000);
    const v0 = tsc(vcpu);
    const r0 = performance.now();
    spin(2000);
    const ratio = (tsc(vcpu) - v0) / ((performance.now() - r0) * 1e6);
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(4);
  }, 30_000);

  it('shift=N skips a halt to the timer at once; shift=auto waits for real time', () => {
    const second = 1_000_000_000;
    const fixed = haltWithTimer(
      open({ icountShift: 3, tscClock: 'instructions', haltBlocks: false }),
      second,
    );
    runErrno(fixed); // the timer's interrupt goes to an empty IVT: the budget ends the run
    expect(tsc(fixed)).toBeGreaterThanOrEqual(second);

    const auto = haltWithTimer(
      open({ icountShift: 'auto', tscClock: 'instructions', haltBlocks: false }),
      second,
    );
    const t0 = performance.now();
    expect(runErrno(auto)).toBe(Errno.EINTR);
    expect(runErrno(auto)).toBe(Errno.EINTR);
    // Not past real time (with a generous margin for a loaded machine), far below the timer.
    expect(tsc(auto)).toBeLessThan((performance.now() - t0) * 1e6 + 100_000_000);
    expect(tsc(auto)).toBeLessThan(second);
  });
});
