/**
 * Test guests as assembly source, assembled at test time with the machine's GNU binutils
 * (`as` and `ld`, which come with gcc): small enough to read beside the test that runs them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Assembles 16-bit real-mode code (Intel syntax, no prefixes) linked to run at guest physical
 * address `origin`, as a flat binary. Labels are absolute; `_start` is the first byte. Throws
 * with the assembler's message on a syntax error.
 */
export function assembleReal(source: string, origin = 0x1000): Uint8Array {
  return assemble(`.code16\n.intel_syntax noprefix\n.globl _start\n_start:\n${source}\n`, origin);
}

function assemble(text: string, origin: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-guest-'));
  try {
    const src = join(dir, 'guest.S');
    const obj = join(dir, 'guest.o');
    const bin = join(dir, 'guest.bin');
    writeFileSync(src, text);
    execFileSync('as', ['--64', '-o', obj, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync(
      'ld',
      [
        '-m',
        'elf_x86_64',
        `-Ttext=0x${origin.toString(16)}`,
        '--oformat=binary',
        '-e',
        '_start',
        '-o',
        bin,
        obj,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    return new Uint8Array(readFileSync(bin));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why `assembleReal` can't work here (no binutils), or undefined when it can. */
export function assemblerUnavailable(): string | undefined {
  try {
    execFileSync('as', ['--version'], { stdio: 'ignore' });
    execFileSync('ld', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'GNU as/ld not found (Debian: apt-get install binutils)';
  }
}
