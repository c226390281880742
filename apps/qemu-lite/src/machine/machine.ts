/**
 * The machine: one VM, one vCPU, guest RAM as one slot from gpa 0, and the PC devices on the
 * I/O bus. Built from a `MachineConfig` against the ABI only (`Kvm`, `Vm`, `Vcpu`), in the
 * thread that will run the vCPU.
 */
import { type Kvm, type KvmRunArea, KvmRunView, type Vcpu, type Vm } from '@kvm/core';
import type { MachineConfig } from '../config.js';
import { Cmos } from '../devices/cmos.js';
import { DebugExit } from '../devices/debug-exit.js';
import { FW_CFG_PORT_SEL, FwCfg } from '../devices/fw-cfg.js';
import { I8042 } from '../devices/i8042.js';
import { I8254, SystemControlPortB } from '../devices/i8254.js';
import { I8259Pair } from '../devices/i8259.js';
import { IoBus } from '../devices/io-bus.js';
import { PostPort } from '../devices/post-port.js';
import { COM1_BASE, Serial16550 } from '../devices/serial.js';
import { SystemControlPortA } from '../devices/system-port-a.js';
import type { Clock, IrqSink } from '../devices/types.js';
import { kernelFormatOf, loadFlat } from '../loaders/index.js';
import type { LoadedGuest, LoaderMachine } from '../loaders/types.js';
import type { StopReason } from '../vcpu/exit-handler.js';
import { guestCpuid } from './cpuid.js';
import { buildE820 } from './memory-map.js';

/** KVM_SET_TSS_ADDR: three pages just below the BIOS area at the top of 4 GiB, as QEMU does. */
export const TSS_GPA = 0xfffbd000;

/** IA32_APIC_BASE bit 11: the local APIC's global enable (SDM Vol. 3A 10.4.4). */
const APIC_BASE_ENABLE = 1n << 11n;

/** The in-kernel irqchip's input lines, as a device sees them. */
class KernelIrqLines implements IrqSink {
  constructor(private readonly vm: Vm) {}
  setIrq(irq: number, level: number): void {
    this.vm.irqLine(irq, level);
  }
}

export interface MachineHooks {
  /** Bytes the UART transmits. */
  serialOut(byte: number): void;
  /** Log line for `-d` items. */
  log(item: string, line: string): void;
}

export class Machine {
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly run: KvmRunView;
  readonly ram: Uint8Array;
  readonly bus = new IoBus();
  /** Userspace PIC and PIT; undefined with the in-kernel irqchip. */
  readonly pic?: I8259Pair;
  readonly pit?: I8254;
  readonly serial: Serial16550;
  readonly loaded: LoadedGuest;
  private stopped: StopReason | undefined;

