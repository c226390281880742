/**
 * `KvmRunView`: typed fields over the bytes of a vCPU's `kvm_run` mapping, read and written in
 * place. This is the hot interface between KVM_RUN and the VMM's exit handling, so every getter
 * and setter reads the bytes directly through one DataView, allocates nothing, and 64-bit
 * addresses are also offered as two 32-bit halves. The engine side writes the "out" fields with
 * the same setters; the VMM writes only the "in" ones (request_interrupt_window, immediate_exit,
 * cr8, apic_base, and the data of an IN or an MMIO read).
 *
 * `exit()` decodes the current exit to a tagged union (`VcpuExit`, as rust-vmm's `VcpuExit`)
 * for code that prefers a value to a view; it allocates.
 */

import { Errno, KvmError } from '../api/errors.js';
import type { KvmRunArea } from '../api/types.js';
import {
  KVM_EXIT,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_NAMES,
  KVM_INTERNAL_ERROR,
  KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES,
} from './exit-reasons.js';
import { KVM_RUN_STRUCT_SIZE, kvmRunOffset as off } from './run-layout.js';

const REQUEST_INTERRUPT_WINDOW = off('request_interrupt_window');
const IMMEDIATE_EXIT = off('immediate_exit');
/** `padding1[0]`: this engine's `soft_run_flags` (KVM_RUN_SOFT_*; the kernel's KVM ignores the byte). */
const SOFT_RUN_FLAGS = off('padding1');

/**
 * In, `soft_run_flags` (KVM_CAP_SOFT_NO_USER_WRITES_HINT): userspace wrote no guest memory since
 * the last KVM_RUN returned, so the software engine need not check its decoded and compiled code
 * against memory. KVM_RUN clears the byte as it reads it (a hint covers one run only).
 */
export const KVM_RUN_SOFT_NO_USER_WRITES = 1;
const EXIT_REASON = off('exit_reason');
const READY_FOR_INTERRUPT_INJECTION = off('ready_for_interrupt_injection');
const IF_FLAG = off('if_flag');
const FLAGS = off('flags');
const CR8 = off('cr8');
const APIC_BASE = off('apic_base');
const HW_HARDWARE_EXIT_REASON = off('hw.hardware_exit_reason');
const FAIL_ENTRY_REASON = off('fail_entry.hardware_entry_failure_reason');
const FAIL_ENTRY_CPU = off('fail_entry.cpu');
const EX_EXCEPTION = off('ex.exception');
const EX_ERROR_CODE = off('ex.error_code');
const IO_DIRECTION = off('io.direction');
const IO_SIZE = off('io.size');
const IO_PORT = off('io.port');
const IO_COUNT = off('io.count');
const IO_DATA_OFFSET = off('io.data_offset');
const DEBUG_EXCEPTION = off('debug.arch.exception');
const DEBUG_PC = off('debug.arch.pc');
const DEBUG_DR6 = off('debug.arch.dr6');
const DEBUG_DR7 = off('debug.arch.dr7');
const MMIO_PHYS_ADDR = off('mmio.phys_addr');
const MMIO_DATA = off('mmio.data');
const MMIO_LEN = off('mmio.len');
const MMIO_IS_WRITE = off('mmio.is_write');
const HYPERCALL_NR = off('hypercall.nr');
const HYPERCALL_ARGS = off('hypercall.args');
const HYPERCALL_RET = off('hypercall.ret');
const HYPERCALL_LONGMODE = off('hypercall.longmode');
const INTERNAL_SUBERROR = off('internal.suberror');
const INTERNAL_NDATA = off('internal.ndata');
const INTERNAL_DATA = off('internal.data');
const EMULATION_FAILURE_FLAGS = off('emulation_failure.flags');
const EMULATION_FAILURE_INSN_SIZE = off('emulation_failure.insn_size');
const EMULATION_FAILURE_INSN_BYTES = off('emulation_failure.insn_bytes');
const SYSTEM_EVENT_TYPE = off('system_event.type');
const SYSTEM_EVENT_NDATA = off('system_event.ndata');
const SYSTEM_EVENT_DATA = off('system_event.data');

