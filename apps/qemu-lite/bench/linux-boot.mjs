#!/usr/bin/env node
// Boot time of Debian's stock kernel to the shell (the /init marker) and to its power-off, on
// qemu-lite's software engine (-accel vmx, -accel svm), beside QEMU's TCG (qemu-system-x86_64
// -accel tcg, Debian's package) on the same kernel, initramfs and command line, with the guest
// instructions the software engine retired (qemu-lite's `-d exits`) and, for reference, the
// same boot on a bare x86emu Cpu (tools/linux/bare: no hypervisor, exact instruction count).
// Each row gives wall time and CPU time (user + system over every thread of the VMM's process,
// from /proc, at the marker and at the power-off line): on a machine others load, wall time
// counts their work too. MIPS effective = instructions retired / time to power-off.
//
// Every VMM skips the kernel's own XZ decompressor (minutes of guest instructions): both boot the
// payload decompressed by tools/linux/fetch.mjs (cache/vmlinux) through its PVH entry. Without
// cache/vmlinux (or with LINUX_BENCH_KERNEL=bzimage) qemu-lite gets the bzImage and decompresses
// its payload on the host (its default entry, ~1 s), QEMU gets the bzImage, and the log says so.
//
// Needs the fetched kernel (tools/linux/fetch.mjs; run here if missing) and, for the baseline,
// qemu-system-x86_64 (apt-get install -y qemu-system-x86 here if missing and we are root; only
// the bench needs it). Says plainly what it skipped and why. Env:
//   LINUX_BENCH_ENGINES    comma list of vmx, vmx-ept, svm, svm-npt, tcg, bare, kvm, qemu-kvm (default
//                          vmx,svm,tcg,bare; vmx and svm: -accel vmx,ept=off and svm,npt=off,
//                          the shadow MMU as earlier runs; vmx-ept and svm-npt: Intel EPT and AMD
//                          nested paging, qemu-lite's defaults for -accel vmx and svm;
//                          each of these with -js or -wasm (vmx-js, svm-npt-wasm, ...): that
//                          code generator, jit=js or jit=wasm (without: qemu-lite's default,
//                          wasm since 2026-12-06);
//                          kvm/qemu-kvm: the host engine and QEMU -accel kvm, where /dev/kvm is)
//   LINUX_BENCH_TIMEOUT_S  per boot (default 600)
//   LINUX_BENCH_RUNS       boots per engine (default 1)
//   LINUX_BENCH_KERNEL     vmlinux (default: the software engine's rows boot cache/vmlinux through
//                          its PVH note, the image QEMU's rows boot) or bzimage (the bzImage,
//                          its payload decompressed by qemu-lite on the host)

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootOnBareCpu } from '../../../tools/linux/bare/run.mjs';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import { cpuidGap } from '../../../tools/linux/soft-engine.mjs';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(appDir, 'dist', 'cli.js');
const runs = Number(process.env.LINUX_BENCH_RUNS ?? 1);
const timeoutMs = Number(process.env.LINUX_BENCH_TIMEOUT_S ?? 600) * 1000;
const engines = (process.env.LINUX_BENCH_ENGINES ?? 'vmx,svm,tcg,bare').split(',').map((s) => s.trim());
const RAM_MIB = 256;

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
  if (qemu) return { qemu };
  if (process.getuid?.() !== 0)
    return { why: 'qemu-system-x86_64 is missing and we are not root to apt-get install it' };
  say(
    'installing qemu-system-x86 for the baseline (apt-get install -y --no-install-recommends qemu-system-x86)',
  );
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'qemu-system-x86'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  qemu = which('qemu-system-x86_64');
  return qemu ? { qemu } : { why: "apt-get could not install qemu-system-x86 (run 'apt-get update' first?)" };
}

