/**
 * IA32_MISC_ENABLE as the firmware leaves it. KVM creates a vCPU with only "BTS unavailable" and
 * "PEBS unavailable" set (bits 11 and 12, `kvm_vcpu_reset`); QEMU's `x86_cpu_reset_hold` starts
 * every CPU from `MSR_IA32_MISC_ENABLE_DEFAULT`, fast-string operations enabled (bit 0, SDM Vol. 4
 * Table 2-2), and `kvm_put_msrs` writes it. A Linux guest on an Intel model without the bit
 * prints "Disabled fast string operations" and drops REP_GOOD and ERMS, so its memcpy, memset and
 * clear_page take their unrolled loops instead of REP MOVS/STOS.
 */
import type { Vcpu } from '@kvm/core';

export const MSR_IA32_MISC_ENABLE = 0x1a0;
/** MISC_ENABLE bit 0: fast-string operations enabled. */
export const MISC_ENABLE_FAST_STRING = 1n;

/** Sets fast-string enable in `vcpu`'s IA32_MISC_ENABLE over the engine's reset value. */
export function enableFastStrings(vcpu: Vcpu): void {
  const [cur] = vcpu.getMsrs([MSR_IA32_MISC_ENABLE]);
  if (cur === undefined) return;
  vcpu.setMsrs([{ index: MSR_IA32_MISC_ENABLE, data: cur.data | MISC_ENABLE_FAST_STRING }]);
}