const TWO32 = 0x1_0000_0000;

/** An unsigned 64-bit field as a number; exact below 2^53 (offsets, addresses we hand out). */
function getU64n(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * TWO32;
}

function setU64n(dv: DataView, at: number, value: number): void {
  dv.setUint32(at, value >>> 0, true);
  dv.setUint32(at + 4, Math.floor(value / TWO32) >>> 0, true);
}

/** kvm_run.io, for KVM_EXIT_IO. The data lives at `dataOffset` from the start of kvm_run. */
export class KvmRunIo {
  private cachedData: Uint8Array;
  private cachedAt = -1;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly dv: DataView,
  ) {
    this.cachedData = bytes.subarray(0, 0);
  }

  /** KVM_EXIT_IO_IN (0) or KVM_EXIT_IO_OUT (1). */
  get direction(): number {
    return this.dv.getUint8(IO_DIRECTION);
  }
  set direction(v: number) {
    this.dv.setUint8(IO_DIRECTION, v);
  }
  /** Bytes per item: 1, 2 or 4. */
  get size(): number {
    return this.dv.getUint8(IO_SIZE);
  }
  set size(v: number) {
    this.dv.setUint8(IO_SIZE, v);
  }
  get port(): number {
    return this.dv.getUint16(IO_PORT, true);
  }
  set port(v: number) {
    this.dv.setUint16(IO_PORT, v, true);
  }
  /** Items: 1, or the repeat count of a string instruction (INS/OUTS). */
  get count(): number {
    return this.dv.getUint32(IO_COUNT, true);
  }
  set count(v: number) {
    this.dv.setUint32(IO_COUNT, v, true);
  }
  /** Where the data is, in bytes from the start of kvm_run (Linux: one page in). */
  get dataOffset(): number {
    return getU64n(this.dv, IO_DATA_OFFSET);
  }
  set dataOffset(v: number) {
    setU64n(this.dv, IO_DATA_OFFSET, v);
  }

  /**
   * The `size * count` data bytes, a view (no copy) into the run mapping: read it for OUT, fill
   * it for IN. Clamped to the mapping. Allocation-free while the offset and length repeat.
   */
  get data(): Uint8Array {
    const at = this.dataOffset;
    const end = Math.min(at + this.size * this.count, this.bytes.length);
    if (at !== this.cachedAt || this.cachedData.length !== Math.max(0, end - at)) {
      this.cachedAt = at;
      this.cachedData = at < end ? this.bytes.subarray(at, end) : this.bytes.subarray(0, 0);
    }
    return this.cachedData;
  }

  /** Item `i` (little endian, `size` bytes) as a number; 0 outside the mapping. */
  valueAt(i: number): number {
    const size = this.dv.getUint8(IO_SIZE);
    const at = getU64n(this.dv, IO_DATA_OFFSET) + i * size;
    if (at < 0 || at + size > this.bytes.length) return 0;
    switch (size) {
      case 1:
        return this.dv.getUint8(at);
      case 2:
        return this.dv.getUint16(at, true);
      default:
        return this.dv.getUint32(at, true);
    }
  }

  /** Sets item `i` (the answer to an IN); ignored outside the mapping. */
  setValueAt(i: number, value: number): void {
    const size = this.dv.getUint8(IO_SIZE);
    const at = getU64n(this.dv, IO_DATA_OFFSET) + i * size;
    if (at < 0 || at + size > this.bytes.length) return;
    switch (size) {
      case 1:
        this.dv.setUint8(at, value);
        break;
      case 2:
        this.dv.setUint16(at, value, true);
        break;
      default:
        this.dv.setUint32(at, value >>> 0, true);
    }
  }

  /** The first item: what a single IN/OUT moves. */
  get value(): number {
    return this.valueAt(0);
  }
  set value(v: number) {
    this.setValueAt(0, v);
  }
}

