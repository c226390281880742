/**
 * Bochs as a benchmark peer (issue #18: the C interpreter this project's interpreter is measured
 * against): Debian's `bochs` 2.7, booting the guest from a GRUB rescue ISO (Bochs has no
 * multiboot loader) with the guest's command line in grub.cfg.
 *
 * Debian's build has the internal debugger, which stops before the first instruction: a command
 * file continues it. It has no `nogui` display, so the RFB display runs with no client
 * (timeout=0); its sound module aborts the process without a sound card, so sound is the dummy
 * driver. Bochs has no isa-debug-exit, so a run ends when the guest's last line (the bench
 * guests' `checksum=`) reaches COM1's file; the process is then killed. The BIOS and GRUB run
 * before the guest in both the N- and the 0-iteration runs, so their time cancels as for QEMU.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAvailability, PeerRun } from './peer-run.js';

const BIOS = '/usr/share/bochs/BIOS-bochs-latest';
const VGA_BIOS = '/usr/share/vgabios/vgabios.bin';
/** Debian packages: Bochs and its ROMs, and what `grub-mkrescue` needs for a BIOS-bootable ISO. */
const PACKAGES = ['bochs', 'bochsbios', 'vgabios', 'grub-pc-bin', 'grub-common', 'xorriso', 'mtools'];

function missing(): string | undefined {
  if (spawnSync('bochs', ['--help'], { encoding: 'utf8' }).error) return 'bochs';
  if (spawnSync('grub-mkrescue', ['--version'], { encoding: 'utf8' }).error) return 'grub-mkrescue';
  if (spawnSync('xorriso', ['--version'], { encoding: 'utf8' }).error) return 'xorriso';
  if (!existsSync('/usr/lib/grub/i386-pc')) return 'grub-pc-bin (/usr/lib/grub/i386-pc)';
  if (!existsSync(BIOS)) return BIOS;
  if (!existsSync(VGA_BIOS)) return VGA_BIOS;
  return undefined;
}

/** Found, or why not (never installs). */
export function bochsAvailability(): PeerAvailability {
  const lack = missing();
  return lack
    ? { available: false, note: `${lack} is missing: apt-get install -y ${PACKAGES.join(' ')}` }
    : { available: true, note: 'Debian bochs 2.7 via GRUB' };
}

/** Found, installed (as root, with apt-get, as the bench does for QEMU), or why not. */
export function ensureBochs(log: (line: string) => void): PeerAvailability {
  let lack = missing();
  if (!lack) return { available: true, note: 'Debian bochs 2.7 via GRUB' };
  if (process.getuid?.() !== 0)
    return {
      available: false,
      note: `${lack} is missing and this is not root: apt-get install -y ${PACKAGES.join(' ')}`,
    };
  log(`bochs: ${lack} is missing; running apt-get update && apt-get install -y ${PACKAGES.join(' ')}`);
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  const inst = spawnSync('apt-get', ['install', '-y', ...PACKAGES], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  lack = missing();
  if (!lack) return { available: true, note: 'Debian bochs 2.7 via GRUB (installed now)' };
  return { available: false, note: `apt-get install failed (status ${inst.status}); still missing ${lack}` };
}

function bochsrc(iso: string, serial: string): string {
  return [
    'megs: 64',
    `romimage: file=${BIOS}`,
    `vgaromimage: file=${VGA_BIOS}`,
    `ata0-master: type=cdrom, path=${iso}, status=inserted`,
    'boot: cdrom',
    `com1: enabled=1, mode=file, dev=${serial}`,
    'display_library: rfb, options="timeout=0"',
    'sound: driver=dummy',
    'speaker: enabled=0',
    // Virtual time from the instruction count, not the host clock: GRUB's and the guest's timers
    // see the same time on every run.
    'clock: sync=none, time0=1',
    'cpu: count=1, ips=50000000',
    'log: /dev/null',
    '',
  ].join('\n');
}

/**
 * Runs `image` (a multiboot ELF) with `append` as its command line; the run ends when COM1's
 * output matches `done` (by default a bench guest's `checksum=` line).
 */
export async function runOnBochs(
  image: string,
  append: string,
  timeoutMs: number,
  done: RegExp = /checksum=\S+\r?\n/,
): Promise<PeerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-guests-bochs-'));
  try {
    const root = join(dir, 'iso');
    mkdirSync(join(root, 'boot', 'grub'), { recursive: true });
    copyFileSync(image, join(root, 'boot', 'guest.elf'));
    writeFileSync(
      join(root, 'boot', 'grub', 'grub.cfg'),
      `set timeout=0\nset default=0\nmenuentry guest {\n  multiboot /boot/guest.elf ${append}\n  boot\n}\n`,
    );
    const iso = join(dir, 'guest.iso');
    const mk = spawnSync('grub-mkrescue', ['-o', iso, root], { encoding: 'utf8' });
    if (mk.status !== 0)
      return { ms: 0, serial: '', ok: false, why: `grub-mkrescue failed: ${mk.stderr.trim()}` };
    const serial = join(dir, 'com1.txt');
    writeFileSync(join(dir, 'bochsrc'), bochsrc(iso, serial));
    writeFileSync(join(dir, 'continue.rc'), 'c\n');
    return await new Promise<PeerRun>((resolve) => {
      const t0 = performance.now();
      const child = spawn('bochs', ['-q', '-f', join(dir, 'bochsrc'), '-rc', join(dir, 'continue.rc')], {
        cwd: dir,
        stdio: 'ignore',
      });
      let result: PeerRun | undefined;
      const read = (): string => (existsSync(serial) ? readFileSync(serial, 'latin1') : '');
      const poll = setInterval(() => {
        const text = read();
        if (done.test(text)) finish({ ms: performance.now() - t0, serial: text, ok: true });
        else if (performance.now() - t0 > timeoutMs)
          finish({
            ms: performance.now() - t0,
            serial: text,
            ok: false,
            why: `no ${done} on COM1 in ${timeoutMs} ms`,
          });
      }, 10);
      const finish = (r: PeerRun) => {
        if (result) return;
        result = r;
        clearInterval(poll);
        child.kill('SIGKILL');
      };
      child.on('close', (code) => {
        finish({
          ms: performance.now() - t0,
          serial: read(),
          ok: false,
          why: `bochs exited with ${code} first`,
        });
        resolve(result as PeerRun);
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
