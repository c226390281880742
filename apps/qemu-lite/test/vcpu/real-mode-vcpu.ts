/**
 * The tiny machine the vCPU tests share: vCPU 0 of a fresh VM in real mode at 0x1000, running the
 * given bytes from 64 KiB of RAM, with the in-kernel irqchip unless asked otherwise and `cpus`
 * vCPUs in the VM (the others never run).
 */
import { type Kvm, KvmError, type Vcpu } from '@kvm/core';

const CODE = 0x1000;

export function realModeVcpu(
  kvm: Kvm,
  code: readonly number[],
  { cpus = 1, irqchip = true }: { cpus?: number; irqchip?: boolean } = {},
): Vcpu {
  const vm = kvm.createVm();
  if (irqchip) vm.createIrqchip();
  const mem = vm.allocateMemory(0x10000);
  new Uint8Array(mem.buffer).set(code, CODE);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(mem.size),
    userspaceAddr: mem.userspaceAddr,
  });
  const vcpu = vm.createVcpu(0);
  for (let id = 1; id < cpus; id++) vm.createVcpu(id);
  const sregs = vcpu.getSregs();
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: BigInt(CODE), rflags: 0x2n });
  return vcpu;
}

/** KVM_RUN once: 0, or the errno of the KvmError it ended with. */
export function runErrno(vcpu: Vcpu): number {
  try {
    vcpu.run();
  } catch (e) {
    if (e instanceof KvmError) return e.errno;
    throw e;
  }
  return 0;
}
