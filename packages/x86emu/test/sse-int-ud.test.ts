/**
 * The decoder's #UD map of the SIMD opcode space against the host CPU: every opcode of 0F 10–17,
 * 28–2F, 50–7F, B8, C2–C6, D0–FF, 0F 38 xx and 0F 3A xx, under each mandatory prefix (none, 66,
 * F3, F2), in register and memory form, is #UD on x86emu exactly where it is on the host, but for
 * the extensions x86emu does not implement and its CPUID does not advertise (KNOWN).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecodeStatus, decode, Insn } from '../src/index.js';
import { REFEREE_MISSING, SKIP_NOTE } from './sse-int-referee.js';

const SOURCE = join(__dirname, 'sse-int-ud-harness.c');

function harness(): string {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const exe = join(tmpdir(), `x86emu-sse-int-ud-${hash}`);
  if (!existsSync(exe)) {
    const tmp = `${exe}.${process.pid}`;
    execFileSync('gcc', ['-O1', '-o', tmp, SOURCE]);
    renameSync(tmp, exe);
  }
  return exe;
}

const PREFIXES: [string, number[]][] = [
  ['NP', []],
  ['66', [0x66]],
  ['F3', [0xf3]],
  ['F2', [0xf2]],
];

/**
 * Host-only encodings, by "map op pfx" (the form either), with the reason x86emu has no row:
 * each is an extension whose CPUID bit x86emu leaves clear. Measured on an AMD Zen 5 host; an
 * entry the host lacks too (an Intel part has no SSE4a) simply agrees.
 */
const KNOWN: Record<string, string> = {};
const known = (keys: string[], why: string): void => {
  for (const k of keys) KNOWN[k] = why;
};
known(
  ['0F 78 66', '0F 78 F2', '0F 79 66', '0F 79 F2', '0F 2B F3', '0F 2B F2'],
  'SSE4a (AMD): EXTRQ, INSERTQ, MOVNTSS/SD',
);
known(['0F38 F0 NP', '0F38 F1 NP', '0F38 F0 66', '0F38 F1 66'], 'MOVBE');
known(['0F38 F6 66', '0F38 F6 F3'], 'ADX: ADCX, ADOX');
known(['0F38 DB 66', '0F38 DC 66', '0F38 DD 66', '0F38 DE 66', '0F38 DF 66', '0F3A DF 66'], 'AES-NI');
known(['0F3A 44 66'], 'PCLMULQDQ');
known(
  ['0F38 C8 NP', '0F38 C9 NP', '0F38 CA NP', '0F38 CB NP', '0F38 CC NP', '0F38 CD NP', '0F3A CC NP'],
  'SHA',
);
known(['0F38 CF 66', '0F3A CE 66', '0F3A CF 66'], 'GFNI');
known(['0F38 F9 NP', '0F38 F8 66'], 'MOVDIRI, MOVDIR64B');
known(['0F38 F8 F2', '0F38 F8 F3'], 'ENQCMD(S)');
known(['0F38 F5 66', '0F38 F6 NP', '0F38 F5 NP'], 'CET WRSS/WRUSS');
known(['0F38 82 66'], 'INVPCID (CPL 0: #GP(0) at CPL 3 on the host)');

interface Enc {
  key: string;
  text: string;
  bytes: number[];
}

function encodings(): Enc[] {
  const out: Enc[] = [];
  const ops0f = [
    ...range(0x10, 0x17),
    ...range(0x28, 0x2f),
    ...range(0x50, 0x7f),
    0xb8,
    ...range(0xc2, 0xc6),
    ...range(0xd0, 0xff),
  ];
  const maps: [string, number[], number[]][] = [
    ['0F', [0x0f], ops0f],
    ['0F38', [0x0f, 0x38], range(0x00, 0xff)],
    ['0F3A', [0x0f, 0x3a], range(0x00, 0xff)],
  ];
  for (const [map, esc, ops] of maps)
    for (const op of ops)
      for (const [pfx, pb] of PREFIXES)
        for (const [form, modrm] of [
          ['reg', 0xc1],
          ['mem', 0x03],
        ] as const) {
          // An immediate of 90H: a NOP when the instruction takes none (then the RET).
          const bytes = [...pb, ...esc, op, modrm, 0x90];
          out.push({ key: `${map} ${hex(op)} ${pfx}`, text: `${map} ${hex(op)} ${pfx} ${form}`, bytes });
        }
  return out;
}
function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, k) => a + k);
}
function hex(v: number): string {
  return v.toString(16).toUpperCase().padStart(2, '0');
}

function emuUd(bytes: number[]): boolean {
  const insn = new Insn();
  const st = decode({ fetchByte: (k: number) => bytes[k] ?? 0xc3 }, insn, true, true);
  return st === DecodeStatus.Undefined;
}

describe(`SIMD opcode space: #UD where the host CPU has it${SKIP_NOTE}`, () => {
  it.skipIf(REFEREE_MISSING !== null)(
    'every opcode × mandatory prefix × form',
    () => {
      const encs = encodings();
      const input = encs.map((e) => e.bytes.map((b) => b.toString(16).padStart(2, '0')).join('')).join('\n');
      const host = execFileSync(harness(), { input: `${input}\n`, maxBuffer: 16 << 20 })
        .toString()
        .trim()
        .split('\n');
      expect(host.length).toBe(encs.length);
      const wrong: string[] = [];
      encs.forEach((e, k) => {
        const hostUd = host[k] === 'ud';
        const ud = emuUd(e.bytes);
        if (hostUd === ud) return;
        if (!hostUd && ud && e.key in KNOWN) return;
        wrong.push(`${e.text}: host ${host[k]}, x86emu ${ud ? 'ud' : 'ok'}`);
      });
      expect(wrong).toEqual([]);
    },
    120_000,
  );
});
