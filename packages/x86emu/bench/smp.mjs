// The ceiling of a thread per vCPU on the software engine (issue 14, QEMU's MTTCG): N x86emu Cpus,
// each in its own worker_thread over ONE guest RAM in a SharedArrayBuffer, against the same N Cpus
// taking turns on one thread (50,000 instructions a turn, qemu-lite's SMP_TURN_INSTRUCTIONS), at
// N = 1, 2, 4, alternated in one run. Every vCPU runs the same CPU-bound loop over its own data
// (smp-machine.mjs), so the work grows with N. CPU seconds are the whole process's (every thread),
// wall seconds from the start signal to the last vCPU's HLT (the workers' start-up, module load
// and Cpu construction are before it, and printed apart).
//   node packages/x86emu/bench/smp.mjs      (after building; also in `pnpm bench`)
//   X86EMU_SMP_ITER=N (iterations per vCPU, default 1,500,000: 12 M instructions), X86EMU_JIT=0
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SharedPhysicalMemory } from '../dist/index.js';
import { buildRam, makeCpu, runSlice } from './smp-machine.mjs';

const ITER = Number(process.env.X86EMU_SMP_ITER ?? 1_500_000);
const TURN = 50_000;
const ROUNDS = Number(process.env.X86EMU_SMP_ROUNDS ?? 2);

if (!isMainThread) {
  // A vCPU thread: its Cpu over the shared RAM, started by the main thread's signal.
  const { buffer, k, go } = workerData;
  const cpu = makeCpu(new SharedPhysicalMemory(buffer), k, ITER, undefined);
  const flag = new Int32Array(go);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
  while (!runSlice(cpu, 1_000_000));
  parentPort.postMessage({ eax: cpu.state.gpr[0], n: cpu.instructionsRetired });
} else {
  await main();
}

function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

/** N Cpus taking turns on this thread. */
function turns(n, plain = false) {
  const mem = buildRam(plain);
  const cpus = [];
  for (let k = 0; k < n; k++) cpus.push(makeCpu(mem, k, ITER, undefined));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const done = new Array(n).fill(false);
  let left = n;
  while (left > 0) {
    for (let k = 0; k < n; k++) {
      if (done[k]) continue;
      if (runSlice(cpus[k], TURN)) {
        done[k] = true;
        left--;
      }
    }
  }
  const wall = (performance.now() - t0) / 1e3;
  return {
    wall,
    cpu: cpuSeconds(c0),
    eax: cpus.map((c) => c.state.gpr[0]),
    insns: sum(cpus.map((c) => c.instructionsRetired)),
  };
}

/** N Cpus, a worker each, over one SharedArrayBuffer. */
async function threads(n) {
  const mem = buildRam();
  const go = new SharedArrayBuffer(4);
  const s0 = performance.now();
  const workers = [];
  const ready = [];
  const results = [];
  for (let k = 0; k < n; k++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { buffer: mem.buffer, k, go } });
    workers.push(w);
    ready.push(new Promise((res) => w.once('message', res)));
    results.push(
      new Promise((res, rej) => {
        w.on('message', (m) => m !== 'ready' && res(m));
        w.once('error', rej);
      }),
    );
  }
  await Promise.all(ready);
  const startup = (performance.now() - s0) / 1e3;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const out = await Promise.all(results);
  const wall = (performance.now() - t0) / 1e3;
  const cpu = cpuSeconds(c0);
  await Promise.all(workers.map((w) => w.terminate()));
  return { wall, cpu, startup, eax: out.map((r) => r.eax), insns: sum(out.map((r) => r.n)) };
}

function sum(a) {
  return a.reduce((x, y) => x + y, 0);
}

async function main() {
  console.log(
    `x86emu SMP ceiling: ${ITER.toLocaleString()} iterations (${((ITER * 8) / 1e6).toFixed(0)} M instructions) per vCPU, ` +
      `jit ${process.env.X86EMU_JIT === '0' ? 'off' : 'on'}, ${os.availableParallelism()} host CPUs, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const rows = [];
  for (const n of [1, 2, 4]) {
    const acc = { pw: 0, pc: 0, tw: 0, tc: 0, hw: 0, hc: 0, st: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      // Alternated: turns first in even rounds, threads first in odd ones.
      const order = r % 2 === 0 ? ['p', 't', 'h'] : ['h', 't', 'p'];
      for (const o of order) {
        if (o === 'p') {
          const t = turns(n, true);
          acc.pw += t.wall;
          acc.pc += t.cpu;
        } else if (o === 't') {
          const t = turns(n);
          acc.tw += t.wall;
          acc.tc += t.cpu;
          acc.teax = t.eax;
        } else {
          const h = await threads(n);
          acc.hw += h.wall;
          acc.hc += h.cpu;
          acc.st += h.startup;
          acc.heax = h.eax;
        }
      }
    }
    // Both schedules must compute the same thing.
    if (acc.teax.some((v, k) => v !== acc.heax[k]))
      throw new Error(`N=${n}: threads ${acc.heax} != turns ${acc.teax}`);
    rows.push({
      N: n,
      'turns (AB) CPU s': +(acc.pc / ROUNDS).toFixed(3),
      'turns wall s': +(acc.tw / ROUNDS).toFixed(3),
      'turns CPU s': +(acc.tc / ROUNDS).toFixed(3),
      'threads wall s': +(acc.hw / ROUNDS).toFixed(3),
      'threads CPU s': +(acc.hc / ROUNDS).toFixed(3),
      'wall ratio': +(acc.tw / acc.hw).toFixed(2),
      'thread start-up s': +(acc.st / ROUNDS).toFixed(3),
    });
  }
  console.table(rows);
  console.log(
    `load after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}
