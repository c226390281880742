/**
 * A vCPU's turn on the shared thread (-smp on vmx/svm) lasts through its exits for userspace: the
 * engine counts the run budget over the whole turn (core's run loop, `turnStart`) and ends the
 * turn after TURN_USERSPACE_EXITS of them (a device-polling loop must not hold the thread), and
 * qemu-lite's `VcpuTurns` keeps the vCPU after an exit and passes the turn on only at EINTR/EAGAIN.
 * Passing it at every exit starved a vCPU writing to the UART byte by byte (Debian's kernel at
 * -smp 4 printed with interrupts off at a line a second, and RCU reported stalls).
 */
import { Errno, type Kvm, TURN_USERSPACE_EXITS, type Vcpu } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { VcpuTurns } from '../../src/vcpu/vcpu-turns.js';
import { realModeVcpu, runErrno } from './real-mode-vcpu.js';

/** Instructions per turn. */
const BUDGET = 10_000;
/** out 0x80, al; jmp $-4: an exit for userspace every two instructions. */
const OUT_LOOP = [0xe6, 0x80, 0xeb, 0xfc];
/** a: mov cx, 100; loop $; out 0x80, al; jmp a: an exit every 103 instructions. */
const LOOP_OUT = [0xb9, 0x64, 0x00, 0xe2, 0xfe, 0xe6, 0x80, 0xeb, 0xf7];

/** KVM_RUNs until one ends with EINTR (each other one is the OUT's exit); Infinity if none in `max`. */
function runsUntilEintr(vcpu: Vcpu, max: number): number {
  for (let i = 1; i <= max; i++) {
    const errno = runErrno(vcpu);
    if (errno === Errno.EINTR) return i;
    expect(errno).toBe(0);
  }
  return Number.POSITIVE_INFINITY;
}

describe.each([
  { name: 'vmx', open: createVmxKvm },
  { name: 'svm', open: createSvmKvm },
])('a vCPU turn through userspace exits ($name)', ({ open }) => {
  const options = { haltBlocks: false, tscClock: 'instructions', runBudget: BUDGET } as const;

  it('with a second vCPU in the VM: the budget counts over the KVM_RUNs of one turn', () => {
    const vcpu = realModeVcpu(open(options), LOOP_OUT, { cpus: 2 });
    // 103 instructions an exit: the turn's budget ends after about BUDGET / 103 exits.
    const runs = runsUntilEintr(vcpu, 4 * BUDGET);
    expect(runs).toBeGreaterThan(BUDGET / 103 - 2);
    expect(runs).toBeLessThan(BUDGET / 103 + 3);
    // The next turn starts with a whole budget again.
    expect(runsUntilEintr(vcpu, 4 * BUDGET)).toBeGreaterThan(BUDGET / 103 - 2);
  });

  it('with a second vCPU in the VM: a turn ends after TURN_USERSPACE_EXITS exits', () => {
    const vcpu = realModeVcpu(open({ ...options, runBudget: 10 * BUDGET }), OUT_LOOP, { cpus: 2 });
    // The turn's first KVM_RUN, then TURN_USERSPACE_EXITS more after an exit each: the last EINTR.
    expect(runsUntilEintr(vcpu, 4 * BUDGET)).toBe(TURN_USERSPACE_EXITS + 1);
    expect(runsUntilEintr(vcpu, 4 * BUDGET)).toBe(TURN_USERSPACE_EXITS + 1);
  });

  it('alone in its VM: each KVM_RUN has the whole budget (an exit never ends in EINTR)', () => {
    const vcpu = realModeVcpu(open(options), OUT_LOOP);
    expect(runsUntilEintr(vcpu, 2 * BUDGET)).toBe(Number.POSITIVE_INFINITY);
  });

  it('VcpuTurns keeps the vCPU after an exit and passes the turn on at EINTR', () => {
    const kvm: Kvm = open(options);
    const vm = kvm.createVm();
    vm.createIrqchip();
    const vcpus = [vm.createVcpu(0), vm.createVcpu(1), vm.createVcpu(2)];
    const turns = new VcpuTurns({ vcpus });
    expect(turns.shared).toBe(true);
    expect(turns.next(false)).toBe(false);
    expect(turns.current).toBe(0);
    turns.next(true);
    expect(turns.current).toBe(1);
    turns.next(false);
    expect(turns.current).toBe(1);
    turns.next(true);
    expect(turns.current).toBe(2);
    // The APs wait for INIT/SIPI, so they are idle; vCPU 0 is RUNNABLE: no round is all idle.
    expect(turns.next(true)).toBe(false);
    expect(turns.current).toBe(0);
  });
});
