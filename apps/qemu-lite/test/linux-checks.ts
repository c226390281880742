/**
 * What the scripted /init (tools/linux/init.sh) prints, checked against what the host computes
 * from the same files: shared by the Linux boot tests on every engine (linux.kvm.test.ts,
 * linux.soft.test.ts). Each check takes the whole console text.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import { SORT_LINES, sortInput } from '../../../tools/linux/fetch.mjs';

/** A kernel log line on the console ("[  305.766556] random: crng init done"). */
const KERNEL_LOG_LINE = /^\[\s*\d+\.\d+\] /;

/**
 * The text between "=== name" and the next "=== " line of the scripted /init's output, without
 * the kernel's own log lines, which the console interleaves with userspace's output at any
 * point (a late "random: crng init done" landed inside a section on -accel svm).
 */
export function section(out: string, name: string): string {
  const lines = out
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => !KERNEL_LOG_LINE.test(l));
  const start = lines.findIndex((l) => l.trim() === `=== ${name}`);
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && l.startsWith('=== '));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** uname -a: the kernel we fetched, Debian's build of it, on x86_64. */
export function checkUname(out: string, manifest: linux.LinuxManifest, context: string): void {
  const uname = section(out, 'uname -a');
  expect(uname, context).toMatch(/^Linux \S+ \S+ #1 SMP/m);
  expect(uname).toContain(manifest.kernelRelease);
  expect(uname).toContain(`Debian ${manifest.kernelVersion}`);
  expect(uname).toContain('x86_64');
}

/**
 * /proc/cpuinfo: processors 0 to `cpus` − 1 (the machine's -smp, default 1) and no more, and the
 * flags line with what an x86-64 kernel requires (fpu, fxsr, sse, sse2, lm: verify_cpu refuses to
 * boot without them) plus `extra` (engine-specific).
 */
export function checkCpuFlags(
  out: string,
  context: string,
  extra: readonly string[] = [],
  cpus = 1,
): string[] {
  const cpuinfo = section(out, 'cat /proc/cpuinfo');
  for (let i = 0; i < cpus; i++) expect(cpuinfo, context).toMatch(new RegExp(`^processor\\s*: ${i}$`, 'm'));
  expect(cpuinfo).not.toMatch(new RegExp(`^processor\\s*: ${cpus}$`, 'm'));
  expect(cpuinfo).toMatch(/^vendor_id\s*: \S+/m);
  const line = section(out, 'cpu flags').trim();
  expect(line, context).toMatch(/^flags\s*:/);
  const flags = line.replace(/^flags\s*:\s*/, '').split(/\s+/);
  for (const flag of ['fpu', 'fxsr', 'sse', 'sse2', 'lm', ...extra]) expect(flags, line).toContain(flag);
  return flags;
}

/**
 * /sys/devices/system/cpu/vulnerabilities: what the kernel concluded from the CPUID and
 * IA32_ARCH_CAPABILITIES the engine gave it ("file:state" lines). On the software engine's
 * processor, which executes nothing speculatively, every bug whose enumeration says so is "Not
 * affected" (no page table isolation, no buffer clearing), Spectre v2 is mitigated by enhanced
 * (Intel) or automatic (AMD) IBRS rather than retpolines, and branch history injection by the
 * BHI_DIS_S control (an Intel model: 6.1.y marks every Intel guest affected) or not at all (AMD):
 * never by the software loop on every system call.
 */
export function checkVulnerabilities(out: string, bhi: 'BHI_DIS_S' | 'Not affected', context: string): void {
  const text = section(out, 'vulnerabilities');
  const state = (name: string): string | undefined =>
    new RegExp(`^/sys/devices/system/cpu/vulnerabilities/${name}:(.*)$`, 'm').exec(text)?.[1];
  for (const name of [
    'meltdown',
    'mds',
    'l1tf',
    'spec_store_bypass',
    'retbleed',
    'mmio_stale_data',
    'gather_data_sampling',
  ])
    expect(state(name), `${name}\n${text}\n${context}`).toBe('Not affected');
  const v2 = state('spectre_v2') ?? '';
  expect(v2, `${text}\n${context}`).toMatch(/^Mitigation: Enhanced \/ Automatic IBRS;/);
  expect(v2, text).toContain(`BHI: ${bhi}`);
}

/** free: a "Mem:" row whose total is the guest's RAM less what the kernel keeps (within `ramMiB`). */
export function checkFree(out: string, ramMiB: number, context: string): void {
  const free = section(out, 'free');
  const mem = /^Mem:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(free);
  expect(mem, `${free}\n${context}`).not.toBeNull();
  const [totalKiB, usedKiB, freeKiB] = [Number(mem![1]), Number(mem![2]), Number(mem![3])];
  expect(totalKiB).toBeGreaterThan(ramMiB * 1024 * 0.5);
  expect(totalKiB).toBeLessThanOrEqual(ramMiB * 1024);
  expect(usedKiB + freeKiB).toBeLessThanOrEqual(totalKiB);
  expect(freeKiB).toBeGreaterThan(0);
}

/** ls /: the initramfs's directories and /init. */
export function checkLs(out: string, context: string): void {
  const ls = section(out, 'ls /').split(/\s+/);
  for (const entry of ['bin', 'dev', 'etc', 'init', 'proc', 'sys', 'tmp'])
    expect(ls, context).toContain(entry);
}

/** sha256sum /bin/busybox: the digest the host computes of the busybox it packed. */
export function checkSha256(out: string, context: string): void {
  const expected = sha256(readFileSync(join(linux.cacheDir, 'busybox')));
  expect(section(out, 'sha256sum /bin/busybox').trim(), context).toBe(`${expected}  /bin/busybox`);
}

/** The per-CPU lines of /proc/stat: busy (user + nice + system) ticks by CPU number. */
function busyTicks(lines: readonly string[]): Map<number, number> {
  const busy = new Map<number, number>();
  for (const line of lines) {
    const m = /^cpu(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m !== null) busy.set(Number(m[1]), Number(m[2]) + Number(m[3]) + Number(m[4]));
  }
  return busy;
}

/**
 * The SMP section (issue 14): `nproc` is the machine's vCPU count, one sha256sum of
 * /bin/busybox per CPU ran at once and each printed the host's digest, and every CPU's busy time
 * in /proc/stat grew meanwhile (each CPU ran part of the work, not the boot CPU alone).
 */
export function checkSmp(out: string, cpus: number, context: string): void {
  const lines = section(out, 'smp').trim().split('\n');
  expect(lines[0], context).toBe(`nproc ${cpus}`);
  const statLines = lines.filter((l) => /^cpu\d+ /.test(l));
  expect(statLines.length, context).toBe(2 * cpus);
  const before = busyTicks(statLines.slice(0, cpus));
  const after = busyTicks(statLines.slice(cpus));
  const expected = `${sha256(readFileSync(join(linux.cacheDir, 'busybox')))}  /bin/busybox`;
  expect(
    lines.filter((l) => l.endsWith('/bin/busybox')),
    context,
  ).toEqual(Array.from({ length: cpus }, () => expected));
  for (let cpu = 0; cpu < cpus; cpu++) {
    expect(
      after.get(cpu)! - before.get(cpu)!,
      `CPU ${cpu} did no work: ${statLines.join(' | ')}`,
    ).toBeGreaterThan(0);
  }
}

/**
 * sort: /etc/sort-input.txt sorted in the guest, as the host sorts it (byte order: busybox's
 * sort in the C locale): the count, the digest of the whole output, its first and last lines.
 */
export function checkSort(out: string, context: string): void {
  const lines = sortInput().toString('latin1').split('\n').slice(0, -1);
  expect(lines.length).toBe(SORT_LINES);
  const sorted = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = `${sorted.join('\n')}\n`;
  const got = section(out, 'sort').trim().split('\n');
  expect(got, context).toEqual([
    String(SORT_LINES),
    `${sha256(text)}  -`,
    ...sorted.slice(0, 3),
    ...sorted.slice(-3),
  ]);
}

/**
 * Issue 13: a boot with the kernel's default command line (no noapic, nolapic or acpi=off) finds
 * qemu-lite's ACPI tables by the RSDP scan, the PM timer, the I/O APIC and IRQ 0's override in
 * the MADT, switches to the APIC (symmetric I/O mode), enables the ACPI interpreter with S5 from
 * the DSDT, and powers off through ACPI S5 (then `checkPoweroff`: qemu-lite exits, status 0).
 */
export function checkApicAcpi(out: string, context: string): void {
  const cmdline = /Command line: (.*)/.exec(out)?.[1] ?? '';
  expect(cmdline, context).not.toBe('');
  expect(cmdline, context).not.toMatch(/\b(noapic|nolapic|acpi=off)\b/);
  for (const line of [
    /ACPI: RSDP 0x00000000000F0000 /,
    /ACPI: XSDT 0x/,
    /ACPI: FACP 0x/,
    /ACPI: DSDT 0x/,
    /ACPI: FACS 0x/,
    /ACPI: APIC 0x/,
    /ACPI: PM-Timer IO Port: 0x608/,
    /IOAPIC\[0\]: apic_id \d+, version \d+, address 0xfec00000, GSI 0-23/,
    /ACPI: INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2 /,
    /APIC: Switch to symmetric I\/O mode setup/,
    /ACPI: Interpreter enabled/,
    /ACPI: PM: \(supports S0 S5\)/,
    /ACPI: PM: Preparing to enter system sleep state S5/,
    /reboot: Power down/,
  ])
    expect(out, context).toMatch(line);
}

/**
 * The script got to its end, the kernel shut the machine down, and qemu-lite exited by itself,
 * status 0, soon after.
 */
export function checkPoweroff(r: linux.RunResult, context: string): void {
  expect(r.out).toContain(linux.END_MARKER);
  expect(r.out).not.toContain('Kernel panic');
  expect(r.out, context).toMatch(linux.POWEROFF_RE);
  expect(r.stoppedButRunning, `qemu-lite kept running after the guest powered off; ${context}`).toBe(false);
  expect(r.signal, context).toBeNull();
  expect(r.code, context).toBe(0);
}
