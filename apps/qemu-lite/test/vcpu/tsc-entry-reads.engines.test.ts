/**
 * The clock work before each VM entry (issue #18, the exit path's cost): the host-clock carry and
 * the APIC timer's slack read the silicon's TSC through `ArchOps.tscCounter`, at most once per
 * entry, never through the backend's MSR dispatch (`vmx_get_msr`/`svm_get_msr`), and not at all
 * for the slack while no timer is armed.
 */
import { KVM_EXIT } from '@kvm/core';
import { createSvmKvm, SvmDriver } from '@kvm/svm';
import { createVmxKvm, VmxDriver } from '@kvm/vmx';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { realModeVcpu } from './real-mode-vcpu.js';

const LOOPS = 200;
/**
 * Real mode at 0x1000: mov si, LOOPS; l: xor eax, eax; xor ecx, ecx; cpuid; dec si; jnz l;
 * out 0x10, al; hlt. CPUID exits to the kernel on both silicon models, so KVM_RUN enters LOOPS + 1
 * times before the OUT returns to userspace.
 */
const cpuidLoop = [
  0xbe,
  LOOPS,
  0x00,
  0x66,
  0x31,
  0xc0,
  0x66,
  0x31,
  0xc9,
  0x0f,
  0xa2,
  0x4e,
  0x75,
  0xf5,
  0xe6,
  0x10,
  0xf4,
];

const engines = [
  { name: 'vmx', open: createVmxKvm, driver: VmxDriver },
  { name: 'svm', open: createSvmKvm, driver: SvmDriver },
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(engines)('the entry path reads the TSC on -accel $name', ({ open, driver }) => {
  it('once per entry at most, from the counter, never through the MSR path (host clock, irqchip)', () => {
    const kvm = open({ tscClock: 'host' });
    const vcpu = realModeVcpu(kvm, cpuidLoop);
    const proto = driver.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const entries = vi.spyOn(proto, 'run');
    const getMsr = vi.spyOn(proto, 'getMsr');
    // (Spied only if the backend has it, so that a backend without it fails on the MSR reads.)
    const counter = 'tscCounter' in proto ? vi.spyOn(proto, 'tscCounter') : vi.fn();
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(entries.mock.calls.length).toBeGreaterThanOrEqual(LOOPS + 1);
    expect(getMsr.mock.calls.filter((c) => c[1] === 0x10)).toHaveLength(0);
    // The carry's one access per entry (and the one of the return to userspace), no other.
    expect(counter.mock.calls.length).toBeGreaterThan(0);
    expect(counter.mock.calls.length).toBeLessThanOrEqual(entries.mock.calls.length + 1);
    // The carry still reached the guest: 200 CPUID exits take far more host ns than instructions.
    const [tsc] = vcpu.getMsrs([0x10]);
    expect(tsc.data).toBeGreaterThan(1000n);
  });

  it('not at all on the instruction clock with no timer armed', () => {
    const kvm = open();
    const vcpu = realModeVcpu(kvm, cpuidLoop);
    const proto = driver.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const getMsr = vi.spyOn(proto, 'getMsr');
    const counter = 'tscCounter' in proto ? vi.spyOn(proto, 'tscCounter') : vi.fn();
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(getMsr.mock.calls.filter((c) => c[1] === 0x10)).toHaveLength(0);
    expect(counter).not.toHaveBeenCalled();
  });
});
