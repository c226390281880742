/**
 * The guest-behaviour suite every engine runs (the VMX and SVM software engines; the host engine
 * can too): tiny real-mode and protected-mode guests, port I/O and MMIO to userspace, interrupt
 * and NMI injection, paging with writes to live page tables, CMPXCHG8B on a shadowed PAE pte.
 * The expected results are the architecture's, not any engine's.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import { KvmError } from '../api/errors.js';
import type { Kvm } from '../api/types.js';
import { defineCrSuite } from './cr-suite.js';
import { defineDoubleFaultSuite } from './double-fault-suite.js';
import { defineFpuSuite } from './fpu-suite.js';
import { protectedModeGuest, realModeGuest } from './guests.js';
import { defineLongModeGuestSuite, defineLongModeSuite } from './long-mode-suite.js';
import { defineMsrSuite } from './msr-suite.js';
import { defineTaskSwitchSuite } from './task-switch-suite.js';

export interface GuestSuiteOptions {
  /** Shown in the test names (e.g. 'VMX'). */
  name: string;
  /** A fresh `Kvm` for each test. */
  open: () => Kvm;
  /**
   * The engine pages in two dimensions (AMD NPT): the guest's page-table writes and its own #PFs
   * never reach the hypervisor, so the shadow MMU's counters are not asserted, and a triple
   * fault is the silicon's SHUTDOWN. Default false.
   */
  tdp?: boolean;
}

