import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEBUGCON_READBACK, Debugcon, DebugconSink } from '../../src/devices/debugcon.js';

describe('isa-debugcon', () => {
  it('sends the low byte of each write to the output', () => {
    const bytes: number[] = [];
    const dev = new Debugcon(DEBUGCON_READBACK, (b) => bytes.push(b));
    dev.ioOut(0xe9, 1, 0x41);
    dev.ioOut(0xe9, 2, 0x1242); // QEMU: `unsigned char ch = val`
    expect(bytes).toEqual([0x41, 0x42]);
  });

  it('reads back 0xe9 by default (the Bochs port E9 presence check), or the readback property', () => {
    expect(new Debugcon(DEBUGCON_READBACK, () => {}).ioIn(0xe9, 1)).toBe(0xe9);
    expect(new Debugcon(0x1234, () => {}).ioIn(0x402, 1)).toBe(0x34);
    expect(new Debugcon(0x1234, () => {}).ioIn(0x402, 2)).toBe(0x1234);
  });

  it('a file sink appends each byte at once', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'debugcon-')), 'out.txt');
    writeFileSync(path, 'x');
    const sink = new DebugconSink({ kind: 'file', path });
    sink.write(0x68);
    sink.write(0x69);
    expect(readFileSync(path, 'latin1')).toBe('xhi'); // before close: unbuffered
    sink.close();
  });
});
