/**
 * The in-kernel irqchip part of the ABI suite: KVM_CREATE_IRQCHIP, KVM_IRQ_LINE(_STATUS),
 * KVM_GET/SET_IRQCHIP, KVM_GET/SET_LAPIC, KVM_SET_GSI_ROUTING and KVM_SIGNAL_MSI, byte for byte
 * and errno for errno, plus tiny 32-bit guests that take an APIC timer interrupt, a self-IPI
 * and an I/O APIC-routed KVM_IRQ_LINE. Every expectation was first the host kernel's answer.
 *
 * The irqchip ioctls have no typed front-end methods yet, so the cases issue them raw on the
 * engine's `KvmDevice` with the bytes of `<linux/kvm.h>`'s structs.
 */
import {
  Errno,
  KVM_EXIT,
  KVM_IOCTL,
  KVM_MP_STATE,
  KVM_PIT_SPEAKER_DUMMY,
  type Kvm,
  type KvmDevice,
  KvmError,
  KvmRunView,
  type KvmSegment,
  type Vcpu,
  type Vm,
} from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { defineVmStateCases } from './vm-state-suite.js';

/** `fn()` must throw a KvmError with `errno`. */
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

interface Raw {
  device: KvmDevice;
  vmFd: number;
  vm: Vm;
}

function raw(k: Kvm, vm: Vm): Raw {
  return {
    device: (k as unknown as { device: KvmDevice }).device,
    vmFd: (vm as unknown as { fd: number }).fd,
    vm,
  };
}

function vcpuFd(v: Vcpu): number {
  return (v as unknown as { fd: number }).fd;
}

const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const s32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getInt32(o, true);
const put32 = (b: Uint8Array, o: number, v: number): void =>
  new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true);

function irqLineStatus(r: Raw, irq: number, level: number): number {
  const b = new Uint8Array(8);
  put32(b, 0, irq);
  put32(b, 4, level);
  r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_IRQ_LINE_STATUS, b);
  return s32(b, 0);
}

function getIrqchip(r: Raw, chipId: number): Uint8Array {
  const b = new Uint8Array(520);
  put32(b, 0, chipId);
  r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_GET_IRQCHIP, b);
  return b;
}

function getLapic(r: Raw, v: Vcpu): Uint8Array {
  const b = new Uint8Array(1024);
  r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_GET_LAPIC, b);
  return b;
}

/** The non-zero dwords of a register page, as "offset: value" in hex. */
function nonZero(b: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (let o = 0; o < b.length; o += 4) if (u32(b, o) !== 0) out[o.toString(16)] = u32(b, o).toString(16);
  return out;
}

function msi(r: Raw, addressLo: number, data: number, flags = 0): number {
  const b = new Uint8Array(32);
  put32(b, 0, addressLo);
  put32(b, 8, data);
  put32(b, 12, flags);
  return r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SIGNAL_MSI, b);
}

/** kvm_irq_routing with `entries` as [gsi, type, flags, u0, u1, u2]. */
function routing(entries: number[][], flags = 0): Uint8Array {
  const b = new Uint8Array(8 + 48 * entries.length);
  put32(b, 0, entries.length);
  put32(b, 4, flags);
  entries.forEach((e, i) => {
    const o = 8 + 48 * i;
    put32(b, o, e[0]);
    put32(b, o + 4, e[1]);
    put32(b, o + 8, e[2] ?? 0);
    for (let j = 3; j < e.length; j++) put32(b, o + 16 + 4 * (j - 3), e[j]);
  });
  return b;
}

const IRQCHIP = 1;
const MSI = 2;
const PIC_MASTER = 0;
const PIC_SLAVE = 1;
const IOAPIC = 2;

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/** mov dword [addr], imm32 */
const movMem = (addr: number, v: number): number[] => [0xc7, 0x05, ...imm32(addr), ...imm32(v)];
/**
 * mov ecx, n ; loop $: a bounded wait for an interrupt. kvm-pvm recognizes a pending interrupt
 * only some instructions after it became deliverable, so one NOP is not enough there.
 */
const spin = (n = 100000): number[] => [0xb9, ...imm32(n), 0xe2, 0xfe];
/** mov al, imm8 ; out imm8, al */
const outAl = (port: number, v: number): number[] => [0xb0, v, 0xe6, port];

function flat(type: number, selector: number): KvmSegment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: 1,
    s: 1,
    l: 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

const GDT = 0x2800;
const IDT = 0x3000;
const HANDLER = 0x1800;

/**
 * A VM with an irqchip, 1 MiB of RAM and one vCPU in flat 32-bit protected mode at 0x1000 with
 * an IDT at 0x3000 whose every vector's gate points at `HANDLER + 16 × (vector − 0x40)` for
 * vectors 0x40–0x4f. Each handler is `out 0x10, vector ; hlt`: the exit says which vector came.
 */
