/**
 * Instruction-level referee for the x87: each instruction of `X87_INSNS` runs natively on the
 * host CPU (a C program generated here, built with the machine's gcc) and on x86emu, from the
 * same FRSTOR image, memory operand and RFLAGS. Both run the very same bytes (GNU as assembles
 * both), inside `push rdx; popfq; frstor [rdi]; INSN; fnsave [rdi]; pushfq; pop [rsi+16];
 * mov [rsi+24], rax`. Unmasked exceptions are only recorded (ES) by the instruction and FNSAVE
 * does not wait, so every exception case is observable without a signal.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cr0, StopReason } from '../src/index.js';
import { asm } from './asm.js';
import { controlWord, ext80, f32, f64, type Rng, word } from './fpu/gen.js';
import { L, longMode } from './long.js';

/** Memory operand kinds, for the generator. */
export type OperandKind = 'none' | 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd' | 'cw';

/** [Intel-syntax text with the memory operand at [rsi], operand kind]. */
export const X87_INSNS: readonly (readonly [string, OperandKind])[] = [
  ...['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'].flatMap(
    (m) =>
      [
        [`${m} dword ptr [rsi]`, 'f32'],
        [`${m} qword ptr [rsi]`, 'f64'],
        [`fi${m.slice(1)} dword ptr [rsi]`, 'i32'],
        [`fi${m.slice(1)} word ptr [rsi]`, 'i16'],
      ] as const,
  ),
  ...['fadd', 'fmul', 'fsub', 'fsubr', 'fdiv', 'fdivr'].flatMap(
    (m) =>
      [
        [`${m} st, st(1)`, 'none'],
        [`${m} st(2), st`, 'none'],
        [`${m}p st(1), st`, 'none'],
      ] as const,
  ),
  ...[
    'fcom st(1)',
    'fcomp st(2)',
    'fcompp',
    'fucom st(1)',
    'fucomp st(3)',
    'fucompp',
    'fcomi st, st(1)',
    'fucomi st, st(2)',
    'fcomip st, st(1)',
    'fucomip st, st(1)',
    'fcmovb st, st(1)',
    'fcmove st, st(2)',
    'fcmovbe st, st(1)',
    'fcmovu st, st(1)',
    'fcmovnb st, st(1)',
    'fcmovne st, st(1)',
    'fcmovnbe st, st(3)',
    'fcmovnu st, st(1)',
    'fld st(2)',
    'fst st(3)',
    'fstp st(1)',
    'fxch st(1)',
    'fxch st(4)',
    'fld1',
    'fldl2t',
    'fldl2e',
    'fldpi',
    'fldlg2',
    'fldln2',
    'fldz',
    'fchs',
    'fabs',
    'ftst',
    'fxam',
    'fsqrt',
    'frndint',
    'fscale',
    'fxtract',
    'fprem',
    'fprem1',
    'fincstp',
    'fdecstp',
    'ffree st(1)',
    'fnop',
    'fnclex',
    'fninit',
    'fnstsw ax',
    // Register forms the SDM leaves blank, which the CPU executes (FSTP1, FSTP8, FSTP9, FXCH4,
    // FXCH7, FCOM2, FCOMP3, FCOMP5, FFREEP):
    '.byte 0xd9, 0xda',
    '.byte 0xdf, 0xd1',
    '.byte 0xdf, 0xd9',
    '.byte 0xdd, 0xc9',
    '.byte 0xdf, 0xcb',
    '.byte 0xdc, 0xd1',
    '.byte 0xdc, 0xd9',
    '.byte 0xde, 0xd1',
    '.byte 0xdf, 0xc1',
  ].map((t) => [t, 'none'] as const),
  ['fld dword ptr [rsi]', 'f32'],
  ['fld qword ptr [rsi]', 'f64'],
  ['fld tbyte ptr [rsi]', 'f80'],
  ['fild word ptr [rsi]', 'i16'],
  ['fild dword ptr [rsi]', 'i32'],
  ['fild qword ptr [rsi]', 'i64'],
  ['fbld tbyte ptr [rsi]', 'bcd'],
  ['fst dword ptr [rsi]', 'none'],
  ['fstp qword ptr [rsi]', 'none'],
  ['fstp tbyte ptr [rsi]', 'none'],
  ['fist word ptr [rsi]', 'none'],
  ['fistp dword ptr [rsi]', 'none'],
  ['fistp qword ptr [rsi]', 'none'],
  ['fisttp word ptr [rsi]', 'none'],
  ['fisttp dword ptr [rsi]', 'none'],
  ['fisttp qword ptr [rsi]', 'none'],
  ['fbstp tbyte ptr [rsi]', 'none'],
  ['fldcw word ptr [rsi]', 'cw'],
  ['fnstcw word ptr [rsi]', 'none'],
  ['fnstsw word ptr [rsi]', 'none'],
];

