/**
 * The test a user cares about (issue 12): Debian's stock x86-64 kernel and busybox-static
 * (tools/linux/fetch.mjs) booted by the qemu-lite CLI on the software engine, `-accel vmx` and
 * `-accel svm`, to the scripted /init (tools/linux/init.sh), whose output is checked against
 * what the host computes: uname, the CPU flags, free, ls, sha256sum of a file, sort of 10,000
 * lines, then a clean power-off (qemu-lite exits by itself, status 0). The same boot has two
 * virtio-blk disks (linux-disks.ts): /init loads Debian's virtio and ext4 modules, lists the PCI
 * functions and their drivers, reads and writes a raw disk and mounts, reads and writes an ext4
 * one; the host checks both image files after the power-off. And a NIC on `-nic user` (a DHCP
 * lease and two pings of the gateway), one on `-netdev socket,connect=` to a peer the test runs
 * (two pings), a virtio-rng (/dev/hwrng) and a virtio console (hvc0), linux-net.ts. The -accel svm
 * boot starts held with the GDB stub (`-gdb`, `-S`), and Debian's gdb attaches first, stops at
 * start_kernel on a hardware breakpoint and detaches (linux-gdb.ts). And the two boots share a
 * network: a third NIC on each, on one `-netdev socket,mcast=` group on the loopback; each guest
 * waits (bounded) for the other, pings it and sends it a file with busybox nc (linux-net.ts P2p).
 *
 * One boot per engine, shared by every check of that engine; the two boots run side by side
 * (one process each, this machine has two cores). Each boot checks nproc and runs one sha256sum
 * per CPU at once (issue 14): both boot `-smp 2` (/proc/cpuinfo must list both CPUs and every CPU must do part of the work). A boot takes minutes, so the test is opt-in
 * like linux.kvm.test.ts: QEMU_LITE_LINUX=1 (CI's Linux step sets it).
 *
 * The boot always runs, so the test turns on by itself the day it reaches the shell. Until then
 * the checks skip and say why, but only for a named prerequisite the engine does not have yet:
 * its CPUID (KVM_GET_SUPPORTED_CPUID, x86emu's) lacking what an x86-64 kernel requires (issue
 * 11's x87/SSE, long mode), or the engine refusing long mode (qemu-lite's "does not run long
 * mode yet"); the skip also says where the boot stopped. With those prerequisites in place, a
 * boot that does not reach the shell fails. Once the shell is reached every check runs, except
 * the CPU-flags check, which skips while CPUID lacks the kernel's required features.
 * QEMU_LITE_LINUX_SOFT_TIMEOUT_S bounds each boot (default 600: the issue's target is under 5
 * minutes on 2 cores; measured 2026-12-04 on -accel vmx: 954 M instructions to the power-off,
 * 6.5 minutes with the machine's load average at 13).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import { cpuidGap, NO_LONG_MODE } from '../../../tools/linux/soft-engine.mjs';
import * as ql from '../src/index.js';
import { cliPath } from './helpers.js';
import {
  checkApicAcpi,
  checkCpuFlags,
  checkFree,
  checkLs,
  checkPoweroff,
  checkSha256,
  checkSmp,
  checkSort,
  checkUname,
  checkVulnerabilities,
} from './linux-checks.js';
import { checkExt4Disk, checkPci, checkRawDisk, type LinuxDisks, makeLinuxDisks } from './linux-disks.js';
import { checkGdbStartKernel, GDB_ACCEL, gdbPlan, runGdbSession } from './linux-gdb.js';
import {
  checkConsole,
  checkNet,
  checkP2p,
  checkRng,
  checkSyncSnapshot,
  type NetPeer,
  netArgs,
  netCmdline,
  type P2p,
  p2pArgs,
  p2pCmdline,
  splitHvc0,
  startNetPeer,
} from './linux-net.js';
import { checkMmconfig, checkMsix } from './linux-pcie.js';
import { freePort, pickPort } from './ports.js';

const ENGINES = ['vmx', 'svm'] as const;
type Accel = (typeof ENGINES)[number];
/**
 * vCPUs per boot (issue 14): the vmx machine boots with `-smp 4` and the svm machine with
 * `-smp 2` (their vCPUs take turns on the machine's thread over one shadow MMU per VM), so Linux's
 * SMP bring-up, IPIs and TLB shootdowns run on both backends, and at 4 with more than one AP to
 * wake; the host engine's boot and the page's (apps/web) keep one CPU. QEMU_LITE_LINUX_SOFT_SMP=N
 * gives both boots N vCPUs (1 for the uniprocessor kernel paths). The RCU stalls at 4 went with
 * the TSC carry per VM and the turns through userspace exits (qemu-lite's README, "SMP").
 */
