/**
 * Control-register instructions every engine must show the guest alike: LMSW, CLTS and SMSW
 * act on the guest's CR0 (what MOV to CR0 set), not on the CR0 the hardware runs the guest with
 * (shadow paging forces PG/WP, and the cache is never disabled under the guest).
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

export function defineCrSuite(name: string, open: () => Kvm): void {
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
}
