/**
 * RDMSR/WRMSR from the guest and KVM_GET_MSRS/KVM_SET_MSRS from userspace against KVM's
 * `kvm_get_msr_common`/`kvm_set_msr_common` (vendor-neutral MSRs only), one table row per case.
 * A guest #GP is seen as a triple fault (the tiny guest has no IDT), so each row runs in a fresh VM.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const MOV_ECX = 0xb9;
const MOV_EAX = 0xb8;
const MOV_EDX = 0xba;
const RDMSR = [0x0f, 0x32];
const WRMSR = [0x0f, 0x30];
const HLT = 0xf4;

/** One case: WRMSR `write` (if given), then RDMSR (unless `noRead`); `gp` says which one faults. */
interface MsrCase {
  what: string;
  index: number;
  write?: readonly [hi: number, lo: number];
  noRead?: boolean;
  /** Expected EDX:EAX of the RDMSR, or 'gp' when the access (write if given, else read) is #GP. */
  expect: readonly [hi: number, lo: number] | 'gp';
}

const CASES: readonly MsrCase[] = [
  { what: 'P5_MC_ADDR reads 0 (the Plan 9 fix)', index: 0x0, expect: [0, 0] },
  { what: 'P5_MC_TYPE reads 0', index: 0x1, expect: [0, 0] },
  { what: 'P5_MC_ADDR is not writable', index: 0x0, write: [0, 0], expect: 'gp' },
  { what: 'PLATFORM_ID reads 0', index: 0x17, expect: [0, 0] },
  { what: 'EBL_CR_POWERON reads 0', index: 0x2a, expect: [0, 0] },
  { what: 'EBL_CR_POWERON is not writable', index: 0x2a, write: [0, 0], expect: 'gp' },
  { what: 'EBC_FREQUENCY_ID reads a ratio of 1', index: 0x2c, expect: [0, 0x01000000] },
  { what: 'UCODE_REV reads revision 1 (high half)', index: 0x8b, expect: [1, 0] },
  { what: 'a guest UCODE_REV write is dropped', index: 0x8b, write: [0, 0], expect: [1, 0] },
  { what: 'UCODE_WRITE takes a write', index: 0x79, write: [0, 0x1000], noRead: true, expect: [0, 0] },
  { what: 'UCODE_WRITE is not readable', index: 0x79, expect: 'gp' },
  { what: 'FSB_FREQ reads 3', index: 0xcd, expect: [0, 3] },
  { what: 'MTRRcap: 8 variable ranges, fixed ranges, WC', index: 0xfe, expect: [0, 0x508] },
  { what: 'MTRRcap is read-only', index: 0xfe, write: [0, 0], expect: 'gp' },
  { what: 'MTRRdefType keeps E, FE and the type', index: 0x2ff, write: [0, 0xc06], expect: [0, 0xc06] },
  { what: 'MTRRdefType reserved bit 12', index: 0x2ff, write: [0, 0x1000], expect: 'gp' },
  { what: 'MTRRdefType invalid type 2', index: 0x2ff, write: [0, 2], expect: 'gp' },
  { what: 'MTRRphysBase0 WB', index: 0x200, write: [0, 0x100006], expect: [0, 0x100006] },
  { what: 'MTRRphysMask0 reserved bit 0', index: 0x201, write: [0, 1], expect: 'gp' },
  {
    what: 'MTRRfix64K_00000 all WB',
    index: 0x250,
    write: [0x06060606, 0x06060606],
    expect: [0x06060606, 0x06060606],
  },
  { what: 'MTRRfix4K_C0000 invalid type 3', index: 0x268, write: [0, 3], expect: 'gp' },
  { what: 'MSR 0x210 is not an MTRR', index: 0x210, expect: 'gp' },
  { what: 'P6_PERFCTR0 reads 0', index: 0xc1, expect: [0, 0] },
  { what: 'P6_EVNTSEL0 write 0 is dropped', index: 0x186, write: [0, 0], expect: [0, 0] },
  { what: 'MCG_CAP: 32 banks, no MCG_CTL', index: 0x179, expect: [0, 32] },
  { what: 'MCG_CAP is read-only', index: 0x179, write: [0, 32], expect: 'gp' },
  { what: 'MCG_STATUS keeps 64 bits', index: 0x17a, write: [1, 4], expect: [1, 4] },
  { what: 'MCG_CTL is absent for the guest', index: 0x17b, expect: 'gp' },
  {
    what: 'MC0_CTL takes all ones',
    index: 0x400,
    write: [0xffffffff, 0xffffffff],
    expect: [0xffffffff, 0xffffffff],
  },
  {
    what: 'MC4_CTL takes all ones but bit 10 (K8 GART)',
    index: 0x410,
    write: [0xffffffff, 0xfffffbff],
    expect: [0xffffffff, 0xfffffbff],
  },
  { what: 'MC0_CTL refuses other values', index: 0x400, write: [0, 5], expect: 'gp' },
  { what: 'MC0_STATUS cannot be set by the guest', index: 0x401, write: [0, 1], expect: 'gp' },
  { what: 'MC0_STATUS can be cleared by the guest', index: 0x401, write: [0, 0], expect: [0, 0] },
  { what: 'MC31_MISC (last bank) keeps a value', index: 0x47f, write: [2, 3], expect: [2, 3] },
  { what: 'no bank 32', index: 0x480, expect: 'gp' },
  { what: 'PERF_STATUS: 1000 per tick, multiplier 4', index: 0x198, expect: [0x400, 1000] },
  { what: 'PERF_CTL reads 0', index: 0x199, expect: [0, 0] },
  { what: 'MISC_ENABLE at reset: PEBS and BTS unavailable', index: 0x1a0, expect: [0, 0x1800] },
  { what: 'MISC_ENABLE takes XD disable (bit 34)', index: 0x1a0, write: [4, 0x1800], expect: [4, 0x1800] },
  { what: 'K7_EVNTSEL0 write 0', index: 0xc0010000, write: [0, 0], expect: [0, 0] },
  { what: 'K7_EVNTSEL3 write 0', index: 0xc0010003, write: [0, 0], expect: [0, 0] },
  { what: 'K7_PERFCTR0 write 0', index: 0xc0010004, write: [0, 0], expect: [0, 0] },
  { what: 'K7_PERFCTR3 write is dropped', index: 0xc0010007, write: [0, 0x1234], expect: [0, 0] },
  { what: 'SYSCFG reads 0', index: 0xc0010010, expect: [0, 0] },
  { what: 'SYSCFG is not writable', index: 0xc0010010, write: [0, 0], expect: 'gp' },
  { what: 'HWCR keeps McStatusWrEn', index: 0xc0010015, write: [0, 0x40000], expect: [0, 0x40000] },
  { what: 'HWCR ignores the flush-filter bit', index: 0xc0010015, write: [0, 0x40], expect: [0, 0] },
  { what: 'HWCR refuses other bits', index: 0xc0010015, write: [0, 1], expect: 'gp' },
  { what: 'VM_HSAVE_PA reads 0 and drops writes', index: 0xc0010117, write: [0, 0x5000], expect: [0, 0] },
  { what: 'IA32_PAT refuses memory type 2', index: 0x277, write: [0, 2], expect: 'gp' },
  // Readable by the guest only where its CPUID enumerates it (7.0:EDX[29]): this guest has no CPUID.
  { what: 'ARCH_CAPABILITIES is #GP without CPUID.7.0:EDX[29]', index: 0x10a, expect: 'gp' },
  // The speculation controls likewise (7.0:EDX[26], [27], [31]); PRED_CMD is never readable.
  { what: 'SPEC_CTRL is #GP without CPUID.7.0:EDX[26/27/31]', index: 0x48, expect: 'gp' },
  { what: 'SPEC_CTRL is not writable without CPUID', index: 0x48, write: [0, 1], noRead: true, expect: 'gp' },
  {
    what: 'PRED_CMD is not writable without CPUID.7.0:EDX[26]',
    index: 0x49,
    write: [0, 1],
    noRead: true,
    expect: 'gp',
  },
];