const SMP_ENV = process.env.QEMU_LITE_LINUX_SOFT_SMP;
const SMP_N = Number(SMP_ENV ?? 0);
if (SMP_ENV !== undefined && (!Number.isInteger(SMP_N) || SMP_N < 1 || SMP_N > 16))
  throw new Error(`QEMU_LITE_LINUX_SOFT_SMP must be 1 to 16, not ${SMP_ENV}`);
/**
 * How the guest mitigates branch history injection on each engine's CPU model: -accel vmx is an
 * Intel model (Linux 6.1.y counts every Intel guest affected; the engine offers BHI_DIS_S), -accel
 * svm an AMD one (not affected).
 */
const BHI: Record<Accel, 'BHI_DIS_S' | 'Not affected'> = { vmx: 'BHI_DIS_S', svm: 'Not affected' };
const SMP: Record<Accel, number> = SMP_ENV === undefined ? { vmx: 4, svm: 2 } : { vmx: SMP_N, svm: SMP_N };
const timeoutS = Number(process.env.QEMU_LITE_LINUX_SOFT_TIMEOUT_S ?? 600);
/**
 * The `-accel` argument of each boot. The svm machine runs qemu-lite's default, AMD nested paging
 * (the guest on its own page tables, the MMU's TDP map), and the vmx machine the shadow MMU
 * (`ept=off`: qemu-lite's default there is EPT), so one CI run boots Linux both ways and the
 * shadow MMU keeps its hardest test, a -smp 4 kernel; QEMU_LITE_LINUX_VMX_EPT=1 boots vmx with
 * EPT, QEMU_LITE_LINUX_SVM_NPT=0 svm on the shadow MMU.
 */
const ACCEL_ARG: Record<Accel, string> = {
  vmx: process.env.QEMU_LITE_LINUX_VMX_EPT === '1' ? 'vmx,ept=on' : 'vmx,ept=off',
  svm: process.env.QEMU_LITE_LINUX_SVM_NPT === '0' ? 'svm,npt=off' : 'svm',
};
const RAM_MIB = 256;

function whyNotAtAll(): string | undefined {
  if (process.env.QEMU_LITE_LINUX !== '1') {
    return "booting Debian's kernel takes minutes: set QEMU_LITE_LINUX=1 to run it";
  }
  if (!linux.linuxFiles().ok) {
    const r = spawnSync(process.execPath, [linux.fetchScript], { encoding: 'utf8' });
    if (r.status !== 0) return `tools/linux/fetch.mjs could not fetch the kernel: ${r.stderr.trim()}`;
  }
  const files = linux.linuxFiles();
  if (!files.ok) return files.why;
  if (!existsSync(join(linux.cacheDir, 'busybox')))
    return 'tools/linux/cache/busybox is missing: re-run fetch.mjs';
  if (!existsSync(cliPath)) return `${cliPath} is missing: build qemu-lite first`;
  return undefined;
}