/** The transcendentals: results within 1 ulp of the CPU's (src/fpu/README.md). */
export const X87_TRANS: readonly string[] = [
  'f2xm1',
  'fyl2x',
  'fyl2xp1',
  'fpatan',
  'fsin',
  'fcos',
  'fsincos',
  'fptan',
];

/** The instruction sequence both sides run around `insn`. */
export function snippet(insn: string): string {
  return `push rdx; popfq; frstor [rdi]; ${insn}; fnsave [rdi]; pushfq; pop qword ptr [rsi+16]; mov [rsi+24], rax`;
}

function missing(): string | null {
  if (process.arch !== 'x64')
    return `the referee runs x87 code natively: needs x86-64, this is ${process.arch}`;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the referee is C: gcc not found';
  }
  return null;
}
export const X87_REFEREE_MISSING = missing();

/** The native program's shape: which snippet, how many memory bytes go in and come out. */
export interface Shape {
  snippet: (insn: string) => string;
  memIn: number;
  memOut: number;
}
const ARITH: Shape = { snippet, memIn: 16, memOut: 32 };

/** State instructions (FNSTENV, FXSAVE, FRSTOR from memory…): a 576-byte, 64-aligned operand. */
export function stateSnippet(insn: string): string {
  return `frstor [rdi]; ${insn}; fnsave [rdi]`;
}
export const STATE: Shape = { snippet: stateSnippet, memIn: 112, memOut: 576 };

function cSource(insns: readonly string[], shape: Shape): string {
  const fns = insns.map(
    (t, k) => `static void t${k}(uint8_t *env, uint8_t *mem, uint64_t fl) {
  __asm__ volatile(".intel_syntax noprefix\\n\\t${shape.snippet(t).replace(/; /g, '\\n\\t')}\\n\\t.att_syntax"
    : : "D"(env), "S"(mem), "d"(fl), "a"(0x1111111111111111ull) : "memory", "cc", "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
}`,
  );
  return `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
${fns.join('\n')}
static void (*const T[])(uint8_t *, uint8_t *, uint64_t) = { ${insns.map((_, k) => `t${k}`).join(', ')} };
static int hexbytes(const char *s, uint8_t *out, int n) {
  for (int i = 0; i < n; i++) { unsigned v; if (sscanf(s + 2 * i, "%2x", &v) != 1) return 0; out[i] = (uint8_t)v; }
  return 1;
}
int main(void) {
  static char env_s[300], mem_s[${2 * shape.memIn + 4}];
  unsigned k; unsigned long long fl;
  static uint8_t env[128] __attribute__((aligned(64))), mem[${Math.max(shape.memOut, 64)}] __attribute__((aligned(64)));
  while (scanf("%u %llx %299s %${2 * shape.memIn + 2}s", &k, &fl, env_s, mem_s) == 4) {
    memset(mem, 0xa5, sizeof mem);
    if (!hexbytes(env_s, env, 108) || !hexbytes(mem_s, mem, ${shape.memIn})) return 2;
    T[k](env, mem, fl);
    for (int i = 0; i < 108; i++) printf("%02x", env[i]);
    putchar(' ');
    for (int i = 0; i < ${shape.memOut}; i++) printf("%02x", mem[i]);
    putchar('\\n');
  }
  return 0;
}
`;
}

const built = new Map<string, string>();

function compile(insns: readonly string[], shape: Shape): string {
  const src = cSource(insns, shape);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const hit = built.get(hash);
  if (hit) return hit;
  const target = join(tmpdir(), `x86emu-x87-referee-${hash}`);
  if (!existsSync(target)) {
    const c = `${target}.${process.pid}.c`;
    writeFileSync(c, src);
    execFileSync('gcc', ['-O1', '-mno-red-zone', '-o', `${target}.${process.pid}`, c]);
    renameSync(`${target}.${process.pid}`, target);
  }
  built.set(hash, target);
  return target;
}

