// Shared by the Linux boot test, the boot-time bench and anyone booting the Debian kernel by
// hand: where the fetched files are, the kernel command line, the marker /init prints, and a
// helper that runs a VMM process and times the marker on its serial console.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const cacheDir = join(here, 'cache');
export const kernelPath = join(cacheDir, 'vmlinuz');
export const initramfsPath = join(cacheDir, 'initramfs.cpio.gz');
export const manifestPath = join(cacheDir, 'manifest.json');
/** The bzImage's payload decompressed (ELF vmlinux): QEMU boots it through its PVH note. */
export const vmlinuxPath = join(cacheDir, 'vmlinux');
export const fetchScript = join(here, 'fetch.mjs');
/** `nm -n` of Debian's debug vmlinux (fetch.mjs --symbols): kernel symbols for RIPs in reports. */
export const systemMapPath = join(cacheDir, 'System.map');

/** What tools/linux/init.sh prints once userspace runs. */
export const MARKER = 'QEMU_LITE_LINUX_MARKER: userspace reached';
/** What it prints after the scripted commands, just before `poweroff -f`. */
export const END_MARKER = '=== end';
/**
 * What the kernel prints (at KERN_EMERG, so even with `quiet`) as /init shuts the machine down
 * (see init.sh): "Power down" after `poweroff -f` with ACPI (QEMU's microvm), "Restarting
 * system" after `reboot -f` without (qemu-lite, run with -no-reboot), "System halted" if a
 * power-off without ACPI turned into a halt.
 */
export const POWEROFF_RE = /reboot: (Power down|Restarting system|System halted)/;

/**
 * The kernel command line for the scripted boot. Each option is there for the machine:
 * console=ttyS0        the 8250 at 0x3f8 is the only console both VMMs have
 * earlyprintk=ttyS0    the decompressor and early kernel print there too, so a slow boot
 *                      shows how far it got (see MILESTONES)
 * qemu_lite_test=1     /init runs the scripted commands and powers off
 * panic=-1             a panic reboots at once (the VMM exits) instead of hanging
 * nokaslr              no randomized relocation: less work for a slow machine, same layout every boot
 * noxsave              FXSAVE instead of XSAVE: the host's KVM cannot emulate XRSTOR, and on this
 *                      nested machine (shadow paging) some kernel XRSTORs need emulating ("KVM
 *                      internal error, emulation failure" at fpu init under QEMU)
 * clearcpuid=141,308,151,534
 *                      the kernel ignores what CPUID says of CMPXCHG16B (X86_FEATURE_CX16,
 *                      word 4 bit 13), SMAP (9*32+20: CLAC/STAC), POPCNT (4*32+23) and RDPID
 *                      (16*32+22): this machine's KVM cannot emulate those instructions and
 *                      stops the guest where the kernel uses them (SLUB's cmpxchg_double,
 *                      every exception entry once alternatives are patched, hweight64).
 *                      See notes/host-kvm-limits.md. (QEMU's `-cpu qemu64,-cx16` hides CX16
 *                      from CPUID instead; qemu-lite's CPUID should hide all four.)
 * nofsgsbase           no RDGSBASE/WRGSBASE in entry and context-switch code, for the same reason
 * nosoftlockup         the guest runs so slowly here that the soft-lockup detector fires during
 *                      initcalls (ftrace's record check) and prints long traces
 * nolapic              PIC mode: qemu-lite's default machine has no local APIC, but KVM sets
 *                      CPUID.1:EDX.APIC whenever IA32_APIC_BASE.EN is set (its reset value), so
 *                      the kernel would otherwise probe an APIC nobody emulates (MMIO reads
 *                      of all-ones, "Stale IRR", half a minute of exits here)
 * tsc=reliable         no clocksource watchdog (it would flag the TSC of a nested guest as unstable)
 * no_timer_check       skip the IO-APIC timer check (slow, and meaningless in a VM)
 * i8042.noaux          no PS/2 mouse probing
 * pci=off              no PCI bus scan (no PCI devices on either machine)
 * cryptomgr.notests    skip the crypto self-tests
 * The kernel log stays at its default level: it costs a few port exits per byte, little beside
 * the boot itself, and it is what tells where a slow boot is.
 */
export const TEST_CMDLINE =
  'console=ttyS0 earlyprintk=ttyS0 qemu_lite_test=1 panic=-1 nokaslr noxsave clearcpuid=141,308,151,534 nofsgsbase nosoftlockup nolapic tsc=reliable no_timer_check i8042.noaux pci=off cryptomgr.notests';

