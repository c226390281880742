/**
 * The built `qemu-lite` command with QEMU's test-suite devices: `-debugcon stdio|file:PATH`,
 * `-device pc-testdev`, and a multiboot kernel linked at 0x8000 (test/guests/bios-devices.S) on
 * the software engine (no /dev/kvm needed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestGuest, cliPath } from './helpers.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { encoding: 'latin1', timeout: 30_000 });

let kernel: string;
beforeAll(() => {
  kernel = buildTestGuest('bios-devices', 0x8000);
});

const base = () => [
  '-accel',
  'vmx',
  '-kernel',
  kernel,
  '-append',
  'a=1 b',
  '-device',
  'isa-debug-exit,iobase=0xf4,iosize=4',
  '-device',
  'pc-testdev',
  '-serial',
  'none',
];

describe('qemu-lite -debugcon and -device pc-testdev', () => {
  it('-debugcon stdio: the guest command line and its tick report on stdout, status 0x43', () => {
    const r = run(...base(), '-debugcon', 'stdio');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${kernel} a=1 b\nticks\n`);
    expect(r.status).toBe(0x43);
  });

  it('-debugcon file:PATH: the same bytes in the file, nothing on stdout', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'debugcon-cli-')), 'log');
    const r = run(...base(), '-debugcon', `file:${file}`);
    expect(r.status).toBe(0x43);
    expect(r.stdout).toBe('');
    expect(readFileSync(file, 'latin1')).toBe(`${kernel} a=1 b\nticks\n`);
  });

  it('-debugcon file: in a directory that does not exist is a start-up error (status 1)', () => {
    const r = run(...base(), '-debugcon', 'file:/nonexistent-dir/x/log');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^qemu-lite: -debugcon file:\/nonexistent-dir\/x\/log: ENOENT/);
  });
});
