/**
 * The one `WebAssembly.Memory` that compiled wasm code reaches everything through: the CPU's
 * general registers (`state.gpr`/`gprHigh`, moved here by `moveRegisters`, as v86 keeps its
 * register file in its wasm memory: a function loads them into its locals and stores them back in
 * place, nothing is copied around a call), the exchange area (its exit status and lazy flags), the
 * wasm side of the CPU's TLB (below) and guest RAM. A wasm function can only read its own memory,
 * so the inline paths need them all in one buffer.
 *
 * The TLB's wasm side is QEMU's `CPUTLBEntry` (accel/tcg/cputlb.c) for v86's one-compare probe: per
 * TLB index and per privilege class (supervisor, user) an i64 READ tag and WRITE tag, the linear
 * page address (sign-extended from 48 bits in 64-bit mode) when that access at that class hits
 * the interpreter's TLB inline (right present, frame RAM in this memory, write rights only once
 * dirty and never on a frame with decoded code: `tlbFill`'s rules), else -1, which no page address
 * equals; and an i32 ADDEND, the host byte offset of the frame in this memory minus the linear page
 * (mod 2^32), so that the host address is `lin + addend`. `cpu/tlb.ts` keeps it in step with the
 * interpreter's entries (`tlbWasmFill`, `tlbWasmKill`): filled where they are filled, killed by
 * every flush, INVLPG and write-right drop. Slot `x` = index * 8 + class (0 or TLB_USER), the same
 * for all three arrays (the addend's slot has 4 bytes to spare), so the probe computes it once.
 *
 * Layout (byte offsets):
 *   0        REG: RAX…R15 low halves (i32 × 16), the CPU's `state.gpr`
 *   64       the exit status and the flag record (ST_*)
 *   128      REG_HIGH: RAX…R15 high halves (i32 × 16), the CPU's `state.gprHigh`
 *   256      XMM: XMM0…XMM15 (16 bytes each), the CPU's `state.xmm`; 512 MXCSR, its `state.mxcsr`;
 *            516 SSE_OK (whether SSE is usable, for the SSE forms: emit-sse.ts); 520 ST_GEN and
 *            524 ST_GENNG (the jump cache's generations: chain.ts); 528 ST_REPX and 532
 *            ST_REPLAST (REP strings' extra iterations: compile64.ts); 536 ST_SEGB (FS's and
 *            GS's bases, i64 × 2: emit64.ts)
 *   0x10000  TLB READ tags (i64 × TLB_SIZE supervisor, then × TLB_SIZE user)
 *   0x20000  TLB WRITE tags (the same)
 *   0x30000  TLB ADDENDs (i32 in 8-byte slots, the same: both classes hold the same value)
 *   0x40000  JC: the jump cache (chain.ts), JC_ENTRIES entries of 16 bytes
 *   0x80000  guest RAM (`WasmGuestMemory`), physical address 0 upwards
 */
import { FlatPhysicalMemory, type PhysicalMemory } from '../../api/physical-memory.js';
import { TLB_SIZE } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { tlbWasmAttach } from '../../cpu/tlb.js';
import { WA, type WasmMemory } from './api.js';

export const REG = 0;
export const ST_EXITREQ = 64;
export const ST_N = 68;
export const ST_DM = 72;
export const ST_NEXT = 76;
export const ST_K = 80;
export const ST_FP = 84;
export const ST_FO = 88;
export const ST_FD = 92;
export const ST_FS = 96;
export const ST_FR = 100;
export const ST_FA = 104;
/** 64-bit mode: RIP[63:32] where the function left, and the high half of an 8-byte slow read. */
export const ST_NEXTHI = 108;
export const ST_VHI = 112;
/**
 * 64-bit chains (chain.ts): instructions retired by the functions of the chain before the running
 * one, the running one's table slot, and the hops from one function to the next.
 */
export const ST_NTOT = 116;
export const ST_CUR = 120;
export const ST_HOPS = 124;
export const REG_HIGH = 128;
/** XMM0–15 (16 bytes each, the CPU's `state.xmm`) and MXCSR (`state.mxcsr`): `moveSse`. */
export const XMM = 0x100;
export const MXCSR = 0x200;
/** 1 when SSE instructions are usable (CR0.EM and TS clear, CR4.OSFXSR set): the wrapper's, per call. */
export const SSE_OK = 0x204;
/**
 * The jump cache's generations (chain.ts): an entry holds the one it was filled in, ST_GEN where
 * its code page's translation is global, else ST_GENNG. Everything that may change what code a RIP
 * runs (a TLB flush, memory changed from outside) bumps both, a CR3 load (non-global flush) the
 * second (`Cpu.chainOps`); a write to a code frame voids that page's entries only (`dropPage`).
 */
