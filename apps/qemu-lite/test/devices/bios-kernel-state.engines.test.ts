/**
 * The in-kernel 8259 pair and i8254 loaded with KVM_SET_IRQCHIP / KVM_SET_PIT2 as SeaBIOS leaves
 * them (`biosKvmPicState`, `biosKvmPitChannel0`) must equal what the kernel's own chips hold after
 * a guest made SeaBIOS's port writes (`programBiosPic`, `pit_setup`): the writes are replayed
 * by a real-mode guest on each engine, the host's /dev/kvm included where it is usable.
 */
import { KVM_EXIT, KVM_IRQCHIP, type Kvm, type KvmPitChannelState, type Vm } from '@kvm/core';
import { openHostKvm } from '@kvm/host';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import {
  BIOS_PCI_ELCR,
  biosKvmPicState,
  biosKvmPitChannel0,
  programBiosPic,
} from '../../src/devices/bios-state.js';
import { hostSkipReason } from '../helpers.js';

/** The port writes `programBiosPic` makes, as (port, byte) pairs. */
function biosPicWrites(elcr = 0): [number, number][] {
  const writes: [number, number][] = [];
  programBiosPic(
    {
      name: 'recorder',
      ioIn: () => 0,
      ioOut: (port, _size, value) => writes.push([port, value]),
    },
    elcr,
  );
  return writes;
}

/** `mov al, v ; out p, al`, through DX (`mov dx, p ; out dx, al`) for a port above 0xff. */
const outByte = ([port, v]: [number, number]): number[] =>
  port > 0xff ? [0xb0, v, 0xba, port & 0xff, port >> 8, 0xee] : [0xb0, v, 0xe6, port];

/** A VM with the irqchip whose real-mode guest makes `writes` (mov al, v ; out p, al …) then halts. */
function runWrites(kvm: Kvm, writes: [number, number][], pit: boolean): Vm {
  const vm = kvm.createVm();
  vm.setTssAddr(0xfffbd000);
  vm.createIrqchip();
  if (pit) vm.createPit2({ flags: 0 });
  const mem = vm.allocateMemory(0x10000);
  const code = writes.flatMap(outByte);
  new Uint8Array(mem.buffer).set([...code, 0xb0, 0, 0xe6, 0xf4], 0x1000); // then out 0xf4: done
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(mem.size),
    userspaceAddr: mem.userspaceAddr,
  });
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rflags: 0x2n });
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  expect(vcpu.kvmRun.io.port).toBe(0xf4);
  return vm;
}

const engines: { name: string; open: () => Kvm; kernelPit: boolean; skip?: string }[] = [
  { name: 'vmx', open: createVmxKvm, kernelPit: true },
  { name: 'svm', open: createSvmKvm, kernelPit: true },
  { name: 'kvm', open: openHostKvm, kernelPit: true, skip: hostSkipReason },
];

describe.each(engines)('the in-kernel PC chips as SeaBIOS leaves them on -accel $name', (e) => {
  it.skipIf(e.skip !== undefined).each([
    { what: '', elcr: 0 },
    { what: ', with the PCI ELCR (IRQs 10, 11 level)', elcr: BIOS_PCI_ELCR },
  ])(
    `KVM_SET_IRQCHIP loads what the 8259s hold after SeaBIOS's writes$what${e.skip ? ` (${e.skip})` : ''}`,
    ({ elcr }) => {
      const kvm = e.open();
      const programmed = runWrites(kvm, biosPicWrites(elcr), false);
      if (elcr) expect(programmed.getIrqchip(KVM_IRQCHIP.PIC_SLAVE).chip[14]).toBe(0x0c);
      const loaded = kvm.createVm();
      loaded.createIrqchip();
      for (const id of [KVM_IRQCHIP.PIC_MASTER, KVM_IRQCHIP.PIC_SLAVE]) {
        const chip = loaded.getIrqchip(id);
        biosKvmPicState(chip.chip, id === KVM_IRQCHIP.PIC_SLAVE, elcr);
        loaded.setIrqchip(chip);
        expect([...loaded.getIrqchip(id).chip.subarray(0, 16)]).toEqual([
          ...programmed.getIrqchip(id).chip.subarray(0, 16),
        ]);
      }
      programmed.close();
      loaded.close();
      kvm.close();
    },
  );

  it.skipIf(!e.kernelPit || e.skip !== undefined)(
    'KVM_SET_PIT2 loads what the i8254 holds after pit_setup',
    () => {
      const kvm = e.open();
      const vm = runWrites(
        kvm,
        [
          [0x43, 0x36],
          [0x40, 0],
          [0x40, 0],
        ],
        true,
      );
      const strip = (c: KvmPitChannelState) => ({ ...c, countLoadTime: 0n });
      const want = { ...biosKvmPitChannel0(), count: 0x10000 }; // the kernel stores 0 as 65536
      expect(strip(vm.getPit2().channels[0])).toEqual(want);
      const loaded = kvm.createVm();
      loaded.createIrqchip();
      loaded.createPit2({ flags: 0 });
      const pit = loaded.getPit2();
      pit.channels[0] = biosKvmPitChannel0();
      loaded.setPit2(pit);
      expect(strip(loaded.getPit2().channels[0])).toEqual(want);
      loaded.close();
      vm.close();
      kvm.close();
    },
  );
});
