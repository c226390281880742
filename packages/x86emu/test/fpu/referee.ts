/**
 * Runs fpu-referee.c on a batch of cases and returns its output lines, one per case, as
 * arrays of numbers. The program is built once per source version with the machine's gcc
 * (cached in the temp directory under its content hash, so parallel test files share it).
 * It runs x87/SSE instructions natively, so it needs an x86-64 host: REFEREE_MISSING says
 * why it cannot run, for describe.skipIf.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = join(__dirname, 'fpu-referee.c');

function missing(): string | null {
  if (process.arch !== 'x64')
    return `the referee runs x87/SSE natively: needs x86-64, this is ${process.arch}`;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the referee is C: gcc not found';
  }
  return null;
}

/** Why the referee cannot run here, or null. */
export const REFEREE_MISSING = missing();

let exe: string | null = null;

function compile(): string {
  if (exe) return exe;
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const target = join(tmpdir(), `x86emu-fpu-referee-${hash}`);
  if (!existsSync(target)) {
    const tmp = `${target}.${process.pid}`;
    execFileSync('gcc', ['-O1', '-o', tmp, SOURCE]);
    renameSync(tmp, target); // atomic: a concurrent build of the same source is identical
  }
  exe = target;
  return exe;
}

const hex = (n: number): string => (n >>> 0).toString(16);

/** One case: op name, control word or MXCSR, operand words. */
export type Case = [op: string, ctl: number, ...words: number[]];

export function runReferee(cases: Case[]): number[][] {
  const input = cases.map(([op, ctl, ...w]) => `${op} ${hex(ctl)} ${w.map(hex).join(' ')}`).join('\n');
  const out = execFileSync(compile(), { input: `${input}\n`, maxBuffer: 256 << 20 }).toString();
  const lines = out.trim().split('\n');
  if (lines.length !== cases.length)
    throw new Error(`referee: ${lines.length} lines for ${cases.length} cases`);
  return lines.map((l) => l.split(' ').map((h) => Number.parseInt(h, 16)));
}

/** Appended to a suite's name: says why it is skipped, where it is. */
export const SKIP_NOTE = REFEREE_MISSING ? ` (skipped: ${REFEREE_MISSING})` : '';
