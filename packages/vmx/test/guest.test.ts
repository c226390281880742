import { KVM_EXIT, KvmError, type Vcpu, type Vm } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

/** A VM with `size` bytes of RAM at gpa 0 and `code` at gpa 0x1000, one vCPU in real mode at 0:1000. */
function realModeGuest(code: number[], size = 1 << 20): { vm: Vm; vcpu: Vcpu; ram: Uint8Array } {
  const kvm = createVmxKvm();
  const vm = kvm.createVm();
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
  s.cs = { ...s.cs, selector: 0, base: 0n };
  vcpu.setSregs(s);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n });
  return { vm, vcpu, ram };
}

describe('VMX engine: real-mode guests', () => {
  it('exits to userspace for OUT with the byte in the data page, then for HLT', () => {
    // mov dx, 0x3f8 ; mov al, 'A' ; out dx, al ; hlt
    const { vcpu } = realModeGuest([0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xf4]);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    const run = vcpu.kvmRun as unknown as {
      io: { port: number; size: number; direction: number; count: number; data: Uint8Array };
    };
    expect(run.io.port).toBe(0x3f8);
    expect(run.io.size).toBe(1);
    expect(run.io.direction).toBe(1);
    expect(run.io.data[0]).toBe(0x41);
    // Userspace sees RIP at the OUT until it re-enters.
    expect(vcpu.getRegs().rip).toBe(0x1005n);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getRegs().rip).toBe(0x1007n);
  });

  it('completes an IN with the value userspace put in the data page', () => {
    // mov dx, 0x60 ; in al, dx ; mov [0x2000], al ; hlt
    const { vcpu, ram } = realModeGuest([0xba, 0x60, 0x00, 0xec, 0xa2, 0x00, 0x20, 0xf4]);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    const run = vcpu.kvmRun as unknown as { io: { direction: number; data: Uint8Array } };
    expect(run.io.direction).toBe(0);
    run.io.data[0] = 0x5a;
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(ram[0x2000]).toBe(0x5a);
    expect(Number(vcpu.getRegs().rax & 0xffn)).toBe(0x5a);
  });

  it('answers CPUID from the KVM_SET_CPUID2 table in the kernel', () => {
    // xor eax, eax ; cpuid ; mov [0x2000], ebx ; hlt
    const { vcpu, ram } = realModeGuest([0x66, 0x31, 0xc0, 0x0f, 0xa2, 0x66, 0x89, 0x1e, 0x00, 0x20, 0xf4]);
    vcpu.setCpuid2([
      { function: 0, index: 0, flags: 0, eax: 1, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
    ]);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(new DataView(ram.buffer).getUint32(0x2000, true)).toBe(0x756e6547);
  });

  it('returns EINTR after its instruction budget on a guest that never exits', () => {
    // jmp $
    const { vcpu } = realModeGuest([0xeb, 0xfe]);
    const e = (() => {
      try {
        vcpu.run();
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(KvmError);
    expect((e as KvmError).code).toBe('EINTR');
    expect(vcpu.kvmRun.exitReason).toBe(KVM_EXIT.INTR);
  });

  it('delivers an interrupt queued with KVM_INTERRUPT through the real-mode IVT, and reports the window', () => {
    // sti ; nop ; jmp $-? : loop: hlt ; jmp loop.  Handler at 0x3000: mov al, 0x99 ; out 0x80, al ; iret
    const { vcpu, ram } = realModeGuest([0xfb, 0x90, 0xf4, 0xeb, 0xfd]);
    ram.set([0xb0, 0x99, 0xe6, 0x80, 0xcf], 0x3000);
    // IVT entry 0x20 → 0000:3000
    new DataView(ram.buffer).setUint32(0x20 * 4, 0x3000, true);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.kvmRun.readyForInterruptInjection).toBe(1);
    expect(vcpu.kvmRun.ifFlag).toBe(1);
    vcpu.interrupt(0x20);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    const run = vcpu.kvmRun as unknown as { io: { port: number; data: Uint8Array } };
    expect(run.io.port).toBe(0x80);
    expect(run.io.data[0]).toBe(0x99);
  });

  it('exits with KVM_EXIT_IRQ_WINDOW_OPEN when userspace asks and the guest enables interrupts', () => {
    // cli ; mov dx,0x3f8 ; out dx,al ; sti ; nop ; hlt
    const { vcpu } = realModeGuest([0xfa, 0xba, 0xf8, 0x03, 0xee, 0xfb, 0x90, 0xf4]);
    vcpu.kvmRun.requestInterruptWindow = 1;
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.readyForInterruptInjection).toBe(0);
    expect(vcpu.run()).toBe(KVM_EXIT.IRQ_WINDOW_OPEN);
    expect(vcpu.kvmRun.readyForInterruptInjection).toBe(1);
    expect(vcpu.kvmRun.ifFlag).toBe(1);
  });
});

describe('NMI injection (KVM_NMI)', () => {
  it('delivers an NMI through IVT vector 2 even with IF = 0', () => {
    // cli ; hlt ; (handler at 0x3000: mov al, 0x22 ; out 0x80, al ; iret)
    const { vcpu, ram } = realModeGuest([0xfa, 0xf4, 0xeb, 0xfe]);
    ram.set([0xb0, 0x22, 0xe6, 0x80, 0xcf], 0x3000);
    new DataView(ram.buffer).setUint32(2 * 4, 0x3000, true);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    (vcpu as unknown as { nmi(): void }).nmi();
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.bytes[4096]).toBe(0x22);
  });
});