interface Boot {
  /** Why the checks skip (a prerequisite the engine lacks), or undefined. */
  readonly skip?: string;
  /** What the engine's CPUID lacks for an x86-64 kernel (soft-engine.mjs), or undefined. */
  readonly gap?: string;
  readonly r?: linux.RunResult;
  /** Whether the guest's hvc0 line came out (then taken out of `r.out`: linux-net.ts splitHvc0). */
  readonly hvc0?: boolean;
  /** The boot's virtio-blk disks. */
  readonly disks: LinuxDisks;
  /** Milestones and the console's tail, for failure messages. */
  readonly context: string;
  /** The gdb session's output (linux-gdb.ts), on GDB_ACCEL's boot. */
  readonly gdb?: Promise<string>;
}

const gdb = gdbPlan();

/** Each boot's -netdev socket peer (linux-net.ts). */
const peers = new Map<Accel, NetPeer>();

/**
 * The two boots' own network: one multicast port for this run (so that parallel runs do not share
 * it), vmx at 192.168.77.1, svm at .2. The guest that reaches /init first waits for the other
 * until its uptime is the boot's bound less two minutes (the rest of /init and the power-off), so
 * a peer that never comes fails this check alone, with the reason.
 */
const P2P_PORT = pickPort();
const P2P_DEADLINE_S = Math.max(60, timeoutS - 120);
const P2P: Record<Accel, P2p> = {
  vmx: { port: P2P_PORT, self: 1, peer: 2, deadlineS: P2P_DEADLINE_S },
  svm: { port: P2P_PORT, self: 2, peer: 1, deadlineS: P2P_DEADLINE_S },
};

async function boot(accel: Accel): Promise<Boot> {
  const gap = cpuidGap(ql, accel);
  const log = join(linux.cacheDir, `linux-boot-${accel}.log`);
  const disks = makeLinuxDisks(mkdtempSync(join(tmpdir(), `linux-disks-${accel}-`)));
  // The other end of the guest's eth1 (-netdev socket,connect=), one per boot.
  const peer = await startNetPeer({ syncImage: disks.ext4 });
  peers.set(accel, peer);
  // One engine's boot starts held with the stub, and gdb attaches first (linux-gdb.ts).
  let gdbArgs: string[] = [];
  let gdbOut: Promise<string> | undefined;
  if (accel === GDB_ACCEL && 'startKernel' in gdb) {
    const port = await freePort();
    gdbArgs = ['-gdb', `tcp:127.0.0.1:${port}`, '-S'];
    gdbOut = runGdbSession(port, gdb.startKernel, timeoutS * 1000);
  }
  let echoed = '';
  const raw = await linux.runAndTime(
    process.execPath,
    [
      cliPath,
      '-accel',
      ACCEL_ARG[accel],
      '-m',
      String(RAM_MIB),
      '-smp',
      String(SMP[accel]),
      '-nographic',
      '-no-reboot',
      '-kernel',
      linux.kernelPath,
      '-initrd',
      linux.initramfsPath,
      '-append',
      `${linux.SOFT_PCI_CMDLINE} ${netCmdline(peer)} ${p2pCmdline(P2P[accel])}`,
      ...disks.args,
      ...netArgs(peer),
      ...p2pArgs(P2P[accel]),
      ...gdbArgs,
    ],
    {
      timeoutMs: timeoutS * 1000,
      onData: (text: string) => {
        echoed += text;
      },
    },
  );
  writeFileSync(log, echoed);
  const { serial, hvc0 } = splitHvc0(raw.out);
  const r = { ...raw, out: serial };
  const reached = Object.entries(r.milestoneMs)
    .map(([name, ms]) => `${name} at ${(ms / 1000).toFixed(1)} s`)
    .join(', ');
  const context = `-accel ${accel}: milestones: ${reached || 'none'}; console (also in ${log}):\n${r.out.slice(-4000)}`;
  console.log(
    `linux.soft.test: -accel ${accel}: ${reached || 'no milestone'}; exit after ${(r.totalMs / 1000).toFixed(1)} s`,
  );
  if (r.markerMs !== undefined) return { r, hvc0, gap, disks, context, gdb: gdbOut };
  const noLongMode = NO_LONG_MODE.exec(r.out);
  if (noLongMode !== null)
    return { skip: `-accel ${accel}: ${noLongMode[0]} (issue 12)`, r, gap, disks, context };
  if (gap !== undefined) {
    const last = r.out.replace(/\r/g, '').trimEnd().split('\n').pop()?.slice(0, 160) ?? '';
    const end = r.timedOut ? `was still running at ${timeoutS} s` : `ended (${r.code ?? r.signal})`;
    return {
      skip: `${gap}; without them the boot ${end}, last console line "${last}"`,
      r,
      gap,
      disks,
      context,
    };
  }
  return { r, gap, disks, context };
}

