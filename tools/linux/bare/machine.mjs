// A PC that Linux can boot on, around a bare x86emu `Cpu` (no hypervisor): guest RAM at
// physical 0, and qemu-lite's own devices on the I/O bus — COM1 (the console), the i8259 pair
// (PIC mode: the kernel runs with `nolapic`), the i8254 PIT with port 0x61 (channel 2's gate
// and output, which pit_calibrate_tsc / quick_pit_calibrate poll), the CMOS/RTC, the i8042 (its
// reset line is how `reboot -f` ends a run) and port 0x80 (outb_p delays).
//
// Time is virtual and deterministic, as in tools/guests' bare machine: the clock the devices
// read is the instructions retired (1 ns each: a 1 GHz CPU whose TSC, also counted in
// instructions, the kernel calibrates to 1 GHz against the PIT) plus the time skipped while
// halted. So a boot is the same instruction stream on every run, whatever the host's speed; RDRAND
// and RDSEED give a seeded sequence (`RANDOM_SEED`) for the same reason.
//
// MSRs the CPU does not own are answered from a small table of what a PC without MTRRs or
// microcode has; any other index is #GP, as KVM gives for an MSR it does not know
// (ignore_msrs=0), and is counted, so the report says which ones the kernel touched. The one
// exception to "a PC" is IA32_ARCH_CAPABILITIES: the software engine offers it (@kvm/core's
// arch-capabilities.ts: x86emu has none of the speculation bugs), and without it the kernel
// turns on page table isolation (a CR3 load on every kernel entry and exit) and MDS buffer
// clearing, so a bare boot would profile a different kernel from the one the engine runs.

import {
  MSR_IA32_ARCH_CAPABILITIES,
  MSR_IA32_PRED_CMD,
  MSR_IA32_SPEC_CTRL,
  SOFT_ARCH_CAPABILITIES_HI,
  SOFT_ARCH_CAPABILITIES_LO,
} from '../../../packages/core/dist/index.js';
import {
  Cpu,
  Flag,
  FlatPhysicalMemory,
  seededRandom,
  WasmGuestMemory,
} from '../../../packages/x86emu/dist/index.js';

export const NS_PER_INSTRUCTION = 1;
/** The RTC's time at virtual time 0 (fixed: runs are reproducible). */
export const RTC_EPOCH_MS = Date.UTC(2026, 0, 1);
/**
 * RDRAND's and RDSEED's seed (fixed for the same reason: the kernel seeds its CRNG from them at
 * boot, and hash tables and slab freelists follow it; two runs, or lockstep's two CPUs, must get
 * the same bits).
 */
export const RANDOM_SEED = 20261207;

/**
 * MSRs answered on a machine with no MTRRs, no microcode and no thermal/performance features
 * (none of them are in the CPUID we report). Reads return the value; writes are kept.
 */
const MSR_DEFAULTS = new Map([
  [0x8b, 0n], // IA32_BIOS_SIGN_ID: microcode revision 0 (read after a CPUID, SDM Vol. 3 9.11.7)
  [0x1a0, 1n], // IA32_MISC_ENABLE: fast strings (what a BIOS leaves set)
  [0x277, 0x0007040600070406n], // IA32_PAT, its power-on value (SDM Vol. 3 11.12.4)
  // The software engine's value (bareCpuid enumerates the MSR in CPUID.(7,0):EDX[29]).
  [
    MSR_IA32_ARCH_CAPABILITIES,
    (BigInt(SOFT_ARCH_CAPABILITIES_HI) << 32n) | BigInt(SOFT_ARCH_CAPABILITIES_LO),
  ],
  // The speculation controls (bareCpuid enumerates them as the engine does: @kvm/core's
  // spec-ctrl.ts); with ARCH_CAPABILITIES.IBRS_ALL Linux sets SPEC_CTRL.IBRS once, no retpolines.
  [MSR_IA32_SPEC_CTRL, 0n],
  [MSR_IA32_PRED_CMD, 0n],
]);

/** Port 0x61 (system control port B), as qemu-lite's `SystemControlPortB`: channel 2's gate and OUT2. */
class Port61 {
  name = 'port61';
  value = 0;
  constructor(pit, clock) {
    this.pit = pit;
    this.clock = clock;
  }
  ioIn() {
    const now = this.clock();
    // Bit 4 toggles with the DRAM refresh (every 15.085 µs); bit 5 is OUT2.
    const refresh = Math.floor(now / 15085) & 1;
    return (this.value & 0x03) | (refresh << 4) | (this.pit.channels[2].output(now) ? 0x20 : 0);
  }
  ioOut(_port, _size, value) {
    this.value = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }
}

const quiet = { name: 'quiet', ioIn: () => 0xff, ioOut: () => {} };