/** The milestones one run reached (ms from start), and the instructions it retired if known. */
function summarize(name, r, instructions) {
  const reached = linux.MILESTONES.filter((m) => r.milestoneMs[m.name] !== undefined)
    .map((m) => `${m.name} ${(r.milestoneMs[m.name] / 1000).toFixed(1)} s`)
    .join(', ');
  const cpu = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  say(
    `${name}: milestones: ${reached || 'none'}; exit after ${(r.totalMs / 1000).toFixed(1)} s ` +
      `(CPU to the shell ${cpu(r.cpuMs.marker)}, its vCPU thread's ${cpu(r.cpuMs.markerThread)}, to the exit ${cpu(r.cpuMs.stop)})`,
  );
  if (r.markerMs === undefined) {
    say(
      `${name}: no shell ${r.timedOut ? `within ${timeoutMs / 1000} s` : `(exited ${r.code ?? r.signal})`}; last output:`,
    );
    console.log(r.out.slice(-1500));
  }
  const off = linux.POWEROFF_RE.test(r.out) && r.code === 0 ? r.totalMs : undefined;
  return {
    banner: r.milestoneMs['kernel banner'],
    shell: r.markerMs,
    off,
    // CPU time (every thread of the VMM's process) at the marker and at the power-off line.
    shellCpu: r.cpuMs.marker,
    offCpu: off === undefined ? undefined : r.cpuMs.stop,
    // The busiest thread's CPU time at the marker: the vCPU thread's, in qemu-lite and in TCG.
    shellThreadCpu: r.cpuMs.markerThread,
    instructions,
  };
}

/** qemu-lite on the software engine, or why it was skipped. */
async function qemuLite(accel, ql) {
  if (!existsSync(cli)) return { skipped: `${cli} is missing (build qemu-lite first)` };
  // The kernel boots without SSE in CPUID (busybox's SSE2 code runs anyway), so a gap is only
  // reported, not a reason to skip.
  const gap = cpuidGap(ql, accel.split(',')[0]);
  if (gap !== undefined) say(`note: ${gap}`);
  const args = [cli, '-accel', accel, '-m', String(RAM_MIB), '-nographic', '-no-reboot', '-d', 'exits'];
  const kernel = qemuLiteKernel();
  args.push('-kernel', kernel, '-initrd', linux.initramfsPath, '-append', linux.SOFT_CMDLINE);
  say(
    `qemu-lite -accel ${accel} boots ${kernel === linux.vmlinuxPath ? 'cache/vmlinux through PVH, as QEMU does' : 'the bzImage (its payload decompressed on the host, ~1 s)'}`,
  );
  const r = await linux.runAndTime(process.execPath, args, { timeoutMs });
  const n = / guest instructions retired (\d+)/.exec(r.out);
  return summarize(`qemu-lite -accel ${accel}`, r, n ? Number(n[1]) : undefined);
}

/**
 * The kernel the software engine's rows boot: the same image as QEMU's rows, cache/vmlinux
 * through its PVH note, where it exists (no host-side decompression in the time to the shell);
 * LINUX_BENCH_KERNEL=bzimage boots the bzImage instead (qemu-lite decompresses its payload on
 * the host before the guest starts).
 */
function qemuLiteKernel() {
  const want = process.env.LINUX_BENCH_KERNEL ?? 'vmlinux';
  if (want !== 'vmlinux' && want !== 'bzimage')
    throw new Error(`LINUX_BENCH_KERNEL=${want}: vmlinux or bzimage`);
  return want === 'vmlinux' && existsSync(linux.vmlinuxPath) ? linux.vmlinuxPath : linux.kernelPath;
}

/** The host engine (this machine's KVM stops Debian's kernel at INT3: see tools/linux/README.md). */
async function qemuLiteHost() {
  if (!existsSync('/dev/kvm')) return { skipped: '/dev/kvm is absent' };
  const args = [cli, '-accel', 'kvm', '-m', String(RAM_MIB), '-nographic', '-no-reboot'];
  args.push('-kernel', linux.kernelPath, '-initrd', linux.initramfsPath, '-append', linux.TEST_CMDLINE);
  return summarize('qemu-lite -accel kvm', await linux.runAndTime(process.execPath, args, { timeoutMs }));
}

