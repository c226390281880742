/**
 * The bare machine: an x86emu `Cpu` with no virtualization hooks, guest RAM as one ArrayBuffer
 * at physical address 0, and qemu-lite's own PC devices on its I/O bus — COM1 (8250/16550
 * UART), the i8259 PIC pair, the i8254 PIT, the CMOS NVRAM/RTC (the `io` guest reads NVRAM)
 * and the isa-debug-exit port at 0xf4. Nothing here is KVM: it is what the x86emu issue calls
 * "a tiny machine", so the guests test the interpreter on its own.
 *
 * Time is virtual and deterministic: the clock the devices read is the number of instructions
 * the CPU has retired (`NS_PER_INSTRUCTION` ns each) plus the time skipped while halted, so the
 * PIT raises IRQ 0 after the same instruction on every run, whatever the host's speed.
 */
import {
  Cpu,
  type CpuidOps,
  Flag,
  FlatPhysicalMemory,
  type MsrOps,
  type PortIoOps,
  seededRandom,
  WasmGuestMemory,
} from '@kvm/x86emu';

/** qemu-lite's module (loaded lazily by `loadQemuLite`). */
export type QemuLite = typeof import('qemu-lite');

/** Virtual nanoseconds per retired instruction: a 1 GHz, one-instruction-per-cycle CPU. */
export const NS_PER_INSTRUCTION = 1;

/** The CMOS clock's epoch for virtual time 0 (fixed, so that runs are reproducible). */
export const RTC_EPOCH_MS = Date.UTC(2026, 0, 1);

/** RDRAND's and RDSEED's seed (fixed for the same reason). */
export const RANDOM_SEED = 20261207;

export interface BareMachineOptions {
  /** Bytes of RAM (a multiple of 4 KiB, at least 2 MiB: qemu-lite's e820 rules). */
  ramSize: number;
  /** MSRs beyond the CPU's own (EFER, TSC, SYSENTER_*); default none (#GP). */
  msr?: MsrOps;
  /** CPUID; default x86emu's own (`defaultCpuid`). */
  cpuid?: CpuidOps;
  /** x86emu's block compiler (`CpuOptions.jit`); default x86emu's default. */
  jit?: boolean;
  /**
   * The block compiler's code generator (`JitTuning.backend`): 'wasm' also puts guest RAM in a
   * `WasmGuestMemory`, the memory its inline TLB path reads (x86emu src/jit/README.md, "The wasm
   * backend"); default x86emu's default (`X86EMU_JIT_BACKEND`) over a flat RAM.
   */
  backend?: 'js' | 'wasm';
}

export class BareMachine {
  readonly memory: FlatPhysicalMemory | WasmGuestMemory;
  /** Guest RAM, byte 0 is physical address 0 (a view of one ArrayBuffer). */
  readonly ram: Uint8Array;
  readonly cpu: Cpu;
  readonly bus: InstanceType<QemuLite['IoBus']>;
  readonly pic: InstanceType<QemuLite['I8259Pair']>;
  readonly pit: InstanceType<QemuLite['I8254']>;
  readonly serial: InstanceType<QemuLite['Serial16550']>;
  /** Every byte the UART transmitted. */
  readonly serialBytes: number[] = [];
  /** The debug-exit status ((v << 1) | 1) once the guest wrote the port. */
  exitStatus: number | undefined;
  /** Virtual time skipped while the CPU was halted, ns. */
  idleNs = 0;

  constructor(ql: QemuLite, opts: BareMachineOptions) {
    const wasm = opts.backend === 'wasm';
    this.memory = wasm ? new WasmGuestMemory(opts.ramSize) : new FlatPhysicalMemory(opts.ramSize);
    this.ram = this.memory.bytes;
    const clock = (): number => this.nowNs();
    this.bus = new ql.IoBus();
    this.pic = new ql.I8259Pair();
    this.bus.register(0x20, 2, this.pic);
    this.bus.register(0xa0, 2, this.pic);
    this.bus.register(0x4d0, 2, this.pic);
    this.pit = new ql.I8254(clock, this.pic);
    this.bus.register(0x40, 4, this.pit);
    this.serial = new ql.Serial16550(this.pic, (b) => this.serialBytes.push(b));
    this.bus.register(0x3f8, 8, this.serial);
    // The PC's x87 error latch: FERR# (below) raises IRQ 13, an OUT to 0F0H lowers it.
    this.bus.register(0xf0, 1, new ql.FpuErrorPort(this.pic));
    this.bus.register(
      0x70,
      2,
      new ql.Cmos(opts.ramSize, () => RTC_EPOCH_MS + Math.floor(this.nowNs() / 1e6)),
    );
    this.bus.register(
      ql.DEFAULT_DEBUG_EXIT.iobase,
      ql.DEFAULT_DEBUG_EXIT.iosize,
      new ql.DebugExit((status) => {
        this.exitStatus ??= status;
        this.cpu.requestStop();
      }),
    );
    const bus = this.bus;
    const pic = this.pic;
    const io: PortIoOps = {
      portIn: (port, size) => {
        const v = bus.ioIn(port, size);
        this.intrMayHaveRisen(pic);
        return v;
      },
      portOut: (port, size, value) => {
        bus.ioOut(port, size, value);
        this.intrMayHaveRisen(pic);
      },
    };
    this.cpu = new Cpu({
      memory: this.memory,
      io,
      interrupts: this.pic,
      msr: opts.msr,
      cpuid: opts.cpuid,
      // Reproducible as the machine's clock is: RDRAND/RDSEED from a fixed seed.
      random: seededRandom(RANDOM_SEED),
      jit: wasm && opts.jit !== false ? { backend: 'wasm' } : opts.jit,
      ferr: (asserted) => {
        if (!asserted) return;
        this.pic.setIrq(ql.FERR_IRQ, 1);
        this.intrMayHaveRisen(this.pic);
      },
    });
  }

  /**
   * A device access can assert INTR in the middle of a `run()` (an EOI uncovering a lower
   * request, an IMR unmask, a UART interrupt enable). The CPU looks at its interrupt controller
   * only at boundaries it was told about (`irqCheck`), so tell it, as the INTR pin would.
   */
  private intrMayHaveRisen(pic: InstanceType<QemuLite['I8259Pair']>): void {
    if (this.cpu.state.rflags[0] & Flag.IF && pic.hasInterrupt()) this.cpu.irqCheck = true;
  }

  /** Virtual time, ns: instructions retired (including the current run's) plus idle time. */
  nowNs(): number {
    // The CPU does not exist yet while the PIT is being constructed.
    const cpu = this.cpu as Cpu | undefined;
    const insns = cpu ? cpu.instructionsRetired + cpu.runCount : 0;
    return insns * NS_PER_INSTRUCTION + this.idleNs;
  }

  /** The console output so far, one character per byte (as qemu-lite decodes it: latin1). */
  serialText(): string {
    return Buffer.from(this.serialBytes).toString('latin1');
  }
}
