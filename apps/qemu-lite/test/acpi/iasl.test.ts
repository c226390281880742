/**
 * The referee: Debian's ACPICA tools (`apt-get install acpica-tools`) disassemble every table
 * qemu-lite builds. `iasl -d` verifies each table's checksum and length and decodes every field
 * by the spec it implements; a table it cannot make sense of gets a warning or an error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pcTables } from './pc-tables.js';

const iasl = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
const iaslSkip = iasl.error ? 'iasl is not installed (apt-get install acpica-tools)' : undefined;
if (iaslSkip) console.warn(`ACPI tables: skipping the iasl referee: ${iaslSkip}`);

/** Dumps each table to NAME.dat, disassembles it, returns the .dsl text and iasl's output. */
function disassemble(): Record<string, { dsl: string; log: string; bytes: Uint8Array }> {
  const { ram, view, layout } = pcTables({ cpus: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'qemu-lite-acpi-'));
  const out: Record<string, { dsl: string; log: string; bytes: Uint8Array }> = {};
  // Not the RSDP: this iasl (20200925) only disassembles files whose signature is a valid
  // NameSeg, and "RSD " is not one; the RSDP is checked by the Linux-style scan in
  // firmware-tables.test.ts.
  for (const name of ['rsdt', 'xsdt', 'fadt', 'facs', 'madt', 'dsdt'] as const) {
    const gpa = layout[name];
    if (gpa === undefined) throw new Error(`no ${name} was written`);
    const length = view.getUint32(gpa + 4, true);
    const file = join(dir, `${name}.dat`);
    const bytes = ram.slice(gpa, gpa + length);
    writeFileSync(file, bytes);
    const log = execFileSync('iasl', ['-d', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    out[name] = { dsl: readFileSync(join(dir, `${name}.dsl`), 'utf8'), log, bytes };
  }
  return out;
}

describe.skipIf(iaslSkip)('iasl -d on the tables qemu-lite builds', () => {
  const tables = iaslSkip ? {} : disassemble();

  it('finds no checksum, length or field problem in any table', () => {
    expect(Object.keys(tables)).toHaveLength(6);
    for (const [name, { dsl, log }] of Object.entries(tables)) {
      expect(log, name).not.toMatch(/warning|error|invalid|incorrect/i);
      expect(dsl, name).not.toMatch(/\*\*\*\*|Invalid|Incorrect|Unknown/);
    }
  });

  it('is a real referee: a table with one flipped byte is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qemu-lite-acpi-bad-'));
    const file = join(dir, 'madt.dat');
    const bytes = Buffer.from(tables.madt.bytes);
    bytes[50] ^= 1;
    writeFileSync(file, bytes);
    execFileSync('iasl', ['-d', file], { stdio: 'ignore' });
    expect(readFileSync(join(dir, 'madt.dsl'), 'utf8')).toMatch(/Incorrect checksum/);
  });

  it('reads the FADT fields: SCI 9, PM blocks, reset register, century', () => {
    const { dsl } = tables.fadt;
    expect(dsl).toMatch(/SCI Interrupt : 0009/);
    expect(dsl).toMatch(/PM1A Event Block Address : 00000600/);
    expect(dsl).toMatch(/PM1A Control Block Address : 00000604/);
    expect(dsl).toMatch(/PM Timer Block Address : 00000608/);
    expect(dsl).toMatch(/RTC Century Index : 32/);
    expect(dsl).toMatch(/Reset Register Supported \(V2\) : 1/);
    expect(dsl).toMatch(/32-bit PM Timer \(V1\) : 1/);
    expect(dsl).toMatch(/Address : 0000000000000CF9/);
    expect(dsl).toMatch(/Value to cause reset : 06/);
  });

  it('reads the MADT: two local APICs, the IOAPIC with ID 2, both overrides and the NMI', () => {
    const { dsl } = tables.madt;
    expect(dsl.match(/Subtable Type : 00 \[Processor Local APIC\]/g)).toHaveLength(2);
    expect(dsl).toMatch(
      /Subtable Type : 01 \[I\/O APIC\][\s\S]*?I\/O Apic ID : 02[\s\S]*?Address : FEC00000/,
    );
    expect(dsl.match(/Subtable Type : 02 \[Interrupt Source Override\]/g)).toHaveLength(2);
    expect(dsl).toMatch(/Source : 00\s*\n.*Interrupt : 00000002/);
    expect(dsl).toMatch(/Source : 09\s*\n.*Interrupt : 00000009\s*\n.*Flags \(decoded below\) : 000D/);
    expect(dsl).toMatch(/Polarity : 1\s*\n\s*Trigger Mode : 3/);
    expect(dsl).toMatch(/Subtable Type : 04 \[Local APIC NMI\][\s\S]*?Interrupt Input LINT : 01/);
  });

  it('decompiles the DSDT to the \\_S5 package', () => {
    const { dsl } = tables.dsdt;
    expect(dsl).toMatch(/DefinitionBlock \("", "DSDT", 2, "BOCHS ", "BXPCDSDT"/);
    expect(dsl.replace(/\s+/g, ' ')).toMatch(
      /Name \(_S5, Package \(0x04\) (\/\/ _S5_: S5 System State )?\{ Zero, Zero, Zero, Zero \}\)/,
    );
  });
});
