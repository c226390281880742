// The software engine's ceiling of a thread per vCPU (issue 14): N one-vCPU VMs of the vmx
// engine, each running the same integer loop over its own RAM with a port write to userspace every
// 512 iterations (about 4,100 guest instructions an exit, a Linux boot's rate on this engine), in
// two schedules from one run, alternated:
// - turns: every VM on this thread, each KVM_RUN in turn until the 50,000-instruction budget
//   ends it (EINTR), as qemu-lite runs the vCPUs of a `-smp` VM today;
// - threads: each VM built and run in its own worker;
// - handover: the same, but each exit for userspace is handed to this thread through a mailbox
//   and the worker waits until it is served, as qemu-lite's AP threads hand theirs over.
// The VMs share nothing (each its own RAM, MMU and silicon), so `threads` is the whole engine's
// upper bound for a thread per vCPU: V8 warm-up of x86emu, vmx, core and mmu in every thread, exits
// handled where they happen; `handover` adds the mailbox round trip a real SMP VM's device exits
// would need (its in-kernel #PF and CR3 exits would need one too: x86emu's bench/smp-exits.mjs).
//   node apps/qemu-lite/bench/smp-engine-ceiling.mjs     (after building)
//   SMP_CEILING_ITER (iterations per vCPU, default 1,500,000), SMP_CEILING_ROUNDS (default 2)
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Errno, KvmError } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing/guests';
import { createVmxKvm } from '@kvm/vmx';

const ITER = Number(process.env.SMP_CEILING_ITER ?? 1_500_000);
const ROUNDS = Number(process.env.SMP_CEILING_ROUNDS ?? 2);
const TURN = 50_000;
const KVM_EXIT_IO = 2;
const KVM_EXIT_HLT = 5;

// mov ecx, ITER; mov esi, 0x10000
// top: mov edx,ecx; and edx,0x3ff; add eax,[esi+edx*4]; imul eax,eax,33; xor eax,ecx;
//      mov [esi+edx*4],eax; test ecx,0x1ff; jnz 1f; out 0x80,al; 1: dec ecx; jnz top; hlt
const CODE = [
  0xb9,
  ITER & 0xff,
  (ITER >>> 8) & 0xff,
  (ITER >>> 16) & 0xff,
  ITER >>> 24,
  0xbe,
  0,
  0,
  1,
  0,
  0x89,
  0xca,
  0x81,
  0xe2,
  0xff,
  0x03,
  0,
  0,
  0x03,
  0x04,
  0x96,
  0x6b,
  0xc0,
  0x21,
  0x31,
  0xc8,
  0x89,
  0x04,
  0x96,
  0xf7,
  0xc1,
  0xff,
  0x01,
  0,
  0,
  0x75,
  0x02,
  0xe6,
  0x80,
  0x49,
  0x75,
  0xe0,
  0xf4,
];

function guest() {
  return protectedModeGuest(createVmxKvm({ runBudget: TURN }), CODE);
}

/** Runs `vcpu` until HLT (true) or, with `turn`, until its budget ends the turn (false). */
function runVcpu(vcpu, turn) {
  for (;;) {
    try {
      const r = vcpu.run();
      if (r === KVM_EXIT_HLT) return true;
      if (r !== KVM_EXIT_IO) throw new Error(`unexpected exit ${r}`);
    } catch (e) {
      if (!(e instanceof KvmError) || e.errno !== Errno.EINTR) throw e;
      if (turn) return false;
    }
  }
}

// Mailbox words for the handover schedule: [0] doorbell, [1 + k] vCPU k's exit (0 none, 1 posted,
// 2 served), [1 + MAX] vCPUs finished.
const MAX = 16;
const REQ = 1;
const DONE_COUNT = 1 + MAX;

/** Runs `vcpu` to HLT, handing each exit for userspace to the main thread and waiting for it. */
function runHandingOver(vcpu, mb, k) {
  for (;;) {
    try {
      const r = vcpu.run();
      if (r === KVM_EXIT_HLT) return;
      if (r !== KVM_EXIT_IO) throw new Error(`unexpected exit ${r}`);
    } catch (e) {
      if (!(e instanceof KvmError) || e.errno !== Errno.EINTR) throw e;
      continue;
    }
    Atomics.store(mb, REQ + k, 1);
    Atomics.add(mb, 0, 1);
    Atomics.notify(mb, 0);
    while (Atomics.load(mb, REQ + k) !== 2) Atomics.wait(mb, REQ + k, 1);
    Atomics.store(mb, REQ + k, 0);
  }
}