export class LinuxBareMachine {
  /**
   * @param ql qemu-lite's module (its devices and loaders)
   * @param opts.ramSize bytes of RAM
   * @param opts.cpuid CPUID (default x86emu's own)
   * @param opts.onSerial each byte the UART sends
   * @param opts.intercepts x86emu hooks (the harness watches exceptions with them)
   * @param opts.memory 'wasm' (RAM in a WebAssembly.Memory, where the wasm backend's compiled code
   *   reaches it inline: x86emu src/jit/README.md) or 'flat'; default 'wasm' when
   *   X86EMU_WASM_MEMORY=1 (bare-boot.mjs --wasm-memory), else 'flat'
   * @param opts.jit x86emu's `CpuOptions.jit` (default: its own, from the environment)
   */
  constructor(ql, { ramSize, cpuid, onSerial, intercepts, memory, jit }) {
    const kind = memory ?? (globalThis.process?.env?.X86EMU_WASM_MEMORY === '1' ? 'wasm' : 'flat');
    this.memory = kind === 'wasm' ? new WasmGuestMemory(ramSize) : new FlatPhysicalMemory(ramSize);
    this.ram = this.memory.bytes;
    this.ramSize = ramSize;
    this.idleNs = 0;
    /** Why the machine asked to stop (i8042 reset), once it has. */
    this.stopCause = undefined;
    /** MSR index → times the kernel got #GP for it. */
    this.unknownMsrs = new Map();
    this.msrValues = new Map(MSR_DEFAULTS);
    const clock = () => this.nowNs();
    const bus = new ql.IoBus();
    this.bus = bus;
    const pic = new ql.I8259Pair();
    this.pic = pic;
    bus.register(0x20, 2, pic);
    bus.register(0xa0, 2, pic);
    bus.register(0x4d0, 2, pic);
    this.pit = new ql.I8254(clock, pic);
    bus.register(0x40, 4, this.pit);
    bus.register(0x61, 1, new Port61(this.pit, clock));
    this.serial = new ql.Serial16550(pic, onSerial ?? (() => {}));
    bus.register(0x3f8, 8, this.serial);
    bus.register(0x70, 2, new ql.Cmos(ramSize, () => RTC_EPOCH_MS + Math.floor(this.nowNs() / 1e6)));
    const i8042 = new ql.I8042(pic, () => {
      this.stopCause ??= 'i8042 reset line';
      this.cpu.requestStop();
    });
    bus.register(0x60, 1, i8042);
    bus.register(0x64, 1, i8042);
    bus.register(0x80, 1, quiet);
    const io = {
      portIn: (port, size) => {
        const v = bus.ioIn(port, size);
        this.intrMayHaveRisen();
        return v;
      },
      portOut: (port, size, value) => {
        bus.ioOut(port, size, value);
        this.intrMayHaveRisen();
      },
    };
    const msr = {
      rdmsr: (index, out) => {
        const v = this.msrValues.get(index >>> 0);
        if (v === undefined) {
          this.unknownMsrs.set(index >>> 0, (this.unknownMsrs.get(index >>> 0) ?? 0) + 1);
          return false;
        }
        out[0] = Number(v & 0xffffffffn);
        out[1] = Number(v >> 32n);
        return true;
      },
      wrmsr: (index, low, high) => {
        if (!this.msrValues.has(index >>> 0)) {
          this.unknownMsrs.set(index >>> 0, (this.unknownMsrs.get(index >>> 0) ?? 0) + 1);
          return false;
        }
        this.msrValues.set(index >>> 0, (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0));
        return true;
      },
    };
    const random = seededRandom(RANDOM_SEED);
    this.cpu = new Cpu({ memory: this.memory, io, msr, cpuid, interrupts: pic, intercepts, jit, random });
  }

  /**
   * A device access can assert INTR in the middle of a `run()` (an EOI uncovering a lower
   * request, an IMR unmask); the CPU looks at its interrupt controller only at boundaries it was
   * told about, so tell it, as the INTR pin would.
   */
  intrMayHaveRisen() {
    if (this.cpu.state.rflags[0] & Flag.IF && this.pic.hasInterrupt()) this.cpu.irqCheck = true;
  }

  /** Virtual time, ns: instructions retired (the current run's included) plus idle time. */
  nowNs() {
    const cpu = this.cpu;
    const insns = cpu ? cpu.instructionsRetired + cpu.runCount : 0;
    return insns * NS_PER_INSTRUCTION + this.idleNs;
  }

  /** What the kernel's e820 and the loaders see. */
  loaderMachine(ql) {
    return { ram: this.ram, ramSize: this.ramSize, e820: ql.buildE820(this.ramSize) };
  }
}
