#!/usr/bin/env node
// Fetches Debian's stock kernel (the package linux-image-amd64 depends on) and
// busybox-static with `apt-get download` (nothing is installed on the host),
// and builds the initramfs qemu-lite boots:
//
//   tools/linux/cache/vmlinuz            the kernel's bzImage
//   tools/linux/cache/config             its build configuration
//   tools/linux/cache/initramfs.cpio.gz  busybox + tools/linux/init.sh as /init
//   tools/linux/cache/manifest.json      package names and versions
//   tools/linux/cache/modules/           the virtio and ext4 modules /init loads (modules.mjs),
//                                        with `order`, their load order
//   tools/linux/cache/vmlinux            the kernel's payload decompressed (ELF), for QEMU's
//                                        PVH entry in the bench (needs xz, which Debian ships)
//   tools/linux/cache/System.map         with --symbols only: `nm -n` of the kernel's debug
//                                        vmlinux (linux-image-*-dbg, an 850 MB download and a
//                                        minute of unpacking; Debian's /boot/System.map is a
//                                        placeholder), so reports name the kernel function at a RIP
//
// Idempotent: a second run reuses the cache (delete tools/linux/cache/ or pass
// --refresh to fetch again). Needs apt's package lists: run `apt-get update`
// first (as root). Exits 0 and prints the paths on success; exits 2 with the
// reason when apt-get cannot download (no lists, no network, not Debian).
//
// Usage: node tools/linux/fetch.mjs [--refresh] [--symbols] [--quiet]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { newcArchive, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from './cpio.mjs';
import { indexModules, readCachedModules, resolveModules, WANTED_MODULES } from './modules.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const cacheDir = join(here, 'cache');
export const paths = {
  kernel: join(cacheDir, 'vmlinuz'),
  config: join(cacheDir, 'config'),
  initramfs: join(cacheDir, 'initramfs.cpio.gz'),
  manifest: join(cacheDir, 'manifest.json'),
  vmlinux: join(cacheDir, 'vmlinux'),
  systemMap: join(cacheDir, 'System.map'),
  /** The virtio and ext4 modules (modules.mjs) as `<name>.ko`, and `order`, their load order. */
  modules: join(cacheDir, 'modules'),
};

const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (msg) => {
  if (!quiet) console.error(`fetch-linux: ${msg}`);
};

function fail(msg, code = 2) {
  console.error(`fetch-linux: ${msg}`);
  process.exit(code);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.error) {
    if (r.error.code === 'ENOENT') fail(`${cmd} not found: this script needs Debian's apt-get and dpkg-deb`);
    throw r.error;
  }
  return r;
}

/** Downloads one package into debDir with apt-get download; returns the .deb path. */
function aptDownload(pkg, debDir) {
  log(`apt-get download ${pkg}`);
  // APT::Sandbox::User=root: as root, apt would otherwise drop to _apt, which
  // cannot write into a directory it does not own (a warning, not an error,
  // but noise in CI logs).
  const r = run('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', pkg], { cwd: debDir });
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join('\n  ');
    fail(
      `apt-get download ${pkg} failed:\n  ${why}\n` +
        "apt needs its package lists: run 'apt-get update' (as root) and try again.",
    );
  }
  const name = pkg.replace(/=.*/, '');
  const deb = readdirSync(debDir).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (!deb) fail(`apt-get download ${pkg} succeeded but left no ${name}_*.deb in ${debDir}`);
  return join(debDir, deb);
}

function debField(deb, field) {
  return execFileSync('dpkg-deb', ['-f', deb, field], { encoding: 'utf8' }).trim();
}

/** Extracts only the named members of a .deb's data archive into dir. */
function debExtract(deb, dir, members) {
  mkdirSync(dir, { recursive: true });
  const tar = run('sh', [
    '-c',
    'd="$1"; o="$2"; shift 2; dpkg-deb --fsys-tarfile "$d" | tar -x -C "$o" "$@"',
    'sh',
    deb,
    dir,
    ...members,
  ]);
  if (tar.status !== 0) fail(`extracting ${members.join(' ')} from ${deb} failed: ${tar.stderr.trim()}`);
}

/** Lines of /etc/sort-input.txt, the file /init sorts. */
export const SORT_LINES = 10_000;

/**
 * /etc/sort-input.txt: SORT_LINES lines in a fixed pseudo-random order (a 32-bit xorshift, so
 * the file is the same on every build), of 1 to 7 base-36 digits with some repeated, so that
 * `sort` has lengths, prefixes and duplicates to order. The test sorts it on the host (byte
 * order, which busybox's sort uses in the C locale) and compares.
 */
