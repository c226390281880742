/**
 * Pause-loop exiting for vCPUs that take turns on one thread (`kvm_vcpu_on_spin`). A vCPU that
 * spins on PAUSE (Linux's `cpu_relax` in a contended spinlock or `csd_lock_wait`, waiting for
 * another CPU to take an IPI) waits for a vCPU that cannot run until this one's KVM_RUN ends: with
 * turns, it would spin away its whole instruction budget. Hardware PLE (SDM 25.1.3, "PAUSE-loop
 * exiting"; APM 15.14.4, the pause filter) exits after a spin of some length and KVM yields to
 * another vCPU. Both silicon models have it, and both drivers ask for it as KVM does: such an exit
 * already means a long spin, so the run ends with EINTR at once and the VMM passes the turn on.
 * Without it (a driver that exits on every PAUSE) the exits are counted, and after
 * SPIN_YIELD_PAUSES of them in one turn (the KVM_RUNs since the last EINTR) the run ends.
 */
import type { SoftVcpu } from './vcpu.js';

/**
 * PAUSE exits in one KVM_RUN before the vCPU yields: a spin loop of a few instructions a PAUSE
 * yields after a few hundred instructions (KVM's default ple_window is 4096 cycles), while a
 * udelay's short loop or a lone PAUSE does not.
 */
export const SPIN_YIELD_PAUSES = 64;

/**
 * KVM's `KVM_DEFAULT_PLE_GAP`: PAUSEs more than this many TSC ticks apart are not one spin loop
 * (VMX's PLE_Gap; SVM's pause filter threshold).
 */
export const KVM_DEFAULT_PLE_GAP = 128;

/**
 * A PAUSE exit of `vcpu` (the driver skipped the instruction). `loop`: the silicon measured the
 * spin (PAUSE-loop exiting, the pause filter), so it is long enough already; else the exit is
 * counted until the spin is. Either way KVM_RUN then returns so another vCPU runs. Nothing with a
 * single vCPU: no one to yield to.
 */
export function kvmVcpuOnSpin(vcpu: SoftVcpu, loop: boolean): void {
  if (vcpu.vm.vcpus.size < 2) return;
  vcpu.vm.count('pause_exits');
  if (loop || ++vcpu.spinPauses >= SPIN_YIELD_PAUSES) vcpu.spinYield = true;
}
