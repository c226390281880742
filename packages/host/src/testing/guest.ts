/**
 * Setting up the smallest machine a test needs: one VM, one memory slot at gpa 0, one vCPU in
 * real mode with CS = 0 and IP at the guest's first byte. Engine-agnostic: only the `Kvm` ABI.
 */
import type { HostMemory, Kvm, KvmMsrEntry, Vcpu, Vm } from '@kvm/core';

export interface RealModeGuest {
  vm: Vm;
  vcpu: Vcpu;
  memory: HostMemory;
  /** The guest RAM bytes (gpa 0 is index 0). */
  ram: Uint8Array;
  close(): void;
}

export interface RealModeGuestOptions {
  /** Where `code` is loaded and execution starts. */
  origin?: number;
  /** Bytes of guest RAM in slot 0 at gpa 0. */
  memorySize?: number;
}

/** A VM whose vCPU 0 will start executing `code` at `origin` in real mode. */
export function realModeGuest(kvm: Kvm, code: Uint8Array, options: RealModeGuestOptions = {}): RealModeGuest {
  const origin = options.origin ?? 0x1000;
  const memorySize = options.memorySize ?? 0x10000;
  const vm = kvm.createVm();
  const memory = vm.allocateMemory(memorySize);
  const ram = new Uint8Array(memory.buffer);
  ram.set(code, origin);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(memorySize),
    userspaceAddr: memory.userspaceAddr,
  });
  const vcpu = vm.createVcpu(0);
  startRealMode(vcpu, origin);
  return { vm, vcpu, memory, ram, close: () => vm.close() };
}

/** CS:IP = 0:`origin`, the data segments at 0, RFLAGS = 2 (only the reserved bit). */
export function startRealMode(vcpu: Vcpu, origin: number): void {
  const sregs = vcpu.getSregs();
  for (const seg of [sregs.cs, sregs.ds, sregs.es, sregs.ss, sregs.fs, sregs.gs]) {
    seg.base = 0n;
    seg.selector = 0;
  }
  vcpu.setSregs(sregs);
  const regs = vcpu.getRegs();
  regs.rip = BigInt(origin);
  regs.rflags = 2n;
  regs.rsp = 0x8000n;
  vcpu.setRegs(regs);
}

/** The MSRs' values by index. */
export function msrMap(entries: KvmMsrEntry[]): Map<number, bigint> {
  return new Map(entries.map((e) => [e.index, e.data]));
}
