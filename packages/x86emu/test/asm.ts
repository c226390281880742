/**
 * Test helper: assembles Intel-syntax source with the machine's GNU as (binutils, which the
 * project's guest builds need anyway) into a flat binary loaded at `origin`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cache = new Map<string, Uint8Array>();

export function asm(source: string, opts: { bits?: 16 | 32 | 64; origin?: number } = {}): Uint8Array {
  const bits = opts.bits ?? 16;
  const origin = opts.origin ?? 0;
  const key = `${bits}:${origin}:${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'x86emu-asm-'));
  try {
    const src = join(dir, 'a.s');
    writeFileSync(src, `.intel_syntax noprefix\n.code${bits}\n${source}\n`);
    execFileSync('as', [bits === 64 ? '--64' : '--32', '-o', join(dir, 'a.o'), src]);
    execFileSync('ld', [
      '-m',
      bits === 64 ? 'elf_x86_64' : 'elf_i386',
      '-Ttext',
      `0x${origin.toString(16)}`,
      '-e',
      '0',
      '--oformat',
      'binary',
      '-o',
      join(dir, 'a.bin'),
      join(dir, 'a.o'),
    ]);
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.bin')));
    cache.set(key, bytes);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
