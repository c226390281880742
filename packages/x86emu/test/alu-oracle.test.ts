/**
 * Differential test of the integer instructions against the host CPU: test/oracle/alu-oracle.c
 * (built with the machine's gcc) runs each instruction natively and prints result and flags;
 * the interpreter must agree on the result and on every flag the SDM defines for that case.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cpu, FlatPhysicalMemory, OPCODE_TABLE, SegAttr } from '../src/index.js';

function oracleLines(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'x86emu-oracle-'));
  try {
    const exe = join(dir, 'alu-oracle');
    execFileSync('gcc', ['-O1', '-o', exe, join(__dirname, 'oracle', 'alu-oracle.c')]);
    return execFileSync(exe, { maxBuffer: 64 << 20 })
      .toString()
      .trim()
      .split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT = { rol: 0, ror: 1, rcl: 2, rcr: 3, shl: 4, shr: 5, sar: 7 } as Record<string, number>;
const TWO: Record<string, number[]> = {
  imul2: [0x0f, 0xaf, 0xc3],
  bsf: [0x0f, 0xbc, 0xc3],
  bsr: [0x0f, 0xbd, 0xc3],
  bt: [0x0f, 0xa3, 0xd8],
  bts: [0x0f, 0xab, 0xd8],
  btr: [0x0f, 0xb3, 0xd8],
  btc: [0x0f, 0xbb, 0xd8],
  shld: [0x0f, 0xa5, 0xd8],
  shrd: [0x0f, 0xad, 0xd8],
};

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

function encode(name: string, size: number): number[] | null {
  const w = size === 1 ? 0 : 1;
  let b: number[];
  if (ALU.includes(name)) b = [ALU.indexOf(name) * 8 + w, 0xd8];
  else if (name === 'test') b = [0x84 + w, 0xd8];
  else if (name === 'inc') b = [0xfe + w, 0xc0];
  else if (name === 'dec') b = [0xfe + w, 0xc8];
  else if (name === 'neg') b = [0xf6 + w, 0xd8];
  else if (name === 'not') b = [0xf6 + w, 0xd0];
  else if (name in SHIFT) b = [0xd2 + w, 0xc0 | (SHIFT[name] << 3)];
  else if (name === 'mul') b = [0xf6 + w, 0xe3];
  else if (name === 'imul') b = [0xf6 + w, 0xeb];
  else if (name === 'xadd') b = [0x0f, 0xc0 + w, 0xd8];
  else if (name === 'cmpxchg') b = [0x0f, 0xb0 + w, 0xd9];
  else if (name === 'div')
    b =
      size === 1
        ? [0x0f, 0xb6, 0xc0, 0xf6, 0xf3]
        : size === 2
          ? [0x0f, 0xb7, 0xc0, 0x66, 0xf7, 0xf3]
          : [0xf7, 0xf3];
  else if (name === 'idiv')
    b =
      size === 1
        ? [0x66, 0x98, 0xf6, 0xfb]
        : size === 2
          ? [0x66, 0x99, 0x66, 0xf7, 0xfb]
          : [0x99, 0xf7, 0xfb];
  else if (name === 'sahf') return [0x9e];
  else if (name === 'lahf') return [0x9f];
  else if (name.startsWith('set')) return [0x0f, 0x90 + CC.indexOf(name.slice(3)), 0xc0];
  else if (name.startsWith('cmov')) b = [0x0f, 0x40 + CC.indexOf(name.slice(4)), 0xc3];
  else if (name === 'movzb') b = [0x0f, 0xb6, 0xc3];
  else if (name === 'movzw') b = [0x0f, 0xb7, 0xc3];
  else if (name === 'movsb') b = [0x0f, 0xbe, 0xc3];
  else if (name === 'movsw') b = [0x0f, 0xbf, 0xc3];
  else if (name === 'bswap') b = [0x0f, 0xc8];
  else if (name === 'cbw') b = [0x98];
  else if (name === 'cwd') b = [0x99];
  else if (size === 1) return null;
  else b = TWO[name];
  if (name === 'div' || name === 'idiv') return b;
  return size === 2 ? [0x66, ...b] : b;
}

const ROW_OF: Record<string, string> = {
  imul2: 'IMUL2',
  movzb: 'MOVZX',
  movzw: 'MOVZX',
  movsb: 'MOVSX',
  movsw: 'MOVSX',
  cbw: 'CBW',
  cwd: 'CWD',
};
/** Undefined flags from the opcode table (the single source), refined by count where the SDM says so. */
function definedFlags(name: string, size: number, b: number): number {
  const mnemonic = ROW_OF[name] ?? name.toUpperCase();
  const row = OPCODE_TABLE.find((r) => r.mnemonic === mnemonic);
  let undefinedFlags = row?.undefinedFlags ?? 0;
  const c = b & 0x1f;
  const bits = size * 8;
  if (['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr', 'shld', 'shrd'].includes(name)) {
    if (c === 0) return 0x8d5; // nothing changes
    if (c === 1) undefinedFlags &= ~0x800;
    if ((name === 'shl' || name === 'shr') && c >= bits) undefinedFlags |= 1;
  }
  return 0x8d5 & ~undefinedFlags;
}

