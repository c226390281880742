/**
 * The machine: one VM, its vCPUs (`-smp`), guest RAM as one slot from gpa 0, and the PC devices on the
 * I/O bus. Built from a `MachineConfig` against the ABI only (`Kvm`, `Vm`, `Vcpu`), in the
 * thread that will run the vCPU.
 */
import {
  Errno,
  type HostMemory,
  KVM_IRQCHIP,
  KVM_MP_STATE,
  KVM_PIT_SPEAKER_DUMMY,
  type Kvm,
  KvmError,
  type KvmRunArea,
  KvmRunView,
  type Vcpu,
  type Vm,
} from '@kvm/core';
import { RSDP_GPA, writeFirmwareTables } from '../acpi/build.js';
import type { MachineConfig } from '../config.js';
import {
  ACPI_PM_BASE,
  ACPI_PM_PORTS,
  ACPI_SCI_IRQ,
  AcpiPm,
  PM_TMR_PORT,
  PM1A_CNT_PORT,
  PM1A_EVT_PORT,
} from '../devices/acpi-pm.js';
import {
  BIOS_PCI_ELCR,
  biosKvmPicState,
  biosKvmPitChannel0,
  programBiosPic,
  writeBiosDataArea,
} from '../devices/bios-state.js';
import { Cmos, RTC_CENTURY } from '../devices/cmos.js';
import { DebugExit } from '../devices/debug-exit.js';
import { Debugcon, DebugconSink } from '../devices/debugcon.js';
import { FpuErrorPort } from '../devices/ferr-port.js';
import { FW_CFG_PORT_SEL, FwCfg } from '../devices/fw-cfg.js';
import { HPET_BASE, HPET_ID_LOW, Hpet } from '../devices/hpet.js';
import { I8042 } from '../devices/i8042.js';
import { I8254, SystemControlPortB } from '../devices/i8254.js';
import { I8259Pair } from '../devices/i8259.js';
import { IoBus } from '../devices/io-bus.js';
import { PcTestdev } from '../devices/pc-testdev.js';
import type { MsiSink } from '../devices/pci/msix.js';
import { buildPcPci } from '../devices/pci/pc-pci.js';
import { PCIE_MMCONFIG_BASE, PCIE_MMCONFIG_SIZE, type PciBus } from '../devices/pci/pci-bus.js';
import { PostPort } from '../devices/post-port.js';
import { RESET_CONTROL_PORT, RESET_CONTROL_VALUE, ResetControl } from '../devices/reset-control.js';
import { COM1_BASE, Serial16550 } from '../devices/serial.js';
import { SystemControlPortA } from '../devices/system-port-a.js';
import type { Clock, IrqSink } from '../devices/types.js';
import { Drive } from '../devices/virtio/drive.js';
import { kernelFormatOf, loadFlat } from '../loaders/index.js';
import { E820_TYPE, type E820Entry, type LoadedGuest, type LoaderMachine } from '../loaders/types.js';
import type { StopReason } from '../vcpu/exit-handler.js';
import { enableFastStrings } from '../vcpu/misc-enable.js';
import { captureResetState, resetVcpu, type VcpuResetState } from '../vcpu/reset-state.js';
import type { VcpuThreads } from '../vcpu/vcpu-threads.js';
import { applyCpuFeatures } from './cpu-features.js';
import { guestCpuid } from './cpuid.js';
import { buildE820, EBDA_START, LEGACY_HOLE_START } from './memory-map.js';
import { apicIds, topologyOf } from './smp.js';

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

/** The machine has PCI bus 0 when it has a PCI device to put on it. */
function hasPciBus(config: MachineConfig): boolean {
  return (
    (config.drives?.length ?? 0) > 0 ||
    (config.nics?.length ?? 0) > 0 ||
    (config.virtioRng ?? 0) > 0 ||
    config.virtioConsole === true
  );
}

/**
 * MSI-X messages to the in-kernel irqchip (KVM_SIGNAL_MSI, as QEMU's `kvm_irqchip_send_msi`).
 * The guest chose the address: one that names no APIC (EPERM) is its mistake, dropped as the
 * APIC bus drops it, never an error of qemu-lite's.
 */
