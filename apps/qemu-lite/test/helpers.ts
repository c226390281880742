/** Shared by the integration tests: host-engine availability and building the test guests. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostKvmAvailability } from '@kvm/host';

const availability = hostKvmAvailability();
/** Why the host engine cannot run here, or undefined when it can. */
export const hostSkipReason: string | undefined = availability.available ? undefined : availability.reason;

/**
 * Builds test/guests/NAME.S into a multiboot ELF with the machine's gcc/ld, its code linked at
 * `textAddr` (default 1 MiB); returns its path.
 */
export function buildTestGuest(name: string, textAddr = 0x100000): string {
  const source = fileURLToPath(new URL(`./guests/${name}.S`, import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'qemu-lite-guest-')), `${name}.elf`);
  execFileSync('gcc', [
    '-m32',
    '-nostdlib',
    '-static',
    '-no-pie',
    `-Wl,-Ttext=0x${textAddr.toString(16)}`,
    '-Wl,--build-id=none',
    '-o',
    out,
    source,
  ]);
  return out;
}

/** The built CLI, run by the process tests. */
export const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** tools/guests' `cpu` test, 32-bit: prints its results on the UART, an exit a byte. */
export const cpuGuest = fileURLToPath(new URL('../../../tools/guests/out/cpu.elf', import.meta.url));
/** '' when the `cpu` guest is built, else the skip note for a test's name. */
export const cpuGuestMissing = existsSync(cpuGuest) ? '' : ` (skipped: ${cpuGuest} is not built)`;

/**
 * The `cpu` guest on `-accel ACCEL` with `-d exits`, to its debug-exit: its results on stdout,
 * the exit table and the engine's counters on stderr.
 */
export function runCpuGuestWithExits(accel: string) {
  return spawnSync(
    process.execPath,
    [
      cliPath,
      '-accel',
      accel,
      '-nographic',
      '-no-reboot',
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=4',
      '-kernel',
      cpuGuest,
      '-d',
      'exits',
    ],
    { encoding: 'utf8', timeout: 60_000, input: '' },
  );
}
