/**
 * Helpers for tests of packages built on x86emu (the silicon models, the differential tester):
 * ready-made CPU states. Import from `@kvm/x86emu/testing`.
 */
import { type CpuState, Cr0, SegAttr } from './state.js';

/**
 * Puts `state` in flat 32-bit protected mode at privilege `cpl`: CS/DS/ES/FS/GS/SS with base 0
 * and limit 4 GiB (selectors 0x08/0x10 at CPL 0, 0x1b/0x23 at CPL 3, matching a conventional
 * GDT), paging off, RFLAGS = 2, RIP = `rip`, ESP = `esp`. Call `cpu.stateChanged()` afterwards.
 * The descriptor tables are not written: a test that loads selectors or takes interrupts builds
 * its own GDT/IDT.
 */
export function setFlatProtectedMode(state: CpuState, rip: number, esp: number, cpl = 0): void {
  state.cr[0] = Cr0.PE | Cr0.ET;
  state.cpl = cpl;
  for (let seg = 0; seg < 6; seg++) {
    const code = seg === 1;
    state.segSel[seg] = code ? (cpl ? 0x1b : 0x08) : cpl ? 0x23 : 0x10;
    state.segBase[seg] = 0;
    state.segLimit[seg] = 0xffffffff;
    state.segAttr[seg] = (code ? 0xb : 0x3) | SegAttr.S | (cpl << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  state.rflags[0] = 2;
  state.rip[0] = rip >>> 0;
  state.gpr[4] = esp >>> 0;
}

/** Puts `state` in real mode with CS:IP = `cs`:`ip` and every data segment and SS at 0. */
export function setRealMode(state: CpuState, cs: number, ip: number, sp = 0x7000): void {
  state.cr[0] = Cr0.ET;
  state.cpl = 0;
  for (let seg = 0; seg < 6; seg++) {
    const sel = seg === 1 ? cs : 0;
    state.segSel[seg] = sel;
    state.segBase[seg] = sel << 4;
    state.segLimit[seg] = 0xffff;
    state.segAttr[seg] = SegAttr.P | SegAttr.S | (seg === 1 ? 0xb : 0x3);
  }
  state.rflags[0] = 2;
  state.rip[0] = ip & 0xffff;
  state.gpr[4] = sp;
}

/** The wasm backend against the JS one, block by block (bench/wasm.mjs). */
export {
  type BenchRegion64,
  compileJs,
  compileWasmBatched,
  generateModule64,
  regionAt,
} from './jit/wasm/bench-support.js';
