/**
 * The guest TSC of a VM whose vCPUs take turns on one thread, on the host clock (how qemu-lite
 * opens the software engine at -smp N): the silicon has one counter that every vCPU of the VM
 * reads, so carrying it forward to the host clock is the VM's business, once, not each vCPU's.
 * When each vCPU carried the counter by the host time since its own last turn, a round of N turns
 * added N rounds of host time: Debian's kernel at -smp 4 saw its clock run four times ahead and its
 * timers fire late against jiffies (RCU stall warnings, "timer wakeup didn't happen").
 */
import { Errno, type Kvm, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { runErrno } from './real-mode-vcpu.js';

const MSR_IA32_TSC = 0x10;
const CPUS = 4;
const ROUNDS = 20;
const SLEEP_MS = 10;

const tsc = (vcpu: Vcpu): number => Number(vcpu.getMsrs([MSR_IA32_TSC])[0].data);

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A VM of CPUS vCPUs: vCPU 0 halts with interrupts off in real mode (nothing wakes it), the APs
 * wait for INIT/SIPI; every KVM_RUN returns EINTR at once, as each idle vCPU's turn does in
 * qemu-lite.
 */
function idleVm(kvm: Kvm): Vcpu[] {
  const vm = kvm.createVm();
  vm.createIrqchip();
  const mem = vm.allocateMemory(0x10000);
  new Uint8Array(mem.buffer).set([0xfa, 0xf4, 0xeb, 0xfd], 0x1000); // cli; hlt; jmp $-1
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(mem.size),
    userspaceAddr: mem.userspaceAddr,
  });
  const vcpus = Array.from({ length: CPUS }, (_, id) => vm.createVcpu(id));
  const sregs = vcpus[0].getSregs();
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  vcpus[0].setSregs(sregs);
  vcpus[0].setRegs({ ...vcpus[0].getRegs(), rip: 0x1000n, rflags: 0x2n });
  return vcpus;
}

describe.each([
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
])('the TSC of vCPUs taking turns on the host clock ($name)', ({ open }) => {
  it(`advances with host time, not ${CPUS} times as fast, whichever vCPU reads it`, () => {
    const kvm = open({ haltBlocks: false, tscClock: 'host' });
    const vcpus = idleVm(kvm);
    for (const v of vcpus) expect(runErrno(v)).toBe(Errno.EINTR);
    const t0 = tsc(vcpus[0]);
    const wall0 = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      sleepMs(SLEEP_MS);
      for (const v of vcpus) expect(runErrno(v)).toBe(Errno.EINTR);
    }
    const wallNs = (performance.now() - wall0) * 1e6;
    const ticks = tsc(vcpus[0]) - t0;
    // 1 GHz: one tick per host ns. At least the time slept; at most the wall time and a little
    // (each vCPU's reading is the same counter, so any vCPU says the same).
    expect(ticks).toBeGreaterThanOrEqual(ROUNDS * SLEEP_MS * 1e6 * 0.95);
    expect(ticks).toBeLessThan(wallNs * 1.2 + 5e6);
    expect(Math.abs(tsc(vcpus[CPUS - 1]) - tsc(vcpus[0]))).toBeLessThan(5e6);
  });
});
