/**
 * Real Linux on qemu-lite: Debian's stock kernel (linux-image-amd64) and busybox-static, fetched
 * by tools/linux/fetch.mjs, booted by the qemu-lite CLI on the host engine (/dev/kvm) with the
 * scripted /init (tools/linux/init.sh): it prints a marker, `uname -a`, `/proc/cpuinfo`, `free`,
 * `ls /`, a sha256sum and a sort, then shuts the machine down. The checks (linux-checks.ts) are
 * the ones the software engine's boot test makes, with the same two virtio-blk disks
 * (linux-disks.ts: a raw one read and written, an ext4 one mounted, read and written, both
 * checked on the host afterwards), a NIC on `-nic user` and a virtio-rng (linux-net.ts); and
 * qemu-lite must exit by itself, status 0.
 *
 * The boot takes minutes on this machine's nested KVM (see tools/linux/README.md), so the test
 * is opt-in: it runs only with QEMU_LITE_LINUX=1 (CI's Linux step sets it), and then fetches
 * the kernel itself if it is missing (tools/linux/fetch.mjs; needs apt lists). Otherwise, or
 * without /dev/kvm, it skips and says why. QEMU_LITE_LINUX_TIMEOUT_S bounds the boot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import {
  checkCpuFlags,
  checkFree,
  checkLs,
  checkPoweroff,
  checkSha256,
  checkSort,
  checkUname,
} from './linux-checks.js';
import { checkExt4Disk, checkPci, checkRawDisk, makeLinuxDisks } from './linux-disks.js';
import {
  checkConsole,
  checkNet,
  checkRng,
  netArgs,
  netCmdline,
  splitHvc0,
  startNetPeer,
} from './linux-net.js';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(appDir, 'dist', 'cli.js');
const timeoutS = Number(process.env.QEMU_LITE_LINUX_TIMEOUT_S ?? 1500);
const RAM_MIB = 512;

function whyNot(): string | undefined {
  if (process.env.QEMU_LITE_LINUX !== '1') {
    return "booting Debian's kernel takes minutes here: set QEMU_LITE_LINUX=1 to run it";
  }
  if (!existsSync('/dev/kvm')) return '/dev/kvm is absent (the host engine needs it)';
  if (!linux.linuxFiles().ok) {
    const r = spawnSync(process.execPath, [linux.fetchScript], { encoding: 'utf8' });
    if (r.status !== 0) return `tools/linux/fetch.mjs could not fetch the kernel: ${r.stderr.trim()}`;
  }
  const files = linux.linuxFiles();
  if (!files.ok) return files.why;
  if (!existsSync(cli)) return `${cli} is missing: build qemu-lite first`;
  return undefined;
}

const skipReason = whyNot();
if (skipReason !== undefined) console.warn(`linux.kvm.test: SKIPPED: ${skipReason}`);

/**
 * qemu-lite's report of KVM_EXIT_INTERNAL_ERROR / emulation failure, with the instruction's
 * bytes (data[1]: insn_size in the low byte, then the bytes). This machine's KVM emulates the
 * guest and stops it at instructions its emulator lacks (tools/linux/notes/host-kvm-limits.md):
 * the kernel's int3 self-test (`cc 90 90 90 90`) first of all.
 */
const HOST_KVM_EMULATION_FAILURE = /emulation failure\), data 0x1 0x([0-9a-f]+)/;

function insnBytes(d1hex: string): string {
  const v = BigInt(`0x${d1hex}`);
  const bytes: string[] = [];
  for (let i = 1n; i < 8n; i++) bytes.push(((v >> (8n * i)) & 0xffn).toString(16).padStart(2, '0'));
  return bytes.join(' ');
}

describe.skipIf(skipReason !== undefined)("Debian's stock kernel on qemu-lite (host engine)", () => {
  it(
    'boots to the busybox /init, runs its commands and shuts down',
    async (ctx) => {
      const manifest = linux.linuxFiles().manifest!;
      const log = join(linux.cacheDir, 'linux-boot.log');
      const disks = makeLinuxDisks(mkdtempSync(join(tmpdir(), 'linux-disks-kvm-')));
      const peer = await startNetPeer();
      let echoed = '';
      const r = await linux.runAndTime(
        process.execPath,
        [
          cli,
          '-accel',
          'kvm',
          '-m',
          String(RAM_MIB),
          '-nographic',
          '-no-reboot',
          '-kernel',
          linux.kernelPath,
          '-initrd',
          linux.initramfsPath,
          '-append',
          `${linux.TEST_PCI_CMDLINE} ${netCmdline(peer)}`,
          ...disks.args,
          ...netArgs(peer),
        ],
        {
          timeoutMs: timeoutS * 1000,
          onData: (text: string) => {
            echoed += text;
          },
        },
      );
      writeFileSync(log, echoed);
      const reached = Object.entries(r.milestoneMs)
        .map(([name, ms]) => `${name} at ${(ms / 1000).toFixed(1)} s`)
        .join(', ');
      const context = `milestones: ${reached || 'none'}; console (also in ${log}):\n${r.out.slice(-4000)}`;
      expect(r.timedOut, `no exit within ${timeoutS} s; ${context}`).toBe(false);
      // The loader's part, on real hardware: the kernel was entered and ran far enough to
      // print its banner through the serial port.
      expect(r.milestoneMs['kernel banner'], `no kernel banner; ${context}`).toBeDefined();
      const emulationFailure = r.markerMs === undefined ? HOST_KVM_EMULATION_FAILURE.exec(r.out) : null;
      if (emulationFailure !== null) {
        // A limit of the host's KVM, not of qemu-lite (QEMU stops at the same instructions):
        // say so plainly and where, and skip what needs userspace.
        console.warn(
          `linux.kvm.test: SKIPPED the userspace checks: the host's KVM cannot emulate the instruction ${insnBytes(emulationFailure[1]!)} (KVM_EXIT_INTERNAL_ERROR, emulation failure; see tools/linux/notes/host-kvm-limits.md); milestones: ${reached}`,
        );
        ctx.skip();
        return;
      }
      expect(r.markerMs, `marker never printed; ${context}`).toBeDefined();
      console.log(
        `linux.kvm.test: marker after ${(r.markerMs! / 1000).toFixed(1)} s, exit after ${(r.totalMs / 1000).toFixed(1)} s`,
      );

      // The serial text without the virtio console's line, which lands anywhere in it.
      const { serial: out, hvc0 } = splitHvc0(r.out);
      checkUname(out, manifest, context);
      checkCpuFlags(out, context);
      checkFree(out, RAM_MIB, context);
      checkLs(out, context);
      checkSha256(out, context);
      checkSort(out, context);
      checkPci(out, disks, context);
      checkRawDisk(out, disks, context);
      if (disks.ext4Skip !== undefined)
        console.warn(`linux.kvm.test: SKIPPED the ext4 check: ${disks.ext4Skip}`);
      else checkExt4Disk(out, disks, context);
      checkNet(out, peer, context);
      checkRng(out, context);
      checkConsole(out, hvc0, context);
      checkPoweroff(r, context);
    },
    (timeoutS + 60) * 1000,
  );
});
