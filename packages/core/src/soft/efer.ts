/**
 * IA32_EFER writes (`set_efer` / `kvm_set_efer` in arch/x86/kvm/x86.c), for both vendors: the
 * reserved bits of this silicon (`efer_reserved_bits`: SCE and NXE always, LME/LMA only where
 * the silicon has long mode), then for the guest's own WRMSR the bits its CPUID allows
 * (`__kvm_valid_efer`: LME/LMA need CPUID.80000001H:EDX.LM, NXE needs .NX) and no change of LME
 * while paging (SDM Vol. 3 9.8.5: #GP). LMA is never written: it keeps the value the processor
 * gave it (set and cleared by CR0.PG, `enter_lmode`/`exit_lmode`). A change of a bit the shadow
 * MMU's role depends on (LME, LMA, NXE) resets the MMU context.
 */
import { siliconHasLongMode } from './long-mode.js';
import type { SoftVcpu } from './vcpu.js';

const EFER_SCE = 1 << 0;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NX = 1 << 11;
const X86_CR0_PG = 0x80000000;
/** CPUID.80000001H:EDX: NX (20), LM (29). */
const CPUID_EXT_EDX_NX = 1 << 20;
const CPUID_EXT_EDX_LM = 1 << 29;
/** KVM_MMU_EFER_ROLE_BITS */
const EFER_MMU_ROLE_BITS = EFER_LME | EFER_LMA | EFER_NX;

const cpuidOut = new Uint32Array(4);

/** The EFER bits that are not reserved on this vCPU's silicon (~`efer_reserved_bits`). */
export function kvmEferValidBits(vcpu: SoftVcpu): number {
  return EFER_SCE | EFER_NX | (siliconHasLongMode(vcpu) ? EFER_LME | EFER_LMA : 0);
}

/** `__kvm_valid_efer`: the guest's CPUID has the features the EFER bits turn on. */
function guestCpuidAllows(vcpu: SoftVcpu, efer: number): boolean {
  if (!(efer & (EFER_LME | EFER_LMA | EFER_NX))) return true;
  vcpu.cpuidLookup(0x80000001, 0, cpuidOut);
  const edx = cpuidOut[3];
  if (efer & (EFER_LME | EFER_LMA) && !(edx & CPUID_EXT_EDX_LM)) return false;
  if (efer & EFER_NX && !(edx & CPUID_EXT_EDX_NX)) return false;
  return true;
}

/**
 * `set_efer`: false is #GP for the guest (or the end of KVM_SET_MSRS for userspace, `host`).
 * Installs the value through the backend's `setEfer`.
 */
export function kvmSetEfer(vcpu: SoftVcpu, lo: number, hi: number, host: boolean): boolean {
  lo >>>= 0;
  if (hi !== 0 || lo & ~kvmEferValidBits(vcpu)) return false;
  if (!host) {
    if (!guestCpuidAllows(vcpu, lo)) return false;
    if (vcpu.cr0 & X86_CR0_PG && (vcpu.efer ^ lo) & EFER_LME) return false;
  }
  const old = vcpu.efer;
  const efer = ((lo & ~EFER_LMA) | (old & EFER_LMA)) >>> 0;
  vcpu.ops.setEfer(vcpu, efer, 0);
  if ((old ^ efer) & EFER_MMU_ROLE_BITS) vcpu.vm.mmuResetContext(vcpu);
  return true;
}