export const ST_GEN = 0x208;
export const ST_GENNG = 0x20c;
/**
 * REP strings in 64-bit functions (../rows.ts REP_IN_BLOCK): the budget their iterations beyond
 * the first used in this call of the wrapper (the room the dispatch loop passes on is less by it;
 * the wrapper takes it off `runLimit` after, as `Cpu.chargeIterations` would have), and the last
 * one's share (the function takes it off its own room).
 */
export const ST_REPX = 0x210;
export const ST_REPLAST = 0x214;
/**
 * 64-bit mode: FS's and GS's bases (`state.segBase`/`segBaseHigh` 4 and 5 as two i64, low half
 * first), for the inline path of FS: and GS: operands (emit64.ts). The
 * 64-bit wrapper stores them at every call and the handler import after every handler (SWAPGS,
 * WRMSR, MOV to FS or GS and WRFSBASE are handlers: the only code of a chain that changes them).
 */
export const ST_SEGB = 0x218;
export const TLB_READ = 0x10000;
export const TLB_WRITE = TLB_READ + 16 * TLB_SIZE;
export const TLB_ADDEND = TLB_WRITE + 16 * TLB_SIZE;
/** The user class's slots: `x` of a CPL 3 access is index * 8 + TLB_USER. */
export const TLB_USER = 8 * TLB_SIZE;
/**
 * The jump cache: RIP[31:0], RIP[63:32], tag, slot | entry-block length << 20 (chain.ts). 16,384
 * entries: with 2,048 (at 0x8000 before 2026-12-06) the bare boot's chains ended 4.0 M times at
 * an entry another RIP held and 2.2 M at an empty one (../README.md "The compiled side's own cost").
 */
export const JC = TLB_ADDEND + 16 * TLB_SIZE;
export const JC_ENTRIES = 16384;
export const RAM = JC + 16 * JC_ENTRIES;
const WASM_PAGE = 65536;

/** A memory for the exchange area alone (a `Cpu` whose RAM is not in wasm memory). */
export function exchangeMemory(): WasmMemory {
  // Up to RAM: the jump cache is the last thing before it (a 64-bit chain over other memory:
  // X86EMU_JIT_WASM64=1).
  const pages = RAM / WASM_PAGE;
  return new WA.Memory({ initial: pages, maximum: pages });
}

/**
 * A `PhysicalMemory` some of whose frames live in a `WebAssembly.Memory` laid out as above, so that
 * the wasm backend reaches them inline: the contract is that a frame `pfn < wasmFrames` which the
 * CPU's TLB can name (one with a `pageView`) IS the 4 KiB at `RAM + pfn * 4096` of `wasm`; frames
 * at or above `wasmFrames` (MMIO, ROM or RAM elsewhere, the software engine's hypervisor pages) take
 * the imports (`Cpu.read`/`write`), exactly. `WasmGuestMemory` is one (flat RAM from 0); the
 * software engine's host-physical memory is another (guest RAM slots inside, v86's model:
 * `@kvm/core`'s `HostPhysicalMemory` with a wasm arena).
 */
export interface WasmPhysicalMemory extends PhysicalMemory {
  readonly wasm: WasmMemory;
  /** Frames below this are in `wasm` at `RAM + pfn * 4096` (the inline path's bound). */
  readonly wasmFrames: number;
  /** The CPU whose TLB lives in `wasm` (`moveTlb`): there is room for one. */
  tlbOwner: object | null;
}

/** Whether `m` is a `WasmPhysicalMemory` (the wasm backend's test for its inline memory path). */
export function isWasmPhysicalMemory(m: PhysicalMemory): m is WasmPhysicalMemory {
  const w = m as Partial<WasmPhysicalMemory>;
  return typeof w.wasmFrames === 'number' && w.wasm !== undefined && w.tlbOwner !== undefined;
}

/**
 * A `WebAssembly.Memory` with this file's layout and room for `frames` 4 KiB frames at `RAM`
 * (rounded up to whole 64 KiB wasm pages; at most 4 GiB minus RAM, 512 KiB, in all), and a view of those
 * frames (`bytes`: frame `pfn` at `pfn * 4096`). It never grows, so views of it stay valid.
 * `shared`: a shared memory, whose buffer is a SharedArrayBuffer other threads may take (the
 * software engine's `sharedMemory`: a page's main thread reading guest RAM the worker runs). Throws
 * a RangeError when the engine cannot reserve that much (or share it: a browser page that is not
 * cross-origin isolated).
 */
