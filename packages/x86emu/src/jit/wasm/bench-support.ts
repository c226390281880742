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
import { compileWasm } from './compile.js';

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
