/**
 * What a vCPU's CPUID may claim on the software engine: the feature words of the KVM_SET_CPUID2
 * table are masked, when the guest reads them, by what the silicon (x86emu) implements plus
 * what KVM emulates whatever the silicon has (the local APIC, x2APIC, TSC-deadline,
 * IA32_ARCH_CAPABILITIES, the speculation-control MSRs) — the same set KVM_GET_SUPPORTED_CPUID
 * reports. A
 * VMM that hands in a richer table (the host's CPUID, say) thus never makes a guest use an
 * instruction the interpreter lacks; KVM_GET_CPUID2 still returns the table as it was set.
 */

import { CPUID_7_EDX_ARCH_CAPABILITIES } from './arch-capabilities.js';
import type { ArchOps } from './arch-ops.js';
import { CPUID_7_2_EDX_BHI_CTRL, CPUID_7_EDX_SPEC_CTRL_ALL, siliconHasBhiCtrl } from './spec-ctrl.js';

/** Leaf 7.0 EDX bits the generic part emulates: IA32_ARCH_CAPABILITIES and SPEC_CTRL/PRED_CMD. */
const CPUID_7_EDX_KVM = (CPUID_7_EDX_ARCH_CAPABILITIES | CPUID_7_EDX_SPEC_CTRL_ALL) >>> 0;

/** Leaf 1 ECX bits KVM emulates (x2APIC 21, TSC-deadline 24) and sets (hypervisor 31). */
const CPUID_1_ECX_KVM = (1 << 21) | (1 << 24) | (1 << 31);
/** Leaf 1 EDX: the local APIC (9), which the in-kernel irqchip provides. */
const CPUID_1_EDX_KVM = 1 << 9;
/** Bits KVM never passes to a guest: VMX (leaf 1 ECX 5), SVM (80000001H ECX 2). */
const CPUID_1_ECX_VMX = 1 << 5;
const CPUID_80000001_ECX_SVM = 1 << 2;

const scratch = new Uint32Array(4);

/** Masks `out` = [EAX, EBX, ECX, EDX] of `leaf` in place (leaves 1, 7 and 80000001H). */
export function kvmCpuidFilter(ops: ArchOps, leaf: number, subleaf: number, out: Uint32Array): void {
  switch (leaf >>> 0) {
    case 1:
      ops.cpu.cpuid(1, 0, scratch);
      out[2] &= ((scratch[2] & ~CPUID_1_ECX_VMX) | CPUID_1_ECX_KVM) >>> 0;
      out[3] &= (scratch[3] | CPUID_1_EDX_KVM) >>> 0;
      return;
    case 7:
      ops.cpu.cpuid(7, subleaf, scratch);
      out[1] &= scratch[1];
      out[2] &= scratch[2];
      // IA32_ARCH_CAPABILITIES and the speculation controls are KVM's, whatever the silicon has;
      // an Intel model's BHI control (7.2) is x86emu's, whatever its leaf 7 lists.
      if (subleaf === 0) out[3] &= (scratch[3] | CPUID_7_EDX_KVM) >>> 0;
      else if (subleaf === 2 && siliconHasBhiCtrl((l, sub, o) => ops.cpu.cpuid(l, sub, o)))
        out[3] &= (scratch[3] | CPUID_7_2_EDX_BHI_CTRL) >>> 0;
      else out[3] &= scratch[3];
      return;
    case 0x80000001:
      ops.cpu.cpuid(0x80000001, 0, scratch);
      out[2] &= (scratch[2] & ~CPUID_80000001_ECX_SVM) >>> 0;
      out[3] &= scratch[3];
      return;
  }
}
