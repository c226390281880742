// The block compiler (src/jit) against the interpreter, side by side in one run: the integer loop
// of bench/interpreter.mjs (8 instructions per iteration, result checked against plain JS) with
// 4 KiB paging and without, and in 64-bit mode under 4-level paging with 32-bit and with 64-bit
// (REX.W) operands, each with `jit: true` and `jit: false`. The compiled runs include
// their compile time; the code-cache figures are printed too.
//   pnpm --filter @kvm/x86emu bench        (after building; X86EMU_BENCH_ITER sets the iterations)
import { Cpu, FlatPhysicalMemory, SegAttr, StopReason } from '../dist/index.js';

const ITER = Number(process.env.X86EMU_BENCH_ITER ?? 2_000_000);
const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
const CODE = 0x10000;
const DATA = 0x200000;
// The loop of bench/interpreter.mjs:
// top: mov edx,ecx; and edx,0x3ff; add eax,[esi+edx*4]; imul eax,eax,33; xor eax,ecx;
//      mov [esi+edx*4],eax; dec ecx; jnz top; hlt
const LOOP = [
  0x89, 0xca, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x03, 0x04, 0x96, 0x6b, 0xc0, 0x21, 0x31, 0xc8, 0x89, 0x04, 0x96,
  0x49, 0x75, 0xea, 0xf4,
];
// The same loop in 64-bit mode (DEC ECX is FF C9 there), and with REX.W on every data instruction.
const LOOP64 = [
  0x89, 0xca, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x03, 0x04, 0x96, 0x6b, 0xc0, 0x21, 0x31, 0xc8, 0x89, 0x04, 0x96,
  0xff, 0xc9, 0x75, 0xe9, 0xf4,
];
const LOOP64W = [
  0x48, 0x89, 0xca, 0x48, 0x81, 0xe2, 0xff, 0x03, 0, 0, 0x48, 0x03, 0x04, 0xd6, 0x48, 0x6b, 0xc0, 0x21, 0x48,
  0x31, 0xc8, 0x48, 0x89, 0x04, 0xd6, 0xff, 0xc9, 0x75, 0xe3, 0xf4,
];

function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

/** 64-bit mode at CPL 0, 4-level paging (4 KiB pages) identity-mapping the first 8 MiB. */
function machine64(code, jit) {
  const mem = new FlatPhysicalMemory(16 << 20);
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
  s.rip[0] = CODE;
  s.gpr[1] = ITER;
  s.gpr[6] = DATA;
  cpu.stateChanged();
  return cpu;
}

/** Flat 32-bit protected mode at CPL 0, optionally with 32-bit paging identity-mapping 8 MiB. */
function machine(kind, jit) {
  if (kind === 'long64') return machine64(LOOP64, jit);
  if (kind === 'long64w') return machine64(LOOP64W, jit);
  const paging = kind === 'paging';
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
  s.rip[0] = CODE;
  s.gpr[1] = ITER;
  s.gpr[6] = DATA;
  cpu.stateChanged();
  return cpu;
}

function guest(kind, jit) {
  const cpu = machine(kind, jit);
  const c0 = process.cpuUsage();
  let n = 0;
  for (;;) {
    const before = cpu.instructionsRetired;
    const r = cpu.run(1_000_000);
    n += cpu.instructionsRetired - before;
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  const secs = cpuSeconds(c0);
  return {
    ips: n / secs,
    eax: cpu.state.gpr[0],
    n,
    jit: cpu.jit?.stats ?? null,
    blocks: cpu.jit?.blocks ?? 0,
  };
}

function expected() {
  const data = new Uint32Array(1024);
  let eax = 0;
  for (let ecx = ITER; ecx !== 0; ecx--) {
    const edx = ecx & 0x3ff;
    eax = Math.imul((eax + data[edx]) | 0, 33) ^ ecx;
    data[edx] = eax;
  }
  return eax >>> 0;
}

const want = expected();
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
const KINDS = {
  paging: 'paging on (4 KiB)',
  flat: 'paging off       ',
  long64: '64-bit, 32-bit ops',
  long64w: '64-bit, REX.W ops ',
};
for (const kind of Object.keys(KINDS)) {
  const on = [];
  const off = [];
  let last = null;
  // Interleaved, so that machine noise hits both alike.
  for (let r = 0; r < ROUNDS; r++) {
    const a = guest(kind, true);
    const b = guest(kind, false);
    if (a.eax !== want || b.eax !== want) throw new Error(`results differ: ${a.eax} ${b.eax} ${want}`);
    on.push(a.ips);
    off.push(b.ips);
    last = a;
  }
  rows.push({ kind, on: median(on), off: median(off), last });
}
const fmt = (x) => `${(x / 1e6).toFixed(1).padStart(6)} M/s`;
console.log(
  `x86emu block compiler, ${ITER} iterations × 8 instructions (integer loop, result checked), median of ${ROUNDS} interleaved runs, per CPU second`,
);
for (const r of rows) {
  const j = r.last.jit;
  console.log(
    `  ${KINDS[r.kind]}  jit on ${fmt(r.on)}   jit off ${fmt(r.off)}   ×${(r.on / r.off).toFixed(2)}` +
      `   (${j.compiled} blocks compiled in ${j.compileMs.toFixed(2)} ms, ${r.last.blocks} live, ${(j.sourceBytes / 1024).toFixed(1)} KiB of source)`,
  );
}
