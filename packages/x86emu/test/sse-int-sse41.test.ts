import { describe, expect, it } from 'vitest';
import { CASES, compareForms, REFEREE_MISSING, SEED, SKIP_NOTE } from './sse-int-referee.js';

const forms: string[] = [];
for (const x of ['bw', 'bd', 'bq', 'wd', 'wq', 'dq']) {
  const mem = { bw: 'qword', bd: 'dword', bq: 'word', wd: 'qword', wq: 'dword', dq: 'qword' }[x];
  forms.push(`pmovsx${x} xmm0, xmm1`, `pmovzx${x} xmm8, xmm2`, `pmovsx${x} xmm1, ${mem} ptr [rbx+3]`);
  forms.push(`pmovzx${x} xmm3, ${mem} ptr [rbx+17]`, `pmovsx${x} xmm2, xmm2`);
}
forms.push('ptest xmm0, xmm1', 'ptest xmm2, [rbx+16]', 'ptest xmm3, xmm3', 'ptest xmm8, xmm0');
forms.push(
  'pblendvb xmm1, xmm2',
  'pblendvb xmm8, [rbx+32]',
  'phminposuw xmm0, xmm1',
  'phminposuw xmm2, [rbx]',
);
for (const imm of [0, 1, 2, 3, 4, 5, 6, 7, 0x55, 0xaa, 0xff, 0x0f]) {
  forms.push(`pblendw xmm0, xmm1, ${imm}`, `pblendw xmm2, [rbx+16], ${imm}`, `mpsadbw xmm1, xmm2, ${imm}`);
  forms.push(`mpsadbw xmm3, [rbx+48], ${imm}`);
  forms.push(`pextrb eax, xmm1, ${imm}`, `pextrb byte ptr [rbx+${imm & 63}], xmm2, ${imm}`);
  forms.push(`pextrw ecx, xmm8, ${imm}`, `pextrw word ptr [rbx+1], xmm2, ${imm}`, `pextrw edx, mm1, ${imm}`);
  forms.push(
    `pextrd eax, xmm2, ${imm}`,
    `pextrd dword ptr [rbx+6], xmm3, ${imm}`,
    `pextrq rcx, xmm1, ${imm}`,
  );
  forms.push(`pextrq qword ptr [rbx+8], xmm8, ${imm}`);
  forms.push(`pinsrb xmm0, eax, ${imm}`, `pinsrb xmm1, byte ptr [rbx+3], ${imm}`, `pinsrw xmm2, ecx, ${imm}`);
  forms.push(
    `pinsrw xmm3, word ptr [rbx+5], ${imm}`,
    `pinsrw mm0, edx, ${imm}`,
    `pinsrw mm1, word ptr [rbx], ${imm}`,
  );
  forms.push(
    `pinsrd xmm8, eax, ${imm}`,
    `pinsrd xmm0, dword ptr [rbx+12], ${imm}`,
    `pinsrq xmm1, rdx, ${imm}`,
  );
  forms.push(`pinsrq xmm2, qword ptr [rbx+40], ${imm}`);
}
// The 0F C5 form of PEXTRW (GPR in ModRM.reg): `as` picks it for a register destination.
forms.push('pextrw eax, xmm1, 3', 'pextrw ecx, xmm8, 9');

describe(`SSE4.1 integer against the host CPU${SKIP_NOTE}`, () => {
  it.skipIf(REFEREE_MISSING !== null)(
    'PMOVSX/ZX, PTEST, blends, PHMINPOSUW, MPSADBW, PEXTR/PINSR',
    () => {
      expect(compareForms(forms, CASES(12), SEED(41))).toEqual([]);
    },
    60_000,
  );
});