export interface RefCase {
  insn: number;
  rflags: number;
  /** 108-byte FRSTOR/FNSAVE image (32-bit protected-mode layout). */
  env: Uint8Array;
  /** The memory operand's first bytes (16, or 112 for the state shape; the rest is A5H). */
  mem: Uint8Array;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Runs the cases natively; each result is the FNSAVE image and 32 bytes (operand, RFLAGS, RAX). */
export function runNative(
  insns: readonly string[],
  cases: readonly RefCase[],
  shape: Shape = ARITH,
): { env: Uint8Array; mem: Uint8Array }[] {
  const input = cases
    .map((c) => `${c.insn} ${c.rflags.toString(16)} ${hexOf(c.env)} ${hexOf(c.mem)}`)
    .join('\n');
  const out = execFileSync(compile(insns, shape), { input: `${input}\n`, maxBuffer: 256 << 20 }).toString();
  const lines = out.trim().split('\n');
  if (lines.length !== cases.length)
    throw new Error(`x87 referee: ${lines.length} lines for ${cases.length} cases`);
  return lines.map((l) => {
    const [e, m] = l.split(' ');
    return { env: Uint8Array.from(Buffer.from(e, 'hex')), mem: Uint8Array.from(Buffer.from(m, 'hex')) };
  });
}

const ENV = 0x30000;
const MEM = 0x31000;
/** Bytes per snippet in the emulator's code (each well below). */
const SLOT = 128;

function put80(b: Uint8Array, o: number, [se, hi, lo]: [number, number, number]): void {
  const v = new DataView(b.buffer, b.byteOffset);
  v.setUint32(o, lo, true);
  v.setUint32(o + 4, hi, true);
  v.setUint16(o + 8, se, true);
}

export function genCase(r: Rng, insn: number, kind: string): RefCase {
  const env = new Uint8Array(108);
  const v = new DataView(env.buffer);
  const cw = controlWord(r);
  const flags = r.u32() & cw & 0x3f;
  const sw = flags | (r.below(4) === 0 ? 0x40 : 0) | (r.u32() & 0x4700) | (r.below(8) << 11);
  let tw = 0;
  for (let p = 0; p < 8; p++) if (r.below(3) === 0) tw |= 3 << (2 * p);
  if (r.below(8) === 0) tw = 0; // a full stack: pushes overflow
  v.setUint32(0, (0xffff0000 | cw) >>> 0, true);
  v.setUint32(4, (0xffff0000 | sw) >>> 0, true);
  v.setUint32(8, (0xffff0000 | tw) >>> 0, true);
  const st0 = ext80(r);
  put80(env, 28, st0);
  for (let k = 1; k < 8; k++) put80(env, 28 + 10 * k, ext80(r, st0[0] & 0x7fff));
  const mem = new Uint8Array(16);
  const m = new DataView(mem.buffer);
  switch (kind) {
    case 'f32':
      m.setUint32(0, f32(r), true);
      break;
    case 'f64': {
      const [hi, lo] = f64(r);
      m.setUint32(0, lo, true);
      m.setUint32(4, hi, true);
      break;
    }
    case 'f80':
      put80(mem, 0, ext80(r, st0[0] & 0x7fff));
      break;
    case 'i16':
    case 'i32':
    case 'i64':
      m.setUint32(0, word(r), true);
      m.setUint32(4, word(r), true);
      break;
    case 'bcd':
      for (let k = 0; k < 9; k++) mem[k] = r.below(16) === 0 ? r.below(256) : r.below(10) * 16 + r.below(10);
      mem[9] = r.below(2) << 7;
      break;
    case 'cw':
      // Sometimes with the reserved bits 7 and 15:13 set (they load as 0).
      m.setUint16(0, controlWord(r) | (r.below(2) ? r.u32() & 0xe080 : 0), true);
      break;
    default:
      for (let k = 0; k < 16; k++) mem[k] = 0xa5;
  }
  const rflags = 0x2 | (r.u32() & 0x8d5);
  return { insn, rflags, env, mem };
}

/** x86emu, in 64-bit mode at CPL 0, running the same bytes for every case. */
export function emulator(texts: readonly string[], shape: Shape = ARITH) {
  const m = longMode('hlt', { captureExceptions: true });
  const code = asm(texts.map((t) => `.balign ${SLOT}\n${shape.snippet(t)}; hlt`).join('\n'), {
    bits: 64,
    origin: L.CODE,
  });
  m.mem.bytes.set(code, L.CODE);
  m.cpu.flushCodeCache();
  const s = m.cpu.state;
  s.cr[0] |= Cr0.NE;
  return (c: RefCase): { env: Uint8Array; mem: Uint8Array } => {
    m.mem.bytes.set(c.env, ENV);
    m.mem.bytes.fill(0xa5, MEM, MEM + 1024);
    m.mem.bytes.set(c.mem, MEM);
    s.gpr.fill(0);
    s.gprHigh.fill(0);
    s.gpr[7] = ENV;
    s.gpr[6] = MEM;
    s.gpr[2] = c.rflags;
    s.gpr[0] = 0x11111111;
    s.gprHigh[0] = 0x11111111;
    s.gpr[4] = 0x8000;
    s.rflags[0] = 2;
    s.rip[0] = L.CODE + c.insn * SLOT;
    s.rip[1] = 0;
    s.halted = false;
    m.cpu.stateChanged();
    const why = m.cpu.run(100);
    if (why !== StopReason.Hlt)
      throw new Error(`stopped with ${why}: ${JSON.stringify(m.exceptions.splice(0))}`);
    return { env: m.mem.bytes.slice(ENV, ENV + 108), mem: m.mem.bytes.slice(MEM, MEM + shape.memOut) };
  };
}