function kernelMsi(vm: Vm): MsiSink {
  return (addressLo, addressHi, data) => {
    try {
      vm.signalMsi({ addressLo, addressHi, data, flags: 0, devid: 0 });
    } catch (error) {
      if (!(error instanceof KvmError)) throw error;
    }
  };
}

/**
 * KVM_CREATE_PIT2; false where the engine has no in-kernel PIT (ENOENT, as Linux answers when
 * `kvm_create_pit` cannot be used), so the caller emulates the PIT in userspace instead. With
 * KVM_PIT_SPEAKER_DUMMY the kernel serves port 0x61 too (channel 2's gate and OUT2, which
 * Linux's `pit_calibrate_tsc` and test suites poll), as QEMU's pcspk does over its in-kernel PIT
 * through KVM_GET/SET_PIT2 (`kvm_pit_get_channel_info`, `kvm_pit_set_gate`): without either the
 * port is unclaimed and reads all ones, OUT2 always high.
 */
function createKernelPit(vm: Vm): boolean {
  try {
    vm.createPit2({ flags: KVM_PIT_SPEAKER_DUMMY });
    return true;
  } catch (error) {
    if (error instanceof KvmError && error.errno === Errno.ENOENT) return false;
    throw error;
  }
}

/** What a machine rebuilt by a reset takes over from the one it replaces. */
export interface MachineCarryOver {
  /** Guest RAM (zeroed by the new machine). */
  memory: HostMemory;
  /** The battery-backed RTC/NVRAM, which a reset does not clear. */
  cmos: Cmos;
  /** The open, locked `-drive` images (a reboot must not reopen them: it holds their locks). */
  drives: Drive[];
}

export interface MachineHooks {
  /** Bytes the UART transmits. */
  serialOut(byte: number): void;
  /** Log line for `-d` items. */
  log(item: string, line: string): void;
  /**
   * For `-smp` on an engine whose vCPUs each need a thread (the host engine): the threads that
   * run vCPUs 1 … (vCPU 0 stays on the machine's thread). Absent: every vCPU takes turns on it.
   */
  vcpuThreads?(vcpus: readonly Vcpu[]): VcpuThreads;
  /** A frame the guest sent on NIC `nic`, for a netdev in the main thread (`-netdev socket`). */
  netOut?(nic: number, frame: Uint8Array): void;
}

/** IA32_TSC: the guest's time stamp counter, -icount's virtual ns. */
const MSR_IA32_TSC = 0x10;

export class Machine {
  readonly vm: Vm;
  /** vCPU 0, the BSP (`vcpus[0]`). */
  readonly vcpu: Vcpu;
  readonly run: KvmRunView;
  /** Every vCPU by index (`-smp`), the BSP first; the APs wait for INIT/SIPI. */
  readonly vcpus: Vcpu[] = [];
  /** Their kvm_run views, by the same index. */
  readonly runs: KvmRunView[] = [];
  /** The APs' threads, where each vCPU has a thread of its own (host engine, -smp > 1). */
  readonly apThreads?: VcpuThreads;
  readonly ram: Uint8Array;
  /** The host memory behind slot 0, held so that a reset can re-add the slot (and reuse it). */
  readonly memory: HostMemory;
  readonly bus = new IoBus();
  /** Userspace PIC; undefined with the in-kernel irqchip. */
  readonly pic?: I8259Pair;
  /** Userspace PIT; undefined where the kernel has one (KVM_CREATE_PIT2 on the host engine). */
  readonly pit?: I8254;
  readonly serial: Serial16550;
  readonly cmos: Cmos;
  /** `-device pc-testdev`, whose I/O-memory page `mmioRead`/`mmioWrite` serve. */
  readonly testdev?: PcTestdev;
  /** The HPET (`-machine hpet=on`, the default through run-guest), at 0xfed00000. */
  readonly hpet?: Hpet;
  /** PCI bus 0, present when a PCI device (`-drive if=virtio`) is configured. */
  readonly pci?: PciBus;
  /** The `-drive` images, open and locked for the machine's life (reboots included). */
  readonly drives: Drive[] = [];
  private readonly debugconSink?: DebugconSink;
  private loadedGuest: LoadedGuest;
  private stopped: StopReason | undefined;
  private readonly e820: E820Entry[];
  /** The vCPU's power-on state, read once after KVM_CREATE_VCPU (see `reset-state.ts`). */
  private readonly resetState: VcpuResetState;
  /** CPUID.1 EAX and EDX as the guest sees them (for the MP table's processor entries). */
  private cpuidSignature = 0;
  private cpuidFeatures = 0;
  readonly acpiPm: AcpiPm;
  /** KVM_CREATE_PIT2 succeeded: the i8254 is the kernel's (the host engine). */
  private readonly kernelPit: boolean = false;
  /** Guest resets handled so far (in place or by `reboot`'s rebuild). */
  reboots = 0;

