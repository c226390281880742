/**
 * Tiny guests for engine tests: a VM with RAM at gpa 0 and one vCPU in real mode or in flat
 * 32-bit protected mode, code at gpa 0x1000. Any `Kvm` will do (software or host engine).
 */
import type { KvmSegment } from '../api/structs.js';
import type { Kvm, Vcpu, Vm } from '../api/types.js';

export interface TinyGuest {
  vm: Vm;
  vcpu: Vcpu;
  ram: Uint8Array;
}

function guestWithRam(kvm: Kvm, code: number[], size: number, irqchip = false): TinyGuest {
  const vm = kvm.createVm();
  // KVM_CREATE_IRQCHIP must come before the vCPUs (their LAPICs are made with them).
  if (irqchip) vm.createIrqchip();
  const mem = vm.allocateMemory(size);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(size),
    userspaceAddr: mem.userspaceAddr,
  });
  const ram = new Uint8Array(mem.buffer, mem.byteOffset ?? 0, mem.size);
  ram.set(code, 0x1000);
  return { vm, vcpu: vm.createVcpu(0), ram };
}

/** Real mode at 0000:1000, SP 0x8000. */
export function realModeGuest(kvm: Kvm, code: number[], size = 1 << 20): TinyGuest {
  const g = guestWithRam(kvm, code, size);
  const s = g.vcpu.getSregs();
  s.cs = { ...s.cs, selector: 0, base: 0n };
  g.vcpu.setSregs(s);
  g.vcpu.setRegs({ ...g.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n });
  return g;
}

/** A flat 4 GiB segment of `type` (11 code, 3 data) with `selector`, DPL 0, 32-bit. */
export function flatSegment(type: number, selector: number): KvmSegment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: 1,
    s: 1,
    l: 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

/** Flat 32-bit protected mode (CS 8, data 16), paging off, EIP 0x1000, ESP 0x8000. */
export function protectedModeGuest(kvm: Kvm, code: number[], size = 1 << 20): TinyGuest {
  const g = guestWithRam(kvm, code, size);
  const s = g.vcpu.getSregs();
  s.cs = flatSegment(11, 8);
  s.ds = s.es = s.ss = s.fs = s.gs = flatSegment(3, 16);
  s.cr0 = 0x11n; // PE | ET
  g.vcpu.setSregs(s);
  g.vcpu.setRegs({ ...g.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n, rflags: 2n });
  return g;
}

/** Page tables of `longModeGuest`: PML4, PDPT and PD, identity-mapping the first GiB with 2 MiB pages. */
export const LONG_MODE_PML4 = 0x10000;

/**
 * 64-bit mode (IA-32e with CS.L = 1, selector 8; data 16), 4-level paging identity-mapping the
 * first GiB (PML4 at 0x10000, PDPT 0x11000, PD 0x12000, 2 MiB pages), EFER = SCE | LME | LMA |
 * NXE, a 64-bit busy TSS, RIP 0x1000, RSP 0x8000. `irqchip`: KVM_CREATE_IRQCHIP first.
 */
export function longModeGuest(kvm: Kvm, code: number[], size = 1 << 21, irqchip = false): TinyGuest {
  const g = guestWithRam(kvm, code, size, irqchip);
  const dv = new DataView(g.ram.buffer, g.ram.byteOffset);
  // P | RW (| PS for the 2 MiB leaves); the high dwords stay 0.
  dv.setUint32(LONG_MODE_PML4, 0x11003, true);
  dv.setUint32(0x11000, 0x12003, true);
  for (let i = 0; i < 512; i++) dv.setUint32(0x12000 + 8 * i, i * 0x200000 + 0x83, true);
  const s = g.vcpu.getSregs();
  s.cs = { ...flatSegment(11, 8), db: 0, l: 1 };
  s.ds = s.es = s.ss = s.fs = s.gs = flatSegment(3, 16);
  s.tr = { ...flatSegment(11, 0x18), s: 0, limit: 0x67, g: 0, db: 0 };
  s.cr0 = 0x80000011n; // PG | ET | PE
  s.cr3 = BigInt(LONG_MODE_PML4);
  s.cr4 = 0x20n; // PAE
  s.efer = 0xd01n; // NXE | LMA | LME | SCE
  g.vcpu.setSregs(s);
  g.vcpu.setRegs({ ...g.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n, rflags: 2n });
  return g;
}
