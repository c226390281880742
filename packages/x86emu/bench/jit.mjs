// The block compiler (src/jit) against the interpreter, side by side in one run: the integer loop
// of bench/interpreter.mjs (8 instructions per iteration, result checked against plain JS) with
// 4 KiB paging and without, and in 64-bit mode under 4-level paging with 32-bit and with 64-bit
// (REX.W) operands, each with `jit: true` and `jit: false`. The compiled runs include
// their compile time; the code-cache figures are printed too.
//   pnpm --filter @kvm/x86emu bench        (after building; X86EMU_BENCH_ITER sets the iterations)
import { StopReason } from '../dist/index.js';
import { cpuSeconds, ITER, LOOP64, LOOP64W, machine32, machine64 } from './loops.mjs';

const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);

/** The loop of `kind`: 32-bit with paging or without, or 64-bit mode with 32- or 64-bit operands. */
function machine(kind, jit) {
  if (kind === 'long64') return machine64(LOOP64, jit);
  if (kind === 'long64w') return machine64(LOOP64W, jit);
  return machine32(kind === 'paging', jit);
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
