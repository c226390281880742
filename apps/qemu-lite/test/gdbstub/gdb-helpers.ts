/**
 * What the gdb end-to-end tests share: whether they can run (Debian's gdb, the built guests),
 * running a gdb script in batch mode against the stub, and a guest's symbol addresses by `nm`
 * (the guests' layout moves whenever their library changes, so tests do not hard-code them).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file of tools/guests' build output (`out/NAME`). */
export function guestImage(name: string): string {
  return fileURLToPath(new URL(`../../../../tools/guests/out/${name}`, import.meta.url));
}

/** Why the gdb tests cannot run here (no gdb, `elf` not built), or undefined. */
export function gdbSkipReason(elf: string): string | undefined {
  try {
    execFileSync('gdb', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'gdb is not installed (apt-get install gdb)';
  }
  return existsSync(elf)
    ? undefined
    : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';
}

/** Runs `script` with `gdb -nx -batch` on the symbols of `elf`; resolves with all it printed. */
export function runGdbScript(script: string, elf: string, timeoutMs = 90_000): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'qemu-lite-gdb-')), 'session.gdb');
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    execFile('gdb', ['-nx', '-batch', '-x', file, elf], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error && !stdout) reject(error);
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/** The address of symbol `name` in `elf` (`nm`). */
export function symbolAddress(elf: string, name: string): bigint {
  const line = execFileSync('nm', [elf], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.endsWith(` ${name}`));
  if (!line) throw new Error(`no ${name} in ${elf}`);
  return BigInt(`0x${line.split(' ')[0]}`);
}
