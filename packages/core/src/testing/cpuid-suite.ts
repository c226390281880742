/**
 * CPUID leaf 1 has CLFLUSH (x86emu implements it): EDX.CLFSH (bit 19) and the line size in
 * EBX[15:8] (8 × 8 = 64 bytes), in KVM_GET_SUPPORTED_CPUID and in what a guest given that table
 * reads.
 */
import { seededRandom } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

export function defineCpuidClflushSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: CPUID leaf 1 CLFLUSH`, () => {
    it('reports CLFSH and a 64-byte CLFLUSH line, to userspace and to the guest', () => {
      const kvm = open();
      const leaf1 = kvm.getSupportedCpuid().find((e) => e.function === 1)!;
      expect((leaf1.edx >>> 19) & 1).toBe(1);
      expect((leaf1.ebx >>> 8) & 0xff).toBe(8);
      // mov eax, 1 ; cpuid ; mov eax, ebx ; out 0x80, eax ; mov eax, edx ; out 0x80, eax ; hlt
      const { vcpu } = protectedModeGuest(
        kvm,
        [0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd8, 0xe7, 0x80, 0x89, 0xd0, 0xe7, 0x80, 0xf4],
      );
      vcpu.setCpuid2(kvm.getSupportedCpuid());
      const data = (): number =>
        new DataView((vcpu.kvmRun as unknown as { bytes: Uint8Array }).bytes.buffer).getUint32(4096, true);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect((data() >>> 8) & 0xff).toBe(8);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect((data() >>> 19) & 1).toBe(1);
    });
  });
}

/**
 * RDRAND and RDSEED: KVM_GET_SUPPORTED_CPUID has both (leaf 1 ECX bit 30, leaf 7.0 EBX bit 18),
 * and a guest given that table gets random bits with CF = 1. With `cpuidGates` (VMX: RDRAND and
 * RDSEED exiting, `vmx_secondary_exec_control`) a table without the bit makes the instruction #UD;
 * without it (SVM has no such intercept) the guest runs it whatever its table says, as on AMD
 * hardware.
 */
export function defineRdrandSuite(
  name: string,
  open: () => Kvm,
  { cpuidGates }: { cpuidGates: boolean },
): void {
  // mov ebx, 0 ; RDRAND/RDSEED eax ; setc bl ; mov eax, ebx ; add eax, 0x100 ; out 0x80, eax ; hlt
  const code = (modrm: number): number[] => [
    ...[0xbb, 0, 0, 0, 0, 0x0f, 0xc7, modrm, 0x0f, 0x92, 0xc3, 0x89, 0xd8],
    ...[0x05, 0x00, 0x01, 0x00, 0x00, 0xe7, 0x80, 0xf4],
  ];
  /** The guest's #UD handler, at gpa 0x1100: mov eax, 6 ; out 0x80, eax ; hlt. */
  const UD_HANDLER = [0xb8, 6, 0, 0, 0, 0xe7, 0x80, 0xf4];
  const RDRAND_EAX = 0xf0;
  const RDSEED_EAX = 0xf8;

  /** What the guest reports: 0x101 (CF = 1), 0x100 (CF = 0) or 6 (#UD). */
  function runWith(kvm: Kvm, modrm: number, table: ReturnType<Kvm['getSupportedCpuid']>): number {
    const g = protectedModeGuest(kvm, code(modrm));
    g.ram.set(UD_HANDLER, 0x1100);
    // IDT at 0x2000, vector 6: a 32-bit interrupt gate to 8:0x1100; the GDT at 0x3000 has the flat
    // 32-bit code segment (8) the gate loads.
    const dv = new DataView(g.ram.buffer, g.ram.byteOffset);
    dv.setUint32(0x2000 + 6 * 8, (8 << 16) | 0x1100, true);
    dv.setUint32(0x2000 + 6 * 8 + 4, 0x8e00, true);
    dv.setUint32(0x3008, 0x0000ffff, true);
    dv.setUint32(0x300c, 0x00cf9a00, true);
    const s = g.vcpu.getSregs();
    s.idt = { base: 0x2000n, limit: 0x7f };
    s.gdt = { base: 0x3000n, limit: 0x17 };
    g.vcpu.setSregs(s);
    g.vcpu.setCpuid2(table);
    expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
    return new DataView((g.vcpu.kvmRun as unknown as { bytes: Uint8Array }).bytes.buffer).getUint32(
      4096,
      true,
    );
  }

  describe(`${name} engine: RDRAND and RDSEED`, () => {
    it('are in KVM_GET_SUPPORTED_CPUID, and a guest given that table gets CF = 1', () => {
      const kvm = open();
      const table = kvm.getSupportedCpuid();
      expect((table.find((e) => e.function === 1)!.ecx >>> 30) & 1).toBe(1);
      const leaf7 = table.find((e) => e.function === 7)!;
      expect((leaf7.ebx >>> 18) & 1).toBe(1);
      expect(leaf7.flags & 1).toBe(1);
      expect(runWith(kvm, RDRAND_EAX, table)).toBe(0x101);
      expect(runWith(open(), RDSEED_EAX, table)).toBe(0x101);
    });

    it(`a table without them: ${cpuidGates ? '#UD (the exit KVM turns into #UD)' : 'still executed (no intercept exists)'}`, () => {
      const kvm = open();
      const table = kvm
        .getSupportedCpuid()
        .map((e) =>
          e.function === 1
            ? { ...e, ecx: (e.ecx & ~(1 << 30)) >>> 0 }
            : e.function === 7
              ? { ...e, ebx: (e.ebx & ~(1 << 18)) >>> 0 }
              : e,
        );
      const want = cpuidGates ? 6 : 0x101;
      expect(runWith(kvm, RDRAND_EAX, table)).toBe(want);
      expect(runWith(open(), RDSEED_EAX, table)).toBe(want);
      // Only the missing one: RDSEED runs where leaf 7 keeps its bit.
      const onlyRdrandGone = kvm
        .getSupportedCpuid()
        .map((e) => (e.function === 1 ? { ...e, ecx: (e.ecx & ~(1 << 30)) >>> 0 } : e));
      expect(runWith(open(), RDSEED_EAX, onlyRdrandGone)).toBe(0x101);
    });
  });
}

/**
 * A seeded engine (`randomSeed`, qemu-lite's `-seed`): RDRAND gives x86emu's `seededRandom`
 * sequence, the same on every run.
 */
export function defineRdrandSeedSuite(name: string, open: (randomSeed?: number) => Kvm): void {
  // rdrand eax ; out 0x80, eax ; rdrand eax ; out 0x80, eax ; hlt
  const code = [0x0f, 0xc7, 0xf0, 0xe7, 0x80, 0x0f, 0xc7, 0xf0, 0xe7, 0x80, 0xf4];
  const twoWords = (kvm: Kvm): number[] => {
    const g = protectedModeGuest(kvm, code);
    g.vcpu.setCpuid2(kvm.getSupportedCpuid());
    const data = (): number =>
      new DataView((g.vcpu.kvmRun as unknown as { bytes: Uint8Array }).bytes.buffer).getUint32(4096, true);
    const out: number[] = [];
    for (let i = 0; i < 2; i++) {
      expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
      out.push(data());
    }
    return out;
  };
  describe(`${name} engine: RDRAND with a seed`, () => {
    it('repeats the seeded sequence run after run; unseeded, it does not', () => {
      const r = seededRandom(1234);
      const want = [r.random32(), r.random32()];
      expect(twoWords(open(1234))).toEqual(want);
      expect(twoWords(open(1234))).toEqual(want);
      expect(twoWords(open(1235))).not.toEqual(want);
      expect(twoWords(open())).not.toEqual(twoWords(open()));
    });
  });
}
