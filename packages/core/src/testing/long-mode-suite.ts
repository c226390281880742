/**
 * Long mode, on every engine. With it (CPUID.80000001H:EDX.LM in KVM_GET_SUPPORTED_CPUID): 64-bit
 * code and registers, a guest entering IA-32e mode itself (EFER.LMA from CR0.PG), the syscall
 * MSRs through KVM_GET/SET_MSRS with KVM's canonical checks, a PML4 that maps itself. Without it:
 * a guest that turns it on anyway must not end as a silent triple fault; KVM_RUN stops with
 * KVM_EXIT_INTERNAL_ERROR (suberror EMULATION) and the data `[MSR_EFER, EFER, RIP]`.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { Kvm, Vcpu } from '../api/types.js';
import { LONG_MODE_PML4, longModeGuest, protectedModeGuest } from './guests.js';
import { defineTprSuite } from './tpr-suite.js';

const MSR_EFER = 0xc0000080n;

function hasPage1GB(kvm: Kvm): boolean {
  const leaf = kvm.getSupportedCpuid().find((e) => e.function === 0x80000001);
  return leaf !== undefined && (leaf.edx & (1 << 26)) !== 0;
}

function hasLongMode(kvm: Kvm): boolean {
  const leaf = kvm.getSupportedCpuid().find((e) => e.function === 0x80000001);
  return leaf !== undefined && (leaf.edx & (1 << 29)) !== 0;
}

function internalError(vcpu: Vcpu): { suberror: number; data: bigint[] } {
  const internal = (
    vcpu.kvmRun as unknown as {
      internal: { suberror: number; ndata: number; dataAt(i: number): bigint };
    }
  ).internal;
  const data: bigint[] = [];
  for (let i = 0; i < internal.ndata; i++) data.push(internal.dataAt(i));
  return { suberror: internal.suberror, data };
}

export function defineLongModeSuite(name: string, open: () => Kvm): void {
  const lm = hasLongMode(open());
  describe(`${name} engine: a guest enabling long mode the engine lacks`, () => {
    it.skipIf(lm)('stops at WRMSR EFER.LME with an internal error naming EFER (engine has no LM)', () => {
      // mov ecx, 0xc0000080 ; rdmsr ; or eax, 0x100 ; wrmsr ; hlt
      const { vcpu } = protectedModeGuest(open(), [
        ...[0xb9, 0x80, 0x00, 0x00, 0xc0],
        ...[0x0f, 0x32],
        ...[0x0d, 0x00, 0x01, 0x00, 0x00],
        ...[0x0f, 0x30],
        0xf4,
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const e = internalError(vcpu);
      expect(e.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(e.data).toEqual([MSR_EFER, 0x100n, 0x100cn]);
      // Nothing happened: RIP at the WRMSR, EFER unchanged.
      expect(vcpu.getRegs().rip).toBe(0x100cn);
      expect(vcpu.getSregs().efer & 0x100n).toBe(0n);
    });

    it.skipIf(lm)('stops when CR0.PG is set with EFER.LME from KVM_SET_SREGS (engine has no LM)', () => {
      // mov eax, cr0 ; or eax, 0x80000000 ; mov cr0, eax ; hlt
      const { vcpu } = protectedModeGuest(
        open(),
        [0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xf4],
      );
      const s = vcpu.getSregs();
      vcpu.setSregs({ ...s, efer: 0x100n, cr3: 0x10000n });
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const e = internalError(vcpu);
      expect(e.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(e.data).toEqual([MSR_EFER, 0x100n, 0x100bn]);
    });
  });
}

const MSR_STAR = 0xc0000081;
const MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083;
const MSR_SYSCALL_MASK = 0xc0000084;
const MSR_KERNEL_GS_BASE = 0xc0000102;
const MSR_TSC_AUX = 0xc0000103;
/** The low byte KVM_EXIT_IO carries (the byte at the data offset). */
const ioByte = (vcpu: Vcpu): number => {
  const run = vcpu.kvmRun as unknown as { io: { data: Uint8Array } };
  return run.io.data[0];
};

