// The interpreter's cost per instruction against the code it cycles through, two ways, with the
// block compiler off (decoded once, then run from the decode cache):
//   - by size: a 64-bit loop over N copies of one six-instruction unit (a load, ALU, LEA, CMP and
//     a Jcc), for N from a few hundred instructions to most of a Linux boot's lukewarm code: where
//     the cost climbs with N it is the decodes' cache misses (the same six handlers throughout);
//   - by variety: loops of the same length made of five forms in turn, or of forty forms in a
//     random order (ALU, shifts, moves, loads and stores, SETcc, CMOVcc, IMUL…), where the cost
//     climbs with the variety it is the dispatch (`insn.exec`, one indirect call an instruction,
//     to a target the host's branch predictor cannot learn) and the handlers' own code.
// Kernel code is lukewarm, varied and scattered; these two bound what a denser decode and what a
// cheaper dispatch would buy (src/jit/README.md, "session 25").
//   node bench/working-set.mjs     (after building; X86EMU_BENCH_INSNS sets the instructions a row)
import { StopReason } from '../dist/index.js';
import { CODE, cpuSeconds, DATA, machine64 } from './loops.mjs';

const TOTAL = Number(process.env.X86EMU_BENCH_INSNS ?? 10_000_000);
const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
// mov rax,[rbx+8]; add rcx,rax; xor edx,ecx; lea rsi,[rsi+1]; cmp rax,rdx; jne +0
const UNIT = [
  [0x48, 0x8b, 0x43, 0x08],
  [0x48, 0x01, 0xc1],
  [0x31, 0xca],
  [0x48, 0x8d, 0x76, 0x01],
  [0x48, 0x39, 0xd0],
  [0x75, 0x00],
];
/** jne +0: the branch every sixth instruction in the variety loops, as in UNIT. */
const JNE0 = [0x75, 0x00];
/**
 * Forty forms on RAX, RCX, RDX, RSI, RDI and memory at RBX (never RSP or R8, the loop's count):
 * ALU register and immediate forms, INC/DEC, shifts and rotates, MOV imm, LEA, MOVZX/MOVSX/MOVSXD,
 * TEST/CMP, BSWAP, NOT/NEG, IMUL, SETcc, CMOVcc, XCHG, loads and stores, 16- and 8-bit ALU, CDQE.
 */
const FORMS = [
  [0x48, 0x01, 0xc1],
  [0x48, 0x29, 0xd1],
  [0x31, 0xca],
  [0x09, 0xc6],
  [0x21, 0xd7],
  [0x48, 0x11, 0xc2],
  [0x48, 0x19, 0xd6],
  [0xff, 0xc0],
  [0xff, 0xc9],
  [0x48, 0xc1, 0xe0, 0x03],
  [0x48, 0xc1, 0xe9, 0x05],
  [0x48, 0xc1, 0xfa, 0x02],
  [0x48, 0xc1, 0xc6, 0x07],
  [0x48, 0xc1, 0xcf, 0x09],
  [0xb8, 0x78, 0x56, 0x34, 0x12],
  [0x48, 0x8d, 0x74, 0x0a, 0x05],
  [0x0f, 0xb6, 0xc1],
  [0x48, 0x0f, 0xbe, 0xd6],
  [0x48, 0x85, 0xc8],
  [0x48, 0x39, 0xd0],
  [0x0f, 0xc8],
  [0x48, 0xf7, 0xd1],
  [0x48, 0xf7, 0xda],
  [0x48, 0x0f, 0xaf, 0xc2],
  [0x0f, 0x94, 0xc1],
  [0x48, 0x0f, 0x44, 0xf0],
  [0x48, 0x87, 0xd6],
  [0x48, 0x8b, 0x43, 0x08],
  [0x48, 0x89, 0x4b, 0x10],
  [0x48, 0x03, 0x53, 0x18],
  [0x80, 0x7b, 0x20, 0x05],
  [0x48, 0x8b, 0x7b, 0x28],
  [0x0f, 0xb7, 0x73, 0x30],
  [0x83, 0xc0, 0x07],
  [0x48, 0x83, 0xe1, 0x7f],
  [0x48, 0x83, 0xf2, 0x33],
  [0x66, 0x01, 0xc8],
  [0x00, 0xd1],
  [0x48, 0x63, 0xc1],
  [0x48, 0x98],
];
/** Five of FORMS, taken in turn: as many forms as UNIT's non-branches. */
const FIVE = [0, 2, 15, 19, 27].map((i) => FORMS[i]);

/** `body` (instruction byte arrays), then dec r8d; jnz top (rel32); hlt. */
function program(body) {
  const code = body.flat();
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

/** `n` instructions of `forms`: in turn, or in a fixed pseudo-random order (`shuffled`); a JNE every sixth. */
function variety(n, forms, shuffled) {
  let seed = 12345;
  const body = [];
  for (let i = 0; i < n; i++) {
    if (i % 6 === 5) body.push(JNE0);
    else if (!shuffled) body.push(forms[i % forms.length]);
    else {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      body.push(forms[seed % forms.length]);
    }
  }
  return body;
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

/** CPU ns per instruction of the loop over `body`, decoded by a first pass that is not timed. */
function nsPerInstruction(body) {
  const cpu = machine64(program(body), false);
  runLoop(cpu, 1);
  const per = body.length + 2;
  const iters = Math.max(1, Math.round(TOTAL / per));
  const c0 = process.cpuUsage();
  runLoop(cpu, iters);
  return (cpuSeconds(c0) * 1e9) / (iters * per);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const measure = (body) => median(Array.from({ length: ROUNDS }, () => nsPerInstruction(body)));

console.log(
  `x86emu interpreter (block compiler off): CPU ns per instruction, ~${TOTAL / 1e6} M instructions a row, median of ${ROUNDS}`,
);
console.log('  by size (one six-instruction unit repeated; the smallest is the baseline):');
let base = 0;
for (const units of [100, 1_000, 4_000, 16_000, 64_000, 100_000]) {
  const body = Array.from({ length: units }, () => UNIT).flat(1);
  const ns = measure(body);
  if (base === 0) base = ns;
  const kib = ((body.flat().length / 1024) | 0).toString();
  console.log(
    `    ${String(body.length).padStart(7)} instructions (${kib.padStart(5)} KiB of code): ${ns.toFixed(1).padStart(6)} ns   ×${(ns / base).toFixed(2)}`,
  );
}
console.log('  by variety (five forms in turn, the baseline, against forty in a random order):');
for (const n of [600, 6_000, 60_000]) {
  const five = measure(variety(n, FIVE, false));
  const forty = measure(variety(n, FORMS, true));
  console.log(
    `    ${String(n).padStart(7)} instructions: five forms ${five.toFixed(1).padStart(6)} ns, forty ${forty.toFixed(1).padStart(6)} ns   ×${(forty / five).toFixed(2)}`,
  );
}
