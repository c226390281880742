/**
 * The SIMD integer tests' referee: one instruction run on this machine's CPU (sse-int-harness.c,
 * built once per source version with gcc) and on a bare x86emu `Cpu` in 64-bit mode from the
 * same state, every field compared. States are random with the values that matter biased in:
 * 0, all ones, the signed limits of every lane width, small lengths for the string compares.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cpu, Cr4 } from '../src/index.js';
import { asm } from './asm.js';
import { L, longMode } from './long.js';
import type { Machine } from './machine.js';

const SOURCE = join(__dirname, 'sse-int-harness.c');

function missing(): string | null {
  if (process.arch !== 'x64')
    return `the referee runs SIMD instructions natively: needs x86-64, this is ${process.arch}`;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    execFileSync('as', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the referee needs gcc and binutils';
  }
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  if (!/\bsse4_2\b/.test(cpuinfo) || !/\bssse3\b/.test(cpuinfo) || !/\bpopcnt\b/.test(cpuinfo))
    return 'the host CPU lacks SSE4.2/SSSE3/POPCNT';
  return null;
}
export const REFEREE_MISSING = missing();
export const SKIP_NOTE = REFEREE_MISSING ? ` (skipped: ${REFEREE_MISSING})` : '';

let exe: string | null = null;
function compile(): string {
  if (exe) return exe;
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const target = join(tmpdir(), `x86emu-sse-int-harness-${hash}`);
  if (!existsSync(target)) {
    const tmp = `${target}.${process.pid}`;
    execFileSync('gcc', ['-O1', '-o', tmp, SOURCE]);
    renameSync(tmp, target);
  }
  exe = target;
  return exe;
}

/** A machine state around one instruction: xmm0–3 and xmm8, mm0/mm1, rax/rcx/rdx, rflags, 64 bytes at [rbx] = [rdi]. */
export interface SimdState {
  xmm: Uint8Array[]; // 5 × 16
  mm: bigint[]; // 2
  gpr: bigint[]; // rax, rcx, rdx
  rflags: bigint;
  mem: Uint8Array; // 64
}

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (h: string): Uint8Array =>
  Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
const h64 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

function line(s: SimdState): string {
  return [...s.xmm.map(hexOf), ...s.mm.map(h64), ...s.gpr.map(h64), h64(s.rflags), hexOf(s.mem)].join(' ');
}
function parse(l: string): SimdState {
  const f = l.trim().split(' ');
  return {
    xmm: f.slice(0, 5).map(fromHex),
    mm: f.slice(5, 7).map((x) => BigInt(`0x${x}`)),
    gpr: f.slice(7, 10).map((x) => BigInt(`0x${x}`)),
    rflags: BigInt(`0x${f[10]}`),
    mem: fromHex(f[11]),
  };
}

/** Runs each (bytes, state) on the host CPU; returns the states after. */
export function runNative(cases: { bytes: Uint8Array; state: SimdState }[]): SimdState[] {
  const input = cases.map((c) => `${hexOf(c.bytes)} ${line(c.state)}`).join('\n');
  const out = execFileSync(compile(), { input: `${input}\n`, maxBuffer: 64 << 20 }).toString();
  const lines = out.trim().split('\n');
  if (lines.length !== cases.length)
    throw new Error(`harness: ${lines.length} lines for ${cases.length} cases`);
  return lines.map(parse);
}

/** Where the 64-byte block lives in the x86emu machine. */
const MEM = 0x20000;
let machine: Machine | null = null;

/** Runs one instruction on x86emu (64-bit mode, CPL 0, CR4.OSFXSR = 1); returns the state after, or the exception vector. */
export function runEmu(bytes: Uint8Array, st: SimdState): SimdState | number {
  if (machine === null) machine = longMode('hlt', { captureExceptions: true });
  const m = machine;
  const cpu: Cpu = m.cpu;
  const s = cpu.state;
  m.mem.bytes.set(bytes, L.CODE);
  m.mem.bytes[L.CODE + bytes.length] = 0xf4;
  m.mem.bytes.set(st.mem, MEM);
  const regs = [0, 1, 2, 3, 8];
  for (let k = 0; k < 5; k++) s.xmm.set(st.xmm[k], regs[k] * 16);
  for (let k = 0; k < 2; k++) {
    const v = BigInt.asUintN(64, st.mm[k]);
    for (let b = 0; b < 8; b++) s.fpuRegs[k * 10 + b] = Number((v >> BigInt(8 * b)) & 0xffn);
  }
  const gprs = [0, 1, 2];
  for (let k = 0; k < 3; k++) {
    const v = BigInt.asUintN(64, st.gpr[k]);
    s.gpr[gprs[k]] = Number(v & 0xffffffffn);
    s.gprHigh[gprs[k]] = Number(v >> 32n);
  }
  s.gpr[3] = MEM; // rbx
  s.gprHigh[3] = 0;
  s.gpr[7] = MEM; // rdi
  s.gprHigh[7] = 0;
  s.rflags[0] = Number(st.rflags & 0xffffffffn);
  s.rip[0] = L.CODE;
  s.rip[1] = 0;
  s.halted = false;
  s.cr[4] |= Cr4.OSFXSR;
  m.exceptions.length = 0;
  cpu.stateChanged();
  cpu.flushCodeCache();
  cpu.run(10);
  if (m.exceptions.length > 0) return m.exceptions[0].vector;
  const mm = [0, 1].map((k) => {
    let v = 0n;
    for (let b = 7; b >= 0; b--) v = (v << 8n) | BigInt(s.fpuRegs[k * 10 + b]);
    return v;
  });
  return {
    xmm: regs.map((r) => s.xmm.slice(r * 16, r * 16 + 16)),
    mm,
    gpr: gprs.map((r) => (BigInt(s.gprHigh[r]) << 32n) | BigInt(s.gpr[r])),
    rflags: BigInt(cpu.getFlags()),
    mem: m.mem.bytes.slice(MEM, MEM + 64),
  };
}

