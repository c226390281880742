/**
 * The software engine's guest TSC clock. The silicon's TSC (x86emu) advances by one per retired
 * instruction; with `SoftKvmOptions.tscClock: 'host'` the engine also carries it forward to the
 * host's clock before each guest entry, at a nominal SOFT_TSC_KHZ (1 GHz: one tick per ns, the
 * rate of KVM's APIC bus, so the local APIC timer counts host nanoseconds too). The TSC then
 * follows host time as QEMU's TCG guests' does, the in-kernel PIT and qemu-lite's devices (on the
 * host clock) agree with it, and KVM_GET_SUPPORTED_CPUID says so (leaves 0x15/0x16, invariant
 * TSC).
 *
 * The carry is additive: between two entries the TSC gains max(instructions, elapsed host ns),
 * so a guest's WRMSR to IA32_TSC is kept (as a TSC offset would keep it) and the TSC never runs
 * backwards. A halted vCPU that skipped its TSC ahead to an APIC timer's expiry without waiting
 * (no `haltBlocks`) owes that skip to the host clock: the next carries are reduced by it.
 *
 * The counter is the silicon's one TSC, which every vCPU of the VM reads (their KVM_RUNs take
 * turns on it), so the carry is the VM's: the instructions are those of all its vCPUs, the
 * elapsed time is since the last carry by any of them. (A carry per vCPU, each by the host time
 * since that vCPU's own last turn, added a round of N turns N times: at -smp 4 the guest's clock
 * ran four times ahead of the host's.) The vCPUs' TSCs are thus synchronized exactly, as KVM's
 * `kvm_synchronize_tsc` matches the TSCs of vCPUs created together.
 */

import { holdAsDoubles } from '@kvm/x86emu';
import { kvmIcountSync } from './icount.js';
import { hostNowNs } from './irqchip/pit.js';
import { kvmAdvanceTsc, kvmReadTsc } from './tsc-counter.js';
import type { SoftVcpu } from './vcpu.js';
import type { SoftVm } from './vm.js';

/** The nominal TSC rate of the host clock mode, kHz (what KVM_GET_TSC_KHZ would answer). */
export const SOFT_TSC_KHZ = 1_000_000;
/** TSC ticks per host nanosecond at SOFT_TSC_KHZ. */
const TSC_PER_NS = SOFT_TSC_KHZ / 1e6;

/** How a VM's guest TSC advances. */
export type TscClockMode = 'instructions' | 'host';

interface TscSync {
  /** Host ns and retired instructions at the last carry (hostNs -1: none yet). */
  hostNs: number;
  instructions: number;
  /** Ticks the TSC was moved ahead of the host clock by a halt that did not wait. */
  debt: number;
}

/** The carry state of a host-clock VM (its vCPUs share the counter): `SoftVm.tscSync`, null if not host clock. */
function syncOf(vm: SoftVm): TscSync | null {
  return vm.tscSync as TscSync | null;
}

/** Makes `vm`'s vCPUs' TSC follow `mode` (set once, when the VM is created). */
export function kvmSetTscClock(vm: SoftVm, mode: TscClockMode): void {
  if (mode !== 'host') {
    vm.tscSync = null;
    return;
  }
  const sync: TscSync = { hostNs: -1, instructions: 0, debt: 0 };
  // Host nanoseconds and instruction counts (x86emu's double-fields.ts).
  holdAsDoubles(sync, ['hostNs', 'instructions', 'debt']);
  vm.tscSync = sync;
}

/** Does this vCPU's TSC follow the host clock? */
export function kvmTscFollowsHost(vcpu: SoftVcpu): boolean {
  return vcpu.vm.tscSync !== null;
}

/** Instructions retired by all of `vm`'s vCPUs: what the shared counter gained by itself. */
function vmInstructions(vm: SoftVm): number {
  let n = 0;
  for (const v of vm.vcpus.values()) n += v.instructions;
  return n;
}

/**
 * Before an entry: carries the TSC forward to the host clock (host clock mode), or by the
 * instructions' virtual time (-icount, `icount.ts`). Cheap when called often (every entry): one
 * field read, one clock read, and one access to the silicon's counter (`tsc-counter.ts`, not the
 * MSR path) only when the host clock is ahead. Returns the host clock it read (`hostNowNs`, the
 * PIT's time base), or -1 with -icount.
 */
export function kvmTscSync(vcpu: SoftVcpu): number {
  const vm = vcpu.vm;
  const s = syncOf(vm);
  if (s === null) {
    kvmIcountSync(vcpu);
    return -1;
  }
  const now = hostNowNs();
  const instructions = vm.vcpus.size === 1 ? vcpu.instructions : vmInstructions(vm);
  if (s.hostNs < 0) {
    s.hostNs = now;
    s.instructions = instructions;
    return now;
  }
  const elapsed = (now - s.hostNs) * TSC_PER_NS;
  const retired = instructions - s.instructions;
  s.hostNs = now;
  s.instructions = instructions;
  let gain = elapsed - retired;
  if (gain <= 0) return now;
  const paid = Math.min(gain, s.debt);
  s.debt -= paid;
  gain = Math.floor(gain - paid);
  if (gain > 0) kvmAdvanceTsc(vcpu, gain);
  return now;
}

/** A halt moved the TSC `ticks` ahead without waiting: the host clock must catch up first. */
export function kvmTscSkipped(vcpu: SoftVcpu, ticks: number): void {
  const s = syncOf(vcpu.vm);
  if (s !== null && s.hostNs >= 0 && ticks > 0) s.debt += ticks;
}

/** Host ns from now until the TSC reaches `tsc` (0 if it has), in host clock mode. */
export function kvmTscNsUntil(vcpu: SoftVcpu, tsc: number): number {
  const now = kvmReadTsc(vcpu);
  return now < 0 || tsc <= now ? 0 : (tsc - now) / TSC_PER_NS;
}
