/**
 * Port I/O that goes to userspace (`kvm_emulate_pio` / `complete_pio`): the exit handler fills
 * kvm_run.io and the data page, and KVM_RUN returns KVM_EXIT_IO with RIP still at the
 * instruction; on the next KVM_RUN the data of an IN is copied into the guest and the
 * instruction is skipped (modern KVM's `complete_fast_pio_*` does the same), so userspace sees
 * the guest exactly at the I/O instruction. If userspace moved RIP meanwhile (a VMM resetting
 * the vCPU from the exit of an OUT to the reset port), the instruction is abandoned instead.
 */
import { holdAsDoubles } from '@kvm/x86emu';
import { KVM_EXIT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { KVM_PIO_PAGE_OFFSET } from '../abi/run-layout.js';

/** Where the data of a KVM_EXIT_IO goes: the page after struct kvm_run, as on Linux. */
export const PIO_DATA_OFFSET = KVM_PIO_PAGE_OFFSET * 4096;

/** An I/O exit waiting for userspace (one per vCPU, reused). */
export class PendingPio {
  active = false;
  isIn = false;
  size = 0;
  port = 0;
  /** Instruction length to skip on completion. */
  instructionLength = 0;
  /** INS/OUTS: one element per exit, as KVM's emulator does (count 1). */
  isString = false;
  rep = false;
  /** Address-size mask for SI/DI/CX (0xffff, 0xffffffff). */
  addrMask = 0xffffffff;
  /** 64-bit address size (64-bit mode): RSI/RDI/RCX in 64 bits, `addrMask` unused. */
  addr64 = false;
  /** Linear address of the element (INS: where the data goes on completion). */
  linear = 0;
  /**
   * `cui_linear_rip`: CS.base + RIP (low 32 bits; `ripHigh` apart) of the instruction at the
   * exit. A completion finding RIP elsewhere (userspace moved it: a reset from an I/O exit)
   * neither writes EAX nor skips, as KVM's `complete_fast_pio_in/out` do.
   */
  cuiLinearRip = 0;
  cuiRipHigh = 0;

  constructor() {
    // Linear addresses and RIP[63:32]; the exit's instruction length arrives as a double (a VMCS
    // read) (x86emu's double-fields.ts).
    holdAsDoubles(this, ['linear', 'cuiLinearRip', 'cuiRipHigh', 'instructionLength']);
  }

  /**
   * Fills kvm_run for a single (non-string) IN/OUT of `size` bytes; `value` is the guest's
   * EAX for an OUT. After this, the handler returns `ExitResult.Userspace`.
   */
  setup(
    run: KvmRunView,
    isIn: boolean,
    size: number,
    port: number,
    value: number,
    instructionLength: number,
  ): void {
    this.active = true;
    this.isString = false;
    this.rep = false;
    this.isIn = isIn;
    this.size = size;
    this.port = port;
    this.instructionLength = instructionLength;
    run.exitReason = KVM_EXIT.IO;
    const io = run.io;
    io.direction = isIn ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
    io.size = size;
    io.port = port;
    io.count = 1;
    io.dataOffset = PIO_DATA_OFFSET;
    const b = run.bytes;
    b[PIO_DATA_OFFSET] = value;
    if (size > 1) b[PIO_DATA_OFFSET + 1] = value >>> 8;
    if (size > 2) {
      b[PIO_DATA_OFFSET + 2] = value >>> 16;
      b[PIO_DATA_OFFSET + 3] = value >>> 24;
    }
  }

  /** For a completed IN: the value userspace left in the data page. */
  inValue(run: KvmRunView): number {
    const b = run.bytes;
    const o = PIO_DATA_OFFSET;
    if (this.size === 1) return b[o];
    if (this.size === 2) return b[o] | (b[o + 1] << 8);
    return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  }
}