function irqchipGuest(k: Kvm, code: number[]): { r: Raw; vcpu: Vcpu; ram: Uint8Array } {
  const vm = k.createVm();
  vm.createIrqchip();
  const mem = vm.allocateMemory(1 << 20);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: 1n << 20n,
    userspaceAddr: mem.userspaceAddr,
  });
  const ram = new Uint8Array(mem.buffer);
  ram.set(code, 0x1000);
  // Vector 2 (NMI) too, its handler at HANDLER + 16 × 16.
  for (const v of [2, ...Array.from({ length: 16 }, (_, i) => 0x40 + i)]) {
    const h = HANDLER + 16 * (v === 2 ? 16 : v - 0x40);
    ram.set([...outAl(0x10, v), 0xf4], h);
    // 32-bit interrupt gate, DPL 0, present (SDM Vol. 3 Figure 6-2).
    ram.set([h & 0xff, (h >>> 8) & 0xff, 0x08, 0x00, 0x00, 0x8e, (h >>> 16) & 0xff, h >>> 24], IDT + 8 * v);
  }
  // GDT: null, flat code at 0x08, flat data at 0x10 (what interrupt delivery loads CS from).
  ram.set(
    [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0],
    GDT,
  );
  const vcpu = vm.createVcpu(0);
  const s = vcpu.getSregs();
  s.gdt = { base: BigInt(GDT), limit: 23 };
  s.cs = flat(11, 8);
  s.ds = s.es = s.ss = s.fs = s.gs = flat(3, 16);
  s.cr0 = 0x11n;
  s.idt = { base: BigInt(IDT), limit: 8 * 256 - 1 };
  vcpu.setSregs(s);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n, rflags: 2n });
  return { r: raw(k, vm), vcpu, ram };
}

/** Runs until an exit that is not EINTR; returns the port of the KVM_EXIT_IO and its byte. */
function runToIo(vcpu: Vcpu): [number, number] {
  for (let i = 0; i < 50; i++) {
    let exit: number;
    try {
      exit = vcpu.run();
    } catch (e) {
      if (e instanceof KvmError && e.code === 'EINTR') continue;
      throw e;
    }
    expect(exit).toBe(KVM_EXIT.IO);
    const area: { bytes: Uint8Array } = vcpu.kvmRun;
    const run = area instanceof KvmRunView ? area : new KvmRunView(area.bytes);
    return [run.io.port, run.io.data[0]];
  }
  throw new Error('no I/O exit');
}

/**
 * The cases; `kvm()` is the suite's own opener (it closes what it opened after each case).
 * `isrTracked`: KVM_GET_LAPIC shows a delivered interrupt in ISR/PPR (SDM Vol. 3 11.8.4). The
 * CI host's kvm-pvm delivers through its paravirtual event path and shows ISR and PPR as 0, so
 * the host engine runs these cases without that check.
 */