/**
 * The command line for the software engine (`-accel vmx`/`svm`), which has none of the host
 * KVM's emulator gaps, so none of TEST_CMDLINE's workarounds for them (noxsave, clearcpuid,
 * nofsgsbase: CPUID already says only what x86emu implements), and which has the in-kernel
 * LAPIC and IOAPIC by default (qemu-lite's `kernel-irqchip=on`), so the kernel's own interrupt
 * setup: no `nolapic noapic` (measured 2026-12-04 on vmx: the shell and the power-off either
 * way; with the APIC 924 M instructions instead of 954 M). The rest is for the machine, as in
 * TEST_CMDLINE: console/earlyprintk, qemu_lite_test=1, panic=-1, nokaslr, nosoftlockup,
 * tsc=reliable, no_timer_check, i8042.noaux, pci=off, cryptomgr.notests.
 */
export const SOFT_CMDLINE =
  'console=ttyS0 earlyprintk=ttyS0 qemu_lite_test=1 panic=-1 nokaslr nosoftlockup tsc=reliable no_timer_check i8042.noaux pci=off cryptomgr.notests';
/**
 * The boot tests' command lines: as above but with the PCI bus (no `pci=off`), since they give
 * the guest virtio-blk disks (-drive if=virtio), which /init uses once it has loaded Debian's
 * virtio modules. Linux finds bus 0 through the DSDT's \_SB.PCI0. The bench keeps `pci=off`.
 */
export const SOFT_PCI_CMDLINE = SOFT_CMDLINE.replace(' pci=off', '');
export const TEST_PCI_CMDLINE = TEST_CMDLINE.replace(' pci=off', '');
/**
 * The bare x86emu harness has no APIC (bare/machine.mjs: PIC and PIT only, CPUID without APIC),
 * so it boots in PIC mode.
 */
export const BARE_CMDLINE = `${SOFT_CMDLINE} nolapic noapic`;

/**
 * The bzImage loader for an entry (see qemu-lite's loaders/bzimage.ts): 'kernel' (payload
 * decompressed on the host, vmlinux's startup_64), 'decompressor' (the bzImage's 64-bit entry)
 * or 'protocol32' (its 32-bit entry, protected mode without paging). `ql` is qemu-lite's module.
 */
export function bareLoader(ql, entry) {
  if (entry === 'kernel') return ql.makeBzImageLoader({ entry: 'kernel', decompress: ql.hostDecompress });
  if (entry === 'decompressor' || entry === 'protocol32') return ql.makeBzImageLoader({ entry });
  throw new Error(`unknown entry ${entry}: kernel, decompressor or protocol32`);
}

/**
 * Points of a boot the console shows, in order: the decompressor running (its first words
 * with `nokaslr`; Debian's kernel is built without the verbose "Decompressing Linux..."), the
 * kernel proper (its banner, through earlyprintk), userspace (the marker).
 */
export const MILESTONES = [
  { name: 'decompressor', re: /KASLR disabled/ },
  { name: 'kernel banner', re: /Linux version \d/ },
  { name: 'userspace', re: new RegExp(MARKER) },
];

/**
 * Whether the fetched kernel, its modules and the initramfs are there, the initramfs no older
 * than init.sh (fetch.mjs rebuilds it); `why` says what is missing.
 */
export function linuxFiles() {
  for (const p of [kernelPath, initramfsPath, manifestPath, join(cacheDir, 'modules', 'order')]) {
    if (!existsSync(p))
      return { ok: false, why: `${p} is missing: run 'node tools/linux/fetch.mjs' (after 'apt-get update')` };
  }
  if (statSync(join(here, 'init.sh')).mtimeMs > statSync(initramfsPath).mtimeMs)
    return { ok: false, why: `${initramfsPath} is older than init.sh: run 'node tools/linux/fetch.mjs'` };
  return { ok: true, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) };
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/**
 * CPU milliseconds (utime + stime, fields 14 and 15) and start time (field 22, ms after the host
 * booted) of a /proc stat file: /proc/<pid>/stat (the process, its threads summed) or
 * /proc/<pid>/task/<tid>/stat (one thread). The fields are counted after the last ')': the
 * command name may itself hold spaces and parentheses. Throws where the file cannot be read.
 */
export function statTimes(path) {
  const stat = readFileSync(path, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state).
  return {
    cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ,
    startMs: (Number(fields[19]) * 1000) / USER_HZ,
  };
}

/** CPU milliseconds (user + system, every thread) the process `pid` has used, or undefined without /proc. */
export function processCpuMs(pid) {
  if (pid === undefined) return undefined;
  try {
    return statTimes(`/proc/${pid}/stat`).cpuMs;
  } catch {
    return undefined;
  }
}

/**
 * The busiest thread of process `pid` (Linux /proc): its CPU time and when it started, in ms after
 * the process did; undefined where /proc cannot say. In qemu-lite on the software engine and in
 * QEMU with TCG it is the vCPU thread: beside the wall time its CPU time shows what the vCPU waited
 * for a core (x86emu's jit README: V8's compiler threads took it on two cores).
 */