/** kvm_run.mmio, for KVM_EXIT_MMIO. */
export class KvmRunMmio {
  /** The 8 data bytes, a fixed view: read for a write, fill for a read. */
  readonly data: Uint8Array;

  constructor(
    bytes: Uint8Array,
    private readonly dv: DataView,
  ) {
    this.data = bytes.subarray(MMIO_DATA, MMIO_DATA + 8);
  }

  /** The guest-physical address (gpa) accessed. */
  get physAddr(): bigint {
    return this.dv.getBigUint64(MMIO_PHYS_ADDR, true);
  }
  set physAddr(v: bigint) {
    this.dv.setBigUint64(MMIO_PHYS_ADDR, v, true);
  }
  /** Low 32 bits of the gpa. */
  get physAddrLo(): number {
    return this.dv.getUint32(MMIO_PHYS_ADDR, true);
  }
  set physAddrLo(v: number) {
    this.dv.setUint32(MMIO_PHYS_ADDR, v >>> 0, true);
  }
  /** High 32 bits of the gpa. */
  get physAddrHi(): number {
    return this.dv.getUint32(MMIO_PHYS_ADDR + 4, true);
  }
  set physAddrHi(v: number) {
    this.dv.setUint32(MMIO_PHYS_ADDR + 4, v >>> 0, true);
  }
  /** Bytes accessed, 1 to 8. */
  get len(): number {
    return this.dv.getUint32(MMIO_LEN, true);
  }
  set len(v: number) {
    this.dv.setUint32(MMIO_LEN, v, true);
  }
  /** 1 for a guest write (data holds it), 0 for a read (fill data before the next KVM_RUN). */
  get isWrite(): number {
    return this.dv.getUint8(MMIO_IS_WRITE);
  }
  set isWrite(v: number) {
    this.dv.setUint8(MMIO_IS_WRITE, v);
  }
}

/** kvm_run.fail_entry, for KVM_EXIT_FAIL_ENTRY: VM entry failed (VMX: basic exit reason with bit 31). */
export class KvmRunFailEntry {
  constructor(private readonly dv: DataView) {}
  get hardwareEntryFailureReason(): bigint {
    return this.dv.getBigUint64(FAIL_ENTRY_REASON, true);
  }
  set hardwareEntryFailureReason(v: bigint) {
    this.dv.setBigUint64(FAIL_ENTRY_REASON, v, true);
  }
  get cpu(): number {
    return this.dv.getUint32(FAIL_ENTRY_CPU, true);
  }
  set cpu(v: number) {
    this.dv.setUint32(FAIL_ENTRY_CPU, v, true);
  }
}

/** kvm_run.internal, for KVM_EXIT_INTERNAL_ERROR (and its emulation_failure overlay). */
export class KvmRunInternal {
  /**
   * emulation_failure.insn_bytes (15 bytes), a fixed view: valid for KVM_INTERNAL_ERROR_EMULATION
   * when `emulationFailureFlags` has KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES.
   */
  readonly insnBytes: Uint8Array;

