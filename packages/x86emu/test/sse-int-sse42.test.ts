import { describe, expect, it } from 'vitest';
import { CASES, compareForms, REFEREE_MISSING, SEED, SKIP_NOTE } from './sse-int-referee.js';

/** Every imm8 control that matters: format × aggregation × polarity × output selection. */
const strings: string[] = [];
for (let imm = 0; imm < 0x80; imm++) {
  strings.push(`pcmpestri xmm0, xmm1, ${imm}`, `pcmpistri xmm1, xmm2, ${imm}`);
  strings.push(`pcmpestrm xmm2, xmm3, ${imm}`, `pcmpistrm xmm8, xmm1, ${imm}`);
}
// Memory (unaligned) sources and REX.W lengths.
strings.push(
  'pcmpestri xmm0, [rbx+3], 0x0c',
  'pcmpistrm xmm1, [rbx+7], 0x44',
  'rex.w pcmpestri xmm2, xmm3, 0x18',
);
strings.push(
  'rex.w pcmpestrm xmm2, [rbx+9], 0x45',
  'pcmpestri xmm0, xmm0, 0x08',
  'pcmpistri xmm3, xmm3, 0x4d',
);

const bits = [
  'popcnt eax, ecx',
  'popcnt rax, rdx',
  'popcnt cx, dx',
  'popcnt eax, [rbx+3]',
  'popcnt rdx, [rbx+8]',
  'popcnt ax, [rbx+1]',
  'popcnt ecx, ecx',
  'crc32 eax, cl',
  'crc32 eax, cx',
  'crc32 eax, ecx',
  'crc32 rax, rcx',
  'crc32 rdx, al',
  'crc32 ecx, byte ptr [rbx+5]',
  'crc32 ecx, word ptr [rbx+6]',
  'crc32 edx, dword ptr [rbx+7]',
  'crc32 rax, qword ptr [rbx+9]',
  'crc32 eax, eax',
  'crc32 eax, ah',
  'crc32 edx, dil',
];

describe(`SSE4.2 and POPCNT against the host CPU${SKIP_NOTE}`, () => {
  it.skipIf(REFEREE_MISSING !== null)(
    'PCMPESTRI/ESTRM/ISTRI/ISTRM for every control byte',
    () => {
      expect(compareForms(strings, CASES(24), SEED(42))).toEqual([]);
    },
    120_000,
  );
  it.skipIf(REFEREE_MISSING !== null)(
    'POPCNT and CRC32 at every operand size',
    () => {
      expect(compareForms(bits, CASES(40), SEED(4242))).toEqual([]);
    },
    60_000,
  );
});
