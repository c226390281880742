// The interpreter's cost per instruction against the amount of code it cycles through: a 64-bit
// loop over N distinct six-instruction units (a load, ALU, LEA, CMP and a Jcc, 18 bytes each),
// decoded once and then run from the decode cache with the block compiler off, for N from a few
// hundred instructions to most of a Linux boot's lukewarm code. Where the cost per instruction
// climbs with N, it is the decodes' and their pages' cache misses, not the work of the
// instructions (the same six in every unit): the measure of what a denser decode would buy
// (src/jit/README.md, "session 25").
//   node bench/working-set.mjs     (after building; X86EMU_BENCH_INSNS sets the instructions a size)
import { StopReason } from '../dist/index.js';
import { CODE, cpuSeconds, DATA, machine64 } from './loops.mjs';

const TOTAL = Number(process.env.X86EMU_BENCH_INSNS ?? 10_000_000);
const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
// mov rax,[rbx+8]; add rcx,rax; xor edx,ecx; lea rsi,[rsi+1]; cmp rax,rdx; jne +0
const UNIT = [
  0x48, 0x8b, 0x43, 0x08, 0x48, 0x01, 0xc1, 0x31, 0xca, 0x48, 0x8d, 0x76, 0x01, 0x48, 0x39, 0xd0, 0x75, 0x00,
];
const PER_UNIT = 6;

/** N units, then dec r8d; jnz top (rel32); hlt. */
function program(n) {
  const code = [];
  for (let i = 0; i < n; i++) code.push(...UNIT);
  const rel = -(code.length + 3 + 6);
  code.push(
    0x41,
    0xff,
    0xc8,
    0x0f,
    0x85,
    rel & 0xff,
    (rel >> 8) & 0xff,
    (rel >> 16) & 0xff,
    (rel >>> 24) & 0xff,
  );
  code.push(0xf4);
  return Uint8Array.from(code);
}

/** Runs the loop `iters` times from its top; returns at its HLT. */
function runLoop(cpu, iters) {
  const s = cpu.state;
  s.rip[0] = CODE;
  s.rip[1] = 0;
  s.gpr[8] = iters;
  s.gpr[3] = DATA;
  s.halted = false;
  cpu.stateChanged();
  for (;;) {
    const r = cpu.run(1_000_000);
    if (r === StopReason.Hlt) return;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
}

/** CPU ns per instruction of N units, decoded by a first pass that is not timed. */
function nsPerInstruction(n) {
  const cpu = machine64(program(n), false);
  runLoop(cpu, 1);
  const iters = Math.max(1, Math.round(TOTAL / (n * PER_UNIT)));
  const c0 = process.cpuUsage();
  runLoop(cpu, iters);
  return (cpuSeconds(c0) * 1e9) / (iters * (n * PER_UNIT + 2));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `x86emu interpreter (block compiler off): CPU ns per instruction by the code it cycles through, ~${TOTAL / 1e6} M instructions a size, median of ${ROUNDS}`,
);
// The smallest size, whose decodes stay in the first-level caches, is the baseline of the run.
let base = 0;
for (const n of [100, 1_000, 4_000, 16_000, 64_000, 100_000]) {
  const ns = [];
  for (let r = 0; r < ROUNDS; r++) ns.push(nsPerInstruction(n));
  const m = median(ns);
  if (base === 0) base = m;
  const kib = ((n * UNIT.length) / 1024).toFixed(0);
  console.log(
    `  ${String(n * PER_UNIT).padStart(7)} instructions (${kib.padStart(5)} KiB of code): ${m.toFixed(1).padStart(6)} ns   ×${(m / base).toFixed(2)}`,
  );
}
