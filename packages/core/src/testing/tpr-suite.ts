/**
 * The TPR through CR8 with the in-kernel LAPIC (SDM Vol. 3A 11.8.6): an interrupt the TPR masks
 * waits in the IRR, and the MOV to CR8 that unmasks it lets it in before the next instruction,
 * with no exit of the guest's own in between. That needs the backend to see the write: VMX's TPR
 * threshold (a TPR-below-threshold exit, the TPR shadow taking the other writes), SVM's CR8 write
 * intercept while the TPR masks the highest request (`update_cr8_intercept`).
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import { KVM_IOCTL } from '../abi/ioctls.js';
import type { Kvm, Vcpu, Vm } from '../api/types.js';
import type { KvmDevice } from '../front/device.js';
import { longModeGuest } from './guests.js';

function hasLongMode(kvm: Kvm): boolean {
  const leaf = kvm.getSupportedCpuid().find((e) => e.function === 0x80000001);
  return leaf !== undefined && (leaf.edx & (1 << 29)) !== 0;
}

function ioPort(vcpu: Vcpu): number {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  return (vcpu.kvmRun as unknown as { io: { port: number } }).io.port;
}

/** KVM_SIGNAL_MSI (no typed method yet): fixed delivery of `vector` to APIC ID 0. */
function signalMsi(kvm: Kvm, vm: Vm, vector: number): number {
  const device = (kvm as unknown as { device: KvmDevice }).device;
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xfee00000, true);
  dv.setUint32(8, vector, true);
  return device.ioctl((vm as unknown as { fd: number }).fd, KVM_IOCTL.KVM_SIGNAL_MSI, b);
}

const VECTOR = 0x40;
const HANDLER = 0x1100;
const IDT = 0x3000;
const GDT = 0x2000;

/**
 * `noTprExit`: the engine runs this CPL-0 code in KVM's instruction emulator with nothing that
 * sees MOV CR8 lower the TPR (kvm-pvm, the project's CI host): the interrupt then waits for the
 * guest's next exit, which is asserted instead.
 */
/** The TPR guest: `tprGuest` below, waiting at its first exit (OUT 0x10) with CR8 = 15. */
export interface TprGuest {
  kvm: Kvm;
  vm: Vm;
  vcpu: Vcpu;
  ram: Uint8Array;
  /** KVM_SIGNAL_MSI of the vector CR8 masks; returns what the ioctl returned (1: delivered). */
  signal(): number;
}

/**
 * A 64-bit guest with the in-kernel irqchip: it sets CR8 = 15, STI, OUT 0x10; then NOP, MOV CR8
 * = 0 (at 0x100d), OUT 0x11 (at 0x1013), HLT. Vector 40H's handler does OUT 0x12 and HLT. Run
 * until the OUT 0x10 exit.
 */
export function tprGuest(kvm: Kvm): TprGuest {
  // mov eax, 15 ; mov cr8, rax ; sti ; out 0x10, al ; nop ; xor eax, eax ; mov cr8, rax ;
  // mov al, 0x22 ; out 0x11, al ; hlt.  Handler: mov al, 0x33 ; out 0x12, al ; hlt
  const { vm, vcpu, ram } = longModeGuest(
    kvm,
    [
      ...[0xb8, 0x0f, 0x00, 0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0],
      ...[0xfb, 0xe6, 0x10, 0x90],
      ...[0x31, 0xc0, 0x44, 0x0f, 0x22, 0xc0],
      ...[0xb0, 0x22, 0xe6, 0x11, 0xf4],
    ],
    1 << 21,
    true,
  );
  ram.set([0xb0, 0x33, 0xe6, 0x12, 0xf4], HANDLER);
  // A 64-bit interrupt gate for VECTOR: offset 0x1100, selector 8, P | DPL 0 | type 0xE.
  const dv = new DataView(ram.buffer, ram.byteOffset);
  dv.setUint16(IDT + VECTOR * 16, HANDLER, true);
  dv.setUint16(IDT + VECTOR * 16 + 2, 8, true);
  dv.setUint16(IDT + VECTOR * 16 + 4, 0x8e00, true);
  // The GDT the gate's selector 8 is read from: null, 64-bit code (L, P, type AH), data.
  dv.setUint32(GDT + 12, 0x00209a00, true);
  dv.setUint32(GDT + 20, 0x00009200, true);
  const s = vcpu.getSregs();
  s.gdt = { base: BigInt(GDT), limit: 23 };
  s.idt = { base: BigInt(IDT), limit: 0xfff };
  vcpu.setSregs(s);
  // The APIC software-enabled (SVR bit 8, spurious vector FFH).
  const lapic = vcpu.getLapic();
  new DataView(lapic.regs.buffer, lapic.regs.byteOffset).setUint32(0xf0, 0x1ff, true);
  vcpu.setLapic(lapic);
  expect(ioPort(vcpu)).toBe(0x10);
  return { kvm, vm, vcpu, ram, signal: () => signalMsi(kvm, vm, VECTOR) };
}

/** The return RIP the interrupt pushed (the top of the handler's stack). */
export function tprGuestReturnRip(g: TprGuest): number {
  return new DataView(g.ram.buffer, g.ram.byteOffset).getUint32(Number(g.vcpu.getRegs().rsp), true);
}

/**
 * `noTprExit`: the engine runs this CPL-0 code in KVM's instruction emulator with nothing that
 * sees MOV CR8 lower the TPR (kvm-pvm, the project's CI host): the interrupt then waits for the
 * guest's next exit, which is asserted instead.
 */
export function defineTprSuite(name: string, open: () => Kvm, noTprExit = false): void {
  const lm = hasLongMode(open());
  const why = lm ? '' : ' (skipped: no LM in KVM_GET_SUPPORTED_CPUID)';
  describe(`${name} engine: the TPR through CR8 with the in-kernel LAPIC`, () => {
    it.skipIf(!lm)(`delivers an interrupt CR8 masked right after the MOV CR8 that unmasks it${why}`, () => {
      const g = tprGuest(open());
      const { vcpu } = g;
      expect(vcpu.getSregs().cr8).toBe(15n);
      // Class 4 under TPR 15: requested, not delivered.
      expect(g.signal()).toBe(1);
      if (noTprExit) {
        // kvm-pvm (measured): OUT 0x11 first, then the handler, interrupting the HLT after it.
        expect(ioPort(vcpu)).toBe(0x11);
        expect(ioPort(vcpu)).toBe(0x12);
        expect(tprGuestReturnRip(g)).toBe(0x1000 + 23);
      } else {
        // The handler's OUT comes first: the interrupt went in right after MOV CR8, 0, and
        // interrupted the instruction after it.
        expect(ioPort(vcpu)).toBe(0x12);
        expect(vcpu.getSregs().cr8).toBe(0n);
        expect(tprGuestReturnRip(g)).toBe(0x1000 + 19);
      }
      g.vm.close();
      g.kvm.close();
    });
  });
}
