/**
 * Runs sse-fp-referee.c: each case's instruction bytes natively on the host CPU, with XMM0–XMM2,
 * RAX and MXCSR loaded; returns XMM1, XMM0, RAX, MXCSR, EFLAGS and the fault vector (see the C
 * file). Built once per source version with the machine's gcc, cached under its content hash.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REFEREE_MISSING } from '../fpu/referee.js';

export { REFEREE_MISSING, SKIP_NOTE } from '../fpu/referee.js';

const SOURCE = join(__dirname, 'sse-fp-referee.c');
let exe: string | null = null;

function compile(): string {
  if (exe) return exe;
  if (REFEREE_MISSING) throw new Error(REFEREE_MISSING);
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const target = join(tmpdir(), `x86emu-sse-fp-referee-${hash}`);
  if (!existsSync(target)) {
    const tmp = `${target}.${process.pid}`;
    // -mno-red-zone: the inline asm CALLs the generated code, which pushes below RSP.
    execFileSync('gcc', ['-O1', '-mno-red-zone', '-o', tmp, SOURCE]);
    renameSync(tmp, target);
  }
  exe = target;
  return exe;
}

/** One case: the instruction bytes, MXCSR, XMM0, XMM1, XMM2 (4 words each), RAX lo, hi. */
export interface SseCase {
  bytes: number[];
  mxcsr: number;
  x0: number[];
  x1: number[];
  x2: number[];
  raxLo: number;
  raxHi: number;
}

const hex = (n: number): string => (n >>> 0).toString(16);
export const bytesHex = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join('');

/** Output words per case: XMM1 ×4, XMM0 ×4, RAX lo, hi, MXCSR, EFLAGS & 0x8d5, fault vector. */
export function runSseReferee(cases: SseCase[]): number[][] {
  const input = cases
    .map((c) =>
      [bytesHex(c.bytes), c.mxcsr, ...c.x0, ...c.x1, ...c.x2, c.raxLo, c.raxHi]
        .map((v) => (typeof v === 'string' ? v : hex(v)))
        .join(' '),
    )
    .join('\n');
  const out = execFileSync(compile(), { input: `${input}\n`, maxBuffer: 256 << 20 }).toString();
  const lines = out.trim().split('\n');
  if (lines.length !== cases.length)
    throw new Error(`referee: ${lines.length} lines for ${cases.length} cases`);
  return lines.map((l) => l.split(' ').map((h) => Number.parseInt(h, 16)));
}