  constructor(
    bytes: Uint8Array,
    private readonly dv: DataView,
  ) {
    this.insnBytes = bytes.subarray(EMULATION_FAILURE_INSN_BYTES, EMULATION_FAILURE_INSN_BYTES + 15);
  }
  /** emulation_failure.flags (overlays data[0]). */
  get emulationFailureFlags(): bigint {
    return this.dv.getBigUint64(EMULATION_FAILURE_FLAGS, true);
  }
  set emulationFailureFlags(v: bigint) {
    this.dv.setBigUint64(EMULATION_FAILURE_FLAGS, v, true);
  }
  /** emulation_failure.insn_size: how many of `insnBytes` are the failing instruction. */
  get insnSize(): number {
    return this.dv.getUint8(EMULATION_FAILURE_INSN_SIZE);
  }
  set insnSize(v: number) {
    this.dv.setUint8(EMULATION_FAILURE_INSN_SIZE, v);
  }
  /** KVM_INTERNAL_ERROR_* */
  get suberror(): number {
    return this.dv.getUint32(INTERNAL_SUBERROR, true);
  }
  set suberror(v: number) {
    this.dv.setUint32(INTERNAL_SUBERROR, v, true);
  }
  /** How many of `data[16]` are valid (with KVM_CAP_INTERNAL_ERROR_DATA). */
  get ndata(): number {
    return this.dv.getUint32(INTERNAL_NDATA, true);
  }
  set ndata(v: number) {
    this.dv.setUint32(INTERNAL_NDATA, v, true);
  }
  /** `data[i]`, i < 16. */
  dataAt(i: number): bigint {
    return this.dv.getBigUint64(INTERNAL_DATA + 8 * (i & 15), true);
  }
  setDataAt(i: number, v: bigint): void {
    this.dv.setBigUint64(INTERNAL_DATA + 8 * (i & 15), v, true);
  }
}

/** kvm_run.ex, for KVM_EXIT_EXCEPTION. */
export class KvmRunEx {
  constructor(private readonly dv: DataView) {}
  /** The vector. */
  get exception(): number {
    return this.dv.getUint32(EX_EXCEPTION, true);
  }
  set exception(v: number) {
    this.dv.setUint32(EX_EXCEPTION, v, true);
  }
  get errorCode(): number {
    return this.dv.getUint32(EX_ERROR_CODE, true);
  }
  set errorCode(v: number) {
    this.dv.setUint32(EX_ERROR_CODE, v, true);
  }
}

/** kvm_run.debug.arch, for KVM_EXIT_DEBUG. */
export class KvmRunDebug {
  constructor(private readonly dv: DataView) {}
  /** 1 (#DB) or 3 (#BP). */
  get exception(): number {
    return this.dv.getUint32(DEBUG_EXCEPTION, true);
  }
  set exception(v: number) {
    this.dv.setUint32(DEBUG_EXCEPTION, v, true);
  }
  get pc(): bigint {
    return this.dv.getBigUint64(DEBUG_PC, true);
  }
  set pc(v: bigint) {
    this.dv.setBigUint64(DEBUG_PC, v, true);
  }
  get dr6(): bigint {
    return this.dv.getBigUint64(DEBUG_DR6, true);
  }
  set dr6(v: bigint) {
    this.dv.setBigUint64(DEBUG_DR6, v, true);
  }
  get dr7(): bigint {
    return this.dv.getBigUint64(DEBUG_DR7, true);
  }
  set dr7(v: bigint) {
    this.dv.setBigUint64(DEBUG_DR7, v, true);
  }
}

/** kvm_run.system_event, for KVM_EXIT_SYSTEM_EVENT. */
export class KvmRunSystemEvent {
  constructor(private readonly dv: DataView) {}
  /** KVM_SYSTEM_EVENT_* */
  get type(): number {
    return this.dv.getUint32(SYSTEM_EVENT_TYPE, true);
  }
  set type(v: number) {
    this.dv.setUint32(SYSTEM_EVENT_TYPE, v, true);
  }
  get ndata(): number {
    return this.dv.getUint32(SYSTEM_EVENT_NDATA, true);
  }
  set ndata(v: number) {
    this.dv.setUint32(SYSTEM_EVENT_NDATA, v, true);
  }
  dataAt(i: number): bigint {
    return this.dv.getBigUint64(SYSTEM_EVENT_DATA + 8 * (i & 15), true);
  }
  setDataAt(i: number, v: bigint): void {
    this.dv.setBigUint64(SYSTEM_EVENT_DATA + 8 * (i & 15), v, true);
  }
}