  constructor(
    readonly kvm: Kvm,
    readonly config: MachineConfig,
    readonly clock: Clock,
    private readonly hooks: MachineHooks,
    /** A rebuilt machine's RAM and CMOS (see `reboot`); default: all new. */
    carry?: MachineCarryOver,
  ) {
    // With a PCI bus, its MMCONFIG window is reserved (Linux uses it only then).
    this.e820 = buildE820(
      config.ramSize,
      hasPciBus(config)
        ? [{ addr: PCIE_MMCONFIG_BASE, size: PCIE_MMCONFIG_SIZE, type: E820_TYPE.RESERVED }]
        : [],
    );
    const vm = kvm.createVm();
    this.vm = vm;
    try {
      vm.setTssAddr(TSS_GPA);
      this.memory = carry?.memory ?? vm.allocateMemory(config.ramSize);
      this.ram = new Uint8Array(this.memory.buffer, this.memory.byteOffset ?? 0, config.ramSize);
      if (carry) this.ram.fill(0);
      this.setRamSlot(BigInt(config.ramSize));

      let irq: IrqSink;
      if (config.kernelIrqchip) {
        // Order matters: the irqchip must exist before the vCPU (its LAPIC is created with it).
        vm.createIrqchip();
        irq = new KernelIrqLines(vm);
        // An engine with no in-kernel PIT (KVM_CREATE_PIT2 → ENOENT) would get the userspace i8254 on GSI 0 through KVM_IRQ_LINE, as QEMU's userspace PIT does with
        // kernel-irqchip=on (hw/timer/i8254.c raising ISA IRQ 0).
        // Both start as SeaBIOS leaves them, as the in-kernel PIC they feed (see `boot`).
        this.kernelPit = createKernelPit(vm);
        if (!this.kernelPit) this.pit = this.addUserspacePit(new I8254(clock, irq), clock);
      } else {
        const pic = new I8259Pair();
        this.pic = pic;
        irq = pic;
        this.bus.register(0x20, 2, pic);
        this.bus.register(0xa0, 2, pic);
        this.bus.register(0x4d0, 2, pic);
        this.pit = this.addUserspacePit(new I8254(clock, pic), clock);
      }
      const reset = (cause: string) => () => this.stop({ kind: 'reset', cause });
      this.serial = new Serial16550(irq, hooks.serialOut);
      this.bus.register(COM1_BASE, 8, this.serial);
      this.cmos = carry?.cmos ?? new Cmos(config.ramSize);
      carry?.cmos.reset();
      this.bus.register(0x70, 2, this.cmos);
      const i8042 = new I8042(irq, reset('i8042 reset line'));
      this.bus.register(0x60, 1, i8042);
      this.bus.register(0x64, 1, i8042);
      this.bus.register(0x80, 1, new PostPort());
      this.bus.register(0x92, 1, new SystemControlPortA(reset('port 0x92 reset')));
      this.bus.register(0xf0, 1, new FpuErrorPort(irq));
      // ACPI PM1a/PM timer (SLP_EN with S5 powers off) and PIIX's reset control, the FADT's
      // reset register (src/acpi/fadt.ts describes both to the guest).
      // With -icount the PM timer counts the guest's virtual time (its TSC, in ns), as QEMU's
      // does on QEMU_CLOCK_VIRTUAL; otherwise host time.
      const pmClock: Clock = (config.icountShift ?? null) === null ? clock : () => this.virtualNs();
      // Its SCI (the power button's) is ISA IRQ 9: the PIC's and, in the kernel, the IOAPIC's pin 9.
      this.acpiPm = new AcpiPm(pmClock, { onPowerOff: () => this.stop({ kind: 'poweroff' }), irq });
      this.bus.register(ACPI_PM_BASE, ACPI_PM_PORTS, this.acpiPm);
      // QEMU's HPET counts QEMU_CLOCK_VIRTUAL, as the PM timer does: host time, or -icount's.
      // Its legacy route sends timer 0 to the I/O APIC's input 2 (GSI 2) with the in-kernel
      // irqchip, where the MADT's IRQ 0 override points; to IRQ 0 with the 8259 alone.
      if (config.hpet) this.hpet = new Hpet(pmClock, irq, config.kernelIrqchip ? 2 : 0);
      this.bus.register(RESET_CONTROL_PORT, 1, new ResetControl(reset('port 0xcf9 reset')));
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

      if (config.debugcon) {
        this.debugconSink = new DebugconSink(config.debugcon.output);
        this.bus.register(
          config.debugcon.iobase,
          1,
          new Debugcon(config.debugcon.readback, this.debugconSink.write),
        );
      }
      if (config.pcTestdev) {
        const testdev = new PcTestdev(irq);
        this.testdev = testdev;
        this.bus.register(0xe0, 8, testdev);
        // Its byte-access window 0xe8–0xeb covers the debugcon's 0xe9: the debugcon keeps it,
        // as in QEMU, whose later-realized -debugcon region overlays the testdev's.
        for (let port = 0xe8; port < 0xec; port++) {
          if (!this.bus.deviceAt(port)) this.bus.register(port, 1, testdev);
        }
        this.bus.register(0x2000, 24, testdev);
      }
      if (hasPciBus(config)) {
        this.drives = carry?.drives ?? [];
        for (const drive of carry ? [] : (config.drives ?? [])) this.drives.push(Drive.open(drive));
        this.pci = buildPcPci(this.bus, irq, this.ram, this.drives, {
          ...config,
          netOut: hooks.netOut,
          consoleOut: hooks.serialOut,
          msi: config.kernelIrqchip ? kernelMsi(vm) : undefined,
        });
      }

      // One vCPU per present CPU, its KVM vCPU id its initial APIC ID, as QEMU's
      // `kvm_arch_vcpu_id` (KVM makes the local APIC's ID the vCPU id, and id 0 the BSP).
      const topology = topologyOf(config);
      const ids = apicIds(topology);
      const supported = kvm.getSupportedCpuid();
      for (const apicId of ids) {
        const vcpu = vm.createVcpu(apicId);
        this.vcpus.push(vcpu);
        // The ABI promises a KvmRunArea; exit handling wants the full view over the same bytes.
        const area: KvmRunArea = vcpu.kvmRun;
        this.runs.push(area instanceof KvmRunView ? area : new KvmRunView(area.bytes));
        const base = guestCpuid(supported, { localApic: config.kernelIrqchip, topology, apicId });
        const cpuid = config.cpuFeatures ? applyCpuFeatures(base, config.cpuFeatures) : base;
        vcpu.setCpuid2(cpuid);
        // Before the reset state is captured: a guest reset restores it, as QEMU's does.
        enableFastStrings(vcpu);
        if (apicId === 0) {
          const leaf1 = cpuid.find((e) => e.function === 1);
          this.cpuidSignature = leaf1?.eax ?? 0;
          this.cpuidFeatures = leaf1?.edx ?? 0;
        }
      }
      this.vcpu = this.vcpus[0];
      this.run = this.runs[0];
      if (this.vcpus.length > 1) this.apThreads = hooks.vcpuThreads?.(this.vcpus);
      this.resetState = captureResetState(kvm, this.vcpu);
      this.loadedGuest = this.boot();
    } catch (error) {
      this.debugconSink?.close();
      if (!carry) for (const drive of this.drives) drive.close();
      vm.close();
      throw error;
    }
  }

