#!/usr/bin/env node
// Alternated A/B boots of Debian's kernel to its shell on qemu-lite's software engine, for speed
// work on a noisy machine: two trees (each built), one boot at a time, the pair's order swapped
// every round, and for each boot the wall time, the process's CPU time, the vCPU thread's own
// CPU time (the busiest thread's, /proc: it is the guest's time, which neither V8's compiler
// threads nor the neighbours' load add to), when the vCPU thread started and when the kernel's
// banner came. Then the medians and the B/A ratio of each pair.
//
//   node tools/linux/boot-ab.mjs A_TREE B_TREE [--pairs N] [--accel vmx] [--a-env K=V,...]
//        [--b-env K=V,...] [--a-node-flags "--flag ..."] [--b-node-flags "..."]
//        [--a-args "-cpu max,-rdrand ..."] [--b-args "..."]
//
// A tree is a checkout with apps/qemu-lite built (pass the same tree twice with different env or
// node flags to compare settings: `--b-env X86EMU_JIT_HOT=2500`; or qemu-lite options, `--b-args
// "-cpu max,-serialize"`, to compare the guest with and without a CPU feature). The boot is the bench's
// (bench/linux-boot.mjs): 256 MiB, the uncompressed vmlinux through its PVH note, SOFT_CMDLINE.
// On this project's 2-core machines sequential boots of one tree spread 8-12 s within an hour;
// the vCPU thread's CPU time and alternated pairs resolve a few per cent (x86emu's jit README,
// "The vCPU thread's core, a new way to measure").

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as linux from './boot-marker.mjs';

function parseArgs(argv) {
  const o = { trees: [], pairs: 5, accel: 'vmx', env: [{}, {}], flags: [[], []], args: [[], []] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--pairs') o.pairs = Number(next());
    else if (a === '--accel') o.accel = next();
    else if (a === '--a-env' || a === '--b-env') {
      for (const kv of next().split(',')) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`${a}: ${kv} is not K=V`);
        o.env[a === '--a-env' ? 0 : 1][kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    } else if (a === '--a-node-flags' || a === '--b-node-flags')
      o.flags[a === '--a-node-flags' ? 0 : 1] = next().split(/\s+/).filter(Boolean);
    else if (a === '--a-args' || a === '--b-args')
      o.args[a === '--a-args' ? 0 : 1] = next().split(/\s+/).filter(Boolean);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.trees.push(resolve(a));
  }
  if (o.trees.length !== 2) throw new Error('two trees, A and B');
  if (!(o.pairs >= 1)) throw new Error('--pairs must be at least 1');
  return o;
}

/** One boot of `tree` to the shell marker: what it measured there, then the process is killed. */
function boot(tree, accel, env, flags, extra) {
  const cli = join(tree, 'apps/qemu-lite/dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing (build ${tree} first)`);
  const args = [...flags, cli, '-accel', accel, '-m', '256', '-nographic', '-no-reboot', ...extra];
  args.push('-kernel', linux.vmlinuxPath, '-initrd', linux.initramfsPath, '-append', linux.SOFT_CMDLINE);
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    let banner;
    let result;
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    const onData = (chunk) => {
      out += chunk.toString('latin1');
      if (banner === undefined && out.includes('Linux version')) banner = performance.now() - t0;
      if (result !== undefined || !out.includes(linux.MARKER)) return;
      const wall = performance.now() - t0;
      const vcpu = linux.busiestThread(child.pid);
      result = {
        wall,
        cpu: linux.processCpuMs(child.pid),
        vcpu: vcpu?.cpuMs,
        vcpuStart: vcpu?.startMs,
        banner,
      };
      child.kill('SIGKILL');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      if (result !== undefined) done(result);
      else fail(new Error(`${tree}: no shell marker; last output:\n${out.slice(-1500)}`));
    });
  });
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const s = (ms) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const files = linux.linuxFiles();
  if (!files.ok) throw new Error(`no kernel: ${files.why} (node tools/linux/fetch.mjs)`);
  const runs = [[], []];
  console.log(`boot-ab: ${o.pairs} pairs, -accel ${o.accel}; A ${o.trees[0]}, B ${o.trees[1]}`);
  console.log('side  wall   cpu    vcpu   vcpu-start  banner');
  for (let p = 0; p < o.pairs; p++) {
    // The side that goes first alternates: the second boot of a pair runs on a warmer machine.
    for (const side of p % 2 === 0 ? [0, 1] : [1, 0]) {
      const r = await boot(o.trees[side], o.accel, o.env[side], o.flags[side], o.args[side]);
      runs[side].push(r);
      console.log(
        `${'AB'[side]}     ${s(r.wall)}  ${s(r.cpu)}  ${s(r.vcpu)}  ${s(r.vcpuStart).padEnd(10)}  ${s(r.banner)}`,
      );
    }
  }
  // The start-up's two figures too: when the vCPU thread started, and the banner.
  for (const key of ['wall', 'cpu', 'vcpu', 'vcpuStart', 'banner']) {
    const [a, b] = runs.map((rs) => rs.map((r) => r[key]));
    if (a.includes(undefined) || b.includes(undefined)) continue;
    const ratios = a.map((x, i) => b[i] / x);
    const lower = ratios.filter((x) => x < 1).length;
    console.log(
      `${key.padEnd(10)} medians A ${s(median(a))} s, B ${s(median(b))} s; B/A by pair ` +
        `${ratios.map((x) => x.toFixed(3)).join(' ')} (median ${median(ratios).toFixed(3)}, B lower in ${lower} of ${ratios.length})`,
    );
  }
}

main().catch((e) => {
  console.error(`boot-ab: ${e.message}`);
  process.exit(1);
});
