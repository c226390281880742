// The thread-per-vCPU ceiling with exits (issue 14): bench/smp.mjs's N vCPUs, each looping over its
// own data, now leave the guest every EXIT_EVERY instructions (default 4,400: a Linux boot on the
// software engine, about 8,000 exits a guest second) for EXIT_WORK µs of CPU-bound work (default
// 6: the exit path's ~5 % share of that boot, src/soft/README.md of @kvm/core). Two schedules, in
// one run, alternated:
// - turns: every vCPU on this thread (50,000 instructions a turn), its exits handled inline, as
//   the engine does today;
// - threads: vCPU 0 on this thread, each AP in a worker; an AP's exit (90 % of them) is handed to
//   this thread (the VM's: devices and MMU) through a mailbox and the AP waits (Atomics.wait), as
//   @kvm/core's design ("A thread per vCPU") has it; this thread serves the APs between its own
//   slices of EXIT_EVERY instructions (an AP's kick is seen at vCPU 0's next exit).
//   node packages/x86emu/bench/smp-exits.mjs       (after building; also in `pnpm bench`)
//   X86EMU_SMP_ITER (iterations per vCPU, default 1,000,000), X86EMU_SMP_EXIT_EVERY,
//   X86EMU_SMP_EXIT_WORK (µs), X86EMU_SMP_EXIT_HANDOVER (share handed over, default 0.9),
//   X86EMU_SMP_ROUNDS (default 2), X86EMU_SMP_JIT=1 (the compiler on)
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SharedPhysicalMemory } from '../dist/index.js';
import { buildRam, makeCpu, runSlice } from './smp-machine.mjs';

const ITER = Number(process.env.X86EMU_SMP_ITER ?? 1_000_000);
const EVERY = Number(process.env.X86EMU_SMP_EXIT_EVERY ?? 4400);
const WORK = Number(process.env.X86EMU_SMP_EXIT_WORK ?? 6);
const ROUNDS = Number(process.env.X86EMU_SMP_ROUNDS ?? 2);
const TURN = 50_000;
// The share of exits an AP hands over: #PF, port I/O and CR3 loads were 90 % of the boot's exits.
const HANDOVER = Number(process.env.X86EMU_SMP_EXIT_HANDOVER ?? 0.9);
const LOCAL_EVERY = HANDOVER >= 1 ? Number.POSITIVE_INFINITY : Math.max(1, Math.round(1 / (1 - HANDOVER)));
// Interpreted by default: about the instruction rate of Linux's boot on the engine (35 M/s).
const JIT = process.env.X86EMU_SMP_JIT === '1';
// Mailbox words: [0] doorbell (bumped at each request), [1 + k] AP k's request (0 none, 1 asked,
// 2 served), [1 + MAX] APs finished.
const MAX = 16;
const REQ = 1;
const DONE_COUNT = 1 + MAX;

/** An exit's handling: `WORK` µs of CPU on the calling thread. */
function work() {
  const end = performance.now() + WORK / 1000;
  while (performance.now() < end);
}

if (!isMainThread) {
  const { buffer, k, go, box } = workerData;
  const cpu = makeCpu(new SharedPhysicalMemory(buffer), k, ITER, JIT);
  const flag = new Int32Array(go);
  const mb = new Int32Array(box);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
  let exits = 0;
  while (!runSlice(cpu, EVERY)) {
    exits++;
    // Every 1/(1 - HANDOVER)th exit is the AP's own (CPUID, its MSRs, HLT); the others (#PF,
    // port I/O, CR3 loads: 90 % of the boot's) go to the VM's thread, and the AP waits.
    if (exits % LOCAL_EVERY === 0) {
      work();
      continue;
    }
    Atomics.store(mb, REQ + k, 1);
    Atomics.add(mb, 0, 1);
    Atomics.notify(mb, 0);
    while (Atomics.load(mb, REQ + k) !== 2) Atomics.wait(mb, REQ + k, 1);
    Atomics.store(mb, REQ + k, 0);
  }
  parentPort.postMessage({ eax: cpu.state.gpr[0], exits });
  Atomics.add(mb, DONE_COUNT, 1);
  Atomics.add(mb, 0, 1);
  Atomics.notify(mb, 0);
} else {
  await main();
}