describe('integer instructions agree with the host CPU', () => {
  it('every case of the oracle', { timeout: 60_000 }, () => {
    const lines = oracleLines();
    expect(lines.length).toBeGreaterThan(50000);
    const mem = new FlatPhysicalMemory(1 << 16);
    const cpu = new Cpu({ memory: mem });
    const s = cpu.state;
    s.cr[0] = 0x11;
    for (let r = 0; r < 6; r++) {
      s.segBase[r] = 0;
      s.segLimit[r] = 0xffffffff;
      s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
    }
    const failures: string[] = [];
    let compared = 0;
    // Group by instruction so each encoding is written (and decoded) once.
    const groups = new Map<string, string[][]>();
    for (const line of lines) {
      const f = line.split(' ');
      const k = `${f[0]} ${f[1]}`;
      const g = groups.get(k);
      if (g) g.push(f);
      else groups.set(k, [f]);
    }
    cpu.stateChanged();
    let current = '';
    for (const fields of [...groups.values()].flat()) {
      const [name, sz, ha, hb, hcf, hres, hedx, hecx, hfl] = fields;
      const line = fields.join(' ');
      const size = Number(sz);
      const code = encode(name, size);
      if (code === null) continue;
      const a = Number.parseInt(ha, 16);
      const b = Number.parseInt(hb, 16);
      const c = b & 0x1f;
      if ((name === 'shld' || name === 'shrd') && size === 2 && c > 16) continue; // result undefined
      if (current !== `${name} ${sz}`) {
        current = `${name} ${sz}`;
        mem.bytes.set(code, 0x100);
        mem.bytes[0x100 + code.length] = 0xf4;
        cpu.invalidateCode(0x100, 16);
      }
      s.gpr[0] = a;
      s.gpr[3] = b;
      s.gpr[1] = b;
      s.gpr[2] = 0;
      // setcc/cmovcc/sahf/lahf take their input flags from b (as the oracle does).
      const flagsFromB =
        name.startsWith('set') || name.startsWith('cmov') || name === 'lahf' || name === 'sahf';
      s.rflags[0] = flagsFromB ? 0x202 | (b & 0x8d5) : 0x202 | Number(hcf);
      s.rip[0] = 0x100;
      s.halted = false;
      cpu.run(10);
      const m = definedFlags(name, size, b);
      const res = Number.parseInt(hres, 16);
      const srcZero = (size === 2 ? b & 0xffff : b) === 0;
      const checkResult = !((name === 'bsf' || name === 'bsr') && srcZero);
      const edx = Number.parseInt(hedx, 16);
      const ecx = Number.parseInt(hecx, 16);
      const fl = Number.parseInt(hfl, 16);
      compared++;
      if (
        (checkResult && s.gpr[0] !== res) ||
        s.gpr[2] !== edx ||
        s.gpr[1] !== ecx ||
        (s.rflags[0] & m) !== (fl & m)
      ) {
        const got = `${s.gpr[0].toString(16)} ${s.gpr[2].toString(16)} ${s.gpr[1].toString(16)} ${(s.rflags[0] & m).toString(16)}`;
        if (failures.length < 30) failures.push(`${line}  → got ${got} (flags compared: ${m.toString(16)})`);
      }
    }
    expect(failures).toEqual([]);
    expect(compared).toBeGreaterThan(50000);
  });
});