export function busiestThread(pid) {
  if (pid === undefined) return undefined;
  try {
    const proc = statTimes(`/proc/${pid}/stat`);
    let most;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        const th = statTimes(`/proc/${pid}/task/${t}/stat`);
        if (most === undefined || th.cpuMs > most.cpuMs) most = th;
      } catch {
        // The thread ended meanwhile.
      }
    }
    return most && { cpuMs: most.cpuMs, startMs: most.startMs - proc.startMs };
  } catch {
    return undefined;
  }
}

/** The busiest thread's CPU time (`busiestThread`), or undefined without /proc. */
export function busiestThreadCpuMs(pid) {
  return busiestThread(pid)?.cpuMs;
}

/**
 * Runs `cmd args` and watches its stdout (the guest's serial console). Resolves when the
 * process ends or `timeoutMs` passes (then it is killed): the console text, the exit code or
 * signal, the milliseconds from spawn to the first `marker` (undefined when never seen), and
 * whether the timeout fired. Never rejects for the guest's sake; rejects only if spawn fails.
 * `onData` sees the console as it arrives (for an echo to a log). Once the console matches
 * `stopRe` (the guest said it is powering off), the process gets `stopGraceMs` to exit before
 * it is killed; `stoppedButRunning` then says so. `cpuMs` is the CPU time (user + system, every
 * thread) the process had used when each milestone, the marker (`marker`) and the power-off line
 * (`stop`) appeared, read from /proc/<pid>/stat: on a loaded machine wall time counts other
 * people's work too, CPU time does not (empty where there is no /proc); `markerThread`, the busiest
 * thread's CPU time at the marker (`busiestThreadCpuMs`).
 */
export function runAndTime(
  cmd,
  args,
  { marker = MARKER, timeoutMs, onData, stdin = 'ignore', stopRe = POWEROFF_RE, stopGraceMs = 30_000 } = {},
) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
    let out = '';
    let markerMs;
    const milestoneMs = {};
    let timedOut = false;
    let stoppedButRunning = false;
    let graceTimer;
    const cpuMs = {};
    const onChunk = (chunk) => {
      const text = chunk.toString('latin1');
      out += text;
      onData?.(text);
      if (markerMs === undefined && out.includes(marker)) {
        markerMs = performance.now() - t0;
        cpuMs.marker = processCpuMs(child.pid);
        cpuMs.markerThread = busiestThreadCpuMs(child.pid);
      }
      for (const m of MILESTONES) {
        if (milestoneMs[m.name] === undefined && m.re.test(out)) {
          milestoneMs[m.name] = performance.now() - t0;
          cpuMs[m.name] = processCpuMs(child.pid);
        }
      }
      if (graceTimer === undefined && stopRe?.test(out)) {
        cpuMs.stop = processCpuMs(child.pid);
        graceTimer = setTimeout(() => {
          stoppedButRunning = true;
          child.kill('SIGKILL');
        }, stopGraceMs);
      }
    };
    child.stdout.on('data', onChunk);
    child.stderr.on('data', onChunk);
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      timeoutMs ?? 15 * 60_000,
    );
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      resolve({
        out,
        code,
        signal,
        markerMs,
        milestoneMs,
        totalMs: performance.now() - t0,
        cpuMs,
        timedOut,
        stoppedButRunning,
      });
    });
  });
}

/**
 * QEMU's command line for the same boot: microvm, the trimmed CPU model that boots here. With
 * `kernel: vmlinuxPath` QEMU enters the already decompressed kernel through its PVH note, its
 * fastest way in here (its bzImage path runs the guest's own decompressor). `accel` 'kvm' (the
 * host's KVM: `-cpu qemu64,-cx16`, see TEST_CMDLINE) or 'tcg' (QEMU's own translator, the
 * software engine's baseline: `-cpu qemu64,+rdrand` on the `pc` machine, since microvm without a
 * local APIC never delivers the kernel a timer interrupt under TCG: the boot hangs after "Marking
 * TSC unstable"). RDRAND because x86emu has it: both kernels then seed their CRNG at boot
 * from the CPU and do the same work after it (on TCG it changes nothing measurable: 1.63, 1.61,
 * 1.71 s to the shell with it, 1.64, 1.68 without, 2026-12-07).
 */
export function qemuArgs({ cmdline = TEST_CMDLINE, memMiB = 512, kernel = kernelPath, accel = 'kvm' } = {}) {
  return [
    '-accel',
    accel,
    '-M',
    accel === 'kvm' ? 'microvm' : 'pc',
    '-cpu',
    accel === 'kvm' ? 'qemu64,-cx16' : 'qemu64,+rdrand',
    '-m',
    String(memMiB),
    '-nographic',
    '-no-reboot',
    '-kernel',
    kernel,
    '-initrd',
    initramfsPath,
    '-append',
    cmdline,
  ];
}