export function wasmArenaMemory(frames: number, shared = false): { wasm: WasmMemory; bytes: Uint8Array } {
  const wp = Math.ceil((frames * 4096) / WASM_PAGE);
  if (!Number.isSafeInteger(wp) || wp < 0 || wp + RAM / WASM_PAGE > 65536)
    throw new RangeError(`wasm arena of ${frames} frames`);
  if (WA === undefined)
    throw new RangeError('a wasm arena needs WebAssembly (none in this JavaScript engine)');
  let wasm: WasmMemory;
  try {
    wasm = new WA.Memory({ initial: wp + RAM / WASM_PAGE, maximum: wp + RAM / WASM_PAGE, shared });
  } catch (e) {
    throw new RangeError(
      `wasm arena of ${frames} frames${shared ? ', shared' : ''}: ${(e as Error).message}`,
    );
  }
  return { wasm, bytes: new Uint8Array(wasm.buffer, RAM, wp * WASM_PAGE) };
}

/**
 * Flat RAM at physical address 0 inside a `WebAssembly.Memory` (which also holds the exchange
 * area and the TLB): what `new Cpu({ memory: new WasmGuestMemory(size), jit: { backend: 'wasm' } })`
 * needs for the wasm backend's inline memory path. Everything above RAM is unbacked (reads all
 * ones), as `FlatPhysicalMemory`. The memory never grows, so views of its buffer stay valid.
 */
export class WasmGuestMemory extends FlatPhysicalMemory implements WasmPhysicalMemory {
  readonly wasm: WasmMemory;
  /**
   * The CPU whose TLB lives in this memory (`moveTlb`): there is room for one. Another CPU over
   * the same RAM (SMP) keeps its TLB and reaches memory through the imports.
   */
  tlbOwner: object | null = null;

  /**
   * `size` in bytes, rounded up to a whole 64 KiB; at most 4 GiB minus 512 KiB (wasm32). The RAM
   * (`bytes`, `pages` frames) is a view of the wasm memory at `RAM`. `shared`: a shared memory
   * (`wasmArenaMemory`), for CPUs in other threads over the same RAM.
   */
  constructor(size: number, shared = false) {
    const { wasm, bytes } = wasmArenaMemory(Math.ceil(size / 4096), shared);
    super(bytes);
    this.wasm = wasm;
  }

  /** Every RAM frame is in `wasm`. */
  get wasmFrames(): number {
    return this.pages;
  }
}

/**
 * Moves `cpu`'s general registers into `mem` at REG/REG_HIGH (`Cpu.moveRegisters`: values copied,
 * `state.gpr`/`gprHigh` and `cpu.gpr`/`gprHigh` re-pointed), so that wasm code reads and writes
 * the very registers the interpreter does.
 */
export function moveRegisters(cpu: Cpu, mem: WasmMemory): void {
  if (cpu.gpr.buffer === mem.buffer) return;
  cpu.moveRegisters(new Uint32Array(mem.buffer, REG, 16), new Uint32Array(mem.buffer, REG_HIGH, 16));
}

/**
 * Moves `cpu`'s XMM registers and MXCSR into `mem` at XMM/MXCSR (`CpuState.moveSse`: values
 * copied, `state.xmm`/`mxcsr` re-pointed), so that the SSE forms compiled to wasm (emit-sse.ts)
 * read and write the very registers the interpreter and the JS backend do.
 */
export function moveSse(cpu: Cpu, mem: WasmMemory): void {
  if (cpu.state.xmm.buffer === mem.buffer) return;
  cpu.state.moveSse(new Uint8Array(mem.buffer, XMM, 256), new Uint32Array(mem.buffer, MXCSR, 1));
}

/**
 * Gives `cpu`'s TLB its wasm side in `mem` (the layout above) for the `frames` frames of RAM at
 * `RAM` (`WasmPhysicalMemory.wasmFrames`), built from the entries the TLB holds now
 * (`tlbWasmAttach`); from then on the TLB keeps it in step. Safe between two instructions.
 */
export function moveTlb(cpu: Cpu, mem: WasmMemory, frames: number): void {
  if (cpu.tlbWasm !== null && cpu.tlbWasm.buffer === mem.buffer) return;
  tlbWasmAttach(cpu, new Int32Array(mem.buffer, TLB_READ, (JC - TLB_READ) >> 2), frames, RAM);
}
