/**
 * The exit census (`X86EMU_JIT_CENSUS=1`, off by default): why the 64-bit functions of the wasm
 * backend left, counted in wasm memory as they leave, and which instructions they called a handler
 * for, counted by the handler import. What it answers is where a chain's hops come from (a hop is
 * a function leaving for another through the dispatch loop: chain.ts), and so what a larger
 * region or a cheaper hop would take away: "Where the hops come from" in ../README.md counted them
 * with a private build each time, before regions kept their forward blocks and again after.
 *
 * Each exit site of a function compiled while the census is on adds 1 to its kind's counter (an
 * i32 load, add and store in the exit path); functions compiled with it off hold no such code, so
 * the knob costs nothing unless set. Counters wrap at 2^32 (a Debian boot makes ~40 M exits).
 */

import { type FuncWriter, Op } from './encode.js';

/** Byte offset of the counters in the wasm memory (arena.ts layout: free space below TLB_READ). */
export const EXIT_CENSUS = 0x400;

/** Why a function left, and where to (the region's entry page against the target's). */
export const ExitKind = {
  JccTakenSamePage: 0,
  JccTakenOtherPage: 1,
  /** A Jcc's fall-through that is not a block of the function. */
  JccNotTaken: 2,
  JmpSamePage: 3,
  JmpOtherPage: 4,
  CallSamePage: 5,
  CallOtherPage: 6,
  Ret: 7,
  CallIndirect: 8,
  JmpIndirect: 9,
  /** A block cut short (an instruction no block holds next, the length bound, the page's end). */
  BlockEnd: 10,
  /** A handler that ends its block (far branches, IRET, SYSCALL…), or one that asked to leave. */
  Handler: 11,
  /** After a slow memory path or a push through the CPU: an event check due, or code written. */
  AfterSlowPath: 12,
  /** The budget had no room for the next block. */
  Budget: 13,
} as const;

export const EXIT_KIND_NAMES = [
  'Jcc taken, same page',
  'Jcc taken, another page',
  'Jcc not taken',
  'JMP rel, same page',
  'JMP rel, another page',
  'CALL rel, same page',
  'CALL rel, another page',
  'RET',
  'CALL r/m',
  'JMP r/m',
  'block cut short',
  'handler',
  'after a slow path',
  'budget',
] as const;

/** Whether functions compiled from now on count their exits (read once per backend). */
export function exitCensusOn(): boolean {
  return typeof process !== 'undefined' && process.env?.X86EMU_JIT_CENSUS === '1';
}

/** Emits the count of one exit of kind `kind` (`ExitKind`). */
export function emitExitCount(f: FuncWriter, kind: number): void {
  const at = EXIT_CENSUS + 4 * kind;
  f.i32(0).i32(0).mem(Op.i32Load, at).i32(1).op(Op.i32Add).mem(Op.i32Store, at);
}

/**
 * The kind of a direct exit to `to` after instruction `mnemonic` (the block's last; `next` the
 * RIP after it) of a function whose entry is on page `entryPage` (RIP[31:12]).
 */
export function directExitKind(mnemonic: string, to: number, next: number, entryPage: number): number {
  const other = to >>> 12 !== entryPage;
  if (mnemonic === 'JCC')
    return to === next
      ? ExitKind.JccNotTaken
      : other
        ? ExitKind.JccTakenOtherPage
        : ExitKind.JccTakenSamePage;
  if (mnemonic === 'JMP') return other ? ExitKind.JmpOtherPage : ExitKind.JmpSamePage;
  if (mnemonic === 'CALL') return other ? ExitKind.CallOtherPage : ExitKind.CallSamePage;
  return ExitKind.BlockEnd;
}

/** The counters so far, by `ExitKind`, from `memory` (the backend's). */
export function readExitCensus(memory: { buffer: ArrayBufferLike }): number[] {
  const u = new Uint32Array(memory.buffer, EXIT_CENSUS, EXIT_KIND_NAMES.length);
  return [...u];
}
