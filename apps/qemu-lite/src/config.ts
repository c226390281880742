/**
 * The machine's configuration as plain, structured-cloneable data: what the command line (or a
 * `runGuest` caller) asked for, resolved, and what the worker building the machine receives.
 */
import type { DebugExitConfig } from './devices/debug-exit.js';
import type { DebugconConfig } from './devices/debugcon.js';
import type { DriveConfig } from './devices/virtio/drive.js';
import type { NicConfig } from './devices/virtio/net.js';
import type { SmpTopology } from './machine/smp.js';

export interface KernelImage {
  /** Where it came from, for messages. */
  name: string;
  image: Uint8Array;
}

export interface FlatImage extends KernelImage {
  loadAddr: number;
  entry?: number;
  mode: 'protected32' | 'real';
}

export interface MachineConfig {
  /** Canonical engine name (`host`, `vmx`, `svm`). */
  engine: string;
  /** Bytes of guest RAM. */
  ramSize: number;
  /** vCPUs present (`smp.cpus`): vCPU 0 is the BSP, the others wait for INIT/SIPI. */
  cpus: number;
  /** `-smp`'s resolved topology (APIC IDs and CPUID leaves 1, 4 and 0xB follow it); absent: `cpus` cores in one socket. */
  smp?: SmpTopology;
  /** The `-kernel` image (multiboot or bzImage), or a `-device loader` flat image. */
  kernel?: KernelImage;
  flat?: FlatImage;
  /** `-initrd`: Linux's initrd / multiboot's modules (each with its command line). */
  modules: { name: string; cmdline: string; image: Uint8Array }[];
  cmdline: string;
  /** The isa-debug-exit device, or null for none. */
  debugExit: DebugExitConfig | null;
  /** `-device isa-debugcon` / `-debugcon`: the port E9 console; absent: none. */
  debugcon?: DebugconConfig;
  /** `-device pc-testdev`: QEMU's test device (ports 0xe0–0xeb, 0x2000–0x2017, gpa 0xff000000). */
  pcTestdev?: boolean;
  /** `-machine hpet=on|off`: the HPET at 0xfed00000 and its ACPI table. Default on, as QEMU's pc. */
  hpet?: boolean;
  /** `-drive if=virtio` / `-device virtio-blk-pci`: raw images, each a virtio-blk on PCI. */
  drives?: DriveConfig[];
  /** `-netdev user` + `-device virtio-net-pci` / `-nic user`: NICs, each a virtio-net on PCI after the disks. */
  nics?: NicConfig[];
  /** `-device virtio-rng-pci`: how many virtio-rng devices (after the NICs). */
  virtioRng?: number;
  /** `-device virtio-serial-pci` + `-device virtconsole`: a virtio console (after the rng devices). */
  virtioConsole?: boolean;
  /** Set by runGuest with `virtioConsole`: the shared ring (frame-ring.ts) the console's input arrives in. */
  consoleInRing?: SharedArrayBuffer;
  /** A guest reset ends qemu-lite (status 0) instead of rebooting the guest. */
  noReboot: boolean;
  /** KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2 instead of our userspace PIC and PIT. */
  kernelIrqchip: boolean;
  /** `-icount shift=N`: the virtual clock's shift, or null for host time. */
  icountShift?: number | 'auto' | null;
  /** `-accel vmx,jit=on|off`: x86emu's block compiler (undefined: the engine's default, on). */
  jit?: boolean;
  /** `-accel vmx,jit=wasm|js`: the compiler's code generator (undefined: x86emu's default). */
  jitBackend?: 'js' | 'wasm';
  /** `-seed N`: RDRAND's and RDSEED's seed on the software engine (undefined: the host's generator). */
  randomSeed?: number;
  /** `-cpu host,-rdrand…`: CPUID features taken out (false) or insisted on (true), by name (cpu-features.ts). */
  cpuFeatures?: Record<string, boolean>;
  /** `-accel svm,npt=on|off`: nested paging on the SVM engine (undefined: on, `SVM_NPT_DEFAULT`). */
  npt?: boolean;
  /** `-accel vmx,ept=on|off`: EPT on the VMX engine (undefined: `VMX_EPT_DEFAULT`). */
  ept?: boolean;
  /** Where serial output goes: the process's stdout (fd 1), back to the caller, or both. */
  serialToStdout: boolean;
  serialToCaller: boolean;
  /** `-d` items (exits, unimp, int, cpu_reset). */
  log: string[];
  /** `-D`: log file instead of stderr. */
  logFile?: string;
}

export const LOG_ITEMS: Record<string, string> = {
  exits: 'exit statistics (kvm_stat-like table) when the guest ends',
  unimp: 'guest accesses to I/O ports and memory no device claims',
  int: 'interrupts injected into the guest',
  cpu_reset: 'the vCPU registers when the machine starts and stops',
  trace: 'every exit: reason, RIP, IF and the interrupt-injection state (slow)',
};