/** kvm_run.hypercall, for KVM_EXIT_HYPERCALL. */
export class KvmRunHypercall {
  constructor(private readonly dv: DataView) {}
  get nr(): bigint {
    return this.dv.getBigUint64(HYPERCALL_NR, true);
  }
  set nr(v: bigint) {
    this.dv.setBigUint64(HYPERCALL_NR, v, true);
  }
  /** `args[i]`, i < 6. */
  argAt(i: number): bigint {
    return this.dv.getBigUint64(HYPERCALL_ARGS + 8 * (i % 6), true);
  }
  setArgAt(i: number, v: bigint): void {
    this.dv.setBigUint64(HYPERCALL_ARGS + 8 * (i % 6), v, true);
  }
  /** Written by userspace: the hypercall's result. */
  get ret(): bigint {
    return this.dv.getBigUint64(HYPERCALL_RET, true);
  }
  set ret(v: bigint) {
    this.dv.setBigUint64(HYPERCALL_RET, v, true);
  }
  get longmode(): number {
    return this.dv.getUint32(HYPERCALL_LONGMODE, true);
  }
  set longmode(v: number) {
    this.dv.setUint32(HYPERCALL_LONGMODE, v, true);
  }
}

/** KVM_RUN's result as a value: one variant per exit reason, named like the KVM_EXIT_* constant. */
export type VcpuExit =
  | {
      readonly reason: 'io';
      readonly direction: 'in' | 'out';
      readonly size: number;
      readonly port: number;
      readonly count: number;
      /** View (no copy) of the data in the run mapping. */
      readonly data: Uint8Array;
    }
  | {
      readonly reason: 'mmio';
      readonly physAddr: bigint;
      readonly len: number;
      readonly isWrite: boolean;
      /** View (no copy) of the `len` bytes in kvm_run.mmio.data. */
      readonly data: Uint8Array;
    }
  | { readonly reason: 'unknown'; readonly hardwareExitReason: bigint }
  | { readonly reason: 'exception'; readonly exception: number; readonly errorCode: number }
  | { readonly reason: 'fail_entry'; readonly hardwareEntryFailureReason: bigint; readonly cpu: number }
  | {
      readonly reason: 'internal_error';
      readonly suberror: number;
      readonly data: readonly bigint[];
      /** The failing instruction's bytes (a copy), when KVM_INTERNAL_ERROR_EMULATION provides them. */
      readonly insn?: Uint8Array;
    }
  | {
      readonly reason: 'debug';
      readonly exception: number;
      readonly pc: bigint;
      readonly dr6: bigint;
      readonly dr7: bigint;
    }
  | {
      readonly reason: 'hypercall';
      readonly nr: bigint;
      readonly args: readonly bigint[];
      readonly longmode: number;
    }
  | { readonly reason: 'system_event'; readonly type: number; readonly data: readonly bigint[] }
  | { readonly reason: 'hlt' | 'irq_window_open' | 'shutdown' | 'intr' | 'nmi' | 'set_tpr' }
  /** Any other exit reason (other architectures', or newer than this package). */
  | { readonly reason: 'other'; readonly exitReason: number; readonly name: string };

/** Throws KvmError(EINVAL) unless `bytes` can hold a whole `struct kvm_run`. */
function checkRunSize(length: number): void {
  if (length < KVM_RUN_STRUCT_SIZE) {
    throw new KvmError(
      'kvm_run',
      Errno.EINVAL,
      `mapping of ${length} bytes is smaller than struct kvm_run (${KVM_RUN_STRUCT_SIZE})`,
    );
  }
}

