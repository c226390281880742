/**
 * VMREAD/VMWRITE as the driver uses them (`vmcs_readl` / `vmcs_writel`): a failure is not
 * thrown (the hypervisor keeps going, as KVM does) but recorded with the VM-instruction error
 * number and its meaning — changelog: "This will allow us to see the root cause when a vmwrite
 * error happens."
 */

import { holdAsDoubles } from '@kvm/x86emu';
import { VMCS_FIELDS } from '../silicon/vmcs-fields.js';
import { VM_INSTRUCTION_ERROR_TEXT } from '../silicon/vmx-arch.js';
import { type VmxSilicon, VmxStatus } from '../silicon/vmx-silicon.js';

const NAMES = new Map<number, string>(VMCS_FIELDS.map((f) => [f.encoding, f.name]));

/** A recorded failure of a VMX instruction the driver issued. */
export interface VmxError {
  readonly instruction: string;
  readonly field: string;
  readonly status: VmxStatus;
  /** The VM-instruction error number (VMfailValid), or 0. */
  readonly error: number;
  readonly message: string;
}

export class VmcsAccess {
  /** Failures so far (bounded). */
  readonly errors: VmxError[] = [];

  constructor(private readonly si: VmxSilicon) {
    // A field's high half (x86emu's double-fields.ts).
    holdAsDoubles(this, ['high']);
  }

  record(instruction: string, encoding: number, status: VmxStatus): void {
    let error = 0;
    if (status === VmxStatus.FailValid && this.si.vmread(0x4400) === VmxStatus.Succeed)
      error = this.si.vmreadValue;
    const field = NAMES.get(encoding & ~1) ?? `0x${encoding.toString(16)}`;
    const why =
      status === VmxStatus.FailValid
        ? `error ${error}: ${VM_INSTRUCTION_ERROR_TEXT[error] ?? 'unknown'}`
        : status === VmxStatus.FailInvalid
          ? 'VMfailInvalid (no current VMCS)'
          : status === VmxStatus.Ud
            ? '#UD'
            : '#GP';
    const e: VmxError = { instruction, field, status, error, message: `${instruction} ${field}: ${why}` };
    if (this.errors.length < 100) this.errors.push(e);
  }

  /** The high 32 bits of the value the last `read` returned (natural-width and 64-bit fields). */
  high = 0;

  /** `vmcs_readl`: the low 32 bits; the high ones in `high`. */
  read(encoding: number): number {
    const st = this.si.vmread(encoding);
    if (st !== VmxStatus.Succeed) {
      this.record('vmread', encoding, st);
      this.high = 0;
      return 0;
    }
    this.high = this.si.vmreadValueHigh;
    return this.si.vmreadValue;
  }

  /** The high 32 bits of a natural-width or 64-bit field. */
  readHigh(encoding: number): number {
    this.read(encoding);
    return this.high;
  }

  /** `vmcs_writel` / `vmcs_write64`: `high` goes to bits 63:32 of a natural-width or 64-bit field. */
  write(encoding: number, value: number, high = 0): void {
    const st = this.si.vmwrite(encoding, value >>> 0, high >>> 0);
    if (st !== VmxStatus.Succeed) this.record('vmwrite', encoding, st);
  }
}
