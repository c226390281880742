/** What the monitor's commands need of the running machine (the machine thread's `DebugSession`). */
import type { Machine } from '../machine/machine.js';

export interface MonitorSession {
  machine(): Machine;
  isStopped(): boolean;
  /** How many vCPUs the monitor sees (`info cpus`, `cpu N`). */
  cpuCount(): number;
  /** The monitor's current vCPU (QEMU's mon_get_cpu): `info registers`, `x`, `info mem` use it. */
  cpuIndex(): number;
  /** `cpu N`: false when there is no vCPU N. */
  selectCpu(index: number): boolean;
  /** Whether vCPU `index` is halted or waits for INIT/SIPI. */
  isHalted(index: number): boolean;
  /** Reads through the current vCPU's page tables. */
  readVirtual(gva: bigint, length: number): Uint8Array | null;
  readPhysical(gpa: bigint, length: number): Uint8Array | null;
  /** `stop`: hold the vCPU. */
  pause(): void;
  /** `cont`: let it run. */
  resume(): void;
  /** `system_reset`: the machine resets (reboots unless -no-reboot). */
  reset(): void;
  /**
   * `system_powerdown`: presses the ACPI power button (PWRBTN_STS and the SCI, if the guest's OS
   * enabled the event; `AcpiPm.powerButton`). What the guest does then is its own business.
   */
  powerdown(): void;
  /** `quit`. */
  quit(): void;
}
