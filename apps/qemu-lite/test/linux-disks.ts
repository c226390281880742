/**
 * The disks of the shared Linux boots (linux.soft.test.ts, linux.kvm.test.ts): two virtio-blk
 * drives the scripted /init (tools/linux/init.sh) uses once it has loaded Debian's virtio
 * modules, made here before the boot and checked here after the power-off.
 *
 * - vda, a raw image: its sector 0 starts with a known line, which the guest reads with dd;
 *   the guest writes a line at sector 8 (`conv=fsync`: a virtio FLUSH), which the host finds
 *   in the file afterwards.
 * - vdb, an ext4 image made with the host's `mkfs.ext4 -d` holding a text file and 256 KiB of
 *   random bytes: the guest mounts it (Debian's ext4 module), prints the one and hashes the
 *   other, writes a file, syncs and unmounts; the host reads that file back with `debugfs` and
 *   checks the file system with `e2fsck -fn`. Without e2fsprogs on the host there is no vdb and
 *   the ext4 check says so.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { section } from './linux-checks.js';
import { netPciLines } from './linux-net.js';

/** The first line of vda's sector 0 (the guest prints it). */
export const RAW_SECTOR0_LINE = 'qemu-lite raw disk, sector 0';
/** What /init writes at vda's sector 8 (init.sh). */
export const RAW_GUEST_LINE = 'written by the guest at sector 8';
/** vda's serial (`-drive …,serial=`): /sys/block/vda/serial. */
export const RAW_SERIAL = 'QL-LINUX-RAW0';
const RAW_BYTES = 1 << 20;
const EXT4_HELLO = "hello from the host's mkfs.ext4 -d";
/** What /init writes to /guest.txt on the ext4 disk (init.sh). */
export const EXT4_GUEST_LINE = 'written by the guest on ext4';

export interface LinuxDisks {
  readonly raw: string;
  /** The ext4 image, or undefined when the host cannot make one (`ext4Skip` says why). */
  readonly ext4?: string;
  readonly ext4Skip?: string;
  /** sha256 of /random.bin on the ext4 image. */
  readonly randomSha256: string;
  /** The qemu-lite arguments that attach them (vda, then vdb). */
  readonly args: string[];
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Makes the two images in `dir` (a fresh directory per boot). */
export function makeLinuxDisks(dir: string): LinuxDisks {
  const raw = join(dir, 'raw.img');
  const image = new Uint8Array(RAW_BYTES);
  image.set(Buffer.from(`${RAW_SECTOR0_LINE}\n`));
  writeFileSync(raw, image);
  const args = ['-drive', `file=${raw},format=raw,if=virtio,serial=${RAW_SERIAL}`];
  const root = join(dir, 'ext4-root');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'hello.txt'), `${EXT4_HELLO}\n`);
  const random = randomBytes(256 * 1024);
  writeFileSync(join(root, 'random.bin'), random);
  const ext4 = join(dir, 'ext4.img');
  const mkfs = spawnSync('mkfs.ext4', ['-q', '-F', '-d', root, ext4, '8M'], { encoding: 'utf8' });
  if (mkfs.error !== undefined || mkfs.status !== 0) {
    const why = mkfs.error?.message ?? mkfs.stderr.trim();
    return {
      raw,
      ext4Skip: `mkfs.ext4 -d failed on the host (e2fsprogs): ${why}`,
      randomSha256: sha256(random),
      args,
    };
  }
  args.push('-drive', `file=${ext4},format=raw,if=virtio`);
  return { raw, ext4, randomSha256: sha256(random), args };
}

/**
 * /sys/bus/pci as /init lists it: the i440FX and the PIIX3 with no driver, the two virtio-blk
 * functions (1af4:1042, class 010000) bound to virtio-pci on the PIIX's IRQ 11, then the NIC
 * and the rng (linux-net.ts).
 */
export function checkPci(out: string, disks: LinuxDisks, context: string, p2p = false): void {
  const want = [
    '0000:00:00.0 0x8086 0x1237 0x060000 irq=0 driver=none',
    '0000:00:01.0 0x8086 0x7000 0x060100 irq=0 driver=none',
    '0000:00:02.0 0x1af4 0x1042 0x010000 irq=11 driver=virtio-pci',
  ];
  if (disks.ext4 !== undefined) want.push('0000:00:03.0 0x1af4 0x1042 0x010000 irq=11 driver=virtio-pci');
  want.push(...netPciLines(disks.ext4 !== undefined ? 2 : 1, p2p));
  expect(section(out, 'pci').trim().split('\n'), context).toEqual(want);
}

/**
 * vda: its size in sectors, serial and read-only flag from sysfs, sector 0's first line as the
 * guest read it; after the power-off, the guest's line at sector 8 in the image file, the rest
 * of that sector zero (dd conv=sync pads it) and sector 0 untouched.
 */
export function checkRawDisk(out: string, disks: LinuxDisks, context: string): void {
  expect(section(out, 'virtio-blk').trim().split('\n'), context).toEqual([
    `size ${RAW_BYTES / 512} serial ${RAW_SERIAL} ro 0`,
    RAW_SECTOR0_LINE,
    'dd status 0',
  ]);
  const image = readFileSync(disks.raw);
  expect(image.length).toBe(RAW_BYTES);
  const sector8 = image.subarray(8 * 512, 9 * 512);
  const line = Buffer.from(`${RAW_GUEST_LINE}\n`);
  expect(sector8.subarray(0, line.length).toString('latin1')).toBe(line.toString('latin1'));
  expect(sector8.subarray(line.length).every((b) => b === 0)).toBe(true);
  expect(image.subarray(0, RAW_SECTOR0_LINE.length).toString('latin1')).toBe(RAW_SECTOR0_LINE);
}

/**
 * vdb: mounted, hello.txt printed and random.bin hashed as the host wrote them, unmounted
 * cleanly; after the power-off the guest's /guest.txt reads back on the host (debugfs) and
 * e2fsck finds the file system clean.
 */
export function checkExt4Disk(out: string, disks: LinuxDisks, context: string): void {
  const lines = section(out, 'ext4')
    .trim()
    .split('\n')
    .map((l) => l.trim());
  expect(lines, context).toEqual([EXT4_HELLO, `${disks.randomSha256}  /mnt/random.bin`, 'umount status 0']);
  const cat = spawnSync('debugfs', ['-R', 'cat /guest.txt', disks.ext4!], { encoding: 'utf8' });
  expect(cat.status, cat.stderr).toBe(0);
  expect(cat.stdout).toBe(`${EXT4_GUEST_LINE}\n`);
  const fsck = spawnSync('e2fsck', ['-fn', disks.ext4!], { encoding: 'utf8' });
  expect(fsck.status, `${fsck.stdout}${fsck.stderr}`).toBe(0);
}
