/**
 * Hardware task switches (SDM Vol. 3 7.3) as the guest sees them on every engine: JMP and CALL
 * to a TSS, IRET back along the link, a task gate in the IDT for INT n and for a fault with an
 * error code. Task A (TR 0x18, TSS at 0x3000) runs the test code at 0x1000; task B (TSS at
 * 0x3100) starts at 0x1800 with its own stack.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest, type TinyGuest } from './guests.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

const GDT = 0x500;
const IDT = 0x600;
const TSS_A = 0x3000;
const TSS_B = 0x3100;
const SEL_TSS_A = 0x18;
const SEL_TSS_B = 0x20;
const TASK_B_EIP = 0x1800;

const get32 = (ram: Uint8Array, a: number): number => new DataView(ram.buffer).getUint32(a, true);
const put32 = (ram: Uint8Array, a: number, v: number): void => new DataView(ram.buffer).setUint32(a, v, true);

/** A system descriptor (TSS) of `type` at `base`, limit 0x67, present, DPL 0. */
function tssDescriptor(ram: Uint8Array, at: number, base: number, type: number): void {
  put32(ram, at, ((base & 0xffff) << 16) | 0x67);
  put32(ram, at + 4, (base & 0xff000000) | 0x8000 | (type << 8) | ((base >>> 16) & 0xff));
}

/** The machine: flat code 0x08, data 0x10, TSS A (busy, current) and B, task gates to B. */
function taskGuest(kvm: Kvm, code: number[], taskB: number[]): TinyGuest {
  const g = protectedModeGuest(kvm, code);
  const { ram, vcpu } = g;
  put32(ram, GDT + 8, 0x0000ffff);
  put32(ram, GDT + 12, 0x00cf9a00);
  put32(ram, GDT + 16, 0x0000ffff);
  put32(ram, GDT + 20, 0x00cf9200);
  tssDescriptor(ram, GDT + SEL_TSS_A, TSS_A, 0xb);
  tssDescriptor(ram, GDT + SEL_TSS_B, TSS_B, 0x9);
  // Task gates (type 5) to TSS B for INT 0x40, INT3 (3) and #GP (13).
  for (const v of [0x40, 3, 13]) {
    put32(ram, IDT + 8 * v, SEL_TSS_B << 16);
    put32(ram, IDT + 8 * v + 4, 0x8500);
  }
  // TSS B: EIP, EFLAGS, ESP, ES CS SS DS FS GS, LDT 0.
  put32(ram, TSS_B + 0x20, TASK_B_EIP);
  put32(ram, TSS_B + 0x24, 0x2);
  put32(ram, TSS_B + 0x38, 0x7000);
  for (const [off, sel] of [
    [0x48, 0x10],
    [0x4c, 0x08],
    [0x50, 0x10],
    [0x54, 0x10],
    [0x58, 0x10],
    [0x5c, 0x10],
  ])
    put32(ram, TSS_B + off, sel);
  ram.set(taskB, TASK_B_EIP);
  const s = vcpu.getSregs();
  s.gdt = { base: BigInt(GDT), limit: 0x27 };
  s.idt = { base: BigInt(IDT), limit: 0x7ff };
  s.cs = { ...s.cs, selector: 0x08 };
  s.ds = { ...s.ds, selector: 0x10 };
  s.es = { ...s.es, selector: 0x10 };
  s.ss = { ...s.ss, selector: 0x10 };
  s.fs = { ...s.fs, selector: 0x10 };
  s.gs = { ...s.gs, selector: 0x10 };
  s.tr = {
    base: BigInt(TSS_A),
    limit: 0x67,
    selector: SEL_TSS_A,
    type: 11,
    present: 1,
    dpl: 0,
    db: 0,
    s: 0,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  };
  vcpu.setSregs(s);
  return g;
}

/** The type field of the TSS descriptor at `sel`: 9 available, 11 busy. */
const tssType = (ram: Uint8Array, sel: number): number => (get32(ram, GDT + sel + 4) >>> 8) & 0xf;

