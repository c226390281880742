/**
 * QEMU's `-icount` on the software engine (`accel/tcg/icount-common.c`): a virtual clock that
 * retired instructions advance, 2^shift ns each, whatever the host does. The guest TSC *is* this
 * clock in nanoseconds, at the nominal SOFT_TSC_KHZ (1 GHz) that CPUID 0x15/0x16 advertise, as
 * QEMU's TSC is `cpu_get_ticks` → `icount_get`; the in-kernel PIT, and qemu-lite's PM timer and
 * HPET, read it too (`kvmVirtualNs`). Because the TSC is nanoseconds, not instructions, the shift
 * may change under the guest: `shift=auto` (`icount_adjust`) moves it to keep the virtual clock
 * near real time without changing any frequency the guest calibrated.
 *
 * The silicon's counter (x86emu) still advances one tick per retired instruction inside an entry;
 * before each entry `kvmIcountSync` adds the other 2^shift − 1 ticks of every instruction retired
 * since (by every vCPU of the VM: they share the counter and the clock, as QEMU's vCPUs share
 * `qemu_icount`). Inside one entry the guest's RDTSC thus climbs one tick per instruction and the
 * carry catches up at the next; entries end at the next timer's deadline, converted back to
 * instructions (`kvmIcountInstructionsUntil`), so every timer still fires at its instruction.
 *
 * `shift=N` reads nothing of the host: two runs are identical. `shift=auto` starts at 3 (QEMU's
 * guess of 125 MIPS) and every 100 ms of virtual or 1 s of real time compares the two clocks
 * (`icount_adjust`, with its ICOUNT_WOBBLE hysteresis); and a halted vCPU lets virtual time run
 * with real time (QEMU's default `sleep=on`): its skip to the next timer goes no further than the
 * real clock, and it waits out the rest.
 */

import { hostNowNs } from './irqchip/pit.js';
import { kvmAdvanceTsc, kvmReadTsc } from './tsc-counter.js';
import type { SoftVcpu } from './vcpu.js';
import type { SoftVm } from './vm.js';

/** MAX_ICOUNT_SHIFT */
export const MAX_ICOUNT_SHIFT = 10;
/** `icount_configure`: auto starts at 3 ("125MIPS seems a reasonable initial guess"). */
const AUTO_INITIAL_SHIFT = 3;
/** ICOUNT_WOBBLE (NANOSECONDS_PER_SECOND / 10): differences below this are estimation noise. */
const ICOUNT_WOBBLE = 100_000_000;
/** `icount_adjust_vm` runs every 100 ms of virtual time, `icount_adjust_rt` every second of real. */
const ADJUST_VIRTUAL_NS = 100_000_000;
const ADJUST_REAL_NS = 1_000_000_000;

/** An icount shift: 0 to MAX_ICOUNT_SHIFT, or `'auto'`. */
export type IcountShift = number | 'auto';

interface Icount {
  /** 2^shift ns per instruction now. */
  shift: number;
  auto: boolean;
  /** Instructions of all the VM's vCPUs at the last carry. */
  instructions: number;
  /** auto: host ns and virtual ns when the clock started (-1 before the first carry). */
  realOrigin: number;
  virtualOrigin: number;
  /** auto: host and virtual ns at the last adjustment, and `last_delta`. */
  lastAdjustReal: number;
  lastAdjustVirtual: number;
  lastDelta: number;
}

/** The VM's icount state (`SoftVm.icount`: a field, read before every entry), or undefined. */
function icountOf(vm: SoftVm): Icount | undefined {
  return (vm.icount as Icount | null) ?? undefined;
}

function vmInstructions(vm: SoftVm): number {
  let n = 0;
  for (const v of vm.vcpus.values()) n += v.instructions;
  return n;
}

/** Is `shift` a valid icount shift (0–10 or 'auto')? */
export function isIcountShift(shift: unknown): shift is IcountShift {
  return (
    shift === 'auto' ||
    (Number.isInteger(shift) && (shift as number) >= 0 && (shift as number) <= MAX_ICOUNT_SHIFT)
  );
}

/** Makes `vm` keep the icount clock (set once, when the VM is created). */
export function kvmSetIcount(vm: SoftVm, shift: IcountShift): void {
  const auto = shift === 'auto';
  vm.icount = {
    shift: auto ? AUTO_INITIAL_SHIFT : shift,
    auto,
    instructions: 0,
    realOrigin: -1,
    virtualOrigin: 0,
    lastAdjustReal: 0,
    lastAdjustVirtual: 0,
    lastDelta: 0,
  } satisfies Icount;
}

/** The VM's shift now (auto's moves), or -1 when its time is not virtual. */
export function kvmIcountShift(vm: SoftVm): number {
  return icountOf(vm)?.shift ?? -1;
}