  /**
   * -icount's virtual time: the guest TSC, which the engine keeps in virtual ns (1 GHz, 2^shift
   * a retired instruction, carried at each entry); 0 before the vCPU.
   */
  private virtualNs(): number {
    const vcpu = this.vcpu as Vcpu | undefined;
    if (vcpu === undefined) return 0;
    const [tsc] = vcpu.getMsrs([MSR_IA32_TSC]);
    return tsc === undefined ? 0 : Number(tsc.data);
  }

  /** The userspace i8254 at 0x40–0x43 and its gate/speaker port 0x61. */
  private addUserspacePit(pit: I8254, clock: Clock): I8254 {
    this.bus.register(0x40, 4, pit);
    this.bus.register(0x61, 1, new SystemControlPortB(pit, clock));
    return pit;
  }

  /** What the loader loaded (and entered) at the last boot. */
  get loaded(): LoadedGuest {
    return this.loadedGuest;
  }

  /** KVM_SET_USER_MEMORY_REGION for slot 0 over `memory`; size 0 deletes the slot. */
  private setRamSlot(memorySize: bigint): void {
    this.vm.setUserMemoryRegion({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize,
      userspaceAddr: this.memory.userspaceAddr,
    });
  }

  /** Loads the image into RAM (which must be zero) and puts the vCPU at its entry. */
  private boot(): LoadedGuest {
    const { config } = this;
    const machine: LoaderMachine = {
      ram: this.ram,
      ramSize: config.ramSize,
      e820: this.e820,
      rsdpGpa: config.kernel ? RSDP_GPA : undefined,
    };
    // A -kernel boot finds the tables a BIOS would have left (ACPI, MP), in the BIOS area.
    if (config.kernel) this.writeFirmwareTables();
    // What SeaBIOS would have left (devices/bios-state.ts); before the load, so an image placed
    // over the BDA keeps its own bytes. The in-kernel PIC and PIT get the same state through
    // KVM_SET_IRQCHIP / KVM_SET_PIT2.
    writeBiosDataArea(this.ram, EBDA_START, LEGACY_HOLE_START);
    // SeaBIOS sets the ELCR for the PIRQs' IRQs only when there are PCI devices to use them.
    const elcr = this.pci ? BIOS_PCI_ELCR : 0;
    if (this.pic) programBiosPic(this.pic, elcr);
    else this.programBiosKernelIrqchip(elcr);
    const loaded = this.load(machine);
    const sregs = loaded.entry.sregs(this.resetState.sregs);
    // Without the in-kernel irqchip there is no local APIC: clear IA32_APIC_BASE.EN. As on
    // hardware, a globally disabled APIC reads as absent in CPUID.01H:EDX.APIC (SDM Vol. 3A
    // 10.4.3), and KVM mirrors EN into that bit whatever KVM_SET_CPUID2 said, so this is the
    // only way the guest stops seeing one (Linux would otherwise drive a phantom APIC).
    if (!config.kernelIrqchip) sregs.apicBase &= ~APIC_BASE_ENABLE;
    this.vcpu.setSregs(sregs);
    this.vcpu.setRegs({ ...this.resetState.regs, ...loaded.entry.regs });
    // The APs as after a PC's power-on: waiting for INIT and SIPI (KVM_MP_STATE_UNINITIALIZED,
    // what QEMU's `kvm_arch_reset_vcpu` gives a non-BSP with the in-kernel APIC). KVM makes them
    // so at KVM_CREATE_VCPU already; said here too, so a reboot in place cannot leave one running.
    for (let i = 1; i < this.vcpus.length; i++) this.vcpus[i].setMpState(KVM_MP_STATE.UNINITIALIZED);
    return loaded;
  }