/** The long-mode behaviour of an engine that has it (skipped, with the reason, on one that does not). */
/** `noTprExit`: see `defineTprSuite` (kvm-pvm). */
export function defineLongModeGuestSuite(name: string, open: () => Kvm, noTprExit = false): void {
  defineTprSuite(name, open, noTprExit);
  const lm = hasLongMode(open());
  const why = lm ? '' : ' (skipped: no LM in KVM_GET_SUPPORTED_CPUID)';
  describe(`${name} engine: long-mode guests`, () => {
    it.skipIf(!lm)(`runs 64-bit code whose 64-bit registers KVM_GET_REGS returns${why}`, () => {
      // mov rax, 0x123456789abcdef0 ; mov r9, rax ; shr r9, 32 ; mov dx, 0x3f8 ; out dx, al ; hlt
      const { vcpu } = longModeGuest(open(), [
        ...[0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12],
        ...[0x49, 0x89, 0xc1, 0x49, 0xc1, 0xe9, 0x20],
        ...[0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4],
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(ioByte(vcpu)).toBe(0xf0);
      const r = vcpu.getRegs();
      expect(r.rax).toBe(0x123456789abcdef0n);
      expect(r.r9).toBe(0x12345678n);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const s = vcpu.getSregs();
      expect(s.efer & 0x500n).toBe(0x500n);
      expect(s.cs.l).toBe(1);
    });

    it.skipIf(!lm)(
      `round-trips 64-bit segment and table bases and EFER through KVM_SET/GET_SREGS${why}`,
      () => {
        const { vcpu } = longModeGuest(open(), [0xf4]);
        const s = vcpu.getSregs();
        const want = {
          ...s,
          fs: { ...s.fs, base: 0x7fff_f7fd_8740n },
          gs: { ...s.gs, base: 0xffff_8880_3fc0_0000n },
          tr: { ...s.tr, base: 0xffff_fe00_0000_3000n },
          gdt: { base: 0xffff_fe00_0000_0000n, limit: 0x7f },
          idt: { base: 0xffff_ffff_ff57_9000n, limit: 0xfff },
          cr2: 0xffff_c900_0012_3456n,
        };
        vcpu.setSregs(want);
        const got = vcpu.getSregs();
        expect(got.fs.base).toBe(want.fs.base);
        expect(got.gs.base).toBe(want.gs.base);
        expect(got.tr.base).toBe(want.tr.base);
        expect(got.gdt).toEqual(want.gdt);
        expect(got.idt).toEqual(want.idt);
        expect(got.cr2).toBe(want.cr2);
        expect(got.efer).toBe(0xd01n);
      },
    );

    const gbPages = lm && hasPage1GB(open());
    it.skipIf(!gbPages)(
      `emulates an MMIO store through a 1 GiB page (KVM_EXIT_MMIO, not a reserved-bit #PF)${
        gbPages ? '' : ' (skipped: no Page1GB in KVM_GET_SUPPORTED_CPUID)'
      }`,
      () => {
        // PDPTE[3] maps 3 GiB–4 GiB with one 1 GiB page, beyond RAM: MMIO.
        // mov eax, 0xfec00000 ; mov byte [rax], 0x5a ; hlt
        const kvm = open();
        const { vcpu, ram } = longModeGuest(kvm, [0xb8, 0x00, 0x00, 0xc0, 0xfe, 0xc6, 0x00, 0x5a, 0xf4]);
        vcpu.setCpuid2(kvm.getSupportedCpuid());
        new DataView(ram.buffer, ram.byteOffset).setUint32(0x11000 + 3 * 8, 0xc0000083, true);
        expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
        const mmio = (
          vcpu.kvmRun as unknown as {
            mmio: { physAddrLo: number; physAddrHi: number; len: number; isWrite: number; data: Uint8Array };
          }
        ).mmio;
        expect([mmio.physAddrLo >>> 0, mmio.physAddrHi, mmio.len, mmio.isWrite, mmio.data[0]]).toEqual([
          0xfec00000, 0, 1, 1, 0x5a,
        ]);
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      },
    );

    it.skipIf(!lm)(
      `does REP OUTSB / REP INSB on buffers at a high canonical address (64-bit RSI/RDI/RCX)${why}`,
      () => {
        // PML4E[256] → PDPT 0x13000 → PD 0x14000 → the 2 MiB page at 0x200000: 0xFFFF800000002000
        // is guest-physical 0x202000 (its low 32 bits alone would name 0x2000).
        // mov rsi, 0xffff800000002000 ; mov ecx, 3 ; mov dx, 0x3f8 ; rep outsb ;
        // mov rdi, 0xffff800000002100 ; mov ecx, 2 ; rep insb ; hlt
        const { vcpu, ram } = longModeGuest(
          open(),
          [
            ...[0x48, 0xbe, 0x00, 0x20, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff],
            ...[0xb9, 0x03, 0x00, 0x00, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e],
            ...[0x48, 0xbf, 0x00, 0x21, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff],
            ...[0xb9, 0x02, 0x00, 0x00, 0x00, 0xf3, 0x6c, 0xf4],
          ],
          4 << 20,
        );
        const dv = new DataView(ram.buffer, ram.byteOffset);
        dv.setUint32(LONG_MODE_PML4 + 256 * 8, 0x13003, true);
        dv.setUint32(0x13000, 0x14003, true);
        dv.setUint32(0x14000, 0x200083, true);
        ram.set([0x61, 0x62, 0x63], 0x202000);
        // KVM may hand several elements over in one exit (io.count); this engine hands one.
        const out: number[] = [];
        const input = [0x58, 0x59];
        const run = vcpu.kvmRun as unknown as {
          io: { direction: number; size: number; count: number; data: Uint8Array };
        };
        let reason = vcpu.run();
        for (let n = 0; reason === KVM_EXIT.IO && n < 8; n++) {
          const bytes = run.io.size * run.io.count;
          if (run.io.direction === 1) out.push(...run.io.data.subarray(0, bytes));
          else for (let i = 0; i < bytes; i++) run.io.data[i] = input.shift() ?? 0;
          reason = vcpu.run();
        }
        expect(reason).toBe(KVM_EXIT.HLT);
        expect(String.fromCharCode(...out)).toBe('abc');
        expect([ram[0x202100], ram[0x202101], ram[0x202102]]).toEqual([0x58, 0x59, 0]);
        const r = vcpu.getRegs();
        expect([r.rsi, r.rdi, r.rcx]).toEqual([0xffff_8000_0000_2003n, 0xffff_8000_0000_2102n, 0n]);
      },
    );

    it.skipIf(!lm)(
      `writes the TPR with MOV CR8 and reads it back (KVM_GET_SREGS.cr8, kvm_run.cr8)${why}`,
      () => {
        // mov eax, 7 ; mov cr8, rax ; mov rbx, cr8 ; mov al, bl ; out 0x80, al ; hlt
        const { vcpu } = longModeGuest(open(), [
          ...[0xb8, 0x07, 0x00, 0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3],
          ...[0x88, 0xd8, 0xe6, 0x80, 0xf4],
        ]);
        expect(vcpu.run()).toBe(KVM_EXIT.IO);
        expect(ioByte(vcpu)).toBe(7);
        expect(vcpu.getSregs().cr8).toBe(7n);
        expect((vcpu.kvmRun as unknown as { cr8: bigint }).cr8).toBe(7n);
      },
    );

    it.skipIf(!lm)(`reads a PML4 that maps itself through its own recursive entry${why}`, () => {
      // PML4[511] → the PML4: linear 0xFFFFFFFFFFFFF000 is the PML4 page itself.
      // mov rax, [0xfffffffffffff000] ; mov dx, 0x3f8 ; out dx, al ; hlt
      const { vcpu, ram } = longModeGuest(open(), [
        ...[0x48, 0xa1, 0x00, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ...[0x66, 0xba, 0xf8, 0x03, 0xee, 0xf4],
      ]);
      new DataView(ram.buffer, ram.byteOffset).setUint32(LONG_MODE_PML4 + 511 * 8, LONG_MODE_PML4 | 3, true);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      // PML4[0] as the walks left it: present, writable, accessed (A set by the walk to the code).
      expect(Number(vcpu.getRegs().rax & 0xffffffffn)).toBe(0x11023);
    });

    it.skipIf(!lm)(
      `round-trips the syscall MSRs and refuses a non-canonical LSTAR (KVM_SET_MSRS)${why}`,
      () => {
        const { vcpu } = longModeGuest(open(), [0xf4]);
        const want = [
          { index: MSR_STAR, data: 0x0023_0010_0000_0000n },
          { index: MSR_LSTAR, data: 0xffff_ffff_8100_0000n },
          { index: MSR_CSTAR, data: 0xffff_ffff_8100_1000n },
          { index: MSR_SYSCALL_MASK, data: 0x47700n },
          { index: MSR_KERNEL_GS_BASE, data: 0xffff_8880_0000_0000n },
          { index: MSR_TSC_AUX, data: 3n },
        ];
        expect(vcpu.setMsrs(want)).toBe(want.length);
        expect(vcpu.getMsrs(want.map((e) => e.index))).toEqual(want);
        // __kvm_set_msr: a non-canonical address in LSTAR is refused, the earlier entry taken.
        // Non-canonical with 57-bit addresses too: a host KVM on a CPU with LA57 checks these
        // MSRs against 57 bits (is_noncanonical_msr_address), where 0x0000_8000_0000_0000 is
        // canonical (an Intel host took it, 2026-12-07).
        expect(
          vcpu.setMsrs([
            { index: MSR_CSTAR, data: 0n },
            { index: MSR_LSTAR, data: 0x8000_0000_0000_0000n },
          ]),
        ).toBe(1);
        expect(vcpu.getMsrs([MSR_LSTAR])[0].data).toBe(0xffff_ffff_8100_0000n);
      },
    );

    // Bad guests: reserved bits at each level of a 4-level walk give #PF with P|RSVD (0x9 for a
    // supervisor read), CR2 the linear address, delivered through a 64-bit IDT gate. The test
    // address goes through PML4E[1] so the code and the handler (PML4E[0]) stay mapped.
    const rsvdCases: [string, number, number, bigint][] = [
      ['bit 51 (above MAXPHYADDR) in a PML4E', 0x10008, 0x13003, 0x0008_0000_0000_0000n],
      ['PS in a PML4E', 0x10008, 0x13083, 0n],
      ['bit 13 in a 2 MiB PDE (bits 20:13 reserved)', 0x14000, 0x200083 | 0x2000, 0n],
      ['XD with EFER.NXE clear in a PDPTE', 0x13000, 0x14003, 0x8000_0000_0000_0000n],
    ];
    for (const [what, at, lo, hi] of rsvdCases) {
      it.skipIf(!lm)(`gives #PF(P|RSVD) for ${what}${why}`, () => {
        // mov rax, 0x8000001234 ; mov rax, [rax] ; hlt
        const { vcpu, ram } = longModeGuest(open(), [
          ...[0x48, 0xb8, 0x34, 0x12, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00],
          ...[0x48, 0x8b, 0x00, 0xf4],
        ]);
        const dv = new DataView(ram.buffer, ram.byteOffset);
        // PML4E[1] → PDPT 0x13000 → PD 0x14000 → the 2 MiB page at 0x200000.
        dv.setUint32(0x10008, 0x13003, true);
        dv.setUint32(0x13000, 0x14003, true);
        dv.setUint32(0x14000, 0x200083, true);
        dv.setUint32(at, lo, true);
        dv.setUint32(at + 4, Number(hi >> 32n), true);
        // GDT at 0x2000 with the 64-bit code segment the gate names (selector 8: L, P, S, code).
        dv.setUint32(0x2000 + 12, 0x00209a00, true);
        // IDT at 0x3000: vector 14, a 64-bit interrupt gate (type 0xE, P) to 0x3100 through CS 8.
        dv.setUint32(0x3000 + 14 * 16, (8 << 16) | 0x3100, true);
        dv.setUint32(0x3000 + 14 * 16 + 4, 0x8e00, true);
        // 0x3100: pop rbx ; mov rax, cr2 ; out 0x80, eax ; mov eax, ebx ; out 0x80, eax ; hlt
        ram.set([0x5b, 0x0f, 0x20, 0xd0, 0xe7, 0x80, 0x89, 0xd8, 0xe7, 0x80, 0xf4], 0x3100);
        const s = vcpu.getSregs();
        // XD is reserved only with EFER.NXE clear.
        vcpu.setSregs({
          ...s,
          gdt: { base: 0x2000n, limit: 0x17 },
          idt: { base: 0x3000n, limit: 0xfff },
          efer: hi >> 63n ? 0x501n : s.efer,
        });
        const word = (): number => {
          const run = vcpu.kvmRun as unknown as { io: { data: Uint8Array } };
          const d = run.io.data;
          return (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
        };
        expect(vcpu.run()).toBe(KVM_EXIT.IO);
        expect(word()).toBe(0x1234);
        expect(vcpu.run()).toBe(KVM_EXIT.IO);
        expect(word()).toBe(0x9);
        expect(vcpu.getSregs().cr2).toBe(0x80_0000_1234n);
      });
    }

    it.skipIf(!lm)(`runs SYSCALL to LSTAR with RCX, R11 and SFMASK as the SDM says${why}`, () => {
      // 0x1000: pushfq ; pop rbx ; syscall ; (0x1004: return address)
      // 0x1100 (LSTAR): mov al, 0x5c ; out 0x80, al ; hlt
      const { vcpu, ram } = longModeGuest(open(), [0x9c, 0x5b, 0x0f, 0x05]);
      ram.set([0xb0, 0x5c, 0xe6, 0x80, 0xf4], 0x1100);
      expect(
        vcpu.setMsrs([
          { index: MSR_STAR, data: 0x0023_0008_0000_0000n },
          { index: MSR_LSTAR, data: 0x1100n },
          // SFMASK clears IF and DF in the handler.
          { index: MSR_SYSCALL_MASK, data: 0x600n },
        ]),
      ).toBe(3);
      vcpu.setRegs({ ...vcpu.getRegs(), rflags: 0x602n });
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(ioByte(vcpu)).toBe(0x5c);
      const r = vcpu.getRegs();
      expect(r.rcx).toBe(0x1004n);
      // R11 is RFLAGS before the SYSCALL, as PUSHFQ saw it.
      expect(r.r11).toBe(r.rbx);
      expect(r.r11 & 0x600n).toBe(0x600n);
      expect(r.rflags & 0x600n).toBe(0n);
      expect(vcpu.getSregs().cs.selector).toBe(0x08);
    });

    it.skipIf(!lm)(
      `lets a guest leave IA-32e mode: CR0.PG cleared in compatibility mode clears EFER.LMA${why}`,
      () => {
        // In compatibility mode (CS.L = 0): mov eax, cr0 ; and eax, 0x7fffffff ; mov cr0, eax ;
        // then unpaged 32-bit protected mode: mov al, 0x4d ; out 0x80, al ; hlt
        const { vcpu } = longModeGuest(open(), [
          ...[0x0f, 0x20, 0xc0, 0x25, 0xff, 0xff, 0xff, 0x7f, 0x0f, 0x22, 0xc0],
          ...[0xb0, 0x4d, 0xe6, 0x80, 0xf4],
        ]);
        const s = vcpu.getSregs();
        vcpu.setSregs({ ...s, cs: { ...s.cs, l: 0, db: 1 } });
        expect(vcpu.run()).toBe(KVM_EXIT.IO);
        expect(ioByte(vcpu)).toBe(0x4d);
        const after = vcpu.getSregs();
        expect(after.cr0 & 0x80000000n).toBe(0n);
        // LMA follows CR0.PG off; LME stays as the guest set it.
        expect(after.efer & 0x500n).toBe(0x100n);
      },
    );

    it.skipIf(!lm)(
      `lets a guest enter IA-32e mode itself: WRMSR EFER.LME, then CR0.PG sets EFER.LMA${why}`,
      () => {
        // From flat 32-bit protected mode with CR4.PAE and CR3 at the PML4:
        // mov ecx, 0xc0000080 ; rdmsr ; or eax, 0x100 ; wrmsr ;
        // mov eax, cr0 ; or eax, 0x80000000 ; mov cr0, eax ; mov al, 0x4c ; out 0x80, al ; hlt
        const code = [
          ...[0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30],
          ...[0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0],
          ...[0xb0, 0x4c, 0xe6, 0x80, 0xf4],
        ];
        const kvm = open();
        const { vcpu, ram } = longModeGuest(kvm, [0xf4]);
        ram.set(code, 0x1000);
        // The guest's CPUID must have LM for its WRMSR of EFER.LME (kvm_valid_efer).
        vcpu.setCpuid2(kvm.getSupportedCpuid());
        const s = vcpu.getSregs();
        vcpu.setSregs({
          ...s,
          cs: { ...s.cs, l: 0, db: 1 },
          tr: { ...s.tr, type: 11 },
          cr0: 0x11n,
          efer: 0n,
        });
        expect(vcpu.run()).toBe(KVM_EXIT.IO);
        expect(ioByte(vcpu)).toBe(0x4c);
        const after = vcpu.getSregs();
        // Compatibility mode: IA-32e active, CS.L still 0.
        expect(after.efer & 0x500n).toBe(0x500n);
        expect(after.cr0 & 0x80000000n).toBe(0x80000000n);
      },
    );
  });
}