/** The guest program for one case. */
function program(c: MsrCase): number[] {
  const code = [MOV_ECX, ...imm32(c.index)];
  if (c.write) code.push(MOV_EAX, ...imm32(c.write[1]), MOV_EDX, ...imm32(c.write[0]), ...WRMSR);
  if (!c.noRead) code.push(MOV_EAX, ...imm32(0xdeadbeef), MOV_EDX, ...imm32(0xdeadbeef), ...RDMSR);
  code.push(HLT);
  return code;
}

export function defineMsrSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: MSRs as kvm_get_msr_common / kvm_set_msr_common`, () => {
    it.each(CASES)('$what (MSR $index)', (c) => {
      const { vcpu } = protectedModeGuest(open(), program(c));
      if (c.expect === 'gp') {
        expect(vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
        return;
      }
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      if (c.noRead) return;
      const r = vcpu.getRegs();
      expect([Number(r.rdx & 0xffffffffn), Number(r.rax & 0xffffffffn)]).toEqual([...c.expect]);
    });

    it('takes back through KVM_SET_MSRS every listed MSR KVM_GET_MSRS gave (save and restore)', () => {
      const kvm = open();
      const { vcpu } = protectedModeGuest(kvm, [HLT]);
      const list = kvm.getMsrIndexList();
      const saved = vcpu.getMsrs(list);
      expect(saved.map((e) => e.index)).toEqual(list);
      expect(vcpu.setMsrs(saved)).toBe(list.length);
    });

    it('gives the guest ARCH_CAPABILITIES as KVM_GET_MSRS reads it once CPUID offers it, and never a write', () => {
      const kvm = open();
      const cpuid = kvm.getSupportedCpuid();
      const leaf7 = cpuid.find((e) => e.function === 7 && e.index === 0);
      // KVM emulates the MSR in software, so its CPUID always offers it (kvm_set_cpu_caps).
      expect(leaf7 && (leaf7.edx >>> 29) & 1).toBe(1);
      const read = [MOV_ECX, ...imm32(0x10a), ...RDMSR, HLT];
      const g = protectedModeGuest(kvm, read);
      g.vcpu.setCpuid2(cpuid);
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
      const r = g.vcpu.getRegs();
      const value = ((r.rdx & 0xffffffffn) << 32n) | (r.rax & 0xffffffffn);
      expect(value).toBe(g.vcpu.getMsrs([0x10a])[0].data);
      const w = protectedModeGuest(open(), [MOV_ECX, ...imm32(0x10a), ...WRMSR, HLT]);
      w.vcpu.setCpuid2(cpuid);
      expect(w.vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
    });

    it('gives a guest whose CPUID offers them SPEC_CTRL (IBRS, STIBP, SSBD) and a write-only PRED_CMD (IBPB)', () => {
      const kvm = open();
      const cpuid = kvm.getSupportedCpuid();
      const leaf7 = cpuid.find((e) => e.function === 7 && e.index === 0);
      // IBRS/IBPB 26, STIBP 27, SSBD 31 (and ARCH_CAPABILITIES 29): KVM's, whatever the silicon lists.
      expect(leaf7 && leaf7.edx >>> 26).toBe(0b101011);
      const run = (code: number[]) => {
        const g = protectedModeGuest(open(), [...code, HLT]);
        g.vcpu.setCpuid2(cpuid);
        return { exit: g.vcpu.run(), vcpu: g.vcpu };
      };
      const wrmsr = (index: number, lo: number) => [
        MOV_ECX,
        ...imm32(index),
        MOV_EAX,
        ...imm32(lo),
        MOV_EDX,
        ...imm32(0),
        ...WRMSR,
      ];
      const rdmsr = (index: number) => [MOV_ECX, ...imm32(index), ...RDMSR];
      // IBRS | STIBP | SSBD kept and read back, by the guest and by KVM_GET_MSRS.
      const ok = run([...wrmsr(0x48, 7), MOV_EAX, ...imm32(0), ...rdmsr(0x48)]);
      expect(ok.exit).toBe(KVM_EXIT.HLT);
      expect(Number(ok.vcpu.getRegs().rax & 0xffffffffn)).toBe(7);
      expect(ok.vcpu.getMsrs([0x48])[0].data).toBe(7n);
      // Bit 3 is reserved; IBPB is the only PRED_CMD command; PRED_CMD has no value to read.
      expect(run(wrmsr(0x48, 8)).exit).toBe(KVM_EXIT.SHUTDOWN);
      expect(run(wrmsr(0x49, 1)).exit).toBe(KVM_EXIT.HLT);
      expect(run(wrmsr(0x49, 2)).exit).toBe(KVM_EXIT.SHUTDOWN);
      expect(run(rdmsr(0x49)).exit).toBe(KVM_EXIT.SHUTDOWN);
      // Userspace sets SPEC_CTRL whatever the CPUID, within the same bits.
      const { vcpu } = protectedModeGuest(open(), [HLT]);
      expect(vcpu.setMsrs([{ index: 0x48, data: 1n }])).toBe(1);
      expect(vcpu.setMsrs([{ index: 0x48, data: 1n << 32n }])).toBe(0);
      expect(vcpu.getMsrs([0x48])[0].data).toBe(1n);
    });

    it('lets userspace (KVM_SET_MSRS) set an MC bank STATUS and read MCG_CTL, which the guest may not', () => {
      const { vcpu } = protectedModeGuest(open(), [HLT]);
      expect(vcpu.setMsrs([{ index: 0x401, data: 0x8000000000000005n }])).toBe(1);
      expect(vcpu.setMsrs([{ index: 0x17b, data: 0n }])).toBe(1);
      const got = vcpu.getMsrs([0x401, 0x17b]);
      expect(got.map((e) => e.data)).toEqual([0x8000000000000005n, 0n]);
      // A non-zero MCG_CTL needs MCG_CTL_P, even from userspace.
      expect(vcpu.setMsrs([{ index: 0x17b, data: 1n }])).toBe(0);
    });
  });
}
