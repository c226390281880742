/**
 * Long mode on silicon that lacks it: the VMX and SVM models configured as 32-bit parts
 * (`siliconConfig: { longMode: false }`, CPUID.80000001H:EDX.LM clear); the default parts have
 * long mode and never get here. Real KVM would
 * refuse EFER.LME with #GP (`kvm_valid_efer`, LM absent from the guest's CPUID), and a guest
 * that ignores CPUID then triple-faults: a run that ends as if the guest had reset. Since here it
 * is the engine, not a CPUID choice, that cannot go on, KVM_RUN stops instead with
 * KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION (the engine cannot emulate
 * what the guest asks), and three data words a VMM can recognise and report:
 * `[MSR_EFER (0xc0000080), the EFER value the guest wanted, RIP]`.
 *
 * It fires on a WRMSR that sets EFER.LME (RIP at the WRMSR), and on an entry with EFER.LME and
 * CR0.PG both set (userspace's KVM_SET_SREGS, or a MOV to CR0 after it; RIP past that MOV).
 */
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { MSR } from './msrs.js';
import type { SoftVcpu } from './vcpu.js';

const EFER_LME = 1 << 8;
const X86_CR0_PG = 0x80000000;
/** CPUID.80000001H:EDX.LM (Intel 64 / AMD64 long mode). */
const CPUID_80000001_EDX_LM = 1 << 29;

/** The data words of the internal error: `[0]` MSR_EFER says why. */
export const KVM_INTERNAL_ERROR_NO_LONG_MODE_MSR = MSR.EFER;

const siliconLm = new WeakMap<object, boolean>();
const cpuidOut = new Uint32Array(4);

/** Does the silicon have long mode? Asked once per backend. */
export function siliconHasLongMode(vcpu: SoftVcpu): boolean {
  const cpu = vcpu.ops.cpu;
  let lm = siliconLm.get(cpu);
  if (lm === undefined) {
    cpu.cpuid(0x80000000, 0, cpuidOut);
    lm = false;
    if (cpuidOut[0] >>> 0 >= 0x80000001) {
      cpu.cpuid(0x80000001, 0, cpuidOut);
      lm = (cpuidOut[3] & CPUID_80000001_EDX_LM) !== 0;
    }
    siliconLm.set(cpu, lm);
  }
  return lm;
}

/** Fills `run` with the no-long-mode internal error (registers must be cached). */
function stop(vcpu: SoftVcpu, run: KvmRunView, eferLo: number, eferHi: number): void {
  vcpu.vm.count('long_mode_refused');
  run.exitReason = KVM_EXIT.INTERNAL_ERROR;
  run.internal.suberror = KVM_INTERNAL_ERROR.EMULATION;
  run.internal.ndata = 3;
  run.internal.setDataAt(0, BigInt(MSR.EFER));
  run.internal.setDataAt(1, (BigInt(eferHi >>> 0) << 32n) | BigInt(eferLo >>> 0));
  run.internal.setDataAt(2, BigInt(vcpu.rip >>> 0));
}

/** A WRMSR about to set EFER.LME on silicon without long mode: true with `run` filled. */
export function kvmWrmsrNeedsLongMode(vcpu: SoftVcpu, index: number, lo: number, hi: number): boolean {
  if (index >>> 0 !== MSR.EFER || !(lo & EFER_LME) || siliconHasLongMode(vcpu)) return false;
  stop(vcpu, vcpu.run, lo, hi);
  return true;
}

/** Before an entry: EFER.LME with CR0.PG on silicon without long mode: true with `run` filled. */
export function kvmEntryNeedsLongMode(vcpu: SoftVcpu): boolean {
  if (!(vcpu.efer & EFER_LME) || !(vcpu.cr0 & X86_CR0_PG) || siliconHasLongMode(vcpu)) return false;
  vcpu.ops.cacheRegs(vcpu);
  stop(vcpu, vcpu.run, vcpu.efer, vcpu.eferHigh);
  return true;
}