export function sortInput() {
  let x = 0x2545f491;
  const lines = [];
  for (let i = 0; i < SORT_LINES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const line = (x % 4093 === 0 ? 7 : x % 78_364_164_096).toString(36).slice(0, 1 + (x % 7));
    lines.push(i % 97 === 0 && i > 0 ? lines[i - 1] : line);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/**
 * The initramfs: busybox, /init, and the few nodes the kernel needs before /init mounts
 * devtmpfs; `modules` (`{ name, bytes }` in load order, modules.mjs) go to /lib/modules/NAME.ko
 * with their order in /etc/modules, which /init loads.
 */
export function buildInitramfs(busybox, init, modules = []) {
  const dir = (name) => ({ name, mode: S_IFDIR | 0o755 });
  const entries = [
    dir('bin'),
    dir('sbin'),
    dir('usr'),
    dir('usr/bin'),
    dir('usr/sbin'),
    dir('dev'),
    dir('proc'),
    dir('sys'),
    dir('tmp'),
    dir('root'),
    dir('etc'),
    // The kernel opens /dev/console for PID 1 before any /init code runs; without
    // the node, init's output goes nowhere ("Warning: unable to open an initial console").
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'dev/ttyS0', mode: S_IFCHR | 0o660, rdevMajor: 4, rdevMinor: 64 },
    { name: 'dev/null', mode: S_IFCHR | 0o666, rdevMajor: 1, rdevMinor: 3 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'init', mode: S_IFREG | 0o755, data: init },
    { name: 'etc/hostname', mode: S_IFREG | 0o644, data: Buffer.from('qemu-lite\n') },
    { name: 'etc/sort-input.txt', mode: S_IFREG | 0o644, data: sortInput() },
  ];
  if (modules.length > 0) {
    entries.push(dir('lib'), dir('lib/modules'));
    for (const m of modules)
      entries.push({ name: `lib/modules/${m.name}.ko`, mode: S_IFREG | 0o644, data: m.bytes });
    const order = modules.map((m) => `${m.name}\n`).join('');
    entries.push({ name: 'etc/modules', mode: S_IFREG | 0o644, data: Buffer.from(order) });
  }
  return gzipSync(newcArchive(entries), { level: 9 });
}

/**
 * The bzImage's payload (boot protocol 2.08: payload_offset at 0x248 from the protected-mode
 * kernel, payload_length at 0x24c), decompressed with the host's xz. Optional: only QEMU's
 * PVH boot in the bench uses it, so a failure is reported and not fatal.
 */
function extractVmlinux() {
  const image = readFileSync(paths.kernel);
  const setupSize = ((image[0x1f1] || 4) + 1) * 512;
  const offset = setupSize + image.readUInt32LE(0x248);
  const payload = image.subarray(offset, offset + image.readUInt32LE(0x24c));
  const r = spawnSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: 1 << 30 });
  if (r.status !== 0) {
    log(`could not decompress the kernel's payload with xz (${r.error?.message ?? r.stderr}); no vmlinux`);
    return;
  }
  writeFileSync(paths.vmlinux, r.stdout);
}

/**
 * System.map from Debian's debug image (linux-image-<release>-dbg, the same version): only its
 * vmlinux is unpacked, read with `nm -n`, and deleted. Optional: a failure is reported, not fatal.
 */
function fetchSymbols(manifest) {
  const debDir = join(cacheDir, 'debs');
  rmSync(debDir, { recursive: true, force: true });
  mkdirSync(debDir, { recursive: true });
  const dbg = aptDownload(`${manifest.kernelPackage}-dbg=${manifest.kernelVersion}`, debDir);
  const member = `./usr/lib/debug/boot/vmlinux-${manifest.kernelRelease}`;
  log(`unpacking ${member} (a minute)`);
  debExtract(dbg, debDir, [member]);
  const nm = run('nm', ['-n', join(debDir, member)], { maxBuffer: 1 << 28 });
  if (nm.status !== 0) log(`nm failed (${nm.stderr.trim()}); no System.map`);
  else writeFileSync(paths.systemMap, nm.stdout);
  rmSync(debDir, { recursive: true, force: true });
}

/**
 * The modules /init loads (modules.mjs), from the same kernel package as the cached kernel:
 * only its lib/modules/<release>/kernel is unpacked, the wanted modules and their dependencies
 * are copied to cache/modules, and the rest deleted.
 */