async function qemu(accel) {
  if (accel === 'kvm' && !existsSync('/dev/kvm')) return { skipped: '/dev/kvm is absent' };
  const q = ensureQemu();
  if (q.why) return { skipped: q.why };
  const pvh = existsSync(linux.vmlinuxPath);
  const args = linux.qemuArgs({
    accel,
    memMiB: RAM_MIB,
    cmdline: accel === 'tcg' ? linux.SOFT_CMDLINE : linux.TEST_CMDLINE,
    ...(pvh ? { kernel: linux.vmlinuxPath } : {}),
  });
  say(
    `QEMU -accel ${accel} boots ${pvh ? 'cache/vmlinux through PVH' : 'the bzImage (its decompressor runs in the guest)'}`,
  );
  return summarize(`QEMU -accel ${accel}`, await linux.runAndTime(q.qemu, args, { timeoutMs }));
}

/** The bare x86emu harness, in process: exact instructions, no hypervisor. */
async function bare(ql) {
  const cpu0 = process.cpuUsage();
  const r = await bootOnBareCpu(ql, new Uint8Array(readFileSync(linux.kernelPath)), {
    initrd: new Uint8Array(readFileSync(linux.initramfsPath)),
    cmdline: linux.BARE_CMDLINE,
    load: linux.bareLoader(ql, 'kernel'),
    ramSize: RAM_MIB << 20,
    // What x86emu does not report yet (issue 11) is claimed, so the bench measures the rest.
    claimFeatures: true,
    timeoutMs,
    stopOn: linux.POWEROFF_RE,
    milestones: [...linux.MILESTONES, { name: 'end', re: new RegExp(`^${linux.END_MARKER}$`, 'm') }],
  });
  const at = (name) => r.milestones[name];
  say(
    `bare x86emu: ended ${r.ending}${r.detail ? ` (${r.detail})` : ''} after ${(r.wallMs / 1000).toFixed(1)} s; ` +
      Object.entries(r.milestones)
        .map(
          ([name, v]) =>
            `${name} at ${(v.ms / 1000).toFixed(1)} s, ${(v.instructions / 1e6).toFixed(0)} M instructions`,
        )
        .join('; '),
  );
  const end = at('end') ?? at('userspace');
  const used = process.cpuUsage(cpu0);
  return {
    banner: at('kernel banner')?.ms,
    shell: at('userspace')?.ms,
    // No ACPI on the bare machine: the script's end stands for the power-off.
    off: at('end')?.ms,
    // In process, one thread: the run's CPU time (this process's, to its end) stands for the power-off's.
    offCpu: at('end') ? (used.user + used.system) / 1000 : undefined,
    instructions: end?.instructions,
    note: end === undefined ? undefined : `to ${at('end') ? "the script's end" : 'the shell'}`,
  };
}

/** The software engine's rows: `-accel` for each, and with `-js`/`-wasm` that code generator too. */
const SOFT = { vmx: 'vmx,ept=off', svm: 'svm,npt=off', 'vmx-ept': 'vmx,ept=on', 'svm-npt': 'svm,npt=on' };
const softAccel = (name) => {
  const m = /^(.*?)(?:-(js|wasm))?$/.exec(name);
  const accel = SOFT[m[1]];
  return accel === undefined ? undefined : m[2] === undefined ? accel : `${accel},jit=${m[2]}`;
};
const LABELS = {
  ...Object.fromEntries(
    Object.keys(SOFT).flatMap((k) =>
      ['', '-js', '-wasm'].map((b) => [k + b, `qemu-lite ${softAccel(k + b)}`]),
    ),
  ),
  tcg: 'QEMU -accel tcg -M pc',
  bare: 'bare x86emu (harness)',
  kvm: 'qemu-lite -accel kvm',
  'qemu-kvm': 'QEMU -accel kvm',
};

