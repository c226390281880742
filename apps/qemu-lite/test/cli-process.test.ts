/** The built `qemu-lite` command's start-up errors: no guest runs, so no /dev/kvm is needed. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('qemu-lite command start-up', () => {
  it('exits 1 naming an unknown flag', () => {
    const r = run('-kernel', 'x', '-frobnicate');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('qemu-lite: -frobnicate: invalid option\n');
  });

  it('exits 1 for an accelerator that does not exist', () => {
    const r = run('-accel', 'tcg', '-kernel', 'x');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('qemu-lite: -accel tcg: invalid accelerator (kvm, host, vmx, svm)\n');
  });

  it('accepts every software engine and then reports the missing kernel file', () => {
    for (const accel of ['vmx', 'svm']) {
      const r = run('-accel', accel, '-kernel', 'no-such-kernel');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/cannot read .*no-such-kernel.*: no such file/);
    }
  });

  it('refuses -kernel /dev/zero and a FIFO at once, saying what they are', () => {
    // /dev/zero was read until memory ran out; a FIFO with no writer blocked for ever.
    const zero = run('-accel', 'vmx', '-kernel', '/dev/zero');
    expect(zero.stderr).toBe('qemu-lite: kernel: /dev/zero is a character device, not a regular file\n');
    expect(zero.status).toBe(1);
    const fifo = join(mkdtempSync(join(tmpdir(), 'qemu-lite-fifo-')), 'initrd');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const kernel = join(fifo, '..', 'kernel.bin');
    writeFileSync(kernel, new Uint8Array(64));
    const r = run('-accel', 'vmx', '-kernel', kernel, '-initrd', fifo);
    expect(r.stderr).toBe(`qemu-lite: initrd: ${fifo} is a FIFO (named pipe), not a regular file\n`);
    expect(r.status).toBe(1);
    const flat = run('-accel', 'vmx', '-device', `loader,file=${fifo},addr=0x100000`);
    expect(flat.stderr).toBe(`qemu-lite: loader: ${fifo} is a FIFO (named pipe), not a regular file\n`);
    expect(flat.status).toBe(1);
  });

  it('prints usage for -help and the log items for -d help', () => {
    const help = run('-help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: qemu-lite \[options\]/);
    const items = run('-d', 'help');
    expect(items.stdout).toMatch(/^exits +exit statistics/m);
  });
});
