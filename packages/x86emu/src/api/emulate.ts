/**
 * The single-instruction emulator's interface: KVM's `x86_emulate_ops`, with the result kinds
 * kept apart (the 2007 emulator's weakness was three meanings sharing one return value).
 */
import type { CpuState } from '../state.js';

/** What an op returns. */
export const X86EmulStatus = {
  /** Done; the data (for reads) is in the buffer. */
  Ok: 0,
  /** The access faulted: the op has called `ctx.raise(vector, errorCode)` (e.g. a #PF from the guest walk). */
  Exception: 1,
  /** The access needs userspace (MMIO or port I/O the hypervisor cannot complete): stop and exit. */
  Userspace: 2,
  /** The op cannot do this at all (e.g. an MMIO access that straddles devices). */
  Unhandleable: 3,
} as const;
export type X86EmulStatus = (typeof X86EmulStatus)[keyof typeof X86EmulStatus];

/**
 * Memory and port I/O for `emulate()`. Addresses are LINEAR (segmentation already applied by
 * the emulator, with its limit and type checks; paging is the caller's, as in KVM's
 * `emulator_read_emulated`). Accesses are at most 8 bytes and may cross a page: the op splits
 * them if it needs to. Values are little-endian bytes in `data`, whose length is the size.
 */
export interface X86EmulateOps {
  /** Reads instruction bytes at linear `gva` (only called when `EmulateContext.insnBytes` is short). */
  fetch(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus;
  read(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus;
  write(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus;
  /**
   * Atomically: if memory at `gva` equals `expected`, store `replacement` and return Ok; else
   * copy the current memory into `expected` and return Ok as well (the emulator compares
   * `expected` with what it passed to decide ZF). Used by LOCK-prefixed read-modify-write,
   * XCHG with memory, CMPXCHG and CMPXCHG8B (EDX:EAX compare, 8 bytes).
   */
  cmpxchg(gva: number, expected: Uint8Array, replacement: Uint8Array, ctx: EmulateFault): X86EmulStatus;
  /** IN/INS: fill `data` (1, 2 or 4 bytes times `count`) from `port`. Userspace → the emulator stops. */
  pioIn(port: number, size: 1 | 2 | 4, count: number, data: Uint8Array): X86EmulStatus;
  /** OUT/OUTS: `count` values of `size` bytes from `data`. */
  pioOut(port: number, size: 1 | 2 | 4, count: number, data: Uint8Array): X86EmulStatus;
}

/** How an op reports a fault (the typed `x86_exception` of modern KVM). */
export interface EmulateFault {
  raise(vector: number, errorCode: number, hasErrorCode: boolean, faultAddress: number): void;
}

/** Input to `emulate()`. */
export interface EmulateContext {
  /** Register state; updated in place on `Ok` (RIP advanced) and on `Exception` (REP progress). */
  state: CpuState;
  /**
   * Instruction bytes already fetched at CS:RIP (what the exit provided), or null/short: the
   * emulator fetches the rest through `ops.fetch`.
   */
  insnBytes: Uint8Array | null;
}

/** The outcome of one `emulate()` call. */
export const EmulateResultKind = {
  /** Executed; state updated, RIP advanced. */
  Ok: 0,
  /** The instruction raised an exception: inject `vector`/`errorCode`; RIP is unchanged. */
  Exception: 1,
  /** An op returned Userspace: the state is unchanged; complete the access and emulate again. */
  Userspace: 2,
  /** Not an instruction we emulate this way, or an op said Unhandleable; the state is unchanged. */
  Unhandleable: 3,
} as const;
export type EmulateResultKind = (typeof EmulateResultKind)[keyof typeof EmulateResultKind];

/** Reused result object (one per `Emulator`). */
export interface EmulateResult {
  kind: EmulateResultKind;
  /** For Exception: the vector, error code, and (#PF) fault address. */
  vector: number;
  errorCode: number;
  hasErrorCode: boolean;
  faultAddress: number;
  /** Length of the instruction decoded (0 if decoding failed). */
  instructionLength: number;
}
