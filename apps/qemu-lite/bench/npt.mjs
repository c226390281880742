#!/usr/bin/env node
/**
 * Two-dimensional paging against shadow paging on the software engine, in one run: AMD NPT on
 * `-accel svm` and Intel EPT on `-accel vmx`. The benchmark guests of tools/guests
 * (`bench-ctxsw32`: 16 address spaces, CR3 switches and pte rewrites; `bench-int32`: an integer
 * loop under 2-level paging) on `-accel svm,npt=off`, `svm,npt=on`, `vmx,ept=off`, `vmx,ept=on`
 * and x86emu alone (a bare Cpu with qemu-lite's devices), the modes alternated run by run. Each
 * figure is CPU seconds (process.cpuUsage: the guest runs on a worker thread of this process) of
 * a run with N iterations minus one with 0 (start-up cancels out), the median and the best of
 * --runs; the ratio (of medians) is to the bare x86emu. Also the exits of one run of each
 * engine mode.
 *
 *   node bench/npt.mjs [--runs 3] [--rounds 2000] [--iterations 2000] [--jit on|off]
 *                      [--modes svm,npt=off/svm,npt=on/vmx,ept=off/vmx,ept=on/x86emu]
 *
 * Builds nothing: `pnpm turbo run build --filter=qemu-lite... --filter=@kvm/guests` first.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOnBareCpu } from '../../../tools/guests/dist/index.js';
import { runGuest } from '../dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const runs = Number(arg('runs', '3'));
const jit = arg('jit', 'on') !== 'off';
const image = (name) => fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));

const MODES = arg('modes', 'svm,npt=off/svm,npt=on/vmx,ept=off/vmx,ept=on/x86emu').split('/');
const ENGINE_MODES = MODES.filter((m) => m !== 'x86emu');

/** CPU seconds of one run of `guest` with `append` in `mode`; with `counters`, the engine's counters (`-d exits`). */
async function once(mode, guest, append, counters = false) {
  const logFile = join(tmpdir(), `npt-bench-${process.pid}.log`);
  const c0 = process.cpuUsage();
  const stats = {};
  if (mode === 'x86emu') {
    const r = await runOnBareCpu(guest, { append, timeoutMs: 600_000, jit });
    if (!r.ok) throw new Error(`${guest} ${append} on x86emu: ${r.detail ?? r.ending}`);
  } else {
    const [accel, paging] = mode.split(',');
    const on = paging?.endsWith('=on');
    const r = await runGuest({
      kernel: image(guest),
      accel,
      ...(paging?.startsWith('npt') ? { npt: on } : {}),
      ...(paging?.startsWith('ept') ? { ept: on } : {}),
      jit,
      append,
      memory: '64M',
      timeoutMs: 600_000,
      noReboot: true,
      ...(counters ? { log: ['exits'], logFile } : {}),
    });
    if (r.exitReason.kind !== 'debug-exit')
      throw new Error(`${guest} ${append} on ${mode}: ${r.exitReason.kind}`);
    if (counters) {
      for (const m of readFileSync(logFile, 'utf8').matchAll(/^ engine (\S+) (\d+)$/gm))
        stats[m[1]] = Number(m[2]);
      rmSync(logFile, { force: true });
    }
  }
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, stats };
}

const workloads = [
  { guest: 'bench-ctxsw32', append: (n) => `rounds=${n}`, n: Number(arg('rounds', '2000')) },
  { guest: 'bench-int32', append: (n) => `iterations=${n}`, n: Number(arg('iterations', '2000')) },
];

const fmt = (x, d = 2) => x.toFixed(d).padStart(8);
for (const w of workloads) {
  const times = new Map(MODES.map((m) => [m, []]));
  const exits = new Map();
  for (let i = 0; i < runs; i++) {
    // Alternated: every mode sees the same share of the machine's load.
    for (const m of i % 2 === 0 ? MODES : [...MODES].reverse()) {
      const full = await once(m, w.guest, w.append(w.n));
      const zero = await once(m, w.guest, w.append(0));
      times.get(m).push(full.cpu - zero.cpu);
    }
  }
  // The counters of one more run per mode (logging is not in the timed runs).
  for (const m of ENGINE_MODES) exits.set(m, (await once(m, w.guest, w.append(w.n), true)).stats);
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const bare = median(times.get('x86emu') ?? [Number.NaN]);
  console.log(
    `\n${w.guest} ${w.append(w.n)} (jit ${jit ? 'on' : 'off'}, median and best of ${runs}, CPU s of N minus 0)`,
  );
  for (const m of MODES) {
    const t = times.get(m);
    console.log(
      `${m.padEnd(12)} ${fmt(median(t))} s (best ${fmt(Math.min(...t))})   ${fmt(median(t) / bare)}x bare x86emu`,
    );
  }
  for (const m of ENGINE_MODES) {
    const s = exits.get(m) ?? {};
    const keys = Object.keys(s).filter((k) => /^exit_|^mmu_pageFaults$|^mmu_shadowPagesCreated$/.test(k));
    console.log(`${m} exits: ${keys.map((k) => `${k}=${s[k]}`).join(' ')}`);
  }
}