if (!isMainThread) {
  const { go, box, k } = workerData;
  const g = guest();
  const flag = new Int32Array(go);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
  if (box === undefined) runVcpu(g.vcpu, false);
  else runHandingOver(g.vcpu, new Int32Array(box), k);
  parentPort.postMessage({ eax: Number(g.vcpu.getRegs().rax & 0xffffffffn) });
  if (box !== undefined) {
    const mb = new Int32Array(box);
    Atomics.add(mb, DONE_COUNT, 1);
    Atomics.add(mb, 0, 1);
    Atomics.notify(mb, 0);
  }
} else {
  await main();
}

function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

function turns(n) {
  const gs = [];
  for (let k = 0; k < n; k++) gs.push(guest());
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const done = new Array(n).fill(false);
  let left = n;
  while (left > 0) {
    for (let k = 0; k < n; k++) {
      if (!done[k] && runVcpu(gs[k].vcpu, true)) {
        done[k] = true;
        left--;
      }
    }
  }
  const wall = (performance.now() - t0) / 1e3;
  return { wall, cpu: cpuSeconds(c0), eax: gs.map((g) => Number(g.vcpu.getRegs().rax & 0xffffffffn)) };
}

async function threads(n, handover = false) {
  const go = new SharedArrayBuffer(4);
  const box = handover ? new SharedArrayBuffer(4 * (2 + MAX)) : undefined;
  const workers = [];
  const ready = [];
  const results = [];
  for (let k = 0; k < n; k++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { go, box, k } });
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
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  if (box !== undefined) {
    // The VM's thread: serves every posted exit (a port write: nothing to do) until all halt.
    const mb = new Int32Array(box);
    for (;;) {
      const bell = Atomics.load(mb, 0);
      for (let k = 0; k < n; k++) {
        if (Atomics.load(mb, REQ + k) === 1) {
          Atomics.store(mb, REQ + k, 2);
          Atomics.notify(mb, REQ + k);
        }
      }
      if (Atomics.load(mb, DONE_COUNT) === n) break;
      Atomics.wait(mb, 0, bell, 10);
    }
  }
  const out = await Promise.all(results);
  const wall = (performance.now() - t0) / 1e3;
  const cpu = cpuSeconds(c0);
  await Promise.all(workers.map((w) => w.terminate()));
  return { wall, cpu, eax: out.map((r) => r.eax) };
}

async function main() {
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `vmx engine, a thread per vCPU against turns: ${((ITER * 11) / 1e6).toFixed(1)} M guest instructions and ` +
      `${Math.round(ITER / 512)} port exits per vCPU, ${os.availableParallelism()} host CPUs, load ${load()}`,
  );
  const rows = [];
  for (const n of [1, 2, 4]) {
    const acc = { tw: 0, tc: 0, hw: 0, hc: 0, mw: 0, mc: 0 };
    let teax;
    let heax;
    let meax;
    for (let r = 0; r < ROUNDS; r++) {
      for (const o of r % 2 === 0 ? ['t', 'h', 'm'] : ['m', 'h', 't']) {
        if (o === 't') {
          const t = turns(n);
          acc.tw += t.wall;
          acc.tc += t.cpu;
          teax = t.eax;
        } else if (o === 'h') {
          const h = await threads(n);
          acc.hw += h.wall;
          acc.hc += h.cpu;
          heax = h.eax;
        } else {
          const h = await threads(n, true);
          acc.mw += h.wall;
          acc.mc += h.cpu;
          meax = h.eax;
        }
      }
    }
    for (const other of [heax, meax])
      if (teax.some((v, k) => v !== other[k])) throw new Error(`N=${n}: threads ${other} != turns ${teax}`);
    rows.push({
      N: n,
      'turns wall s': +(acc.tw / ROUNDS).toFixed(3),
      'turns CPU s': +(acc.tc / ROUNDS).toFixed(3),
      'threads wall s': +(acc.hw / ROUNDS).toFixed(3),
      'threads CPU s': +(acc.hc / ROUNDS).toFixed(3),
      'wall: turns / threads': +(acc.tw / acc.hw).toFixed(2),
      'CPU: threads / turns': +(acc.hc / acc.tc).toFixed(2),
      'handover wall s': +(acc.mw / ROUNDS).toFixed(3),
      'handover CPU s': +(acc.mc / ROUNDS).toFixed(3),
    });
  }
  console.table(rows);
  console.log(`load after: ${load()}`);
}