export class KvmRunView implements KvmRunArea {
  /** The whole mapping: struct kvm_run, then (on Linux) the PIO data page and the coalesced-MMIO ring. */
  readonly bytes: Uint8Array;
  /** One DataView over `bytes`, shared by the accessors. */
  readonly dv: DataView;
  readonly io: KvmRunIo;
  readonly mmio: KvmRunMmio;
  readonly failEntry: KvmRunFailEntry;
  readonly internal: KvmRunInternal;
  readonly ex: KvmRunEx;
  readonly debug: KvmRunDebug;
  readonly systemEvent: KvmRunSystemEvent;
  readonly hypercall: KvmRunHypercall;

  /** Views `buffer` (the vCPU's mmap, or part of one). Throws KvmError(EINVAL) if it is too small. */
  constructor(buffer: ArrayBufferLike | Uint8Array) {
    this.bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    checkRunSize(this.bytes.length);
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.io = new KvmRunIo(this.bytes, this.dv);
    this.mmio = new KvmRunMmio(this.bytes, this.dv);
    this.failEntry = new KvmRunFailEntry(this.dv);
    this.internal = new KvmRunInternal(this.bytes, this.dv);
    this.ex = new KvmRunEx(this.dv);
    this.debug = new KvmRunDebug(this.dv);
    this.systemEvent = new KvmRunSystemEvent(this.dv);
    this.hypercall = new KvmRunHypercall(this.dv);
  }

  /** In: ask for KVM_EXIT_IRQ_WINDOW_OPEN as soon as the guest can take an interrupt. */
  get requestInterruptWindow(): number {
    return this.dv.getUint8(REQUEST_INTERRUPT_WINDOW);
  }
  set requestInterruptWindow(v: number) {
    this.dv.setUint8(REQUEST_INTERRUPT_WINDOW, v);
  }
  /** In: nonzero makes KVM_RUN return EINTR at once (KVM_CAP_IMMEDIATE_EXIT). */
  get immediateExit(): number {
    return this.dv.getUint8(IMMEDIATE_EXIT);
  }
  set immediateExit(v: number) {
    this.dv.setUint8(IMMEDIATE_EXIT, v);
  }
  /**
   * In: KVM_RUN_SOFT_* (the software engine's own byte, `padding1[0]`; see
   * KVM_CAP_SOFT_NO_USER_WRITES_HINT). Cleared by the KVM_RUN that reads it.
   */
  get softRunFlags(): number {
    return this.dv.getUint8(SOFT_RUN_FLAGS);
  }
  set softRunFlags(v: number) {
    this.dv.setUint8(SOFT_RUN_FLAGS, v);
  }
  /** Out: KVM_EXIT_*. */
  get exitReason(): number {
    return this.dv.getUint32(EXIT_REASON, true);
  }
  set exitReason(v: number) {
    this.dv.setUint32(EXIT_REASON, v, true);
  }
  /** Out: KVM_INTERRUPT would be accepted now. */
  get readyForInterruptInjection(): number {
    return this.dv.getUint8(READY_FOR_INTERRUPT_INJECTION);
  }
  set readyForInterruptInjection(v: number) {
    this.dv.setUint8(READY_FOR_INTERRUPT_INJECTION, v);
  }
  /** Out: the guest's RFLAGS.IF. */
  get ifFlag(): number {
    return this.dv.getUint8(IF_FLAG);
  }
  set ifFlag(v: number) {
    this.dv.setUint8(IF_FLAG, v);
  }
  /** Out: KVM_RUN_X86_SMM and friends. */
  get flags(): number {
    return this.dv.getUint16(FLAGS, true);
  }
  set flags(v: number) {
    this.dv.setUint16(FLAGS, v, true);
  }
  get cr8(): bigint {
    return this.dv.getBigUint64(CR8, true);
  }
  set cr8(v: bigint) {
    this.dv.setBigUint64(CR8, v, true);
  }
  get apicBase(): bigint {
    return this.dv.getBigUint64(APIC_BASE, true);
  }
  set apicBase(v: bigint) {
    this.dv.setBigUint64(APIC_BASE, v, true);
  }
  /** kvm_run.hw.hardware_exit_reason, for KVM_EXIT_UNKNOWN. */
  get hardwareExitReason(): bigint {
    return this.dv.getBigUint64(HW_HARDWARE_EXIT_REASON, true);
  }
  set hardwareExitReason(v: bigint) {
    this.dv.setBigUint64(HW_HARDWARE_EXIT_REASON, v, true);
  }