/** Does the VM keep `shift=auto`'s clock (real time bounds a halt's skip)? */
export function kvmIcountAuto(vm: SoftVm): boolean {
  return icountOf(vm)?.auto === true;
}

/**
 * Virtual ns of an icount VM: the TSC its vCPUs share, with the carry still owed for the
 * instructions since the last entry (a device read in an exit sees the clock where the guest's
 * instructions put it); 0 before the VM has a vCPU.
 */
export function kvmVirtualNs(vm: SoftVm): number {
  const ic = icountOf(vm);
  for (const vcpu of vm.vcpus.values()) {
    const tsc = Math.max(0, kvmReadTsc(vcpu));
    if (ic === undefined || ic.shift === 0) return tsc;
    return tsc + (vmInstructions(vm) - ic.instructions) * (2 ** ic.shift - 1);
  }
  return 0;
}

/** Instructions until the virtual clock has advanced `ticks` ns (at least 1). */
export function kvmIcountInstructionsUntil(vm: SoftVm, ticks: number): number {
  const shift = icountOf(vm)?.shift ?? 0;
  return Math.max(1, Math.ceil(ticks / 2 ** shift));
}

/**
 * Before an entry of an icount VM: the TSC gains the 2^shift − 1 ticks the silicon did not count of
 * each instruction retired since the last carry; with auto, then `icount_adjust` when due. Returns
 * false for a VM without icount.
 */
export function kvmIcountSync(vcpu: SoftVcpu): boolean {
  const vm = vcpu.vm;
  const ic = icountOf(vm);
  if (ic === undefined) return false;
  const instructions = vm.vcpus.size === 1 ? vcpu.instructions : vmInstructions(vm);
  const retired = instructions - ic.instructions;
  ic.instructions = instructions;
  if (retired > 0 && ic.shift > 0) {
    kvmAdvanceTsc(vcpu, retired * (2 ** ic.shift - 1));
  }
  if (ic.auto) icountAdjust(vcpu, ic);
  return true;
}

/** Real time on the virtual clock's scale (auto): host ns since the clock started, from its origin. */
function realVirtualNs(ic: Icount): number {
  return ic.virtualOrigin + (hostNowNs() - ic.realOrigin);
}

/**
 * `icount_adjust` (QEMU): the guest too far ahead of real time slows the clock by one shift, too
 * far behind speeds it up, with ICOUNT_WOBBLE's hysteresis against oscillation. QEMU's bias keeps
 * the clock continuous; here the TSC is the accumulated clock, so a new shift only changes what
 * the next instructions add.
 */
function icountAdjust(vcpu: SoftVcpu, ic: Icount): void {
  const virtual = kvmReadTsc(vcpu);
  if (virtual < 0) return;
  const real = hostNowNs();
  if (ic.realOrigin < 0) {
    ic.realOrigin = real;
    ic.virtualOrigin = virtual;
    ic.lastAdjustReal = real;
    ic.lastAdjustVirtual = virtual;
    return;
  }
  if (virtual - ic.lastAdjustVirtual < ADJUST_VIRTUAL_NS && real - ic.lastAdjustReal < ADJUST_REAL_NS) return;
  ic.lastAdjustReal = real;
  ic.lastAdjustVirtual = virtual;
  const delta = virtual - ic.virtualOrigin - (real - ic.realOrigin);
  if (delta > 0 && ic.lastDelta + ICOUNT_WOBBLE < delta * 2 && ic.shift > 0) ic.shift--;
  if (delta < 0 && ic.lastDelta - ICOUNT_WOBBLE > delta * 2 && ic.shift < MAX_ICOUNT_SHIFT) ic.shift++;
  ic.lastDelta = delta;
}

/**
 * A halted vCPU of an icount VM skips its TSC ahead to the timer at `target`: how far it may go.
 * `shift=N`: all the way (deterministic). auto (`sleep=on`): no further than real time, so an idle
 * guest's clock does not run ahead; the vCPU waits for the rest (`kvmIcountNsUntil`).
 */
export function kvmIcountSkipLimit(vm: SoftVm, target: number): number {
  const ic = icountOf(vm);
  if (ic === undefined || !ic.auto || ic.realOrigin < 0) return target;
  return Math.min(target, realVirtualNs(ic));
}

/** auto: real ns until the virtual clock may reach `target` by a halt (0 if it may now). */
export function kvmIcountNsUntil(vm: SoftVm, target: number): number {
  const ic = icountOf(vm);
  if (ic === undefined || !ic.auto || ic.realOrigin < 0) return 0;
  return Math.max(0, target - realVirtualNs(ic));
}