/**
 * States per form: the test's default, or SSE_INT_CASES for a longer search; SSE_INT_SEED
 * replaces the seeds (the default ones are fixed, so CI runs are reproducible).
 */
export function CASES(n: number): number {
  const v = Number(process.env.SSE_INT_CASES ?? 0);
  return v > 0 ? v : n;
}
export function SEED(seed: number): number {
  const v = Number(process.env.SSE_INT_SEED ?? 0);
  return v > 0 ? (v * 2654435761 + seed) >>> 0 : seed;
}

/** A seeded xorshift generator. */
export class Rng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

const SPECIAL_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

/** 16 random bytes with special values biased in, per lane width chosen at random. */
function vec(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const mode = r.below(6);
  for (let k = 0; k < n; k++) {
    if (mode === 0) b[k] = SPECIAL_BYTES[r.below(SPECIAL_BYTES.length)];
    else if (mode === 1)
      b[k] = r.below(4) === 0 ? 0 : 0x20 + r.below(8); // string-like: small alphabet, NULs
    else b[k] = r.below(256);
  }
  if (mode === 2) {
    // Lane-limit values: 0x7fff/0x8000, 0x7fffffff/0x80000000 at random positions.
    for (let k = 0; k < n; k += 2) if (r.below(3) === 0) b[k + 1] = r.below(2) ? 0x7f : 0x80;
  }
  return b;
}

function u64(r: Rng): bigint {
  const k = r.below(4);
  if (k === 0) return BigInt(r.below(40)) - 20n; // small signed (string-compare lengths, shift counts)
  return (BigInt(r.next()) << 32n) | BigInt(r.next());
}

export function randomState(r: Rng): SimdState {
  return {
    xmm: [0, 1, 2, 3, 4].map(() => vec(r, 16)),
    mm: [0, 1].map(() => u64(r)),
    gpr: [0, 1, 2].map(() => u64(r)),
    // Arithmetic flags at random, IF and bit 1 set as user code has them.
    rflags: BigInt((r.next() & 0x8d5) | 0x202),
    mem: vec(r, 64),
  };
}

/**
 * Assembles instructions (Intel syntax, 64-bit) in one run of `as`: each is preceded by its
 * length as a byte (`.byte 2f-1f`), so the flat output splits back into instructions.
 */
export function encodeMany(texts: string[]): Uint8Array[] {
  const bin = asm(texts.map((t) => `.byte 2f-1f\n1: ${t}\n2:`).join('\n'), { bits: 64 });
  const out: Uint8Array[] = [];
  let at = 0;
  for (let k = 0; k < texts.length; k++) {
    const n = bin[at];
    out.push(bin.slice(at + 1, at + 1 + n));
    at += 1 + n;
  }
  if (at !== bin.length) throw new Error('encodeMany: lengths do not add up');
  return out;
}

/** A readable difference between two states, or null. */
export function diff(want: SimdState, got: SimdState | number, flagMask = 0x8d5n): string | null {
  if (typeof got === 'number') return `x86emu raised vector ${got}`;
  const out: string[] = [];
  const names = ['xmm0', 'xmm1', 'xmm2', 'xmm3', 'xmm8'];
  for (let k = 0; k < 5; k++)
    if (hexOf(want.xmm[k]) !== hexOf(got.xmm[k]))
      out.push(`${names[k]} ${hexOf(got.xmm[k])} != ${hexOf(want.xmm[k])}`);
  for (let k = 0; k < 2; k++)
    if (want.mm[k] !== got.mm[k]) out.push(`mm${k} ${h64(got.mm[k])} != ${h64(want.mm[k])}`);
  const g = ['rax', 'rcx', 'rdx'];
  for (let k = 0; k < 3; k++)
    if (want.gpr[k] !== got.gpr[k]) out.push(`${g[k]} ${h64(got.gpr[k])} != ${h64(want.gpr[k])}`);
  if ((want.rflags & flagMask) !== (got.rflags & flagMask))
    out.push(`rflags ${h64(got.rflags & flagMask)} != ${h64(want.rflags & flagMask)}`);
  if (hexOf(want.mem) !== hexOf(got.mem)) out.push(`mem ${hexOf(got.mem)} != ${hexOf(want.mem)}`);
  return out.length ? out.join('; ') : null;
}

/**
 * Runs every form on `perForm` random states on both CPUs; returns the mismatches (first few per form).
 */
export function compareForms(forms: string[], perForm: number, seed: number): string[] {
  const r = new Rng(seed);
  const cases: { text: string; bytes: Uint8Array; state: SimdState }[] = [];
  const encoded = encodeMany(forms);
  for (const [k, text] of forms.entries()) {
    const bytes = encoded[k];
    for (let j = 0; j < perForm; j++) cases.push({ text, bytes, state: randomState(r) });
  }
  const want = runNative(cases);
  const bad: string[] = [];
  const perText = new Map<string, number>();
  cases.forEach((c, k) => {
    const d = diff(want[k], runEmu(c.bytes, c.state));
    if (d === null) return;
    const n = perText.get(c.text) ?? 0;
    perText.set(c.text, n + 1);
    if (n < 2) bad.push(`${c.text}: ${d}`);
  });
  return bad;
}
