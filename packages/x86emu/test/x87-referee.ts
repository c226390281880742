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

function cSource(insns: readonly string[]): string {
  const fns = insns.map(
    (t, k) => `static void t${k}(uint8_t *env, uint8_t *mem, uint64_t fl) {
  __asm__ volatile(".intel_syntax noprefix\\n\\t${snippet(t).replace(/; /g, '\\n\\t')}\\n\\t.att_syntax"
    : : "D"(env), "S"(mem), "d"(fl), "a"(0x1111111111111111ull) : "memory", "cc", "rcx");
}`,
  );
  return `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
${fns.join('\n')}
static void (*const T[])(uint8_t *, uint8_t *, uint64_t) = { ${insns.map((_, k) => `t${k}`).join(', ')} };
static int hexbytes(const char *s, uint8_t *out, int n) {
  for (int i = 0; i < n; i++) { unsigned v; if (sscanf(s + 2 * i, "%2x", &v) != 1) return 0; out[i] = (uint8_t)v; }
  return 1;
}
int main(void) {
  static char env_s[300], mem_s[100];
  unsigned k; unsigned long long fl;
  static uint8_t env[108] __attribute__((aligned(16))), mem[32] __attribute__((aligned(16)));
  while (scanf("%u %llx %299s %99s", &k, &fl, env_s, mem_s) == 4) {
    if (!hexbytes(env_s, env, 108) || !hexbytes(mem_s, mem, 16)) return 2;
    T[k](env, mem, fl);
    for (int i = 0; i < 108; i++) printf("%02x", env[i]);
    putchar(' ');
    for (int i = 0; i < 32; i++) printf("%02x", mem[i]);
    putchar('\\n');
  }
  return 0;
}
`;
}

const built = new Map<string, string>();

function compile(insns: readonly string[]): string {
  const src = cSource(insns);
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
  /** 16 bytes of memory operand. */
  mem: Uint8Array;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Runs the cases natively; each result is the FNSAVE image and 32 bytes (operand, RFLAGS, RAX). */
export function runNative(
  insns: readonly string[],
  cases: readonly RefCase[],
): { env: Uint8Array; mem: Uint8Array }[] {
  const input = cases
    .map((c) => `${c.insn} ${c.rflags.toString(16)} ${hexOf(c.env)} ${hexOf(c.mem)}`)
    .join('\n');
  const out = execFileSync(compile(insns), { input: `${input}\n`, maxBuffer: 256 << 20 }).toString();
  const lines = out.trim().split('\n');
  if (lines.length !== cases.length)
    throw new Error(`x87 referee: ${lines.length} lines for ${cases.length} cases`);
  return lines.map((l) => {
    const [e, m] = l.split(' ');
    return { env: Uint8Array.from(Buffer.from(e, 'hex')), mem: Uint8Array.from(Buffer.from(m, 'hex')) };
  });
}
