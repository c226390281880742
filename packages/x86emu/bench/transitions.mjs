// What a round trip between compiled code and the interpreter costs: a 64-bit loop of four
// instructions (ADD; X; DEC R8D; JNZ) whose X the block compiler leaves to the interpreter
// (CPUID, STI: each ends the chain, runs as `Cpu.step`, and the loop's next iteration enters
// compiled code again), beside the same loop with NOP for X (one region that never leaves wasm),
// each with the wasm backend (RAM in a WasmGuestMemory, as the software engine's) and with the
// interpreter alone, interleaved in one run. The difference between "X, compiled" and "X,
// interpreter" is the price of leaving compiled code for one instruction and coming back: what a
// lower compile threshold pays at each boundary between compiled and interpreted code (the jit
// README's "Where the engine's time goes by guest code").
//   node bench/transitions.mjs     (after building; X86EMU_BENCH_ITER sets the iterations)
import { Flag, StopReason, WasmGuestMemory } from '../dist/index.js';
import { cpuSeconds, ITER, machine64 } from './loops.mjs';

const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
const STACK = 0x400000;

// top: add eax, ebx; X (2 bytes); dec r8d; jnz top; hlt
const loop = (x) => [0x01, 0xd8, ...x, 0x41, 0xff, 0xc8, 0x75, 0xf7, 0xf4];
const LOOPS = {
  nop: { what: 'NOP; NOP      (compiled)    ', code: loop([0x90, 0x90]) },
  cpuid: { what: 'CPUID         (interpreted) ', code: loop([0x0f, 0xa2]) },
  sti: { what: 'STI; NOP      (interpreted) ', code: loop([0xfb, 0x90]) },
};

/** `code` in 64-bit mode (bench/loops.mjs), RAM in wasm memory, R8 = ITER, a stack, IF = 1 for STI. */
function machine(code, jit) {
  const cpu = machine64(code, jit, new WasmGuestMemory(16 << 20));
  const s = cpu.state;
  s.gpr[4] = STACK;
  s.gpr[8] = ITER;
  s.rflags[0] |= Flag.IF;
  cpu.stateChanged();
  return cpu;
}

/** ns per iteration of `code` with the wasm backend (`jit` true) or the interpreter. */
function nsPerIteration(code, jit) {
  const cpu = machine(code, jit ? { backend: 'wasm' } : false);
  const c0 = process.cpuUsage();
  for (;;) {
    const r = cpu.run(1_000_000);
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  const secs = cpuSeconds(c0);
  if (cpu.state.gpr[8] !== 0) throw new Error(`the loop stopped early: R8D = ${cpu.state.gpr[8]}`);
  return { ns: (secs * 1e9) / ITER, entries: cpu.jit?.stats.entries ?? 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `x86emu: compiled code and the interpreter, ${ITER} iterations of ADD; X; DEC; JNZ in 64-bit mode, median of ${ROUNDS} interleaved runs, CPU ns per iteration`,
);
for (const { what, code } of Object.values(LOOPS)) {
  const on = [];
  const off = [];
  let entries = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = nsPerIteration(code, true);
    on.push(a.ns);
    entries = a.entries;
    off.push(nsPerIteration(code, false).ns);
  }
  const a = median(on);
  const b = median(off);
  console.log(
    `  ${what} wasm backend ${a.toFixed(1).padStart(6)} ns   interpreter ${b.toFixed(1).padStart(6)} ns   ×${(b / a).toFixed(2)}` +
      `   (entries into compiled code ${(entries / ITER).toFixed(2)} an iteration)`,
  );
}
