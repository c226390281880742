/**
 * Batching for the wasm backend: a module costs V8 about 0.4 ms of its own, a function in a
 * batched module 13–50 µs (../README.md "The wasm backend"), so the region that reaches the
 * threshold is compiled together with the block starts that are warm (a quarter of the threshold
 * or more) but not hot yet — v86 compiles a page's entry points in one module the same way. A
 * candidate is compiled only if its decode is still the page's (a code write, a TLB flush or a mode
 * change drops or re-keys decodes) and the CPU's mode is the one it was noted in.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import type { Insn } from '../../decoder/insn.js';
import type { JitBlock } from '../block.js';
import { collectRegion, type RegionBlock } from '../region.js';
import { compileWasm, type WasmRegionSpec, wasmBackend } from './compile.js';

/** Regions a module holds at most (64 measured 52–78 µs a block against 480–630 for one). */
export const BATCH = 64;
/**
 * The threshold of a wasm `Jit` when none is given: the JS backend's (jit.ts HOT), since a lower
 * one made Debian's boot slower with either backend (../README.md "The wasm backend on the
 * kernel"); warm block starts ride from a quarter.
 */
export const WASM_HOT = 1000;

interface Candidate {
  insn: Insn;
  eip: number;
  off: number;
  page: PageCode;
  modeKey: number;
  hi: number;
}

export class WasmBatch {
  private queue: Candidate[] = [];
  /** Candidates compiled with another region's module, and those dropped (stale, or full queue). */
  readonly stats = { riders: 0, stale: 0 };

  /** Notes block start `insn` (EIP `eip`, page offset `off` of `page`) as warm. */
  note(cpu: Cpu, insn: Insn, eip: number, off: number, page: PageCode): void {
    // 64-bit regions go to the JS backend unless `WasmBackend.long`: nothing to batch.
    if (cpu.long64 && !wasmBackend(cpu).long) return;
    if (this.queue.length >= BATCH - 1) {
      this.queue.shift();
      this.stats.stale++;
    }
    const hi = cpu.long64 ? cpu.state.rip[1] : 0;
    this.queue.push({ insn, eip, off, page, modeKey: cpu.modeKey, hi });
  }

  /**
   * The regions of the next module: region `blocks` (decode page `page`, the CPU's mode now; entry
   * decode `first`) and the queued candidates still valid, each with the decode it hangs on
   * (`owners[n]` for `specs[n]`: `first` for the region). A candidate is valid while no block hangs
   * on it, no compile of it is in flight off this thread (`jitHits` negative: ../jit.ts PENDING),
   * its decode is still the page's and the CPU's mode is the one it was noted in. The queue is
   * emptied. `forward`: 64-bit regions keep their page's forward blocks (../jit.ts `forwardBlocks`).
   */
  take(
    cpu: Cpu,
    first: Insn,
    blocks: RegionBlock[],
    page: PageCode,
    regionBlocks: number,
    forward = false,
  ): { specs: WasmRegionSpec[]; owners: Insn[] } {
    const long = cpu.long64;
    const specs: WasmRegionSpec[] = [{ blocks, page, long, hi: long ? cpu.state.rip[1] : 0 }];
    const owners: Insn[] = [first];
    const q = this.queue;
    this.queue = [];
    for (const c of q) {
      if (
        c.insn.jitBlock !== null ||
        c.insn.jitHits < 0 ||
        c.modeKey !== cpu.modeKey ||
        c.page.insns[c.off] !== c.insn
      ) {
        this.stats.stale++;
        continue;
      }
      if (c.insn === blocks[0].insns[0] && c.eip === blocks[0].eip) continue;
      const b = collectRegion(c.page, c.insn, c.eip, c.off, long, regionBlocks, !(forward && long));
      if (b.length === 0) continue;
      specs.push({ blocks: b, page: c.page, long, hi: c.hi });
      owners.push(c.insn);
    }
    return { specs, owners };
  }

  /**
   * Compiles region `blocks` (decode page `page`, the CPU's mode now) and the queued candidates
   * still valid (`take`) into one module, here and now; returns the region's block (null: no wasm
   * here) and the candidates' (decode, block) pairs. The queue is emptied.
   */
  compile(
    cpu: Cpu,
    blocks: RegionBlock[],
    page: PageCode,
    regionBlocks: number,
    forward = false,
  ): { first: JitBlock | null; riders: [Insn, JitBlock][] } {
    const { specs, owners } = this.take(cpu, blocks[0].insns[0], blocks, page, regionBlocks, forward);
    const out = compileWasm(cpu, specs);
    const riders: [Insn, JitBlock][] = [];
    for (let n = 1; n < out.length; n++) {
      const b = out[n];
      if (b !== null) riders.push([owners[n], b]);
    }
    this.stats.riders += riders.length;
    return { first: out[0], riders };
  }

  /** Forgets every candidate (the cache was flushed). */
  clear(): void {
    this.queue = [];
  }
}
