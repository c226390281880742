/**
 * The guest's TSC as the generic part reads and writes it (`kvm_read_l1_tsc`, and the carries of
 * `tsc-clock.ts`/`icount.ts`): the silicon's counter itself when the backend hands it out
 * (`ArchOps.tscCounter`), else IA32_TSC through the backend's MSR path. The run loop reads it
 * before every entry (the clock carry, the APIC timer's check and slack), so the direct words
 * spare the MSR dispatch (VMCS load, the MSR switch) on the exit path (issue #18).
 */
import type { SoftVcpu } from './vcpu.js';

const MSR_IA32_TSC = 0x10;
const TWO_32 = 0x100000000;
const scratch = new Uint32Array(2);

/** The guest's TSC, or -1 when the backend has none (RDMSR would #GP). */
export function kvmReadTsc(vcpu: SoftVcpu): number {
  const ops = vcpu.ops;
  if (ops.tscCounter !== undefined) {
    const c = ops.tscCounter(vcpu);
    return c[0] + c[1] * TWO_32;
  }
  if (!ops.getMsr(vcpu, MSR_IA32_TSC, scratch)) return -1;
  return scratch[0] + scratch[1] * TWO_32;
}

/** Sets the guest's TSC (as the host's WRMSR to IA32_TSC does: KVM_SET_MSRS, a carry). */
export function kvmWriteTsc(vcpu: SoftVcpu, tsc: number): void {
  const lo = tsc >>> 0;
  const hi = Math.floor(tsc / TWO_32) >>> 0;
  const ops = vcpu.ops;
  if (ops.tscCounter !== undefined) {
    const c = ops.tscCounter(vcpu);
    c[0] = lo;
    c[1] = hi;
    return;
  }
  ops.setMsr(vcpu, MSR_IA32_TSC, lo, hi);
}

/** Moves the guest's TSC `ticks` ahead (a carry): one access to the counter. */
export function kvmAdvanceTsc(vcpu: SoftVcpu, ticks: number): void {
  const ops = vcpu.ops;
  if (ops.tscCounter === undefined) {
    const tsc = kvmReadTsc(vcpu);
    if (tsc >= 0) kvmWriteTsc(vcpu, tsc + ticks);
    return;
  }
  const c = ops.tscCounter(vcpu);
  const tsc = c[0] + c[1] * TWO_32 + ticks;
  c[0] = tsc >>> 0;
  c[1] = Math.floor(tsc / TWO_32) >>> 0;
}
