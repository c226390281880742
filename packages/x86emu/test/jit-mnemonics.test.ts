/**
 * One opcode table drives the decoder, the interpreter and the compiler: the compiler picks rows
 * by mnemonic (rows.ts' lists, the flag readers, the emitters' `m === '…'` cases), so every name
 * it uses must be a row's. A misspelt or renamed one would keep its instruction out of every
 * block, or out of its specialised code, without a test noticing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FLAG_READERS } from '../src/jit/emit.js';
import { JIT_MNEMONIC_LISTS, mnemonicsNotInTable } from '../src/jit/rows.js';

const jitDir = fileURLToPath(new URL('../src/jit/', import.meta.url));

/** The names the emitters compare a row's mnemonic with (`m === 'JCC'`). */
function comparedInEmitters(): string[] {
  const names: string[] = [];
  for (const file of readdirSync(jitDir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(jitDir + file, 'utf8');
    for (const match of source.matchAll(/\b(?:m|mnemonic)\s*===\s*'([A-Z0-9_]+)'/g)) names.push(match[1]);
  }
  return names;
}

describe("the compiler's mnemonics are the opcode table's", () => {
  it('every name in its lists, its flag readers and its emitters is a row of the table', () => {
    const compared = comparedInEmitters();
    expect(compared.length).toBeGreaterThan(10);
    expect(mnemonicsNotInTable([...JIT_MNEMONIC_LISTS, FLAG_READERS, compared])).toEqual([]);
  });

  it('a name no row carries is reported', () => {
    expect(mnemonicsNotInTable([['ADD', 'MOVSXDD', 'JCC'], ['IMUL4']])).toEqual(['MOVSXDD', 'IMUL4']);
  });
});
