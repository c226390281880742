/**
 * Compiled SIMD code end to end: sse-int-program.c built with gcc -O2 -msse4.2 runs natively and,
 * freestanding, on a bare x86emu Cpu in 64-bit mode; the 64-bit results must be identical.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cr4, StopReason } from '../src/index.js';
import { longMode } from './long.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-int-referee.js';

const SRC = join(__dirname, 'sse-int-program.c');
const ENTRY = join(__dirname, 'sse-int-program-entry.s');
const OUT = 0x300000;
const FLAGS = ['-O2', '-msse4.2', '-mpopcnt'];

/** Builds (once per source version, in the temp directory) the native program and the flat image. */
function build(): { native: string; image: Uint8Array } {
  const hash = createHash('sha256').update(readFileSync(SRC)).update(readFileSync(ENTRY)).digest('hex');
  const dir = join(tmpdir(), `x86emu-sse-int-program-${hash.slice(0, 16)}`);
  const native = join(dir, 'native');
  const image = join(dir, 'image.bin');
  if (!existsSync(image)) {
    const tmp = `${dir}.${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    execFileSync('gcc', [...FLAGS, '-DNATIVE', '-o', join(tmp, 'native'), SRC]);
    execFileSync('gcc', [
      ...FLAGS,
      '-ffreestanding',
      '-fno-pic',
      '-fno-pie',
      '-mno-red-zone',
      '-fno-stack-protector',
      '-fno-tree-loop-distribute-patterns',
      '-fcf-protection=none',
      '-nostdlib',
      '-c',
      '-o',
      join(tmp, 'prog.o'),
      SRC,
    ]);
    execFileSync('as', ['--64', '-o', join(tmp, 'entry.o'), ENTRY]);
    execFileSync('ld', [
      '-m',
      'elf_x86_64',
      '-Ttext',
      '0x10000',
      '-e',
      '_start',
      '--oformat',
      'binary',
      '--no-warn-execstack',
      '-o',
      join(tmp, 'image.bin'),
      join(tmp, 'entry.o'),
      join(tmp, 'prog.o'),
    ]);
    try {
      execFileSync('mv', ['-T', tmp, dir]);
    } catch {
      // Another test process built the same source first.
    }
  }
  return { native, image: new Uint8Array(readFileSync(image)) };
}

describe(`compiled SSE4.2 code${SKIP_NOTE}`, () => {
  it.skipIf(REFEREE_MISSING !== null)('gives on x86emu the results it gives on the host CPU', () => {
    const { native, image } = build();
    const want = execFileSync(native).toString().trim().split('\n');
    const m = longMode('hlt', { captureExceptions: true });
    m.mem.bytes.set(image, 0x10000);
    m.cpu.state.cr[4] |= Cr4.OSFXSR;
    m.cpu.stateChanged();
    m.cpu.flushCodeCache();
    expect(m.cpu.run(50_000_000)).toBe(StopReason.Hlt);
    expect(m.exceptions).toEqual([]);
    const got = Array.from({ length: want.length }, (_, k) => {
      const lo = m.mem.read32(OUT + 8 * k) >>> 0;
      const hi = m.mem.read32(OUT + 8 * k + 4) >>> 0;
      return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
    });
    expect(got).toEqual(want);
    expect(got).toContain('0000000000005a5a');
  });
});