  /** The current exit as a `VcpuExit` value (allocates; use the accessors on hot paths). */
  exit(): VcpuExit {
    const reason = this.exitReason;
    switch (reason) {
      case KVM_EXIT.IO: {
        const io = this.io;
        return {
          reason: 'io',
          direction: io.direction === KVM_EXIT_IO_OUT ? 'out' : 'in',
          size: io.size,
          port: io.port,
          count: io.count,
          data: io.data,
        };
      }
      case KVM_EXIT.MMIO: {
        const len = Math.min(this.mmio.len, 8);
        return {
          reason: 'mmio',
          physAddr: this.mmio.physAddr,
          len,
          isWrite: this.mmio.isWrite !== 0,
          data: this.mmio.data.subarray(0, len),
        };
      }
      case KVM_EXIT.UNKNOWN:
        return { reason: 'unknown', hardwareExitReason: this.hardwareExitReason };
      case KVM_EXIT.EXCEPTION:
        return { reason: 'exception', exception: this.ex.exception, errorCode: this.ex.errorCode };
      case KVM_EXIT.FAIL_ENTRY:
        return {
          reason: 'fail_entry',
          hardwareEntryFailureReason: this.failEntry.hardwareEntryFailureReason,
          cpu: this.failEntry.cpu,
        };
      case KVM_EXIT.INTERNAL_ERROR: {
        const n = Math.min(this.internal.ndata, 16);
        const data: bigint[] = [];
        for (let i = 0; i < n; i++) data.push(this.internal.dataAt(i));
        const internal = this.internal;
        if (
          internal.suberror === KVM_INTERNAL_ERROR.EMULATION &&
          n >= 3 &&
          (internal.emulationFailureFlags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) !== 0n
        ) {
          const insn = internal.insnBytes.slice(0, Math.min(internal.insnSize, 15));
          return { reason: 'internal_error', suberror: internal.suberror, data, insn };
        }
        return { reason: 'internal_error', suberror: internal.suberror, data };
      }
      case KVM_EXIT.DEBUG:
        return {
          reason: 'debug',
          exception: this.debug.exception,
          pc: this.debug.pc,
          dr6: this.debug.dr6,
          dr7: this.debug.dr7,
        };
      case KVM_EXIT.HYPERCALL: {
        const args: bigint[] = [];
        for (let i = 0; i < 6; i++) args.push(this.hypercall.argAt(i));
        return { reason: 'hypercall', nr: this.hypercall.nr, args, longmode: this.hypercall.longmode };
      }
      case KVM_EXIT.SYSTEM_EVENT: {
        const n = Math.min(this.systemEvent.ndata, 16);
        const data: bigint[] = [];
        for (let i = 0; i < n; i++) data.push(this.systemEvent.dataAt(i));
        return { reason: 'system_event', type: this.systemEvent.type, data };
      }
      case KVM_EXIT.HLT:
        return { reason: 'hlt' };
      case KVM_EXIT.IRQ_WINDOW_OPEN:
        return { reason: 'irq_window_open' };
      case KVM_EXIT.SHUTDOWN:
        return { reason: 'shutdown' };
      case KVM_EXIT.INTR:
        return { reason: 'intr' };
      case KVM_EXIT.NMI:
        return { reason: 'nmi' };
      case KVM_EXIT.SET_TPR:
        return { reason: 'set_tpr' };
      default:
        return { reason: 'other', exitReason: reason, name: `KVM_EXIT_${KVM_EXIT_NAMES[reason] ?? reason}` };
    }
  }
}
