/**
 * What bench/wasm.mjs needs to compare the two backends block by block, outside `Jit`: the region
 * at an EIP the interpreter has decoded, compiled by either backend, and wasm modules batched N
 * regions at a time (as v86 compiles a page's blocks into one module). Exported from
 * `@kvm/x86emu/testing`; not an API for emulator users.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import type { JitBlock } from '../block.js';
import { compileRegion } from '../compile.js';
import { collectRegion, type RegionBlock } from '../region.js';
import { compileWasm, FUNC_TYPE, IMPORTS } from './compile.js';
import { generate64, type Site64 } from './compile64.js';
import { buildModule } from './encode.js';

export interface BenchRegion {
  blocks: RegionBlock[];
  page: PageCode;
}

/**
 * The region (of `regionBlocks` blocks at most) at `eip` in the page the CPU last fetched from
 * (run the code in the interpreter first, so that it is decoded), or null.
 */
export function regionAt(cpu: Cpu, eip: number, regionBlocks = 1): BenchRegion | null {
  const page = cpu.codePage;
  if (page === null) return null;
  const insn = page.insns[eip & 0xfff];
  if (insn === undefined) return null;
  const blocks = collectRegion(page, insn, eip, eip & 0xfff, cpu.long64, regionBlocks);
  return blocks.length === 0 ? null : { blocks, page };
}

/** The JS backend's function for `r` (`new Function`). */
export function compileJs(r: BenchRegion): JitBlock {
  return compileRegion(r.blocks, r.page, false, 0);
}

/** The wasm backend's functions for `list`, `batch` regions a module; null where it rejects one. */
export function compileWasmBatched(cpu: Cpu, list: BenchRegion[], batch: number): (JitBlock | null)[] {
  const out: (JitBlock | null)[] = [];
  for (let i = 0; i < list.length; i += batch) out.push(...compileWasm(cpu, list.slice(i, i + batch)));
  return out;
}

/** A 64-bit region as `generate64` takes it: its blocks (entry first) and RIP[63:32]. */
export interface BenchRegion64 {
  blocks: RegionBlock[];
  hi: number;
}

/**
 * `generate64` over `list` as `prepareWasm` runs it for one module (RAM of `ramPages` 4 KiB pages
 * in wasm memory: the inline memory path), without a CPU: bench/generate64.mjs times our code
 * generation alone on a boot's recorded regions. `encode`: the module's bytes too (else an empty
 * array); `codeBytes` is the functions' code, locals not counted.
 */
export function generateModule64(
  list: BenchRegion64[],
  ramPages: number,
  encode: boolean,
): { bytes: Uint8Array; codeBytes: number; sites: number } {
  const sites: Site64[] = [];
  const gens = list.map((r) => generate64(r.blocks, sites, ramPages, r.hi));
  let codeBytes = 0;
  for (const g of gens) codeBytes += g.f.code.length;
  const bytes = encode
    ? buildModule(
        ramPages / 16 + 1,
        IMPORTS,
        FUNC_TYPE,
        gens.map((g) => g.f),
      )
    : new Uint8Array(0);
  return { bytes, codeBytes, sites: sites.length };
}
