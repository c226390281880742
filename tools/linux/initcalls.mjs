#!/usr/bin/env node
// Where a slow boot spends its time, initcall by initcall: Debian's kernel booted with
// `initcall_debug ignore_loglevel` on qemu-lite's software engine and on QEMU's TCG (the
// reference of issue 18's "3× TCG" target), each initcall's duration as the kernel reports it
// ("initcall X returned 0 after N usecs", guest time, which both machines keep at the host's
// pace), side by side, largest excess first. With `--bare`, also each initcall's instructions:
// the same kernel on the bare x86emu harness (bare/), whose clock is the instruction count (1 ns
// an instruction), so its "usecs" are thousands of instructions, the same on every run; then the
// engine's and TCG's MIPS per initcall tell code that runs slowly (few MIPS on the engine, many
// on TCG) from time spent waiting (no instructions: a sleep, or another task running meanwhile,
// such as the kworker that builds tracefs while init waits for it in init_kprobe_trace).
//
//   node tools/linux/initcalls.mjs [--accel vmx] [--bare] [--top N] [--tree DIR]
//
// The printing that ignore_loglevel adds (a few hundred lines, each a few hundred port exits on
// the engine) lands in the initcalls that print, on both machines; the shell comes later than
// without it. Needs qemu-system-x86_64 (apt-get install qemu-system-x86) and cache/vmlinux
// (fetch.mjs); `--tree` takes another checkout's qemu-lite (default: this one's).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as linux from './boot-marker.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DEBUG = 'initcall_debug ignore_loglevel';

/** Each initcall's total duration in µs (an initcall that runs twice, in two modules, adds up). */
export function initcallTimes(consoleText) {
  const times = new Map();
  for (const m of consoleText.matchAll(/initcall (\S+) returned -?\d+ after (\d+) usecs/g))
    times.set(m[1], (times.get(m[1]) ?? 0) + Number(m[2]));
  return times;
}

function parseArgs(argv) {
  const o = { accel: 'vmx', bare: false, top: 30, tree: join(here, '..', '..') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--accel') o.accel = next();
    else if (a === '--bare') o.bare = true;
    else if (a === '--top') o.top = Number(next());
    else if (a === '--tree') o.tree = resolve(next());
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function engineBoot(tree, accel) {
  const cli = join(tree, 'apps/qemu-lite/dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing (build it first)`);
  const args = [cli, '-accel', accel, '-m', '256', '-nographic', '-no-reboot', '-kernel', linux.vmlinuxPath];
  args.push('-initrd', linux.initramfsPath, '-append', `${linux.SOFT_CMDLINE} ${DEBUG}`);
  return linux.runAndTime(process.execPath, args, { timeoutMs: 600_000 });
}

async function tcgBoot() {
  const args = linux.qemuArgs({
    accel: 'tcg',
    memMiB: 256,
    cmdline: `${linux.SOFT_CMDLINE} ${DEBUG}`,
    kernel: linux.vmlinuxPath,
  });
  return linux.runAndTime('qemu-system-x86_64', args, { timeoutMs: 600_000 });
}

async function bareBoot(tree) {
  const { bootOnBareCpu } = await import('./bare/run.mjs');
  const ql = await import(join(tree, 'apps/qemu-lite/dist/index.js'));
  const r = await bootOnBareCpu(ql, new Uint8Array(readFileSync(linux.kernelPath)), {
    initrd: new Uint8Array(readFileSync(linux.initramfsPath)),
    cmdline: `${linux.BARE_CMDLINE} ${DEBUG}`,
    load: linux.bareLoader(ql, 'kernel'),
    timeoutMs: 600_000,
    stopOn: linux.POWEROFF_RE,
  });
  return r.console;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(linux.vmlinuxPath))
    throw new Error(`${linux.vmlinuxPath} is missing: node tools/linux/fetch.mjs`);
  console.log(`initcalls of Debian's kernel, \`${DEBUG}\`: qemu-lite -accel ${o.accel} against QEMU TCG`);
  const engine = initcallTimes((await engineBoot(o.tree, o.accel)).out);
  const tcg = initcallTimes((await tcgBoot()).out);
  const bare = o.bare ? initcallTimes(await bareBoot(o.tree)) : new Map();
  const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const ms = (us) => (us / 1000).toFixed(1);
  console.log(
    `all initcalls: engine ${ms(sum(engine))} ms, TCG ${ms(sum(tcg))} ms (${engine.size} and ${tcg.size} initcalls)` +
      (o.bare ? `, ${(sum(bare) / 1000).toFixed(1)} M instructions on the bare harness` : ''),
  );
  const rows = [...engine].map(([name, us]) => ({
    name,
    us,
    tcg: tcg.get(name) ?? 0,
    insns: bare.get(name),
  }));
  rows.sort((a, b) => b.us - b.tcg - (a.us - a.tcg));
  const head = [
    'excess ms',
    'engine ms',
    'TCG ms',
    ...(o.bare ? ['M insns', 'engine MIPS', 'TCG MIPS'] : []),
  ];
  console.log(`${head.map((h) => h.padStart(12)).join('')}  initcall`);
  for (const r of rows.slice(0, o.top)) {
    // Bare "usecs" are thousands of instructions: instructions/µs = (usecs × 1000) / µs.
    const mips = (us) => (r.insns !== undefined && us > 0 ? ((r.insns * 1000) / us).toFixed(0) : '-');
    const cells = [ms(r.us - r.tcg), ms(r.us), ms(r.tcg)];
    if (o.bare)
      cells.push(r.insns !== undefined ? (r.insns / 1000).toFixed(2) : '-', mips(r.us), mips(r.tcg));
    console.log(`${cells.map((c) => c.padStart(12)).join('')}  ${r.name}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
