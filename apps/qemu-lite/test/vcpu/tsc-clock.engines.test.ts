/**
 * The software engine's guest TSC on the host clock (`tscClock: 'host'`, how qemu-lite opens it):
 * RDTSC follows host time at the nominal 1 GHz that CPUID 0x15/0x16 advertise, with an invariant
 * TSC; the default clock counts retired instructions only (deterministic).
 */
import { KVM_EXIT, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { realModeVcpu } from './real-mode-vcpu.js';

/** Real mode at 0x1000: rdtsc; out 0x10, al; rdtsc; out 0x11, al; hlt. */
const rdtscGuest = (kvm: Kvm): Vcpu =>
  realModeVcpu(kvm, [0x0f, 0x31, 0xe6, 0x10, 0x0f, 0x31, 0xe6, 0x11, 0xf4], { irqchip: false });

function tscAtExit(vcpu: Vcpu): bigint {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const r = vcpu.getRegs();
  return ((r.rdx & 0xffffffffn) << 32n) | (r.rax & 0xffffffffn);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const engines = [
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
];

describe.each(engines)('the guest TSC on -accel $name', ({ open }) => {
  it('follows the host clock at 1 GHz with tscClock host, and says so in CPUID', () => {
    const kvm = open({ tscClock: 'host' });
    const cpuid = kvm.getSupportedCpuid();
    expect(cpuid.find((e) => e.function === 0x15)).toMatchObject({ eax: 1, ebx: 1, ecx: 1_000_000_000 });
    expect(cpuid.find((e) => e.function === 0x16)).toMatchObject({ eax: 1000, ebx: 1000, ecx: 1000 });
    expect(cpuid.find((e) => e.function === 0)?.eax).toBeGreaterThanOrEqual(0x16);
    const ext = cpuid.find((e) => e.function === 0x80000007);
    if (ext) expect(ext.edx & (1 << 8)).toBe(1 << 8);
    const vcpu = rdtscGuest(kvm);
    const t0 = tscAtExit(vcpu);
    sleepMs(100);
    const t1 = tscAtExit(vcpu);
    // 100 ms of host time is 100,000,000 ticks (and a little more for the run itself).
    expect(t1 - t0).toBeGreaterThanOrEqual(95_000_000n);
    expect(t1 - t0).toBeLessThan(2_000_000_000n);
  });

  it('counts retired instructions only by default, whatever the host clock did', () => {
    const kvm = open();
    expect(kvm.getSupportedCpuid().find((e) => e.function === 0x15)?.ecx).not.toBe(1_000_000_000);
    const vcpu = rdtscGuest(kvm);
    const t0 = tscAtExit(vcpu);
    sleepMs(50);
    const t1 = tscAtExit(vcpu);
    expect(t1 - t0).toBeLessThan(10n);
  });
});
