/**
 * The state ioctls a VMM saves and loads around the in-kernel irqchip, through the typed API:
 * KVM_GET/SET_MP_STATE (`Vcpu.getMpState`/`setMpState`), KVM_GET/SET_IRQCHIP
 * (`Vm.getIrqchip`/`setIrqchip`), KVM_GET/SET_LAPIC (`Vcpu.getLapic`/`setLapic`) and
 * KVM_GET/SET_PIT2 (`Vm.getPit2`/`setPit2`). Every expectation was first the host kernel's answer.
 */
import { Errno, KVM_IRQCHIP, KVM_MP_STATE, type Kvm, KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';

function expectErrno(fn: () => unknown, errno: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a KvmError').toBeInstanceOf(KvmError);
  expect((caught as KvmError).code).toBe(new KvmError('x', errno).code);
}

const pitState = {
  count: 0,
  latchedCount: 0,
  countLatched: 0,
  statusLatched: 0,
  status: 0,
  readState: 0,
  writeState: 0,
  writeLatch: 0,
  rwMode: 0,
  mode: 0,
  bcd: 0,
  gate: 0,
  countLoadTime: 0n,
};

export function defineVmStateCases(kvm: () => Kvm): void {
  describe('the vCPU and irqchip state ioctls', () => {
    it('keeps every vCPU RUNNABLE without an irqchip: KVM_SET_MP_STATE takes only RUNNABLE', () => {
      const vm = kvm().createVm();
      const bsp = vm.createVcpu(0);
      const ap = vm.createVcpu(1);
      expect(bsp.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
      bsp.setMpState(KVM_MP_STATE.RUNNABLE);
      for (const s of [
        KVM_MP_STATE.UNINITIALIZED,
        KVM_MP_STATE.INIT_RECEIVED,
        KVM_MP_STATE.HALTED,
        KVM_MP_STATE.SIPI_RECEIVED,
        KVM_MP_STATE.STOPPED,
        KVM_MP_STATE.OPERATING,
        11,
      ]) {
        expectErrno(() => bsp.setMpState(s), Errno.EINVAL);
      }
      expect(bsp.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
    });

    it('starts the BSP RUNNABLE and an AP UNINITIALIZED, and stores the x86 states it is given', () => {
      const vm = kvm().createVm();
      vm.createIrqchip();
      const bsp = vm.createVcpu(0);
      const ap = vm.createVcpu(1);
      expect(bsp.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.UNINITIALIZED);
      bsp.setMpState(KVM_MP_STATE.HALTED);
      expect(bsp.getMpState()).toBe(KVM_MP_STATE.HALTED);
      ap.setMpState(KVM_MP_STATE.INIT_RECEIVED);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.INIT_RECEIVED);
      ap.setMpState(KVM_MP_STATE.UNINITIALIZED);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.UNINITIALIZED);
      // Other architectures' states, and numbers past the header's.
      for (const s of [KVM_MP_STATE.STOPPED, KVM_MP_STATE.CHECK_STOP, KVM_MP_STATE.LOAD, 11, 0x100]) {
        expectErrno(() => ap.setMpState(s), Errno.EINVAL);
      }
      expect(ap.getMpState()).toBe(KVM_MP_STATE.UNINITIALIZED);
      bsp.setMpState(KVM_MP_STATE.RUNNABLE);
      expect(bsp.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
    });

    it('takes a SIPI set through KVM_SET_MP_STATE at the next KVM_GET_MP_STATE: CS from the vector, RIP 0', () => {
      const vm = kvm().createVm();
      vm.createIrqchip();
      vm.createVcpu(0);
      const ap = vm.createVcpu(1);
      ap.setRegs({ ...ap.getRegs(), rip: 0x1234n });
      ap.setMpState(KVM_MP_STATE.SIPI_RECEIVED);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
      // The APIC's SIPI vector is 0 until a SIPI IPI sets it (kvm_vcpu_deliver_sipi_vector).
      const s = ap.getSregs();
      expect(s.cs.selector).toBe(0);
      expect(s.cs.base).toBe(0n);
      expect(ap.getRegs().rip).toBe(0n);
    });

    it('reads and writes the 8259s and the I/O APIC through Vm.getIrqchip / setIrqchip', () => {
      const vm = kvm().createVm();
      expectErrno(() => vm.getIrqchip(KVM_IRQCHIP.PIC_MASTER), Errno.ENXIO);
      vm.createIrqchip();
      const master = vm.getIrqchip(KVM_IRQCHIP.PIC_MASTER);
      expect(master.chipId).toBe(KVM_IRQCHIP.PIC_MASTER);
      expect(master.chip.length).toBe(512);
      expect(master.chip[15]).toBe(0xf8); // elcr_mask: IRQ 0-2 are edge only
      // As SeaBIOS leaves the master: vectors at 0x08, all masked but the cascade.
      master.chip.set([0, 0, 0xfb, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 1], 0);
      vm.setIrqchip(master);
      const back = vm.getIrqchip(KVM_IRQCHIP.PIC_MASTER);
      expect(back.chip[2]).toBe(0xfb);
      expect(back.chip[5]).toBe(0x08);
      expect(back.chip[13]).toBe(1);
      expect(vm.getIrqchip(KVM_IRQCHIP.IOAPIC).chip[0]).toBe(0); // base 0xfec00000, low byte
      expectErrno(() => vm.getIrqchip(3), Errno.EINVAL);
      expectErrno(() => vm.setIrqchip({ chipId: 3, chip: new Uint8Array(512) }), Errno.EINVAL);
    });

    it('reads and writes the local APIC page through Vcpu.getLapic / setLapic', () => {
      const vm = kvm().createVm();
      vm.createIrqchip();
      const v = vm.createVcpu(0);
      const l = v.getLapic();
      expect(l.regs.length).toBe(1024);
      const dv = new DataView(l.regs.buffer, l.regs.byteOffset);
      expect(dv.getUint32(0xf0, true)).toBe(0xff); // SVR: software-disabled, spurious vector 0xff
      dv.setUint32(0xf0, 0x1ff, true);
      dv.setUint32(0x80, 0x20, true); // TPR
      v.setLapic(l);
      const back = new DataView(v.getLapic().regs.buffer);
      expect(back.getUint32(0xf0, true)).toBe(0x1ff);
      expect(back.getUint32(0x80, true)).toBe(0x20);
      expectErrno(() => v.setLapic({ regs: new Uint8Array(100) }), Errno.EINVAL);
    });

    it('answers KVM_GET/SET_PIT2 with ENXIO while the VM has no in-kernel PIT', () => {
      const vm = kvm().createVm();
      expectErrno(() => vm.getPit2(), Errno.ENXIO);
      expectErrno(() => vm.setPit2({ channels: [pitState, pitState, pitState], flags: 0 }), Errno.ENXIO);
      vm.createIrqchip();
      expectErrno(() => vm.getPit2(), Errno.ENXIO);
    });

    it('creates the PIT only after the irqchip (ENOENT) and once (EEXIST), in its reset state', () => {
      const vm = kvm().createVm();
      expectErrno(() => vm.createPit2({ flags: 0 }), Errno.ENOENT);
      vm.createIrqchip();
      vm.createPit2({ flags: 0 });
      expectErrno(() => vm.createPit2({ flags: 0 }), Errno.EEXIST);
      const s = vm.getPit2();
      expect(s.flags).toBe(0);
      // kvm_pit_reset: mode 0xff (no timer), count 0 loaded as 65536, gates up but channel 2's.
      s.channels.forEach((c, i) => {
        expect({ ...c, countLoadTime: 0n }).toEqual({
          ...pitState,
          count: 0x10000,
          mode: 0xff,
          gate: i === 2 ? 0 : 1,
        });
      });
    });

    it('loads the counters with KVM_SET_PIT2 and gives them back with KVM_GET_PIT2', () => {
      const vm = kvm().createVm();
      vm.createIrqchip();
      vm.createPit2({ flags: 0 });
      const s = vm.getPit2();
      s.channels[0] = { ...s.channels[0], count: 1193, mode: 2, rwMode: 3, readState: 3, writeState: 3 };
      s.channels[2] = {
        ...s.channels[2],
        count: 0x1234,
        mode: 0,
        rwMode: 1,
        readState: 1,
        writeState: 1,
        gate: 1,
      };
      vm.setPit2(s);
      const back = vm.getPit2();
      for (const i of [0, 1, 2]) {
        expect({ ...back.channels[i], countLoadTime: 0n }).toEqual({ ...s.channels[i], countLoadTime: 0n });
      }
      // The reload stamps channels 1 and 2 with the kernel's clock; channel 0 runs on its timer
      // and keeps the count_load_time it was given.
      expect(back.channels[0].countLoadTime).toBe(s.channels[0].countLoadTime);
      expect(back.channels[2].countLoadTime).toBeGreaterThan(0n);
    });
  });
}