export function defineIrqchipCases(kvm: () => Kvm, isrTracked: boolean): void {
  defineVmStateCases(kvm);
  describe('the in-kernel irqchip', () => {
    const vmWithChip = (): Raw => {
      const k = kvm();
      const vm = k.createVm();
      vm.createIrqchip();
      return raw(k, vm);
    };

    it('answers the irqchip ioctls with ENXIO / EINVAL before KVM_CREATE_IRQCHIP', () => {
      const k = kvm();
      const vm = k.createVm();
      const r = raw(k, vm);
      const v = vm.createVcpu(0);
      expectErrno(() => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_IRQ_LINE, new Uint8Array(8)), Errno.ENXIO);
      expectErrno(
        () => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_IRQ_LINE_STATUS, new Uint8Array(8)),
        Errno.ENXIO,
      );
      expectErrno(() => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_GET_IRQCHIP, new Uint8Array(520)), Errno.ENXIO);
      expectErrno(() => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_IRQCHIP, new Uint8Array(520)), Errno.ENXIO);
      expectErrno(() => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_GSI_ROUTING, routing([])), Errno.EINVAL);
      expectErrno(() => msi(r, 0xfee00000, 0x30), Errno.EINVAL);
      expectErrno(
        () => r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_GET_LAPIC, new Uint8Array(1024)),
        Errno.EINVAL,
      );
      expectErrno(
        () => r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_SET_LAPIC, new Uint8Array(1024)),
        Errno.EINVAL,
      );
      // A vCPU exists: too late for an irqchip.
      expectErrno(() => vm.createIrqchip(), Errno.EINVAL);
    });

    it('creates the irqchip once (EEXIST), then KVM_INTERRUPT is ENXIO', () => {
      const k = kvm();
      const vm = k.createVm();
      vm.createIrqchip();
      expectErrno(() => vm.createIrqchip(), Errno.EEXIST);
      const v = vm.createVcpu(0);
      expectErrno(() => v.interrupt(0x20), Errno.ENXIO);
    });

    it('shows the reset state of the 8259 pair and the I/O APIC in KVM_GET_IRQCHIP', () => {
      const r = vmWithChip();
      const master = getIrqchip(r, PIC_MASTER);
      expect([...master.subarray(8, 24)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf8]);
      const slave = getIrqchip(r, PIC_SLAVE);
      expect(u32(slave, 0)).toBe(PIC_SLAVE);
      expect([...slave.subarray(8, 24)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde]);
      const io = getIrqchip(r, IOAPIC);
      expect(u32(io, 8)).toBe(0xfec00000);
      expect(u32(io, 12)).toBe(0);
      for (let pin = 0; pin < 24; pin++) expect(u32(io, 32 + 8 * pin)).toBe(0x10000);
      expect([...io.subarray(32 + 8 * 24)].every((x) => x === 0)).toBe(true);
      expectErrno(() => getIrqchip(r, 3), Errno.EINVAL);
    });

    it('leaves the rest of the kvm_irqchip union as userspace passed it', () => {
      const r = vmWithChip();
      const b = new Uint8Array(520).fill(0xa5);
      put32(b, 0, PIC_MASTER);
      r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_GET_IRQCHIP, b);
      expect(b[23]).toBe(0xf8);
      expect(b[24]).toBe(0xa5);
      expect(b[519]).toBe(0xa5);
    });

    it('round-trips the chips through KVM_SET_IRQCHIP; chip 3 is EINVAL', () => {
      const r = vmWithChip();
      const pic = getIrqchip(r, PIC_MASTER);
      pic.set([0, 0, 0xfb, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0xf8], 8);
      r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_IRQCHIP, pic);
      expect([...getIrqchip(r, PIC_MASTER).subarray(8, 24)]).toEqual([...pic.subarray(8, 24)]);
      const io = getIrqchip(r, IOAPIC);
      put32(io, 16, 0x5); // IOREGSEL
      put32(io, 20, 0x3); // ID
      put32(io, 32 + 8 * 3, 0x1a031); // pin 3: masked, level, vector 0x31
      put32(io, 32 + 8 * 3 + 4, 0x01000000);
      r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_IRQCHIP, io);
      expect([...getIrqchip(r, IOAPIC)]).toEqual([...io]);
      const bad = new Uint8Array(520);
      put32(bad, 0, 3);
      expectErrno(() => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_IRQCHIP, bad), Errno.EINVAL);
    });

    it('answers KVM_IRQ_LINE_STATUS as kvm_set_irq sums the PIC and I/O APIC routes', () => {
      const r = vmWithChip();
      r.vm.createVcpu(0);
      // GSI 4: PIC delivers (1), the masked I/O APIC pin ignores it (-1).
      expect(irqLineStatus(r, 4, 1)).toBe(1);
      // Lowering the line: both chips answer 1.
      expect(irqLineStatus(r, 4, 0)).toBe(2);
      expect(irqLineStatus(r, 0, 1)).toBe(1);
      // GSI 23 has only the masked I/O APIC pin; 24 and 1000 have no route.
      expect(irqLineStatus(r, 23, 1)).toBe(-1);
      expect(irqLineStatus(r, 24, 1)).toBe(-1);
      expect(irqLineStatus(r, 1000, 1)).toBe(-1);
      // An edge already latched and not yet taken is coalesced (0).
      expect(irqLineStatus(r, 2, 1)).toBe(1);
      expect(irqLineStatus(r, 0, 0)).toBe(2);
      expect(irqLineStatus(r, 0, 1)).toBe(0);
      const master = getIrqchip(r, PIC_MASTER);
      expect(master[9]).toBe(0x15); // IRR: IRQ 0, 2, 4
    });

    it('shows the local APIC reset state in KVM_GET_LAPIC: BSP LINT0 in ExtINT mode, the AP all masked', () => {
      const r = vmWithChip();
      const bsp = r.vm.createVcpu(0);
      const ap = r.vm.createVcpu(1);
      expect(nonZero(getLapic(r, bsp))).toEqual({
        '30': '50014',
        e0: 'ffffffff',
        f0: 'ff',
        '320': '10000',
        '330': '10000',
        '340': '10000',
        '350': '700',
        '360': '10000',
        '370': '10000',
      });
      expect(nonZero(getLapic(r, ap))).toEqual({
        '20': '1000000',
        '30': '50014',
        e0: 'ffffffff',
        f0: 'ff',
        '320': '10000',
        '330': '10000',
        '340': '10000',
        '350': '10000',
        '360': '10000',
        '370': '10000',
      });
      expect(bsp.getMsrs([0x1b])[0].data).toBe(0xfee00900n);
      expect(ap.getMsrs([0x1b])[0].data).toBe(0xfee00800n);
    });

    it('recomputes the version and PPR on KVM_SET_LAPIC and stores TMCCT as 0', () => {
      const r = vmWithChip();
      const v = r.vm.createVcpu(0);
      const l = getLapic(r, v);
      put32(l, 0xf0, 0x1ff);
      put32(l, 0x30, 0);
      put32(l, 0xa0, 0x77);
      put32(l, 0x390, 1234);
      put32(l, 0x80, 0x20);
      r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_SET_LAPIC, l);
      const back = getLapic(r, v);
      expect(u32(back, 0x30)).toBe(0x50014);
      expect(u32(back, 0xa0)).toBe(0x20);
      expect(u32(back, 0x390)).toBe(0);
      expect(u32(back, 0xf0)).toBe(0x1ff);
      expect(v.getSregs().cr8).toBe(2n);
    });

    it('delivers KVM_SIGNAL_MSI by mode: EPERM with no vCPU, 0 to a disabled APIC, 1 to an enabled one', () => {
      const r = vmWithChip();
      expectErrno(() => msi(r, 0xfee00000, 0x30), Errno.EPERM);
      const v = r.vm.createVcpu(0);
      expect(msi(r, 0xfee00000, 0x4030)).toBe(0);
      expect(msi(r, 0xfee05000, 0x4030)).toBe(0);
      expect(msi(r, 0xfeeff000, 0x4030)).toBe(0);
      expect(msi(r, 0xfee00000, 0x4030, 1)).toBe(0);
      expectErrno(() => msi(r, 0xfee00000, 0x4030, 2), Errno.EINVAL);
      const l = getLapic(r, v);
      put32(l, 0xf0, 0x1ff);
      r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_SET_LAPIC, l);
      expect(msi(r, 0xfee00000, 0x4030)).toBe(1);
      expect(msi(r, 0xfee00000, 0x4010)).toBe(1);
      expect(msi(r, 0xfee00000, 0x4131)).toBe(1); // lowest priority
      expect(msi(r, 0xfee00000, 0x0430)).toBe(1); // NMI
      expect(msi(r, 0xfee00000, 0x0230)).toBe(0); // SMI
      expect(msi(r, 0xfee00000, 0x0730)).toBe(0); // ExtINT
      const irr = getLapic(r, v);
      expect(u32(irr, 0x200)).toBe(0x10000); // vector 0x10
      expect(u32(irr, 0x210)).toBe(0x30000); // vectors 0x30, 0x31
    });

    it('KVM_SIGNAL_MSI to a logical destination: 0 when no APIC is in it (logical 0 too) while the logical model is one, EPERM when the APICs disagree on it, 1 to the APIC its LDR names and to the broadcast', () => {
      const r = vmWithChip();
      const v = r.vm.createVcpu(0);
      // Address bit 2: logical destination mode (SDM Vol. 3 11.11.1); bits 19:12 the destination.
      expect(msi(r, 0xfee00004, 0x4030)).toBe(0); // a software-disabled APIC: routed to nobody
      expect(msi(r, 0xfee01004, 0x4030)).toBe(0);
      const l = getLapic(r, v);
      put32(l, 0xf0, 0x1ff); // SVR: software enable
      put32(l, 0xd0, 0x01000000); // LDR: logical ID 1 (the DFR stays flat, all ones)
      r.device.ioctl(vcpuFd(v), KVM_IOCTL.KVM_SET_LAPIC, l);
      expect(msi(r, 0xfee00004, 0x4030)).toBe(0); // logical destination 0: nobody
      expect(msi(r, 0xfee02004, 0x4030)).toBe(0); // a bit no APIC has
      expect(msi(r, 0xfee01004, 0x4031)).toBe(1);
      expect(msi(r, 0xfee03004, 0x4032)).toBe(1); // bits 0 and 1: the APIC with bit 0
      expect(msi(r, 0xfeeff004, 0x4033)).toBe(1); // the logical broadcast
      expect(u32(getLapic(r, v), 0x210)).toBe(0xe0000); // IRR: vectors 0x31 to 0x33, not 0x30
      // A second APIC in the cluster model beside the flat one: KVM's map gives up on logical
      // messages (KVM_APIC_MODE_MAP_DISABLED) and the slow path finds no destination: EPERM.
      const v1 = r.vm.createVcpu(1);
      const l1 = getLapic(r, v1);
      put32(l1, 0xf0, 0x1ff);
      put32(l1, 0xe0, 0x0fffffff); // DFR: cluster model
      put32(l1, 0xd0, 0x02000000); // cluster 0, bit 1
      r.device.ioctl(vcpuFd(v1), KVM_IOCTL.KVM_SET_LAPIC, l1);
      expectErrno(() => msi(r, 0xfee00004, 0x4030), Errno.EPERM);
      expectErrno(() => msi(r, 0xfee04004, 0x4030), Errno.EPERM);
      expect(msi(r, 0xfee02004, 0x4034)).toBe(1); // the cluster APIC's bit
    });

    it('answers Vm.signalMsi, the typed KVM_SIGNAL_MSI, as the raw ioctl: EINVAL, EPERM, then 1 and the IRR bit', () => {
      const vm = kvm().createVm();
      const message = (flags = 0) => ({ addressLo: 0xfee00000, addressHi: 0, data: 0x41, flags, devid: 0 });
      expectErrno(() => vm.signalMsi(message()), Errno.EINVAL); // no irqchip
      vm.createIrqchip();
      expectErrno(() => vm.signalMsi(message()), Errno.EPERM); // no vCPU: no APIC took it
      const v = vm.createVcpu(0);
      expectErrno(() => vm.signalMsi(message(2)), Errno.EINVAL); // only KVM_MSI_VALID_DEVID is a flag
      const lapic = v.getLapic();
      put32(lapic.regs, 0xf0, 0x1ff); // SVR: APIC software enable (SDM Vol. 3A 11.9)
      v.setLapic(lapic);
      expect(vm.signalMsi(message())).toBe(1);
      expect(u32(v.getLapic().regs, 0x220) & (1 << 1)).not.toBe(0); // IRR: vector 0x41 is bit 1 of 0x220
    });

    it('validates KVM_SET_GSI_ROUTING as Linux does', () => {
      const r = vmWithChip();
      const set = (b: Uint8Array) => r.device.ioctl(r.vmFd, KVM_IOCTL.KVM_SET_GSI_ROUTING, b);
      expect(set(routing([]))).toBe(0);
      expectErrno(() => set(routing([], 1)), Errno.EINVAL);
      expectErrno(() => set(routing([[4096, IRQCHIP, 0, IOAPIC, 0]])), Errno.EINVAL);
      expect(set(routing([[4095, IRQCHIP, 0, IOAPIC, 3]]))).toBe(0);
      expectErrno(() => set(routing([[1, IRQCHIP, 0, IOAPIC, 24]])), Errno.EINVAL);
      expectErrno(() => set(routing([[1, IRQCHIP, 0, PIC_MASTER, 8]])), Errno.EINVAL);
      expectErrno(() => set(routing([[1, IRQCHIP, 0, 3, 0]])), Errno.EINVAL);
      expectErrno(() => set(routing([[1, 0, 0, 0, 0]])), Errno.EINVAL);
      expectErrno(() => set(routing([[1, 5, 0, 0, 0]])), Errno.EINVAL);
      expectErrno(() => set(routing([[1, IRQCHIP, 1, IOAPIC, 1]])), Errno.EINVAL);
      expectErrno(
        () =>
          set(
            routing([
              [1, IRQCHIP, 0, IOAPIC, 1],
              [1, IRQCHIP, 0, IOAPIC, 2],
            ]),
          ),
        Errno.EINVAL,
      );
      expect(
        set(
          routing([
            [1, IRQCHIP, 0, PIC_MASTER, 1],
            [1, IRQCHIP, 0, IOAPIC, 1],
          ]),
        ),
      ).toBe(0);
      expect(
        set(
          routing([
            [1, IRQCHIP, 0, PIC_MASTER, 1],
            [1, IRQCHIP, 0, PIC_SLAVE, 1],
          ]),
        ),
      ).toBe(0);
      expect(set(routing([[5, MSI, 1, 0xfee00000, 0, 0x31]]))).toBe(0);
      expectErrno(
        () =>
          set(
            routing([
              [5, MSI, 0, 0xfee00000, 0, 0x31],
              [5, IRQCHIP, 0, IOAPIC, 3],
            ]),
          ),
        Errno.EINVAL,
      );
      const tooMany = new Uint8Array(8);
      put32(tooMany, 0, 4097);
      expectErrno(() => set(tooMany), Errno.EINVAL);
      // Only GSI 5 → MSI now: raising it delivers to nobody enabled (0), lowering it is ignored (-1).
      r.vm.createVcpu(0);
      expect(set(routing([[5, MSI, 0, 0xfee00000, 0, 0x31]]))).toBe(0);
      expect(irqLineStatus(r, 5, 1)).toBe(0);
      expect(irqLineStatus(r, 5, 0)).toBe(-1);
      expect(irqLineStatus(r, 4, 1)).toBe(-1);
    });

    it('takes an APIC timer interrupt (one-shot) while halted', () => {
      // SVR enable; LVTT one-shot vector 0x40; divide by 1; TMICT 1000; sti; hlt; jmp back.
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfee00320, 0x40),
        ...movMem(0xfee003e0, 0xb),
        ...movMem(0xfee00380, 1000),
        0xfb,
        0xf4,
        0xeb,
        0xfd,
      ]);
      expect(runToIo(vcpu)).toEqual([0x10, 0x40]);
      const l = getLapic(r, vcpu);
      expect(u32(l, 0x390)).toBe(0); // the one-shot count ran out
      expect(u32(l, 0x380)).toBe(1000); // TMICT stays
      if (isrTracked) {
        expect(u32(l, 0x120)).toBe(1); // ISR bits 95:64: vector 0x40 in service
        expect(u32(l, 0xa0)).toBe(0x40); // PPR follows the in-service vector
      }
    });

    it('takes a self-IPI sent through the ICR with the "self" shorthand', () => {
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...movMem(0xfee000f0, 0x1ff),
        0xfb,
        ...movMem(0xfee00300, 0x40041),
        0x90,
        0xeb,
        0xfe,
      ]);
      expect(runToIo(vcpu)).toEqual([0x10, 0x41]);
      const l = getLapic(r, vcpu);
      if (isrTracked) expect(u32(l, 0x120)).toBe(2); // ISR: vector 0x41
      expect(u32(l, 0x300)).toBe(0x40041); // ICR keeps what was written, delivery status clear
    });

    it('delivers a KVM_IRQ_LINE edge through an I/O APIC redirection entry', () => {
      // SVR enable; IOREGSEL = 0x1a (pin 5 low); IOWIN = vector 0x42 (fixed, physical, edge);
      // IOREGSEL 0x1b; IOWIN = destination APIC 0; report; sti; spin.
      // The 8259 is masked first: GSI 5 also reaches it, and the BSP takes ExtINT before the APIC.
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...outAl(0x21, 0xff),
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfec00000, 0x1a),
        ...movMem(0xfec00010, 0x42),
        ...movMem(0xfec00000, 0x1b),
        ...movMem(0xfec00010, 0),
        ...outAl(0x11, 1),
        0xfb,
        0x90,
        0xeb,
        0xfe,
      ]);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      const io = getIrqchip(r, IOAPIC);
      expect(u32(io, 16)).toBe(0x1b); // IOREGSEL as the guest left it
      expect(u32(io, 32 + 8 * 5)).toBe(0x42);
      expect(irqLineStatus(r, 5, 1)).toBe(1);
      expect(runToIo(vcpu)).toEqual([0x10, 0x42]);
      if (isrTracked) expect(u32(getLapic(r, vcpu), 0x120)).toBe(4); // ISR: vector 0x42
      // Lowering: the masked 8259 pin answers -1, the I/O APIC 1.
      expect(irqLineStatus(r, 5, 0)).toBe(1);
      expect(getIrqchip(r, PIC_MASTER)[10]).toBe(0xff); // IMR, written through the in-kernel 8259
    });

    it('holds a self-IPI back while TPR is at its class, and delivers it when TPR drops', () => {
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfee00080, 0x50),
        0xfb,
        ...movMem(0xfee00300, 0x40045),
        ...spin(),
        ...outAl(0x11, 1),
        ...movMem(0xfee00080, 0),
        ...spin(),
        ...outAl(0x12, 0),
      ]);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      const l = getLapic(r, vcpu);
      expect(u32(l, 0x80)).toBe(0x50);
      expect(vcpu.getSregs().cr8).toBe(5n);
      expect(runToIo(vcpu)).toEqual([0x10, 0x45]);
    });

    it('sets remote IRR on a level-triggered I/O APIC delivery and delivers again after the EOI', () => {
      // Pin 6: level, vector 0x46. Its handler reports, EOIs, then reports again.
      const { vcpu, r, ram } = irqchipGuest(kvm(), [
        ...outAl(0x21, 0xff),
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfec00000, 0x1c),
        ...movMem(0xfec00010, 0x8046),
        ...outAl(0x11, 1),
        0xfb,
        ...spin(),
        ...outAl(0x12, 0),
      ]);
      const h = 0x1c00;
      ram.set([...outAl(0x10, 0x46), ...movMem(0xfee000b0, 0), ...outAl(0x13, 1), 0xeb, 0xfe], h);
      ram.set([h & 0xff, h >>> 8, 0x08, 0, 0, 0x8e, 0, 0], IDT + 8 * 0x46);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      expect(irqLineStatus(r, 6, 1)).toBe(1);
      expect(runToIo(vcpu)).toEqual([0x10, 0x46]);
      const redir = (): number => u32(getIrqchip(r, IOAPIC), 32 + 8 * 6);
      expect(redir()).toBe(0xc046); // remote IRR set
      // Raising the line again changes nothing until the EOI: ignored (-1).
      expect(irqLineStatus(r, 6, 1)).toBe(-1);
      expect(runToIo(vcpu)).toEqual([0x13, 1]);
      // The EOI cleared remote IRR; the line is still high, so the pin was delivered again.
      expect(redir()).toBe(0xc046);
      if (isrTracked) expect(u32(getLapic(r, vcpu), 0x220)).toBe(0x40); // IRR: 0x46 pending again
      expect(irqLineStatus(r, 6, 0)).toBe(1);
    });

    it('delivers an 8259 interrupt through the BSP LINT0 in ExtINT mode', () => {
      // ICW1–4: vectors 0x40–0x47, then OCW1 unmasks IRQ 1 only.
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...outAl(0x20, 0x11),
        ...outAl(0x21, 0x40),
        ...outAl(0x21, 0x04),
        ...outAl(0x21, 0x01),
        ...outAl(0x21, 0xfd),
        ...outAl(0x11, 1),
        0xfb,
        ...spin(),
        ...outAl(0x12, 0),
      ]);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      const master = getIrqchip(r, PIC_MASTER);
      expect(master[10]).toBe(0xfd); // IMR
      expect(master[13]).toBe(0x40); // irq_base
      expect(irqLineStatus(r, 1, 1)).toBe(1);
      expect(runToIo(vcpu)).toEqual([0x10, 0x41]);
      expect(getIrqchip(r, PIC_MASTER)[11]).toBe(0x02); // ISR: IRQ 1 in service
    });

    it('serves the in-kernel PIT at 0x40–0x43: latch and read-back status, IRQ 0 ticks through the 8259', () => {
      // PIC master at vectors 0x40 with only IRQ 0 open; channel 2: control 0xb0 (LSB/MSB, mode 0),
      // count 0xfff0; read-back status of channel 2 (0xe8) to port 0x12; latch channel 2 (0x80) and
      // its MSB to port 0x13; channel 0: mode 2 at ~1 kHz; sti; spin for the tick.
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...outAl(0x20, 0x11),
        ...outAl(0x21, 0x40),
        ...outAl(0x21, 0x04),
        ...outAl(0x21, 0x01),
        ...outAl(0x21, 0xfe),
        ...outAl(0x43, 0xb0),
        ...outAl(0x42, 0xf0),
        ...outAl(0x42, 0xff),
        ...outAl(0x43, 0xe8),
        0xe4,
        0x42, // in al, 0x42
        0xe6,
        0x12, // out 0x12, al
        ...outAl(0x43, 0x80),
        0xe4,
        0x42,
        0xe4,
        0x42, // in al, 0x42 (LSB) ; in al, 0x42 (MSB)
        0xe6,
        0x13,
        ...outAl(0x43, 0x34),
        ...outAl(0x40, 0xa9),
        ...outAl(0x40, 0x04),
        0xfb,
        ...spin(10_000_000),
        ...outAl(0x14, 0),
      ]);
      r.vm.createPit2({ flags: 0 });
      const start = performance.now();
      // Status: OUT low (mode 0 still counting), LSB/MSB access, mode 0, binary.
      expect(runToIo(vcpu)).toEqual([0x12, 0x30]);
      // The latched count's MSB: 0xfff0 minus the 1.193182 MHz ticks of the time that passed at
      // most (the PIT runs on host time: a loaded host stretches it, so the bound is measured).
      const [port, msb] = runToIo(vcpu);
      const ticks = Math.ceil((performance.now() - start) * 1193.182);
      expect(port).toBe(0x13);
      expect(msb).toBeLessThanOrEqual(0xff);
      if (ticks < 0xff00) expect(msb).toBeGreaterThanOrEqual((0xfff0 - ticks) >>> 8);
      expect(runToIo(vcpu)).toEqual([0x10, 0x40]);
      expect(r.vm.getPit2().channels[0]).toMatchObject({ count: 0x4a9, mode: 2, rwMode: 3 });
    });

    it('serves port 0x61 with KVM_PIT_SPEAKER_DUMMY: channel 2 gated there, OUT2 low while counting, then high', () => {
      // Gate on, speaker off; channel 2 mode 0 counting 0xffff (55 ms); port 0x61 to port 0x12;
      // then poll 0x61 until OUT2 (bit 5) rises and report it to port 0x13.
      const { vcpu, r } = irqchipGuest(kvm(), [
        ...outAl(0x61, 0x01),
        ...outAl(0x43, 0xb0),
        ...outAl(0x42, 0xff),
        ...outAl(0x42, 0xff),
        0xe4,
        0x61, // in al, 0x61
        0xe6,
        0x12, // out 0x12, al
        0xe4,
        0x61, // 1: in al, 0x61
        0xa8,
        0x20, // test al, 0x20
        0x74,
        0xfa, // jz 1b
        0xe6,
        0x13, // out 0x13, al
      ]);
      r.vm.createPit2({ flags: KVM_PIT_SPEAKER_DUMMY });
      // Bit 4 (the refresh toggle) changes by itself: masked out.
      const [p0, v0] = runToIo(vcpu);
      expect([p0, v0 & 0x23]).toEqual([0x12, 0x01]);
      const [p1, v1] = runToIo(vcpu);
      expect([p1, v1 & 0x23]).toEqual([0x13, 0x21]);
      expect(r.vm.getPit2().channels[2]).toMatchObject({ count: 0xffff, mode: 0, gate: 1 });
    });

    it('delivers KVM_NMI through IDT vector 2 with interrupts disabled', () => {
      // cli; report; spin; report again (only if the NMI never came).
      const { vcpu } = irqchipGuest(kvm(), [0xfa, ...outAl(0x11, 1), ...spin(), ...outAl(0x12, 0)]);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      vcpu.nmi?.();
      expect(runToIo(vcpu)).toEqual([0x10, 2]);
    });

    it('fires the TSC-deadline timer armed through IA32_TSC_DEADLINE, which then reads 0', () => {
      // LVTT: TSC-deadline mode (bits 18:17 = 10b), vector 0x43; deadline = TSC + 2000; sti; hlt.
      const k = kvm();
      const { vcpu, r } = irqchipGuest(k, [
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfee00320, 0x40043),
        0x0f,
        0x31, // rdtsc
        0x05,
        ...imm32(2000), // add eax, 2000
        0x83,
        0xd2,
        0x00, // adc edx, 0
        0xb9,
        ...imm32(0x6e0),
        0x0f,
        0x30, // wrmsr
        0xfb,
        0xf4,
        ...outAl(0x12, 0),
      ]);
      // The mode exists only with CPUID.1:ECX[24], as KVM_SET_CPUID2 gives it.
      vcpu.setCpuid2(k.getSupportedCpuid());
      expect(runToIo(vcpu)).toEqual([0x10, 0x43]);
      expect(vcpu.getMsrs([0x6e0])[0].data).toBe(0n);
      expect(u32(getLapic(r, vcpu), 0x320)).toBe(0x40043);
    });

    it('switches to x2APIC through IA32_APIC_BASE and sends a self-IPI through the SELF IPI MSR', () => {
      // wrmsr 0x1b = 0xfee00d00 (BSP, enable, EXTD); wrmsr 0x80f = 0x1ff; rdmsr 0x802 → ebx;
      // sti; wrmsr 0x83f = 0x44.
      const wrmsr = (msr: number, lo: number): number[] => [
        0xb9,
        ...imm32(msr),
        0xb8,
        ...imm32(lo),
        0x31,
        0xd2, // xor edx, edx
        0x0f,
        0x30,
      ];
      const k = kvm();
      const { vcpu, r } = irqchipGuest(k, [
        ...wrmsr(0x1b, 0xfee00d00),
        ...wrmsr(0x80f, 0x1ff),
        0xb9,
        ...imm32(0x802),
        0x0f,
        0x32, // rdmsr
        0x89,
        0xc3, // mov ebx, eax
        0xfb,
        ...wrmsr(0x83f, 0x44),
        ...spin(),
        ...outAl(0x12, 0),
      ]);
      vcpu.setCpuid2(k.getSupportedCpuid());
      expect(runToIo(vcpu)).toEqual([0x10, 0x44]);
      expect(vcpu.getMsrs([0x1b])[0].data).toBe(0xfee00d00n);
      expect(vcpu.getRegs().rbx).toBe(0n); // x2APIC ID of vCPU 0
      // KVM_GET_LAPIC shows the x2APIC ID shifted into bits 31:24, as for xAPIC (no x2APIC API).
      expect(u32(getLapic(r, vcpu), 0x20)).toBe(0);
      expect(u32(getLapic(r, vcpu), 0xd0)).toBe(1); // LDR: cluster 0, bit 0
    });

    it('starts an AP with INIT and SIPI IPIs: real mode at the SIPI vector × 0x1000', () => {
      // vCPU 0: ICR2 = APIC 1; ICR = INIT (assert); ICR = SIPI vector 0x08; report.
      const { vcpu, r, ram } = irqchipGuest(kvm(), [
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfee00310, 0x01000000),
        ...movMem(0xfee00300, 0x4500),
        ...movMem(0xfee00300, 0x4608),
        ...outAl(0x11, 1),
      ]);
      // The AP's start-up code: mov al, 0x5a ; out 0x13, al.
      ram.set([0xb0, 0x5a, 0xe6, 0x13], 0x8000);
      const ap = r.vm.createVcpu(1);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      // An AP starts in KVM_MP_STATE_UNINITIALIZED: its first KVM_RUN takes INIT and SIPI and
      // returns EAGAIN; the next one runs it.
      expectErrno(() => ap.run(), Errno.EAGAIN);
      const s = ap.getSregs();
      expect(s.cs.selector).toBe(0x0800);
      expect(s.cs.base).toBe(0x8000n);
      expect(ap.getRegs().rip).toBe(0n);
      expect(runToIo(ap)).toEqual([0x13, 0x5a]);
    });

    it('takes INIT and SIPI in KVM_GET_MP_STATE: the AP is RUNNABLE and its next KVM_RUN runs it', () => {
      const { vcpu, r, ram } = irqchipGuest(kvm(), [
        ...movMem(0xfee000f0, 0x1ff),
        ...movMem(0xfee00310, 0x01000000),
        ...movMem(0xfee00300, 0x4500),
        ...movMem(0xfee00300, 0x4608),
        ...outAl(0x11, 1),
      ]);
      ram.set([0xb0, 0x5a, 0xe6, 0x13], 0x8000);
      const ap = r.vm.createVcpu(1);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.UNINITIALIZED);
      expect(runToIo(vcpu)).toEqual([0x11, 1]);
      expect(ap.getMpState()).toBe(KVM_MP_STATE.RUNNABLE);
      expect(ap.getSregs().cs.selector).toBe(0x0800);
      expect(runToIo(ap)).toEqual([0x13, 0x5a]);
    });
  });
}