export function defineTaskSwitchSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: hardware task switches`, () => {
    it('JMP to a TSS saves the old task, loads the new one and moves the busy bit', () => {
      // mov eax, 0x1234 ; jmp 0x20:0 ; (task B) mov ebx, 0xb0b ; hlt
      const { vcpu, ram } = taskGuest(
        open(),
        [0xb8, ...imm32(0x1234), 0xea, ...imm32(0), SEL_TSS_B, 0],
        [0xbb, ...imm32(0xb0b), 0xf4],
      );
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rip).toBe(BigInt(TASK_B_EIP + 6));
      expect(r.rbx).toBe(0xb0bn);
      expect(r.rsp).toBe(0x7000n);
      expect(r.rflags & 0x4000n).toBe(0n); // no NT after a JMP
      const s = vcpu.getSregs();
      expect(s.tr.selector).toBe(SEL_TSS_B);
      expect(s.tr.base).toBe(BigInt(TSS_B));
      expect(s.tr.type).toBe(11);
      expect(s.cr0 & 8n).toBe(8n); // CR0.TS
      // The old task's state, EIP after the JMP; busy bit moved from A to B.
      expect(get32(ram, TSS_A + 0x20)).toBe(0x1000 + 12);
      expect(get32(ram, TSS_A + 0x28)).toBe(0x1234);
      expect(tssType(ram, SEL_TSS_A)).toBe(9);
      expect(tssType(ram, SEL_TSS_B)).toBe(11);
    });

    it('CALL to a TSS links back, sets NT, and IRET returns to the caller', () => {
      // call 0x20:0 ; mov ecx, 0xc0de ; hlt ; (task B) mov ebx, 0xb0b ; iret
      const { vcpu, ram } = taskGuest(
        open(),
        [0x9a, ...imm32(0), SEL_TSS_B, 0, 0xb9, ...imm32(0xc0de), 0xf4],
        [0xbb, ...imm32(0xb0b), 0xcf],
      );
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rip).toBe(BigInt(0x1000 + 13));
      expect(r.rcx).toBe(0xc0den);
      // Task B ran (its EBX is saved in its TSS) with the link to A and NT set.
      expect(get32(ram, TSS_B + 0x34)).toBe(0xb0b);
      expect(get32(ram, TSS_B) & 0xffff).toBe(SEL_TSS_A);
      expect(get32(ram, TSS_B + 0x24) & 0x4000).toBe(0); // IRET saved B's EFLAGS without NT
      expect(vcpu.getSregs().tr.selector).toBe(SEL_TSS_A);
      expect(tssType(ram, SEL_TSS_A)).toBe(11);
      expect(tssType(ram, SEL_TSS_B)).toBe(9);
    });

    it('INT n through a task gate switches tasks and IRET resumes after the INT', () => {
      // int 0x40 ; mov ecx, 0xc0de ; hlt ; (task B) iret
      const { vcpu, ram } = taskGuest(open(), [0xcd, 0x40, 0xb9, ...imm32(0xc0de), 0xf4], [0xcf]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rip).toBe(BigInt(0x1000 + 8));
      expect(r.rcx).toBe(0xc0den);
      expect(get32(ram, TSS_B) & 0xffff).toBe(SEL_TSS_A);
      expect(vcpu.getSregs().tr.selector).toBe(SEL_TSS_A);
    });

    it('INT3 through a task gate resumes after the INT3 (a software exception, not a fault)', () => {
      // int3 ; mov ecx, 0xc0de ; hlt ; (task B) iret
      const { vcpu, ram } = taskGuest(open(), [0xcc, 0xb9, ...imm32(0xc0de), 0xf4], [0xcf]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rip).toBe(BigInt(0x1000 + 7));
      expect(r.rcx).toBe(0xc0den);
      expect(get32(ram, TSS_A + 0x20)).toBe(0x1001);
    });

    it('an external interrupt through a task gate switches after the instruction it struck at', () => {
      // sti ; hlt ; hlt ; (task B) mov ebx, 0xb0b ; hlt
      const { vcpu, ram } = taskGuest(open(), [0xfb, 0xf4, 0xf4], [0xbb, ...imm32(0xb0b), 0xf4]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      vcpu.interrupt(0x40);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rip).toBe(BigInt(TASK_B_EIP + 6));
      expect(vcpu.getRegs().rbx).toBe(0xb0bn);
      expect(get32(ram, TSS_A + 0x20)).toBe(0x1002);
      expect(get32(ram, TSS_B) & 0xffff).toBe(SEL_TSS_A);
      expect(vcpu.getSregs().tr.selector).toBe(SEL_TSS_B);
    });

    it("a fault through a task gate pushes its error code on the new task's stack", () => {
      // mov ax, 0x1234 ; mov ds, ax (#GP(0x1234): beyond the LDT limit) ; (task B) pop eax ; hlt
      const { vcpu, ram } = taskGuest(open(), [0x66, 0xb8, 0x34, 0x12, 0x8e, 0xd8, 0xf4], [0x58, 0xf4]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rip).toBe(BigInt(TASK_B_EIP + 2));
      expect(r.rax).toBe(0x1234n); // the selector, TI included, RPL cleared
      expect(r.rsp).toBe(0x7000n);
      // The old task's EIP is the faulting instruction.
      expect(get32(ram, TSS_A + 0x20)).toBe(0x1004);
      expect(vcpu.getSregs().tr.selector).toBe(SEL_TSS_B);
    });
  });
}
