/** What the monitor's commands need of the running machine (the machine thread's `DebugSession`). */
import type { Machine } from '../machine/machine.js';

export interface MonitorSession {
  machine(): Machine;
  isStopped(): boolean;
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