const skipReason = whyNotAtAll();
if (skipReason !== undefined) console.warn(`linux.soft.test: SKIPPED: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("Debian's stock kernel on the software engine", () => {
  const boots = new Map<Accel, Promise<Boot>>();
  beforeAll(() => {
    // Both boots at once: one qemu-lite process per engine, one core each.
    for (const accel of ENGINES) {
      const p = boot(accel);
      // Awaited by each check (which then fails with the error); not an unhandled rejection meanwhile.
      p.catch(() => {});
      boots.set(accel, p);
    }
  });

  /** The boot's result once userspace ran, or a skip (with the reason printed) when it cannot. */
  async function booted(
    accel: Accel,
    ctx: { skip: (note?: string) => never },
  ): Promise<Boot & { r: linux.RunResult }> {
    const b = await boots.get(accel)!;
    if (b.skip !== undefined) {
      console.warn(`linux.soft.test: SKIPPED: ${b.skip}`);
      ctx.skip(b.skip);
    }
    expect(b.r!.timedOut, `no exit within ${timeoutS} s; ${b.context}`).toBe(false);
    expect(b.r!.markerMs, `userspace never reached; ${b.context}`).toBeDefined();
    return b as Boot & { r: linux.RunResult };
  }

  const manifest = () => linux.linuxFiles().manifest!;
  const budget = (timeoutS + 120) * 1000;

  describe.each(ENGINES)('-accel %s', (accel) => {
    it(
      'reaches the busybox /init',
      async (ctx) => {
        const b = await booted(accel, ctx);
        console.log(
          `linux.soft.test: -accel ${accel}: userspace after ${(b.r.markerMs! / 1000).toFixed(1)} s`,
        );
      },
      budget,
    );
    it(
      "uname -a names Debian's kernel on x86_64",
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkUname(b.r.out, manifest(), b.context);
      },
      budget,
    );
    it(
      `/proc/cpuinfo shows the -smp ${SMP[accel]} CPUs with fpu, sse, sse2, lm, rdrand, rdseed and serialize`,
      async (ctx) => {
        const b = await booted(accel, ctx);
        if (b.gap !== undefined) {
          console.warn(`linux.soft.test: SKIPPED the flags check: ${b.gap}`);
          ctx.skip(b.gap);
        }
        // x86emu's RDRAND, RDSEED and SERIALIZE reach the guest through KVM_GET_SUPPORTED_CPUID.
        checkCpuFlags(b.r.out, b.context, ['rdrand', 'rdseed', 'serialize'], SMP[accel]);
      },
      budget,
    );
    it(
      `nproc is ${SMP[accel]}; ${SMP[accel]} sha256sum processes at once each give the host's digest, every CPU busy`,
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkSmp(b.r.out, SMP[accel], b.context);
      },
      budget,
    );
    it(
      `the kernel finds a processor without the speculation bugs: enhanced IBRS, BHI ${BHI[accel]}, no PTI`,
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkVulnerabilities(b.r.out, BHI[accel], b.context);
      },
      budget,
    );
    it(
      `free reports the guest's ${RAM_MIB} MiB`,
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkFree(b.r.out, RAM_MIB, b.context);
      },
      budget,
    );
    it(
      'ls / lists the initramfs',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkLs(b.r.out, b.context);
      },
      budget,
    );
    it(
      "sha256sum of /bin/busybox is the host's digest",
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkSha256(b.r.out, b.context);
      },
      budget,
    );
    it(
      'sort of 10,000 lines matches the host',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkSort(b.r.out, b.context);
      },
      budget,
    );
    it(
      'lists the PCI functions, the virtio-blk disks bound to virtio-pci',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkPci(b.r.out, b.disks, b.context, true);
      },
      budget,
    );
    it(
      'the virtio functions interrupt through MSI-X vectors (PCI-MSI in /proc/interrupts), a config vector each',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkMsix(b.r.out, b.context);
      },
      budget,
    );
    it(
      'takes the PCIe MMCONFIG window from the MCFG table, reserved in the e820 map',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkMmconfig(b.r.out, b.context);
      },
      budget,
    );
    it(
      'reads a raw virtio-blk disk and writes it; the write is in the image after power-off',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkRawDisk(b.r.out, b.disks, b.context);
      },
      budget,
    );
    it(
      "mounts an ext4 virtio-blk disk, reads the host's files, writes one the host reads back",
      async (ctx) => {
        const b = await booted(accel, ctx);
        if (b.disks.ext4Skip !== undefined) {
          console.warn(`linux.soft.test: SKIPPED the ext4 check: ${b.disks.ext4Skip}`);
          ctx.skip(b.disks.ext4Skip);
        }
        checkExt4Disk(b.r.out, b.disks, b.context);
      },
      budget,
    );
    it(
      'gets a DHCP lease from -netdev user on virtio-net and pings the gateway, fetches from and is reached by the host through its NAT, and pings a -netdev socket peer',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkNet(b.r.out, peers.get(accel)!, b.context);
      },
      budget,
    );
    it(
      'loses nothing to a kill of qemu-lite after a guest sync: the ext4 image as the sync left it holds the file',
      async (ctx) => {
        const b = await booted(accel, ctx);
        if (b.disks.ext4Skip !== undefined) ctx.skip(b.disks.ext4Skip);
        checkSyncSnapshot(peers.get(accel)!, b.context);
      },
      budget,
    );
    it(
      "pings the other engine's guest over -netdev socket,mcast= and swaps a file with it both ways with busybox nc, sha256 checked",
      async (ctx) => {
        const b = await booted(accel, ctx);
        const other = ENGINES.find((e) => e !== accel)!;
        const o = await boots.get(other)!;
        if (o.skip !== undefined) ctx.skip(`the -accel ${other} boot did not run: ${o.skip}`);
        expect(o.r?.markerMs, `the -accel ${other} boot never reached userspace; ${o.context}`).toBeDefined();
        checkP2p(b.r.out, o.r!.out, [`-accel ${accel}`, `-accel ${other}`], `${b.context}\n${o.context}`);
      },
      budget,
    );
    it(
      'reads random bytes from virtio-rng (/dev/hwrng)',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkRng(b.r.out, b.context);
      },
      budget,
    );
    it(
      'gdb: started held (-s -S), hbreak start_kernel stops there in 64-bit kernel code; registers, bt, detach, and the boot goes on',
      async (ctx) => {
        if (accel !== GDB_ACCEL)
          ctx.skip(`the gdb session runs on the -accel ${GDB_ACCEL} boot (one boot per engine)`);
        if (!('startKernel' in gdb)) {
          console.warn(`linux.soft.test: SKIPPED the gdb check: ${gdb.skip}`);
          ctx.skip(gdb.skip);
          return;
        }
        const b = await booted(accel, ctx);
        checkGdbStartKernel(await b.gdb!, gdb.startKernel, b.context);
      },
      budget,
    );
    it(
      'writes to the virtio console (hvc0), which comes out with the serial output',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkConsole(b.r.out, b.hvc0 === true, b.context);
      },
      budget,
    );
    it(
      'powers off cleanly: qemu-lite exits by itself, status 0',
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkPoweroff(b.r, b.context);
      },
      budget,
    );
    it(
      "with the kernel's default command line: APIC and ACPI found (tables, PM timer, I/O APIC), power-off through ACPI S5",
      async (ctx) => {
        const b = await booted(accel, ctx);
        checkApicAcpi(b.r.out, b.context);
      },
      budget,
    );
  });
});