  /** `programBiosPic` and SeaBIOS's `pit_setup` for the kernel's 8259 pair and i8254. */
  private programBiosKernelIrqchip(elcr: number): void {
    for (const chipId of [KVM_IRQCHIP.PIC_MASTER, KVM_IRQCHIP.PIC_SLAVE]) {
      const chip = this.vm.getIrqchip(chipId);
      biosKvmPicState(chip.chip, chipId === KVM_IRQCHIP.PIC_SLAVE, elcr);
      this.vm.setIrqchip(chip);
    }
    if (this.kernelPit) {
      const pit = this.vm.getPit2();
      pit.channels[0] = biosKvmPitChannel0();
      this.vm.setPit2(pit);
    }
  }

  /**
   * A guest reset (triple fault, i8042 or port 0x92 reset line), handled as QEMU's
   * `qemu_system_reset` does: same VM, same vCPU, same RAM. Returns the machine that runs next:
   * this one, reset in place; or, with the in-kernel irqchip (whose PIC, IOAPIC, PIT and local
   * APIC, timers included, a new VM gives their power-on state at once), a new VM and vCPU
   * over this machine's RAM and CMOS, with new userspace devices, this VM closed. Either way the RAM reads as zero before the image
   * is loaded again, as after a cold boot, and no host memory is allocated.
   */
  reboot(): Machine {
    if (this.config.kernelIrqchip) {
      this.apThreads?.stop();
      this.debugconSink?.close();
      this.vm.close();
      const next = new Machine(this.kvm, this.config, this.clock, this.hooks, {
        memory: this.memory,
        cmos: this.cmos,
        drives: this.drives,
      });
      next.reboots = this.reboots + 1;
      return next;
    }
    this.resetInPlace();
    return this;
  }

