#!/usr/bin/env node
// Boot time of Debian's stock kernel to the /init marker, under qemu-lite (host engine) and
// under Debian's QEMU with -accel kvm, in the same run, with the same kernel, initramfs and
// command line, printed side by side with the ratio.
//
// Both VMMs skip the kernel's own XZ decompressor, which alone takes more than 15 minutes on
// this nested machine: qemu-lite decompresses the bzImage's payload on the host (its default),
// QEMU boots the same payload decompressed by tools/linux/fetch.mjs (cache/vmlinux) through its
// PVH entry. Without cache/vmlinux QEMU gets the bzImage, and the label says so.
//
// Needs /dev/kvm, the fetched kernel (tools/linux/fetch.mjs; run here if missing) and
// qemu-system-x86_64 (apt-get install -y qemu-system-x86 here if missing and we are root).
// Says plainly what it skipped and why. Env:
//   LINUX_BENCH_RUNS       boots per VMM (default 1: a boot takes minutes on nested KVM)
//   LINUX_BENCH_TIMEOUT_S  per boot (default 180: seconds on real hardware; here the marker is never
//                          reached, see tools/linux/README.md, and the milestones reached are printed)
//   LINUX_BENCH_ONLY       "qemu-lite" or "qemu" to run one side only

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as linux from '../../../tools/linux/boot-marker.mjs';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(appDir, 'dist', 'cli.js');
const runs = Number(process.env.LINUX_BENCH_RUNS ?? 1);
const timeoutMs = Number(process.env.LINUX_BENCH_TIMEOUT_S ?? 180) * 1000;
const only = process.env.LINUX_BENCH_ONLY;
const QEMU_LABEL = 'QEMU -accel kvm -M microvm';

function say(msg) {
  console.log(`linux-boot bench: ${msg}`);
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

function ensureFiles() {
  if (linux.linuxFiles().ok) return true;
  say('kernel/initramfs not fetched yet: running tools/linux/fetch.mjs');
  const r = spawnSync(process.execPath, [linux.fetchScript], { stdio: ['ignore', 'ignore', 'inherit'] });
  return r.status === 0 && linux.linuxFiles().ok;
}

function ensureQemu() {
  let qemu = which('qemu-system-x86_64');
  if (qemu) return qemu;
  if (process.getuid?.() !== 0) {
    say('SKIPPED the QEMU baseline: qemu-system-x86_64 is missing and we are not root to apt-get install it');
    return undefined;
  }
  say('installing qemu-system-x86 (apt-get install -y --no-install-recommends qemu-system-x86)');
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'qemu-system-x86'], { stdio: 'inherit' });
  qemu = which('qemu-system-x86_64');
  if (!qemu)
    say("SKIPPED the QEMU baseline: apt-get could not install qemu-system-x86 (run 'apt-get update' first?)");
  return qemu;
}

/**
 * Boots `runs` times; returns the median milliseconds to each milestone reached in every run
 * (the marker is the "userspace" milestone), or {} when the first run reached none.
 */
async function timeBoots(name, cmd, args) {
  const perMilestone = Object.fromEntries(linux.MILESTONES.map((m) => [m.name, []]));
  for (let i = 0; i < runs; i++) {
    const r = await linux.runAndTime(cmd, args, { timeoutMs });
    const reached = linux.MILESTONES.filter((m) => r.milestoneMs[m.name] !== undefined)
      .map((m) => `${m.name} ${(r.milestoneMs[m.name] / 1000).toFixed(1)} s`)
      .join(', ');
    say(
      `${name}: run ${i + 1}: milestones: ${reached || 'none'}; exit after ${(r.totalMs / 1000).toFixed(1)} s`,
    );
    for (const m of linux.MILESTONES) perMilestone[m.name].push(r.milestoneMs[m.name]);
    if (r.markerMs === undefined) {
      say(
        `${name}: no marker ${r.timedOut ? `within ${timeoutMs / 1000} s` : `(exited ${r.code ?? r.signal})`}; last output:`,
      );
      console.log(r.out.slice(-2000));
      break;
    }
  }
  const medians = {};
  for (const [milestone, times] of Object.entries(perMilestone)) {
    if (times.length === 0 || times.some((t) => t === undefined)) continue;
    const sorted = [...times].sort((a, b) => a - b);
    medians[milestone] = sorted[Math.floor(sorted.length / 2)];
  }
  return medians;
}

async function main() {
  if (!existsSync('/dev/kvm')) return say('SKIPPED: /dev/kvm is absent');
  if (!ensureFiles())
    return say("SKIPPED: could not fetch the kernel (needs Debian's apt-get and 'apt-get update')");
  const { manifest } = linux.linuxFiles();
  say(`${manifest.kernelPackage} ${manifest.kernelVersion}, busybox-static ${manifest.busyboxVersion}`);
  say(`command line: ${linux.TEST_CMDLINE}`);
  const results = {};
  if (only !== 'qemu') {
    if (!existsSync(cli)) say(`SKIPPED qemu-lite: ${cli} is missing (build qemu-lite first)`);
    else {
      const args = [
        cli,
        '-accel',
        'kvm',
        '-m',
        '512',
        '-nographic',
        '-no-reboot',
        '-kernel',
        linux.kernelPath,
        '-initrd',
        linux.initramfsPath,
        '-append',
        linux.TEST_CMDLINE,
      ];
      results['qemu-lite (host engine)'] = await timeBoots('qemu-lite', process.execPath, args);
    }
  }
  if (only !== 'qemu-lite') {
    const qemu = ensureQemu();
    if (qemu) {
      const pvh = existsSync(linux.vmlinuxPath);
      const args = linux.qemuArgs(pvh ? { kernel: linux.vmlinuxPath } : {});
      say(
        `QEMU boots ${pvh ? 'cache/vmlinux through PVH' : 'the bzImage (its decompressor runs in the guest)'}`,
      );
      results[QEMU_LABEL] = await timeBoots('QEMU', qemu, args);
    }
  }
  console.log('');
  const mine = results['qemu-lite (host engine)'] ?? {};
  const base = results[QEMU_LABEL] ?? {};
  const fmt = (ms) => (ms === undefined ? 'not reached' : `${(ms / 1000).toFixed(1)} s`);
  console.log(`boot time from process start (median of ${runs}; "userspace" is the /init marker)`);
  console.log(
    `  ${'milestone'.padEnd(16)}${'qemu-lite (host engine)'.padEnd(26)}${QEMU_LABEL.padEnd(30)}ratio`,
  );
  for (const m of linux.MILESTONES) {
    const a = mine[m.name];
    const b = base[m.name];
    const ratio = a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : '-';
    console.log(`  ${m.name.padEnd(16)}${fmt(a).padEnd(26)}${fmt(b).padEnd(30)}${ratio}`);
  }
}

await main();
