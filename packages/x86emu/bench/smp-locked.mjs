// What the shared mode (src/smp/locked-memory.ts) costs one thread: the same Cpu, alone, with
// `lockedMemory` null (RAM private to one thread, today's engine) and set (RAM shared with other
// vCPU threads), alternated in one run, CPU seconds. Three loops: bench/loops.mjs's integer loop
// (no LOCK: the shared mode must cost nothing there), a loop of four locked 32-bit instructions
// (LOCK INC, LOCK XADD, XCHG, LOCK CMPXCHG: Atomics on the SharedArrayBuffer) and one of two
// locked 64-bit ones (LOCK INC qword, LOCK CMPXCHG qword: BigInt compare-exchanges). Then what a
// serializing point's code revalidation (serializeCode) costs the integer loop.
//   node packages/x86emu/bench/smp-locked.mjs      (after building; also in `pnpm bench`)
import os from 'node:os';
import { LockedMemory, StopReason, serializeCode } from '../dist/index.js';
import { cpuSeconds, ITER, LOOP, machine64 } from './loops.mjs';
import { buildRam, makeCpu } from './smp-machine.mjs';

const ROUNDS = Number(process.env.X86EMU_SMP_ROUNDS ?? 3);
// top: lock inc dword [esi]; lock xadd [esi+4],eax; xchg [esi+8],edx; lock cmpxchg [esi+12],edx;
//      dec ecx; jnz top; hlt                                      (6 instructions per iteration)
const LOCKED32 = [
  0xf0, 0xff, 0x06, 0xf0, 0x0f, 0xc1, 0x46, 0x04, 0x87, 0x56, 0x08, 0xf0, 0x0f, 0xb1, 0x56, 0x0c, 0x49, 0x75,
  0xed, 0xf4,
];
// top: lock inc qword [rsi]; lock cmpxchg [rsi+16],rdx; dec ecx; jnz top; hlt    (4 per iteration)
const LOCKED64 = [0xf0, 0x48, 0xff, 0x06, 0xf0, 0x48, 0x0f, 0xb1, 0x56, 0x10, 0xff, 0xc9, 0x75, 0xf2, 0xf4];

const lockWord = new Int32Array(new SharedArrayBuffer(4));

function make(kind) {
  // The compiled loop runs ~30 times as fast as the locked ones: 8 times the iterations.
  if (kind === 'loop') return makeCpu(buildRam(false, LOOP), 0, ITER * 8, undefined);
  if (kind === 'locked32') return makeCpu(buildRam(false, LOCKED32), 0, ITER / 4, undefined);
  const cpu = machine64(LOCKED64, undefined);
  cpu.state.gpr[1] = ITER / 4;
  return cpu;
}

function run(kind, shared) {
  const cpu = make(kind);
  if (shared) cpu.lockedMemory = new LockedMemory(cpu, lockWord);
  const c0 = process.cpuUsage();
  for (;;) {
    const r = cpu.run(1_000_000);
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  return { t: cpuSeconds(c0), n: cpu.instructionsRetired };
}

console.log(
  `x86emu shared-RAM mode on one thread (CPU s, ${ROUNDS} alternated rounds), load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const rows = [];
for (const kind of ['loop', 'locked32', 'locked64']) {
  let priv = 0;
  let shared = 0;
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? [false, true] : [true, false]) {
      const x = run(kind, s);
      if (s) shared += x.t;
      else priv += x.t;
      n = x.n;
    }
  }
  rows.push({
    loop: kind,
    'M insns': +(n / 1e6).toFixed(1),
    'private CPU s': +(priv / ROUNDS).toFixed(3),
    'shared CPU s': +(shared / ROUNDS).toFixed(3),
    'shared / private': +(shared / priv).toFixed(2),
  });
}
console.table(rows);

// serializeCode (src/smp/code-sync.ts) at every serializing point: the integer loop (one code
// page) with a revalidation after every `every` instructions, as an engine would at each KVM_RUN
// entry, beside the same loop without.
const SER = [];
for (const every of [50_000, 5_000, 500]) {
  let plain = 0;
  let ser = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? [false, true] : [true, false]) {
      const cpu = make('loop');
      const c0 = process.cpuUsage();
      for (;;) {
        const x = cpu.run(every);
        if (s) serializeCode(cpu);
        if (x === StopReason.Hlt) break;
      }
      if (s) ser += cpuSeconds(c0);
      else plain += cpuSeconds(c0);
    }
  }
  SER.push({
    'serialize every': every,
    'without CPU s': +(plain / ROUNDS).toFixed(3),
    'with CPU s': +(ser / ROUNDS).toFixed(3),
    'µs per serialize': +((((ser - plain) / ROUNDS) * 1e6) / ((ITER * 64) / every)).toFixed(2),
  });
}
console.table(SER);