  private resetInPlace(): void {
    // Delete the slot, zero RAM, add it back: deleting a slot makes KVM drop every shadow page
    // (`kvm_arch_flush_shadow_memslot`), so no shadow of a guest page table that the zeroing
    // and reloading rewrote behind the MMU's write protection survives into the next boot.
    this.setRamSlot(0n);
    this.ram.fill(0);
    this.setRamSlot(BigInt(this.config.ramSize));
    this.bus.reset();
    this.hpet?.reset();
    const refused = resetVcpu(this.vcpu, this.resetState);
    if (refused.length > 0 && this.config.log.includes('cpu_reset')) {
      this.hooks.log(
        'cpu_reset',
        `MSRs the engine refused to reset: ${refused.map((i) => `0x${i.toString(16)}`).join(' ')}`,
      );
    }
    // What the previous boot asked of KVM_RUN must not carry over into the new one.
    this.run.requestInterruptWindow = 0;
    this.stopped = undefined;
    this.reboots++;
    this.loadedGuest = this.boot();
  }

  private writeFirmwareTables(): void {
    const topology = topologyOf(this.config);
    writeFirmwareTables(this.ram, {
      cpus: topology.cpus,
      apicIds: apicIds(topology, topology.maxcpus),
      apic: this.config.kernelIrqchip,
      pci: this.pci !== undefined,
      hpet: this.hpet ? { eventTimerBlockId: HPET_ID_LOW, baseGpa: HPET_BASE } : undefined,
      mcfg: this.pci ? { baseGpa: PCIE_MMCONFIG_BASE, startBus: 0, endBus: 0 } : undefined,
      pm: {
        sciIrq: ACPI_SCI_IRQ,
        pm1aEvtPort: PM1A_EVT_PORT,
        pm1aCntPort: PM1A_CNT_PORT,
        pmTmrPort: PM_TMR_PORT,
        pmTimerBits: this.acpiPm.timerBits,
        resetPort: RESET_CONTROL_PORT,
        resetValue: RESET_CONTROL_VALUE,
        centuryIndex: RTC_CENTURY,
      },
      cpuSignature: this.cpuidSignature,
      cpuFeatures: this.cpuidFeatures,
    });
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
      kernelName: config.kernel.name,
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
    if (this.pci?.mmioRead(Number(gpa), data)) return;
    if (this.hpet?.claimsMmio(Number(gpa), data.length)) {
      this.hpet.mmioRead(Number(gpa), data);
      return;
    }
    if (this.testdev?.claimsMmio(Number(gpa), data.length)) {
      this.testdev.mmioRead(Number(gpa), data);
      return;
    }
    data.fill(0xff);
    if (this.config.log.includes('unimp'))
      this.hooks.log('unimp', `mmio read  gpa 0x${gpa.toString(16)} len ${data.length}`);
  }

  mmioWrite(gpa: bigint, data: Uint8Array): void {
    if (this.pci?.mmioWrite(Number(gpa), data)) return;
    if (this.hpet?.claimsMmio(Number(gpa), data.length)) {
      this.hpet.mmioWrite(Number(gpa), data);
      return;
    }
    if (this.testdev?.claimsMmio(Number(gpa), data.length)) {
      this.testdev.mmioWrite(Number(gpa), data);
      return;
    }
    if (this.config.log.includes('unimp'))
      this.hooks.log('unimp', `mmio write gpa 0x${gpa.toString(16)} len ${data.length}`);
  }

  close(): void {
    // No AP thread may be in KVM_RUN on a vCPU of a VM being closed.
    this.apThreads?.stop();
    this.debugconSink?.close();
    for (const drive of this.drives) drive.close();
    this.vm.close();
  }
}