function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

function turns(n) {
  const mem = buildRam();
  const cpus = [];
  for (let k = 0; k < n; k++) cpus.push(makeCpu(mem, k, ITER, JIT));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const done = new Array(n).fill(false);
  let left = n;
  while (left > 0) {
    for (let k = 0; k < n; k++) {
      for (let used = 0; !done[k] && used < TURN; used += EVERY) {
        if (runSlice(cpus[k], EVERY)) {
          done[k] = true;
          left--;
        } else work();
      }
    }
  }
  return { wall: (performance.now() - t0) / 1e3, cpu: cpuSeconds(c0), eax: cpus.map((c) => c.state.gpr[0]) };
}

async function threads(n) {
  const mem = buildRam();
  const go = new SharedArrayBuffer(4);
  const box = new SharedArrayBuffer(4 * (2 + MAX));
  const mb = new Int32Array(box);
  const workers = [];
  const ready = [];
  const results = [];
  for (let k = 1; k < n; k++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { buffer: mem.buffer, k, go, box } });
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
  const v0 = makeCpu(mem, 0, ITER, JIT);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  let v0done = false;
  let served = 0;
  for (;;) {
    const bell = Atomics.load(mb, 0);
    if (!v0done) {
      v0done = runSlice(v0, EVERY);
      if (!v0done) work();
    }
    // The APs' exits, handled on the VM's thread.
    for (let k = 1; k < n; k++) {
      if (Atomics.load(mb, REQ + k) === 1) {
        work();
        served++;
        Atomics.store(mb, REQ + k, 2);
        Atomics.notify(mb, REQ + k);
      }
    }
    if (v0done) {
      if (Atomics.load(mb, DONE_COUNT) === n - 1) break;
      Atomics.wait(mb, 0, bell, 10);
    }
  }
  const wall = (performance.now() - t0) / 1e3;
  const cpu = cpuSeconds(c0);
  const out = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  return { wall, cpu, served, eax: [v0.state.gpr[0], ...out.map((r) => r.eax)] };
}

async function main() {
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `x86emu SMP with exits: ${((ITER * 8) / 1e6).toFixed(0)} M instructions per vCPU, an exit every ${EVERY} ` +
      `(${WORK} µs of work, ${Math.round(HANDOVER * 100)} % handed over), jit ${JIT ? 'on' : 'off'}, ${os.availableParallelism()} host CPUs, load ${load()}`,
  );
  const rows = [];
  for (const n of [1, 2, 4]) {
    const acc = { tw: 0, tc: 0, hw: 0, hc: 0 };
    let teax;
    let heax;
    for (let r = 0; r < ROUNDS; r++) {
      for (const o of r % 2 === 0 ? ['t', 'h'] : ['h', 't']) {
        if (o === 't') {
          const t = turns(n);
          acc.tw += t.wall;
          acc.tc += t.cpu;
          teax = t.eax;
        } else {
          const h = await threads(n);
          acc.hw += h.wall;
          acc.hc += h.cpu;
          heax = h.eax;
        }
      }
    }
    if (teax.some((v, k) => v !== heax[k])) throw new Error(`N=${n}: threads ${heax} != turns ${teax}`);
    rows.push({
      N: n,
      'turns wall s': +(acc.tw / ROUNDS).toFixed(3),
      'turns CPU s': +(acc.tc / ROUNDS).toFixed(3),
      'threads wall s': +(acc.hw / ROUNDS).toFixed(3),
      'threads CPU s': +(acc.hc / ROUNDS).toFixed(3),
      'wall: turns / threads': +(acc.tw / acc.hw).toFixed(2),
      'CPU: threads / turns': +(acc.hc / acc.tc).toFixed(2),
    });
  }
  console.table(rows);
  console.log(`load after: ${load()}`);
}
