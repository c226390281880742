/**
 * Control-register instructions every engine must show the guest alike: LMSW, CLTS and SMSW
 * act on the guest's CR0 (what MOV to CR0 set), not on the CR0 the hardware runs the guest with
 * (shadow paging forces PG/WP, and the cache is never disabled under the guest); a CR4.PGE toggle
 * flushes the guest's TLB, and under TDP nothing more.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { longModeGuest, protectedModeGuest } from './guests.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

export function defineCrSuite(name: string, open: () => Kvm, tdp = false): void {
  describe(`${name} engine: LMSW, CLTS and SMSW on the guest's CR0`, () => {
    it('LMSW sets TS and MP, which MOV from CR0, SMSW and KVM_GET_SREGS then show', () => {
      // mov eax, 0xb ; lmsw ax ; mov ebx, cr0 ; smsw ecx ; hlt
      const { vcpu } = protectedModeGuest(open(), [
        ...[0xb8, ...imm32(0xb)],
        ...[0x0f, 0x01, 0xf0],
        ...[0x0f, 0x20, 0xc3],
        ...[0x0f, 0x01, 0xe1],
        0xf4,
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rbx).toBe(0x1bn);
      expect(r.rcx).toBe(0x1bn);
      expect(vcpu.getSregs().cr0).toBe(0x1bn);
    });

    it('LMSW from memory, then CLTS, each change CR0', () => {
      // lmsw [0x2000] ; mov ebx, cr0 ; clts ; mov ecx, cr0 ; hlt
      const { vcpu, ram } = protectedModeGuest(open(), [
        ...[0x0f, 0x01, 0x35, ...imm32(0x2000)],
        ...[0x0f, 0x20, 0xc3],
        ...[0x0f, 0x06],
        ...[0x0f, 0x20, 0xc1],
        0xf4,
      ]);
      ram.set([0x09, 0x00], 0x2000);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rbx).toBe(0x19n);
      expect(r.rcx).toBe(0x11n);
    });

    it("SMSW after MOV to CR0 with CD set reads the guest's CR0, CD included", () => {
      // mov ebx, 0x60000011 ; mov cr0, ebx ; smsw eax ; smsw [0x2000] ; mov ecx, cr0 ; hlt
      const { vcpu, ram } = protectedModeGuest(open(), [
        ...[0xbb, ...imm32(0x60000011)],
        ...[0x0f, 0x22, 0xc3],
        ...[0x0f, 0x01, 0xe0],
        ...[0x0f, 0x01, 0x25, ...imm32(0x2000)],
        ...[0x0f, 0x20, 0xc1],
        0xf4,
      ]);
      ram.set([0xaa, 0xaa, 0xaa, 0xaa], 0x2000);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = vcpu.getRegs();
      expect(r.rax).toBe(0x60000011n);
      expect(r.rcx).toBe(0x60000011n);
      // The memory form stores the low 16 bits only.
      expect([...ram.subarray(0x2000, 0x2004)]).toEqual([0x11, 0x00, 0xaa, 0xaa]);
    });
  });

  describe(`${name} engine: a CR4.PGE toggle`, () => {
    // mov rax, [0x200010] ; mov qword [0x12008], 0x400083 (PD[1]: 0x200000 now maps 0x400000,
    // no INVLPG) ; then, when `toggle`, mov rcx, cr4 ; xor ecx, 0x80 ; mov cr4, rcx ; xor ecx,
    // 0x80 ; mov cr4, rcx ; and mov rbx, [0x200010] ; hlt
    const code = (toggle: boolean): number[] => [
      ...[0x48, 0x8b, 0x04, 0x25, ...imm32(0x200010)],
      ...[0x48, 0xc7, 0x04, 0x25, ...imm32(0x12008), ...imm32(0x400083)],
      ...(toggle ? [0x0f, 0x20, 0xe1, 0x81, 0xf1, ...imm32(0x80), 0x0f, 0x22, 0xe1] : []),
      ...(toggle ? [0x81, 0xf1, ...imm32(0x80), 0x0f, 0x22, 0xe1] : []),
      ...[0x48, 0x8b, 0x1c, 0x25, ...imm32(0x200010)],
      0xf4,
    ];
    const run = (toggle: boolean) => {
      const g = longModeGuest(open(), code(toggle), 0x600000);
      const dv = new DataView(g.ram.buffer, g.ram.byteOffset);
      dv.setUint32(0x200010, 0xaaaa, true);
      dv.setUint32(0x400010, 0xbbbb, true);
      const resets = g.vm.getStats().mmu_resets ?? 0;
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = g.vcpu.getRegs();
      return {
        rax: r.rax,
        rbx: r.rbx,
        cr4: g.vcpu.getSregs().cr4,
        resets: (g.vm.getStats().mmu_resets ?? 0) - resets,
      };
    };

    it('flushes the translation a page-table write without INVLPG left stale', () => {
      const r = run(true);
      expect(r.rax).toBe(0xaaaan);
      expect(r.rbx).toBe(0xbbbbn);
      expect(r.cr4 & 0x80n).toBe(0n);
    });

    it.runIf(tdp)(
      'under TDP resets no MMU (the map is of guest-physical memory), and the TLB was real',
      () => {
        expect(run(true).resets).toBe(0);
        // Without the toggle the stale 2 MiB translation is still used: the flush above was needed.
        expect(run(false).rbx).toBe(0xaaaan);
      },
    );
  });
}