function fetchModules(manifest) {
  const debDir = join(cacheDir, 'debs');
  rmSync(debDir, { recursive: true, force: true });
  mkdirSync(debDir, { recursive: true });
  const deb = aptDownload(`${manifest.kernelPackage}=${manifest.kernelVersion}`, debDir);
  const member = `./lib/modules/${manifest.kernelRelease}/kernel`;
  debExtract(deb, debDir, [member]);
  const index = indexModules(join(debDir, member));
  let modules;
  try {
    modules = resolveModules(WANTED_MODULES, (name) => {
      const p = index.get(name);
      return p === undefined ? undefined : readFileSync(p);
    });
  } catch (e) {
    fail(`${manifest.kernelPackage}: ${e.message}`);
  }
  rmSync(paths.modules, { recursive: true, force: true });
  mkdirSync(paths.modules, { recursive: true });
  for (const m of modules) writeFileSync(join(paths.modules, `${m.name}.ko`), m.bytes);
  writeFileSync(join(paths.modules, 'order'), modules.map((m) => `${m.name}\n`).join(''));
  rmSync(debDir, { recursive: true, force: true });
  log(`modules: ${modules.map((m) => m.name).join(' ')}`);
}

function main() {
  if (args.has('--refresh')) rmSync(cacheDir, { recursive: true, force: true });
  const init = readFileSync(join(here, 'init.sh'));
  if (existsSync(paths.kernel) && existsSync(paths.manifest) && existsSync(join(cacheDir, 'busybox'))) {
    log('kernel and busybox already in the cache; rebuilding only the initramfs');
  } else {
    const debDir = join(cacheDir, 'debs');
    rmSync(debDir, { recursive: true, force: true });
    mkdirSync(debDir, { recursive: true });
    // linux-image-amd64 is a metapackage; its Depends names the versioned image.
    const meta = aptDownload('linux-image-amd64', debDir);
    const depends = debField(meta, 'Depends');
    const m = /^(linux-image-[0-9][^\s,(]*-amd64)(?:\s*\(=\s*([^)]+)\))?/.exec(depends);
    if (!m) fail(`cannot find the kernel image in linux-image-amd64's Depends: ${JSON.stringify(depends)}`);
    const imagePkg = m[1];
    const imageDeb = aptDownload(m[2] ? `${imagePkg}=${m[2]}` : imagePkg, debDir);
    const busyboxDeb = aptDownload('busybox-static', debDir);
    const release = imagePkg.replace(/^linux-image-/, '');
    const extractDir = join(cacheDir, 'extract');
    rmSync(extractDir, { recursive: true, force: true });
    // Only /boot: the console, initramfs and ttyS driver are built in (checked below);
    // the few modules /init loads come from the same package in fetchModules.
    debExtract(imageDeb, extractDir, ['./boot']);
    debExtract(busyboxDeb, extractDir, ['./bin/busybox']);
    execFileSync('cp', [join(extractDir, 'boot', `vmlinuz-${release}`), paths.kernel]);
    execFileSync('cp', [join(extractDir, 'boot', `config-${release}`), paths.config]);
    execFileSync('cp', [join(extractDir, 'bin', 'busybox'), join(cacheDir, 'busybox')]);
    const manifest = {
      kernelPackage: imagePkg,
      kernelVersion: debField(imageDeb, 'Version'),
      kernelRelease: release,
      busyboxVersion: debField(busyboxDeb, 'Version'),
    };
    writeFileSync(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
    rmSync(extractDir, { recursive: true, force: true });
    rmSync(debDir, { recursive: true, force: true });
  }
  const config = readFileSync(paths.config, 'utf8');
  for (const opt of [
    'CONFIG_SERIAL_8250_CONSOLE',
    'CONFIG_BLK_DEV_INITRD',
    'CONFIG_RD_GZIP',
    'CONFIG_DEVTMPFS',
  ]) {
    if (!new RegExp(`^${opt}=y$`, 'm').test(config))
      fail(`the kernel is not built with ${opt}=y: it cannot boot this initramfs`);
  }
  const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8'));
  if (!existsSync(join(paths.modules, 'order'))) fetchModules(manifest);
  writeFileSync(
    paths.initramfs,
    buildInitramfs(readFileSync(join(cacheDir, 'busybox')), init, readCachedModules(paths.modules)),
  );
  if (!existsSync(paths.vmlinux)) extractVmlinux();
  if (args.has('--symbols') && !existsSync(paths.systemMap)) fetchSymbols(manifest);
  log(`${manifest.kernelPackage} ${manifest.kernelVersion}, busybox-static ${manifest.busyboxVersion}`);
  console.log(JSON.stringify({ ...paths, ...manifest }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
