/**
 * Runs fpu-referee.c (compiled once per test file with the machine's gcc) on a batch of cases
 * and returns its output lines, one per case, as arrays of numbers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let exe: string | null = null;
let dir: string | null = null;

function compile(): string {
  if (exe) return exe;
  dir = mkdtempSync(join(tmpdir(), 'x86emu-fpu-referee-'));
  exe = join(dir, 'fpu-referee');
  execFileSync('gcc', ['-O1', '-o', exe, join(__dirname, 'fpu-referee.c')]);
  process.on('exit', () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
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
