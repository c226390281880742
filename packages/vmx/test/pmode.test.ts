import { KVM_EXIT, type KvmSegment, openKvm, type Vcpu, type Vm } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { createVmxDevice, createVmxKvm, type VmxDriver } from '../src/index.js';

/** A VM with 1 MiB at gpa 0, code at 0x1000, one vCPU in flat 32-bit protected mode (no paging). */
export function protectedModeGuest(
  code: number[],
  open = createVmxKvm,
): { vm: Vm; vcpu: Vcpu; ram: Uint8Array } {
  const vm = open().createVm();
  const size = 1 << 20;
  const mem = vm.allocateMemory(size);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(size),
    userspaceAddr: mem.userspaceAddr,
  });
  const ram = new Uint8Array(mem.buffer);
  ram.set(code, 0x1000);
  const vcpu = vm.createVcpu(0);
  const s = vcpu.getSregs();
  const flat = (type: number, selector: number): KvmSegment => ({
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
  });
  s.cs = flat(11, 8);
  s.ds = s.es = s.ss = s.fs = s.gs = flat(3, 16);
  s.cr0 = 0x11n; // PE | ET
  vcpu.setSregs(s);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n, rflags: 2n });
  return { vm, vcpu, ram };
}

describe('VMX engine: 32-bit protected mode', () => {
  it('runs REP OUTSB one element per exit and stops at ECX = 0', () => {
    // mov esi, 0x2000 ; mov ecx, 3 ; mov dx, 0x3f8 ; rep outsb ; hlt
    const { vcpu, ram } = protectedModeGuest([
      0xbe, 0x00, 0x20, 0x00, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e, 0xf4,
    ]);
    ram.set([0x61, 0x62, 0x63], 0x2000);
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      out.push(vcpu.kvmRun.bytes[4096]);
    }
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(out).toEqual([0x61, 0x62, 0x63]);
    const r = vcpu.getRegs();
    expect(r.rcx).toBe(0n);
    expect(r.rsi).toBe(0x2003n);
  });
});

describe('VMX driver: guest-owned CR bits and teardown', () => {
  it('reads back CR4 bits the guest changed without an exit (decache_cr4_guest_bits)', () => {
    // mov eax, cr4 ; or eax, 0x200 (OSFXSR) ; mov cr4, eax ; hlt
    const { vm, vcpu } = protectedModeGuest([
      0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x02, 0x00, 0x00, 0x0f, 0x22, 0xe0, 0xf4,
    ]);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getSregs().cr4 & 0x200n).toBe(0x200n);
    // OSFXSR is guest-owned: the MOV to CR4 did not exit.
    expect(vm.getStats().exit_cr_access ?? 0).toBe(0);
  });

  it('tears a VM down without a VMX instruction error and returns every hypervisor page', () => {
    const device = createVmxDevice();
    const kvm = openKvm(device);
    const vm = kvm.createVm();
    const mem = vm.allocateMemory(1 << 16);
    vm.setUserMemoryRegion({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize: 1n << 16n,
      userspaceAddr: mem.userspaceAddr,
    });
    new Uint8Array(mem.buffer).set([0xf4], 0x1000);
    const before = device.ops.memory.allocatedPages;
    const vcpu = vm.createVcpu(0);
    const s = vcpu.getSregs();
    vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n });
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    vm.close();
    const driver = device.ops as VmxDriver;
    expect(driver.vmcs.errors).toEqual([]);
    expect(driver.cpu.vmptrst()).toBe(-1);
    expect(device.ops.memory.allocatedPages).toBe(before);
  });
});

describe('KVM_TRANSLATE on the VMX engine', () => {
  it('translates identically with paging off and says invalid beyond 4 GiB', () => {
    const { vcpu } = protectedModeGuest([0xf4]);
    const t = (
      vcpu as unknown as { translate(gva: bigint): { physicalAddress: bigint; valid: number } }
    ).translate(0x12345n);
    expect(t.valid).toBe(1);
    expect(t.physicalAddress).toBe(0x12345n);
    const bad = (vcpu as unknown as { translate(gva: bigint): { valid: number } }).translate(0x1_0000_0000n);
    expect(bad.valid).toBe(0);
  });
});

describe('guest FPU state per vCPU', () => {
  it('gives the guest the control word userspace set, and userspace the one the guest loaded', () => {
    // fnstcw [0x2000] ; fldcw [0x3000] ; hlt
    const { vcpu, ram } = protectedModeGuest([
      0xd9, 0x3d, 0x00, 0x20, 0x00, 0x00, 0xd9, 0x2d, 0x00, 0x30, 0x00, 0x00, 0xf4,
    ]);
    ram[0x3000] = 0x7f;
    ram[0x3001] = 0x02; // 027Fh: double precision
    const f = vcpu.getFpu();
    expect(f.fcw).toBe(0x37f);
    vcpu.setFpu({ ...f, fcw: 0x33f, mxcsr: 0x1fa0 });
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(ram[0x2000] | (ram[0x2001] << 8)).toBe(0x33f);
    const after = vcpu.getFpu();
    expect(after.fcw).toBe(0x27f);
    expect(after.mxcsr).toBe(0x1fa0);
  });
});
