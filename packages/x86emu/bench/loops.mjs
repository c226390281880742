// What bench/interpreter.mjs and bench/jit.mjs share: the integer loop in its 32-bit and 64-bit
// forms, the machines that run it, and CPU time (steadier than wall time on a shared machine).
import { Cpu, FlatPhysicalMemory, SegAttr } from '../dist/index.js';

export const ITER = Number(process.env.X86EMU_BENCH_ITER ?? 2_000_000);
export const CODE = 0x10000;
export const DATA = 0x200000;
// top: mov edx,ecx; and edx,0x3ff; add eax,[esi+edx*4]; imul eax,eax,33; xor eax,ecx;
//      mov [esi+edx*4],eax; dec ecx; jnz top; hlt          (8 instructions per iteration)
export const LOOP = [
  0x89, 0xca, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x03, 0x04, 0x96, 0x6b, 0xc0, 0x21, 0x31, 0xc8, 0x89, 0x04, 0x96,
  0x49, 0x75, 0xea, 0xf4,
];
// The same loop in 64-bit mode: DEC ECX is FF C9 there (49H is a REX prefix).
export const LOOP64 = [
  0x89, 0xca, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x03, 0x04, 0x96, 0x6b, 0xc0, 0x21, 0x31, 0xc8, 0x89, 0x04, 0x96,
  0xff, 0xc9, 0x75, 0xe9, 0xf4,
];
// And with 64-bit operands (REX.W on every data instruction; the JS check uses the low half).
export const LOOP64W = [
  0x48, 0x89, 0xca, 0x48, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x48, 0x03, 0x04, 0xd6, 0x48, 0x6b, 0xc0, 0x21, 0x48,
  0x31, 0xc8, 0x48, 0x89, 0x04, 0xd6, 0xff, 0xc9, 0x75, 0xe3, 0xf4,
];

/** CPU time of this process since `c0` (user + system). */
export function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

/** ECX = ITER, ESI = DATA, RIP = CODE; the caller set the rest. */
function start(cpu) {
  const s = cpu.state;
  s.rip[0] = CODE;
  s.gpr[1] = ITER;
  s.gpr[6] = DATA;
  cpu.stateChanged();
  return cpu;
}

/**
 * `code` in 64-bit mode at CPL 0 under 4-level paging (4 KiB pages) identity-mapping 8 MiB, in
 * `mem` (16 MiB; a flat one unless given: a WasmGuestMemory for the wasm backend's 64-bit code).
 */
export function machine64(code, jit, mem = new FlatPhysicalMemory(16 << 20)) {
  mem.bytes.set(code, CODE);
  const cpu = new Cpu({ memory: mem, jit });
  const s = cpu.state;
  const pml4 = 0x800000;
  mem.write32(pml4, (pml4 + 0x1000) | 3);
  mem.write32(pml4 + 0x1000, (pml4 + 0x2000) | 3);
  for (let t = 0; t < 4; t++) {
    const pt = pml4 + 0x3000 + t * 0x1000;
    mem.write32(pml4 + 0x2000 + t * 8, pt | 3);
    for (let i = 0; i < 512; i++) mem.write32(pt + i * 8, ((t * 512 + i) * 4096) | 3);
  }
  s.cr[0] = 0x80000011;
  s.cr[4] = 0x20;
  s.cr[3] = pml4;
  s.efer[0] = 0x500;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] =
      r === 1
        ? 0xb | SegAttr.S | SegAttr.P | SegAttr.L | SegAttr.G
        : 3 | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  return start(cpu);
}

/** LOOP in flat 32-bit protected mode at CPL 0, with 32-bit paging identity-mapping 8 MiB or not. */
export function machine32(paging, jit) {
  const mem = new FlatPhysicalMemory(8 << 20);
  mem.bytes.set(LOOP, CODE);
  const cpu = new Cpu({ memory: mem, jit });
  const s = cpu.state;
  s.cr[0] = 0x11;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  if (paging) {
    const pd = 0x400000;
    for (let t = 0; t < 2; t++) {
      mem.write32(pd + t * 4, (pd + 0x1000 + t * 0x1000) | 3);
      for (let i = 0; i < 1024; i++)
        mem.write32(pd + 0x1000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 4096) | 3);
    }
    s.cr[3] = pd;
    s.cr[0] |= 0x80000000;
  }
  return start(cpu);
}
