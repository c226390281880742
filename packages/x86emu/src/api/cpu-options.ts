import type { CpuState } from '../state.js';
import type { Intercepts } from './intercepts.js';
import type { PhysicalMemory } from './physical-memory.js';
import type { CpuidOps, InterruptControllerOps, MsrOps, PortIoOps, RandomOps } from './platform.js';

/** What `new Cpu(options)` needs. Only `memory` is required. */
export interface CpuOptions {
  /** The physical address space (host-physical for the silicon). */
  memory: PhysicalMemory;
  /** Port I/O; default: no devices (reads all ones, writes ignored). */
  io?: PortIoOps;
  /** MSRs the CPU does not own; default: none (#GP(0)). */
  msr?: MsrOps;
  /** CPUID; default: `defaultCpuid` (GenuineIntel, only the features x86emu implements). */
  cpuid?: CpuidOps;
  /** RDRAND's and RDSEED's bits; default: `defaultRandom()` (the host's generator, or `X86EMU_RANDOM_SEED`'s sequence). */
  random?: RandomOps;
  /** Source of maskable interrupts; default: none. */
  interrupts?: InterruptControllerOps;
  /** Virtualization hooks; default: none (a plain x86 CPU). */
  intercepts?: Intercepts;
  /**
   * FERR#, the x87 error output used when CR0.NE = 0 (SDM Vol. 1 8.7, "MS-DOS compatibility"):
   * called with true each time a waiting x87 instruction finds an unmasked exception pending
   * (a level: the instruction then proceeds, as with IGNNE# asserted), with false when
   * FNINIT/FNCLEX or an FPU state load clears it. A PC routes it to IRQ 13. Default: none.
   */
  ferr?: (asserted: boolean) => void;
  /** Start from this state (shared, not copied); default: a fresh power-on state. */
  state?: CpuState;
  /**
   * The block compiler (src/jit): hot guest code runs as compiled JavaScript, with the
   * interpreter's exact results; `false` runs the interpreter only; an object turns it on with
   * that tuning. Default: on, unless the environment variable `X86EMU_JIT` is `0`.
   */
  jit?: boolean | JitTuning;
}

/** Tuning of the block compiler (`CpuOptions.jit`). */
export interface JitTuning {
  /** Entries of an instruction boundary before a block is compiled there; default 1000 or `X86EMU_JIT_HOT`. */
  hot?: number;
  /**
   * Instructions the interpreter runs from a block start that count as one visit toward `hot`
   * (a visit counts at least 1): `X86EMU_JIT_RUN_UNIT`, else 8 (`RUN_UNIT`) for the wasm backend
   * and 0 for the JS backend; 0 counts visits alone.
   */
  runUnit?: number;
  /**
   * Visits that compile a block at once when they all came within `earlyWindow` instructions of
   * the first: code hot by its rate (a loop) compiles without waiting for `hot` visits. 0 (a bare
   * `Cpu`'s default), or at least `hot`, turns it off; `X86EMU_JIT_EARLY` where not given.
   */
  early?: number;
  /** The window of `early`, in instructions retired; default 2,000,000 (`EARLY_WINDOW`), or `X86EMU_JIT_EARLY_WINDOW`. */
  earlyWindow?: number;
  /** Compiled blocks kept before the code cache is flushed; default 4096. */
  maxBlocks?: number;
  /**
   * Basic blocks one compiled function may hold (src/jit/region.ts: blocks of one page reached
   * by direct branches, jumped between inside the function, of which those on a loop through its
   * entry are kept, and in the wasm backend's 64-bit code the forward ones too, unless
   * `X86EMU_JIT_REGIONS=cyclic`); default 4 (`REGION_BLOCKS`); 1 is a block alone, looping in itself when it
   * branches to its start. Larger regions measured slower in V8 (src/jit/README.md).
   */
  regionBlocks?: number;
  /**
   * The same for the wasm backend's 64-bit regions, which keep their page's forward blocks
   * (`FORWARD_REGION_BLOCKS`, 16, where `regionBlocks` is not given; else `regionBlocks`).
   */
  forwardRegionBlocks?: number;
  /**
   * The code generator: 'js' (default) or 'wasm', the prototype of src/jit/wasm (32-bit code outside
   * 64-bit mode; other regions still compile to JS); `X86EMU_JIT_BACKEND=wasm` when not given.
   */
  backend?: 'js' | 'wasm';
  /**
   * The wasm backend's modules compiled off this thread, by a compile worker (Node's
   * `worker_threads`; src/jit/wasm/async-compile.ts), while the interpreter runs on: the block is
   * installed when its module comes back, if its code is unchanged. Default false (every compile
   * at the visit that reaches `hot`, as tests count them), or `X86EMU_JIT_ASYNC=1`; where no worker
   * can be had (a browser page, `--jitless`) compiles stay synchronous. The engines leave it off:
   * their Debian boot was no faster with it at 5,000 visits and slower at 2,000, the hot region
   * interpreted while its module is away (src/jit/README.md, "Compiling off the vCPU thread").
   */
  asyncCompile?: boolean;
}

/** Page-table formats the walker knows (SDM Vol. 3 4.3, 4.4). */
export const PagingMode = {
  /** No paging: linear = physical. */
  None: 0,
  /** 32-bit paging: two levels of 4-byte entries, 4 MiB pages with CR4.PSE. */
  Legacy: 1,
  /** PAE paging: PDPTE + two levels of 8-byte entries, 2 MiB pages, XD with EFER.NXE. */
  Pae: 2,
  /**
   * 4-level paging (SDM 4.5): what IA-32e mode uses (CR3 with EFER.LMA), and a paging override's
   * format for a 64-bit host's shadow tables.
   */
  FourLevel: 3,
} as const;
export type PagingMode = (typeof PagingMode)[keyof typeof PagingMode];

/**
 * Translation override for shadow paging. When set (`Cpu.setPagingOverride`), linear
 * addresses are translated through `root` (a HOST-physical table in `mode` format) instead of
 * through the guest's CR3 / CR0.PG / CR4.PAE, which stay architectural and guest-visible. This is
 * what a CPU in VMX non-root operation does under shadow paging with unrestricted guest: the
 * guest's own paging state is only data the hypervisor's shadow tables were built from.
 * Protection uses the override's `wp`, `pse`, `nxe`, `pge` instead of CR0/CR4/EFER.
 */
export interface PagingOverride {
  mode: PagingMode;
  /** Physical address of the root (page directory, or PDPT for PAE: 32-byte aligned). */
  root: number;
  wp: boolean;
  pse: boolean;
  nxe: boolean;
  pge: boolean;
}
