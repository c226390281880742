// What bench/smp.mjs's threads and turns share: one guest RAM (a SharedArrayBuffer) holding the
// integer loop of loops.mjs and 32-bit page tables identity-mapping 8 MiB, and a Cpu over it per
// vCPU, each looping over its own 4 KiB of data (ESI = DATA + k * 64 KiB) in flat 32-bit protected
// mode at CPL 0 with paging on.
import { Cpu, SegAttr, SharedPhysicalMemory, StopReason } from '../dist/index.js';
import { CODE, DATA, LOOP } from './loops.mjs';

export const RAM_SIZE = 8 << 20;
const PD = 0x400000;

/**
 * The RAM every vCPU shares: code and page tables written once; over a plain ArrayBuffer with
 * `plain` (what the engine's turns use today), else a SharedArrayBuffer; `code` in place of the loop.
 */
export function buildRam(plain = false, code = LOOP) {
  const mem = plain
    ? new SharedPhysicalMemory(new ArrayBuffer(RAM_SIZE))
    : SharedPhysicalMemory.allocate(RAM_SIZE);
  mem.bytes.set(code, CODE);
  for (let t = 0; t < 2; t++) {
    mem.write32(PD + t * 4, (PD + 0x1000 + t * 0x1000) | 3);
    for (let i = 0; i < 1024; i++) mem.write32(PD + 0x1000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 4096) | 3);
  }
  return mem;
}

/** vCPU `k` over `mem` (a SharedPhysicalMemory), ready to run `iter` iterations of the loop. */
export function makeCpu(mem, k, iter, jit) {
  const cpu = new Cpu({ memory: mem, jit });
  const s = cpu.state;
  s.cr[0] = 0x80000011;
  s.cr[3] = PD;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  s.rip[0] = CODE;
  s.gpr[1] = iter;
  s.gpr[6] = DATA + k * 0x10000;
  cpu.stateChanged();
  return cpu;
}

/** Runs `cpu` at most `budget` instructions; true once it halted (the loop's end). */
export function runSlice(cpu, budget) {
  const r = cpu.run(budget);
  if (r === StopReason.Hlt) return true;
  if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  return false;
}
