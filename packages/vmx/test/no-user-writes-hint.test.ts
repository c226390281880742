/**
 * KVM_CAP_SOFT_NO_USER_WRITES_HINT (core run-loop.ts): a KVM_RUN told that userspace wrote no guest
 * memory since the last one skips checking the decoded and compiled code against memory; without
 * the hint, with a memory slot changed, or told once and then not, code userspace rewrote through
 * its mapping runs as written. The guest is a loop that outputs an immediate: userspace rewrites the
 * immediate between KVM_RUNs, and the port's byte shows which code ran.
 */
import { KVM_CAP_SOFT, KVM_EXIT, KVM_RUN_SOFT_NO_USER_WRITES, openKvm, SoftKvmDevice } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing/guests';
import { describe, expect, it } from 'vitest';
import { VmxDriver } from '../src/driver/vmx.js';
import { VmxSilicon } from '../src/silicon/vmx-silicon.js';

/** At 0x1000: mov al, imm8 (the imm at 0x1001); out 0x80, al; jmp 0x1000. */
const CODE = [0xb0, 0x11, 0xe6, 0x80, 0xeb, 0xfa];
const IMM = 0x1001;

type Backend = 'interpreter' | 'js' | 'wasm';

/** Turns of the loop (one exit each) before the checks: past the block compiler's threshold (1,000). */
const TURNS = 1100;

function engine(backend: Backend) {
  const si = new VmxSilicon(backend === 'interpreter' ? { jit: false } : { jit: true, jitBackend: backend });
  const g = protectedModeGuest(openKvm(new SoftKvmDevice(new VmxDriver(si))), CODE);
  /** KVM_RUN to the loop's OUT; its byte. */
  const out = (hint: boolean): number => {
    if (hint) g.vcpu.kvmRun.softRunFlags = KVM_RUN_SOFT_NO_USER_WRITES;
    expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
    // The hint covers the run it was given for only.
    expect(g.vcpu.kvmRun.softRunFlags).toBe(0);
    return (g.vcpu.kvmRun as unknown as { io: { data: Uint8Array } }).io.data[0];
  };
  return { ...g, out };
}

describe('KVM_CAP_SOFT_NO_USER_WRITES_HINT', () => {
  it('is answered by the software engine, under its own number range', () => {
    const g = engine('interpreter');
    expect(KVM_CAP_SOFT.NO_USER_WRITES_HINT).toBeGreaterThanOrEqual(0x10000);
    expect(g.vm.checkExtension?.(KVM_CAP_SOFT.NO_USER_WRITES_HINT)).toBe(1);
  });

  for (const backend of ['interpreter', 'js', 'wasm'] as const) {
    describe(backend === 'interpreter' ? 'interpreter' : `compiled code (${backend})`, () => {
      it('without the hint, code rewritten through the mapping between KVM_RUNs runs as written', () => {
        const g = engine(backend);
        for (let i = 0; i < TURNS; i++) expect(g.out(false)).toBe(0x11);
        g.ram[IMM] = 0x22;
        expect(g.out(false)).toBe(0x22);
        expect(g.vm.getStats().code_revalidations).toBe(TURNS + 1);
      });

      it('with the hint, KVM_RUN does not check the code again (userspace promised no writes)', () => {
        const g = engine(backend);
        for (let i = 0; i < TURNS; i++) expect(g.out(i > 0)).toBe(0x11);
        expect(g.vm.getStats().code_revalidations).toBe(1);
        expect(g.vm.getStats().code_revalidations_skipped).toBe(TURNS - 1);
        // A VMM that broke its promise runs what it had decoded (no check: that is the saving).
        g.ram[IMM] = 0x33;
        expect(g.out(true)).toBe(0x11);
        // The next KVM_RUN without the hint sees the write.
        expect(g.out(false)).toBe(0x33);
        g.ram[IMM] = 0x44;
        expect(g.out(false)).toBe(0x44);
      });

      it("the kernel's own write into code (an INS element) is seen despite the hint", () => {
        // mov edi, 0x100b; mov dx, 0x81; L: insb; mov al, imm8 (at 0x100b); out 0x80, al; dec edi; jmp L
        const si = new VmxSilicon(
          backend === 'interpreter' ? { jit: false } : { jit: true, jitBackend: backend },
        );
        const code = [
          0xbf, 0x0b, 0x10, 0, 0, 0x66, 0xba, 0x81, 0x00, 0x6c, 0xb0, 0x11, 0xe6, 0x80, 0x4f, 0xeb, 0xf8,
        ];
        const g = protectedModeGuest(openKvm(new SoftKvmDevice(new VmxDriver(si))), code);
        const io = (g.vcpu.kvmRun as unknown as { io: { port: number; data: Uint8Array } }).io;
        for (let i = 0; i < TURNS; i++) {
          g.vcpu.kvmRun.softRunFlags = i > 0 ? KVM_RUN_SOFT_NO_USER_WRITES : 0;
          expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
          expect(io.port).toBe(0x81);
          io.data[0] = i & 0xff;
          g.vcpu.kvmRun.softRunFlags = KVM_RUN_SOFT_NO_USER_WRITES;
          expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
          expect(io.port).toBe(0x80);
          expect(io.data[0]).toBe(i & 0xff);
        }
        expect(g.vm.getStats().code_revalidations).toBe(1);
      });

      it('a vCPU ioctl since the last KVM_RUN (KVM_SET_REGS): checked despite the hint', () => {
        const g = engine(backend);
        for (let i = 0; i < TURNS; i++) g.out(true);
        g.ram[IMM] = 0x66;
        g.vcpu.setRegs(g.vcpu.getRegs());
        expect(g.out(true)).toBe(0x66);
        // Only that run: the next with the hint takes it.
        g.ram[IMM] = 0x77;
        expect(g.out(true)).toBe(0x66);
      });

      it('a memory slot changed since the last KVM_RUN: checked despite the hint', () => {
        const g = engine(backend);
        for (let i = 0; i < TURNS; i++) g.out(true);
        g.ram[IMM] = 0x55;
        // A second slot above the first: a change (MMU reload).
        const extra = g.vm.allocateMemory(4096);
        g.vm.setUserMemoryRegion({
          slot: 1,
          flags: 0,
          guestPhysAddr: 0x200000n,
          memorySize: 4096n,
          userspaceAddr: extra.userspaceAddr,
        });
        expect(g.out(true)).toBe(0x55);
      });
    });
  }
});