/** Registers the suite with vitest (call at a test file's top level). */
export function defineGuestSuite(o: GuestSuiteOptions): void {
  defineMsrSuite(o.name, o.open);
  defineCrSuite(o.name, o.open, o.tdp === true);
  defineTaskSwitchSuite(o.name, o.open);
  defineLongModeSuite(o.name, o.open);
  defineLongModeGuestSuite(o.name, o.open);
  defineDoubleFaultSuite(o.name, o.open, o.tdp === true);
  defineFpuSuite(o.name, o.open);
  describe(`${o.name} engine: the silicon CPU's counters in the VM's stats`, () => {
    it('has x86emu’s (cpu_*) and, with the compiler on, the compiler’s (jit_*)', () => {
      // mov eax, [0x2000] ; hlt
      const { vcpu, vm } = protectedModeGuest(o.open(), [0xa1, 0x00, 0x20, 0x00, 0x00, 0xf4]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const st = vm.getStats();
      expect(st.cpu_decodes).toBeGreaterThanOrEqual(2);
      expect(st.cpu_tlbFlushes).toBeGreaterThanOrEqual(0);
      // The engines compile by default, unless X86EMU_JIT=0 (the suite runs both ways in CI).
      expect(st.jit_compiled !== undefined).toBe(process.env.X86EMU_JIT !== '0');
    });
  });
  describe(`${o.name} engine: real-mode guests`, () => {
    it('exits to userspace for OUT with the byte in the data page, then for HLT', () => {
      // mov dx, 0x3f8 ; mov al, 'A' ; out dx, al ; hlt
      const { vcpu } = realModeGuest(o.open(), [0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xf4]);
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

    it('reports the linear RIP, CS.base + IP, of a single step (KVM_SET_GUEST_DEBUG) and of an OUT it completes', () => {
      // At 0100:0000 (linear 0x1000): nop ; out 0x80, al ; nop ; hlt.
      const { vcpu } = realModeGuest(o.open(), [0x90, 0xe6, 0x80, 0x90, 0xf4]);
      const s = vcpu.getSregs();
      vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0x100, base: 0x1000n } });
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0n });
      // KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP
      vcpu.setGuestDebug({ control: 0x3, debugreg: new Array<bigint>(8).fill(0n) });
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(vcpu.kvmRun.debug.exception).toBe(1);
      expect(vcpu.kvmRun.debug.pc).toBe(0x1001n);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(vcpu.getRegs().rip).toBe(1n);
      // The OUT completes at the next KVM_RUN (RIP unmoved: kvm_get_linear_rip as at the exit);
      // completing it is no step of its own (run-loop.ts, as the host's kvm-pvm reports it), so
      // the step stops past the NOP after it.
      expect(vcpu.run()).toBe(KVM_EXIT.DEBUG);
      expect(vcpu.kvmRun.debug.pc).toBe(0x1004n);
      expect(vcpu.getRegs().rip).toBe(4n);
    });

    it('completes an IN with the value userspace put in the data page', () => {
      // mov dx, 0x60 ; in al, dx ; mov [0x2000], al ; hlt
      const { vcpu, ram } = realModeGuest(o.open(), [0xba, 0x60, 0x00, 0xec, 0xa2, 0x00, 0x20, 0xf4]);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      const run = vcpu.kvmRun as unknown as { io: { direction: number; data: Uint8Array } };
      expect(run.io.direction).toBe(0);
      run.io.data[0] = 0x5a;
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(ram[0x2000]).toBe(0x5a);
      expect(Number(vcpu.getRegs().rax & 0xffn)).toBe(0x5a);
    });

    it('abandons an I/O instruction whose exit userspace answered by moving RIP (a reset)', () => {
      // 1000: mov al, 0x41 ; out 0x80, al ; hlt    1010: mov al, 0x42 ; out 0x81, al ; hlt
      // 1020: in al, 0x60 ; hlt
      const code = new Array<number>(0x30).fill(0xf4);
      code.splice(0, 5, 0xb0, 0x41, 0xe6, 0x80, 0xf4);
      code.splice(0x10, 5, 0xb0, 0x42, 0xe6, 0x81, 0xf4);
      code.splice(0x20, 3, 0xe4, 0x60, 0xf4);
      const { vcpu } = realModeGuest(o.open(), code);
      const io = (vcpu.kvmRun as unknown as { io: { port: number; data: Uint8Array } }).io;
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(io.port).toBe(0x80);
      // KVM's complete_fast_pio_out skips the OUT only if RIP is still at it: the MOV at the
      // new RIP runs, so the next OUT carries 0x42.
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1010n });
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(io.port).toBe(0x81);
      expect(io.data[0]).toBe(0x42);
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1020n });
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(io.port).toBe(0x60);
      // complete_fast_pio_in: moved away, the IN's data is not written to AL.
      io.data[0] = 0x99;
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1004n });
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rip).toBe(0x1005n);
      expect(Number(vcpu.getRegs().rax & 0xffn)).toBe(0x42);
    });

    it('answers CPUID from the KVM_SET_CPUID2 table in the kernel', () => {
      // xor eax, eax ; cpuid ; mov [0x2000], ebx ; hlt
      const { vcpu, ram } = realModeGuest(
        o.open(),
        [0x66, 0x31, 0xc0, 0x0f, 0xa2, 0x66, 0x89, 0x1e, 0x00, 0x20, 0xf4],
      );
      vcpu.setCpuid2([
        { function: 0, index: 0, flags: 0, eax: 1, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(new DataView(ram.buffer).getUint32(0x2000, true)).toBe(0x756e6547);
    });

    it('returns EINTR after its instruction budget on a guest that never exits', () => {
      // jmp $
      const { vcpu } = realModeGuest(o.open(), [0xeb, 0xfe]);
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
      const { vcpu, ram } = realModeGuest(o.open(), [0xfb, 0x90, 0xf4, 0xeb, 0xfd]);
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
      const { vcpu } = realModeGuest(o.open(), [0xfa, 0xba, 0xf8, 0x03, 0xee, 0xfb, 0x90, 0xf4]);
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
      const { vcpu, ram } = realModeGuest(o.open(), [0xfa, 0xf4, 0xeb, 0xfe]);
      ram.set([0xb0, 0x22, 0xe6, 0x80, 0xcf], 0x3000);
      new DataView(ram.buffer).setUint32(2 * 4, 0x3000, true);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      (vcpu as unknown as { nmi(): void }).nmi();
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(vcpu.kvmRun.bytes[4096]).toBe(0x22);
    });
  });

  describe(`${o.name} engine: 32-bit protected mode`, () => {
    it('runs REP OUTSB one element per exit and stops at ECX = 0', () => {
      // mov esi, 0x2000 ; mov ecx, 3 ; mov dx, 0x3f8 ; rep outsb ; hlt
      const { vcpu, ram } = protectedModeGuest(
        o.open(),
        [
          0xbe, 0x00, 0x20, 0x00, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e,
          0xf4,
        ],
      );
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

  describe(`KVM_TRANSLATE on the ${o.name} engine`, () => {
    it('translates identically with paging off and says invalid beyond 4 GiB', () => {
      const { vcpu } = protectedModeGuest(o.open(), [0xf4]);
      const t = (
        vcpu as unknown as { translate(gva: bigint): { physicalAddress: bigint; valid: number } }
      ).translate(0x12345n);
      expect(t.valid).toBe(1);
      expect(t.physicalAddress).toBe(0x12345n);
      const bad = (vcpu as unknown as { translate(gva: bigint): { valid: number } }).translate(
        0x1_0000_0000n,
      );
      expect(bad.valid).toBe(0);
    });
  });

  describe('guest FPU state per vCPU', () => {
    it('gives the guest the control word userspace set, and userspace the one the guest loaded', () => {
      // fnstcw [0x2000] ; fldcw [0x3000] ; hlt
      const { vcpu, ram } = protectedModeGuest(
        o.open(),
        [0xd9, 0x3d, 0x00, 0x20, 0x00, 0x00, 0xd9, 0x2d, 0x00, 0x30, 0x00, 0x00, 0xf4],
      );
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

  definePagingAndMmioTests(o);
}

/** Little-endian dword helpers over guest RAM. */
function put32(ram: Uint8Array, gpa: number, v: number): void {
  new DataView(ram.buffer, ram.byteOffset).setUint32(gpa, v >>> 0, true);
}
function get32(ram: Uint8Array, gpa: number): number {
  return new DataView(ram.buffer, ram.byteOffset).getUint32(gpa, true);
}

/** The MMIO exit in `kvm_run`, as numbers. */
function mmioExit(vcpu: { kvmRun: unknown }): {
  gpa: number;
  len: number;
  isWrite: number;
  data: Uint8Array;
} {
  const m = (vcpu.kvmRun as { mmio: { physAddr: bigint; len: number; isWrite: number; data: Uint8Array } })
    .mmio;
  return { gpa: Number(m.physAddr), len: m.len, isWrite: m.isWrite, data: m.data };
}

// Code fragments (32-bit).
const ENABLE_PG = [0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0]; // mov eax,cr0 ; or eax,PG ; mov cr0,eax
const CR3_10000 = [0xb8, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22, 0xd8]; // mov eax,0x10000 ; mov cr3,eax
const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

function definePagingAndMmioTests(o: GuestSuiteOptions): void {
  describe(`${o.name} engine: writes to live guest page tables`, () => {
    it('lets a guest rewrite a PDE of its active page directory and sees each write', () => {
      // 2-level paging: PD 0x10000 (PDE0 → PT 0x11000, identity for the first MiB, so the PD is
      // mapped at its own address). The guest points PDE1 at PT 0x11000, reads gva 0x402000
      // (→ 0x2000), repoints PDE1 at PT 0x12000 (entry 2 → 0x5000), INVLPG, reads it again.
      const code = [
        ...CR3_10000,
        ...ENABLE_PG,
        ...[0xc7, 0x05, ...imm32(0x10004), ...imm32(0x11003)], // mov dword [0x10004], 0x11003
        ...[0xa1, ...imm32(0x402000)], // mov eax, [0x402000]
        ...[0xa3, ...imm32(0x3000)], // mov [0x3000], eax
        ...[0xc7, 0x05, ...imm32(0x10004), ...imm32(0x12003)], // mov dword [0x10004], 0x12003
        ...[0x0f, 0x01, 0x3d, ...imm32(0x402000)], // invlpg [0x402000]
        ...[0xa1, ...imm32(0x402000)], // mov eax, [0x402000]
        ...[0xa3, ...imm32(0x3004)], // mov [0x3004], eax
        0xf4,
      ];
      const { vm, vcpu, ram } = protectedModeGuest(o.open(), code);
      put32(ram, 0x10000, 0x11003);
      for (let i = 0; i < 256; i++) put32(ram, 0x11000 + 4 * i, (i << 12) | 3);
      put32(ram, 0x12000 + 4 * 2, 0x5003);
      put32(ram, 0x2000, 0x11223344);
      put32(ram, 0x5000, 0x55667788);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(get32(ram, 0x3000)).toBe(0x11223344);
      expect(get32(ram, 0x3004)).toBe(0x55667788);
      expect(get32(ram, 0x10004) & ~0x60).toBe(0x12003);
      // The emulated writes set the dirty bit of the guest pte mapping the directory (changelog:
      // "If we emulate a write, we fail to set the dirty bit on the guest pte").
      expect(get32(ram, 0x11000 + 4 * 0x10) & 0x60).toBe(0x60);
      // The writes were emulated in the kernel: the active directory cannot be unprotected.
      if (!o.tdp) expect(vm.getStats().pte_writes_emulated ?? 0).toBeGreaterThanOrEqual(2);
    });

    it('fails cleanly (internal error, not a hang) on a write to the active directory it cannot emulate', () => {
      // PD at 0xff000. Linear 0x200000 maps the PD itself, linear 0x1ff000 below it a device
      // (gpa 0x100000, outside RAM). A PUSHAD with ESP = 0x20000c writes 3 registers into the PD
      // (the first write faults there) and 5 to the device: more MMIO writes than one emulated
      // instruction may have, so it is not emulatable, and the active directory cannot be
      // unprotected: retrying would fault on the same write forever.
      const code = [
        ...[0xb8, ...imm32(0xff000), 0x0f, 0x22, 0xd8], // mov eax, 0xff000 ; mov cr3, eax
        ...ENABLE_PG,
        // mov edx, 0xfe003 (what PUSHAD stores into PDE 0 keeps it) ; mov esp, 0x20000c ; pushad
        ...[0xba, ...imm32(0xfe003), 0xbc, ...imm32(0x20000c), 0x60],
        0xf4,
      ];
      const { vm, vcpu, ram } = protectedModeGuest(o.open(), code);
      put32(ram, 0xff000, 0xfe003);
      for (let i = 0; i <= 256; i++) put32(ram, 0xfe000 + 4 * i, (i << 12) | 3);
      put32(ram, 0xfe000 + 4 * 0x1ff, 0x100003);
      put32(ram, 0xfe000 + 4 * 0x200, 0xff003);
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const internal = (vcpu.kvmRun as unknown as { internal: { suberror: number } }).internal;
      expect(internal.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(vcpu.getRegs().rip).toBe(BigInt(0x1000 + 8 + ENABLE_PG.length + 10));
      // It was the page-table-write path: emulation failed, unprotecting was tried and refused.
      const st = vm.getStats();
      if (!o.tdp) {
        expect(st.mmu_pfEmulate ?? 0).toBeGreaterThanOrEqual(1);
        expect(st.mmu_unprotects ?? 0).toBeGreaterThanOrEqual(1);
      }
      expect(st.pf_unprotect ?? 0).toBe(0);
    });

    it('emulates LOCK CMPXCHG8B on a shadowed PAE pte, comparing EDX:EAX', () => {
      // PAE: PDPT 0x10000 → PD 0x11000 → PT 0x12000 (identity for the first MiB).
      const code = [
        ...[0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0], // mov eax,cr4 ; or eax,PAE ; mov cr4,eax
        ...CR3_10000,
        ...ENABLE_PG,
        ...[0xa1, ...imm32(0x2000)], // mov eax, [0x2000]   (the pte for 0x2000 is now shadowed)
        ...[0xa3, ...imm32(0x3000)], // mov [0x3000], eax
        ...[0xa1, ...imm32(0x12010)], // mov eax, [0x12010] (gpte low, accessed bit included)
        ...[0xba, ...imm32(1)], // mov edx, 1           (wrong high half)
        ...[0xbb, ...imm32(0x5003)], // mov ebx, 0x5003
        ...[0x31, 0xc9], // xor ecx, ecx
        ...[0xf0, 0x0f, 0xc7, 0x0d, ...imm32(0x12010)], // lock cmpxchg8b [0x12010]  → fails on EDX
        ...[0x0f, 0x94, 0x05, ...imm32(0x3010)], // setz [0x3010]
        ...[0x89, 0x15, ...imm32(0x3014)], // mov [0x3014], edx   (memory's high half: 0)
        ...[0xf0, 0x0f, 0xc7, 0x0d, ...imm32(0x12010)], // lock cmpxchg8b [0x12010]  → succeeds
        ...[0x0f, 0x94, 0x05, ...imm32(0x3011)], // setz [0x3011]
        ...[0x0f, 0x01, 0x3d, ...imm32(0x2000)], // invlpg [0x2000]
        ...[0xa1, ...imm32(0x2000)], // mov eax, [0x2000]
        ...[0xa3, ...imm32(0x3004)], // mov [0x3004], eax
        0xf4,
      ];
      const { vm, vcpu, ram } = protectedModeGuest(o.open(), code);
      put32(ram, 0x10000, 0x11001);
      put32(ram, 0x11000, 0x12003);
      for (let i = 0; i < 256; i++) put32(ram, 0x12000 + 8 * i, (i << 12) | 3);
      put32(ram, 0x2000, 0xaaaa0001);
      put32(ram, 0x5000, 0xbbbb0002);
      put32(ram, 0x3014, 0xffffffff);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(get32(ram, 0x3000)).toBe(0xaaaa0001);
      expect(ram[0x3010]).toBe(0); // EDX differed: ZF = 0
      expect(get32(ram, 0x3014)).toBe(0); // EDX loaded from memory
      expect(ram[0x3011]).toBe(1);
      expect(get32(ram, 0x12010) & ~0x60).toBe(0x5003);
      expect(get32(ram, 0x12014)).toBe(0);
      // The shadow pte followed the 8-byte write: emulated, or (the shadow MMU's unsync pages) run
      // natively on the out-of-sync table and resynced by the INVLPG.
      expect(get32(ram, 0x3004)).toBe(0xbbbb0002);
      const st = vm.getStats();
      if (!o.tdp) expect((st.pte_writes_emulated ?? 0) + (st.mmu_unsyncs ?? 0)).toBeGreaterThanOrEqual(1);
    });
  });

  describe(`${o.name} engine: MMIO`, () => {
    it('completes an MMIO read with the data userspace supplied without re-running the instruction', () => {
      // push dword [0xfee00010] ; mov eax, [0xfee00020] ; mov [0xfee00030], eax ; hlt
      const { vcpu, ram } = protectedModeGuest(o.open(), [
        ...[0xff, 0x35, ...imm32(0xfee00010)],
        ...[0xa1, ...imm32(0xfee00020)],
        ...[0xa3, ...imm32(0xfee00030)],
        0xf4,
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
      let m = mmioExit(vcpu);
      expect(m).toMatchObject({ gpa: 0xfee00010, len: 4, isWrite: 0 });
      m.data.set([0xef, 0xbe, 0xad, 0xde]);
      expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
      m = mmioExit(vcpu);
      expect(m).toMatchObject({ gpa: 0xfee00020, len: 4, isWrite: 0 });
      // The PUSH completed once: one dword below the initial ESP.
      expect(vcpu.getRegs().rsp).toBe(0x7ffcn);
      expect(get32(ram, 0x7ffc)).toBe(0xdeadbeef);
      m.data.set([0x78, 0x56, 0x34, 0x12]);
      expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
      m = mmioExit(vcpu);
      expect(m).toMatchObject({ gpa: 0xfee00030, len: 4, isWrite: 1 });
      expect([...m.data.subarray(0, 4)]).toEqual([0x78, 0x56, 0x34, 0x12]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rax).toBe(0x12345678n);
    });

    it('moves between two devices with one exit per access and each register stepped once', () => {
      // mov esi, 0xfee00000 ; mov edi, 0xfee01000 ; mov ecx, 2 ; rep movsd ; hlt
      const { vcpu } = protectedModeGuest(o.open(), [
        ...[0xbe, ...imm32(0xfee00000)],
        ...[0xbf, ...imm32(0xfee01000)],
        ...[0xb9, ...imm32(2)],
        ...[0xf3, 0xa5],
        0xf4,
      ]);
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
        const m = mmioExit(vcpu);
        seen.push(
          `${m.isWrite ? 'W' : 'R'} ${m.gpa.toString(16)} ${m.len}${m.isWrite ? ` ${m.data[0]}` : ''}`,
        );
        if (!m.isWrite) m.data.set([0x40 + i, 0, 0, 0]);
      }
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(seen).toEqual(['R fee00000 4', 'W fee01000 4 64', 'R fee00004 4', 'W fee01004 4 66']);
      const r = vcpu.getRegs();
      expect(r.rsi).toBe(0xfee00008n);
      expect(r.rdi).toBe(0xfee01008n);
      expect(r.rcx).toBe(0n);
    });

    it('emulates LOCK INC on a device register as one MMIO read then one MMIO write', () => {
      // mov ebx, 0xfedff000 ; lock inc dword [ebx+0x1000] ; hlt
      const { vcpu } = protectedModeGuest(o.open(), [
        ...[0xbb, ...imm32(0xfedff000)],
        ...[0xf0, 0xff, 0x83, ...imm32(0x1000)],
        0xf4,
      ]);
      expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
      let m = mmioExit(vcpu);
      expect(m).toMatchObject({ gpa: 0xfee00000, len: 4, isWrite: 0 });
      m.data.set([0xff, 0x00, 0x00, 0x00]);
      expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
      m = mmioExit(vcpu);
      expect(m).toMatchObject({ gpa: 0xfee00000, len: 4, isWrite: 1 });
      expect([...m.data.subarray(0, 4)]).toEqual([0x00, 0x01, 0x00, 0x00]);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rip).toBe(0x100dn);
    });

    it('emulates LOCK CMPXCHG8B on MMIO: the device value decides, the old value is written back on a miss', () => {
      // lock cmpxchg8b [0xfee00000] ; setz al ; hlt   (EDX:EAX = 1:2, ECX:EBX = 3:4)
      const code = [0xf0, 0x0f, 0xc7, 0x0d, ...imm32(0xfee00000), 0x0f, 0x94, 0xc0, 0xf4];
      for (const [device, write, zf] of [
        [[2, 0, 0, 0, 1, 0, 0, 0], [4, 0, 0, 0, 3, 0, 0, 0], 1],
        [[9, 0, 0, 0, 1, 0, 0, 0], [9, 0, 0, 0, 1, 0, 0, 0], 0],
      ] as const) {
        const { vcpu } = protectedModeGuest(o.open(), code);
        vcpu.setRegs({ ...vcpu.getRegs(), rax: 2n, rdx: 1n, rbx: 4n, rcx: 3n });
        expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
        let m = mmioExit(vcpu);
        expect(m).toMatchObject({ gpa: 0xfee00000, len: 8, isWrite: 0 });
        m.data.set(device);
        expect(vcpu.run()).toBe(KVM_EXIT.MMIO);
        m = mmioExit(vcpu);
        expect(m).toMatchObject({ gpa: 0xfee00000, len: 8, isWrite: 1 });
        expect([...m.data.subarray(0, 8)]).toEqual(write);
        expect(vcpu.run()).toBe(KVM_EXIT.HLT);
        const r = vcpu.getRegs();
        expect(Number(r.rax & 0xffn)).toBe(zf);
        expect(r.rdx).toBe(1n);
      }
    });

    it('ends KVM_RUN with an emulation internal error for an instruction it cannot emulate on MMIO', () => {
      // mov eax, 0xfee00000 ; jmp eax — instruction fetch from a device
      const { vcpu } = protectedModeGuest(o.open(), [0xb8, ...imm32(0xfee00000), 0xff, 0xe0]);
      expect(vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
      const internal = (vcpu.kvmRun as unknown as { internal: { suberror: number } }).internal;
      expect(internal.suberror).toBe(KVM_INTERNAL_ERROR.EMULATION);
      expect(vcpu.getRegs().rip).toBe(0xfee00000n);
    });
  });
}