async function main() {
  if (!ensureFiles())
    return say("SKIPPED: could not fetch the kernel (needs Debian's apt-get and 'apt-get update')");
  const { manifest } = linux.linuxFiles();
  say(
    `${manifest.kernelPackage} ${manifest.kernelVersion}, busybox-static ${manifest.busyboxVersion}, ${RAM_MIB} MiB`,
  );
  say(`command line (software engine, TCG, bare): ${linux.SOFT_CMDLINE}`);
  const ql = existsSync(join(appDir, 'dist', 'index.js')) ? await import('../dist/index.js') : undefined;
  const results = {};
  for (const name of engines) {
    if (!(name in LABELS)) {
      say(`unknown engine ${name} in LINUX_BENCH_ENGINES (${Object.keys(LABELS).join(', ')})`);
      continue;
    }
    for (let i = 0; i < runs; i++) {
      let res;
      if ((softAccel(name) !== undefined || name === 'bare') && ql === undefined)
        res = { skipped: 'qemu-lite is not built' };
      else if (softAccel(name) !== undefined) res = await qemuLite(softAccel(name), ql);
      else if (name === 'bare') res = await bare(ql);
      else if (name === 'kvm') res = await qemuLiteHost();
      else res = await qemu(name === 'tcg' ? 'tcg' : 'kvm');
      if (res.skipped) say(`SKIPPED ${LABELS[name]}: ${res.skipped}`);
      results[name] ??= [];
      results[name].push(res);
      if (res.skipped || res.shell === undefined) break;
    }
  }
  const median = (xs) => {
    const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
    return v.length === xs.length && v.length > 0 ? v[Math.floor(v.length / 2)] : undefined;
  };
  const fmt = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const times = (ms, base) => (ms !== undefined && base !== undefined ? `${(ms / base).toFixed(1)}×` : '-');
  const tcg = results.tcg ?? [];
  const tcgShell = median(tcg.map((r) => r.shell));
  const tcgShellCpu = median(tcg.map((r) => r.shellCpu));
  console.log('');
  console.log(
    `Linux boot (median of ${runs}), from process start: wall time, and CPU time (user + system, all threads) ` +
      `where /proc says; "shell" is the /init marker; "vCPU shell": the busiest thread's CPU time to it (the vCPU thread; ` +
      `below the wall time by what it waited for a core, and by the start-up); MIPS = instructions retired / time to power-off`,
  );
  // The engine column fits the longest label that ran (`qemu-lite svm,npt=on,jit=wasm`: 29).
  const labelWidth = Math.max(24, ...Object.keys(results).map((name) => LABELS[name].length + 2));
  const cols = [
    ['engine', labelWidth],
    ['banner', 9],
    ['shell', 9],
    ['power-off', 11],
    ['× TCG', 8],
    ['CPU shell', 11],
    ['vCPU shell', 12],
    ['CPU off', 9],
    ['× TCG CPU', 11],
    ['instructions', 14],
    ['MIPS wall/CPU', 0],
  ];
  const row = (cells) => `  ${cells.map((c, k) => (cols[k][1] ? String(c).padEnd(cols[k][1]) : c)).join('')}`;
  console.log(row(cols.map((c) => c[0])));
  for (const [name, rs] of Object.entries(results)) {
    if (rs[0].skipped) {
      console.log(`  ${LABELS[name].padEnd(labelWidth)}skipped: ${rs[0].skipped}`);
      continue;
    }
    const shell = median(rs.map((r) => r.shell));
    const off = median(rs.map((r) => r.off));
    const shellCpu = median(rs.map((r) => r.shellCpu));
    const offCpu = median(rs.map((r) => r.offCpu));
    const n = rs[0].instructions;
    const mips = (ms) => (n !== undefined && ms !== undefined ? (n / 1e3 / ms).toFixed(0) : '-');
    console.log(
      row([
        LABELS[name],
        fmt(median(rs.map((r) => r.banner))),
        fmt(shell),
        fmt(off),
        name === 'tcg' ? '-' : times(shell, tcgShell),
        fmt(shellCpu),
        fmt(median(rs.map((r) => r.shellThreadCpu))),
        fmt(offCpu),
        name === 'tcg' ? '-' : times(shellCpu, tcgShellCpu),
        n === undefined ? '-' : `${(n / 1e6).toFixed(0)} M`,
        `${n === undefined ? '-' : `${mips(off)} / ${mips(offCpu)}`}${rs[0].note ? `  (${rs[0].note})` : ''}`,
      ]),
    );
  }
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  console.log(`  load average at the end: ${load} (${cpus().length} CPUs), ${new Date().toISOString()}`);
}

await main();