  constructor(
    readonly kvm: Kvm,
    readonly config: MachineConfig,
    readonly clock: Clock,
    private readonly hooks: MachineHooks,
  ) {
    const e820 = buildE820(config.ramSize);
    const vm = kvm.createVm();
    this.vm = vm;
    try {
      vm.setTssAddr(TSS_GPA);
      const memory = vm.allocateMemory(config.ramSize);
      vm.setUserMemoryRegion({
        slot: 0,
        flags: 0,
        guestPhysAddr: 0n,
        memorySize: BigInt(config.ramSize),
        userspaceAddr: memory.userspaceAddr,
      });
      this.ram = new Uint8Array(memory.buffer, 0, config.ramSize);

      let irq: IrqSink;
      if (config.kernelIrqchip) {
        // Order matters: the irqchip must exist before the vCPU (its LAPIC is created with it).
        vm.createIrqchip();
        vm.createPit2({ flags: 0 });
        irq = new KernelIrqLines(vm);
      } else {
        const pic = new I8259Pair();
        this.pic = pic;
        irq = pic;
        this.bus.register(0x20, 2, pic);
        this.bus.register(0xa0, 2, pic);
        this.bus.register(0x4d0, 2, pic);
        const pit = new I8254(clock, pic);
        this.pit = pit;
        this.bus.register(0x40, 4, pit);
        this.bus.register(0x61, 1, new SystemControlPortB(pit, clock));
      }
      const reset = (cause: string) => () => this.stop({ kind: 'reset', cause });
      this.serial = new Serial16550(irq, hooks.serialOut);
      this.bus.register(COM1_BASE, 8, this.serial);
      this.bus.register(0x70, 2, new Cmos(config.ramSize));
      const i8042 = new I8042(irq, reset('i8042 reset line'));
      this.bus.register(0x60, 1, i8042);
      this.bus.register(0x64, 1, i8042);
      this.bus.register(0x80, 1, new PostPort());
      this.bus.register(0x92, 1, new SystemControlPortA(reset('port 0x92 reset')));
      this.bus.register(
        FW_CFG_PORT_SEL,
        2,
        new FwCfg({ ramSize: config.ramSize, cpus: config.cpus, cmdline: config.cmdline, nographic: true }),
      );
      if (config.debugExit) {
        this.bus.register(
          config.debugExit.iobase,
          config.debugExit.iosize,
          new DebugExit((status) => this.stop({ kind: 'debug-exit', status })),
        );
      }

      this.vcpu = vm.createVcpu(0);
      // The ABI promises a KvmRunArea; exit handling wants the full view over the same bytes.
      const area: KvmRunArea = this.vcpu.kvmRun;
      this.run = area instanceof KvmRunView ? area : new KvmRunView(area.bytes);
      this.vcpu.setCpuid2(guestCpuid(kvm.getSupportedCpuid(), { localApic: config.kernelIrqchip }));

      const machine: LoaderMachine = { ram: this.ram, ramSize: config.ramSize, e820 };
      this.loaded = this.load(machine);
      const sregs = this.loaded.entry.sregs(this.vcpu.getSregs());
      // Without the in-kernel irqchip there is no local APIC: clear IA32_APIC_BASE.EN. As on
      // hardware, a globally disabled APIC reads as absent in CPUID.01H:EDX.APIC (SDM Vol. 3A
      // 10.4.3), and KVM mirrors EN into that bit whatever KVM_SET_CPUID2 said, so this is the
      // only way the guest stops seeing one (Linux would otherwise drive a phantom APIC).
      if (!config.kernelIrqchip) sregs.apicBase &= ~APIC_BASE_ENABLE;
      this.vcpu.setSregs(sregs);
      this.vcpu.setRegs({ ...this.vcpu.getRegs(), ...this.loaded.entry.regs });
    } catch (error) {
      vm.close();
      throw error;
    }
  }

  private load(machine: LoaderMachine): LoadedGuest {
    const { config } = this;
    if (config.flat) {
      return loadFlat(config.flat.image, machine, {
        loadAddr: config.flat.loadAddr,
        entry: config.flat.entry,
        mode: config.flat.mode,
      });
    }
    if (!config.kernel) throw new Error('no kernel: give -kernel FILE or -device loader,file=FILE,addr=ADDR');
    const format = kernelFormatOf(config.kernel.image);
    const first = config.modules[0];
    return format.load(config.kernel.image, machine, {
      cmdline: config.cmdline,
      initrd: first?.image,
      initrdName: first ? first.cmdline || first.name : undefined,
      modules:
        config.modules.length > 0
          ? config.modules.map((m) => ({ data: m.image, cmdline: m.cmdline }))
          : undefined,
    });
  }

  /** Records why the machine stops; the first reason wins. */
  stop(reason: StopReason): void {
    if (!this.stopped) this.stopped = reason;
  }

  stopReason(): StopReason | undefined {
    return this.stopped;
  }

  /** Guest access to gpa no RAM or device backs: reads float high, writes vanish (a PC bus). */
  mmioRead(gpa: bigint, data: Uint8Array): void {
    data.fill(0xff);
    if (this.config.log.includes('unimp'))
      this.hooks.log('unimp', `mmio read  gpa 0x${gpa.toString(16)} len ${data.length}`);
  }

  mmioWrite(gpa: bigint, data: Uint8Array): void {
    if (this.config.log.includes('unimp'))
      this.hooks.log('unimp', `mmio write gpa 0x${gpa.toString(16)} len ${data.length}`);
  }

  close(): void {
    this.vm.close();
  }
}
