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

  it('refuses a bzImage whose setup_sects is wrong, with status 1 and the field named', () => {
    // A protocol-2.15 bzImage: 30 setup sectors, a 16 KiB protected-mode kernel whose payload
    // (payload_offset 0x400) starts with the gzip magic. setup_sects 0 once booted it as garbage
    // and exited 0 with nothing printed.
    const setupSize = 31 * 512;
    const image = new Uint8Array(setupSize + 0x4000);
    const v = new DataView(image.buffer);
    v.setUint8(0x1f1, 0); // setup_sects: corrupt (30 is right)
    v.setUint32(0x1f4, 0x4000 / 16, true); // syssize
    v.setUint16(0x1fe, 0xaa55, true);
    v.setUint16(0x200, 0x6aeb, true); // jmp short: header ends at 0x26c
    v.setUint32(0x202, 0x53726448, true); // "HdrS"
    v.setUint16(0x206, 0x020f, true);
    v.setUint8(0x211, 1); // LOADED_HIGH
    v.setUint16(0x236, 1, true); // XLF_KERNEL_64
    v.setUint32(0x248, 0x400, true); // payload_offset
    v.setUint32(0x24c, 0x100, true); // payload_length
    image.set([0x1f, 0x8b, 0x08, 0x00], setupSize + 0x400);
    const kernel = join(mkdtempSync(join(tmpdir(), 'qemu-lite-bz-')), 'bzImage');
    writeFileSync(kernel, image);
    const r = run('-accel', 'vmx', '-kernel', kernel, '-no-reboot');
    expect(r.stderr).toMatch(
      /^qemu-lite: bzImage: no compressed kernel at payload_offset 0x400 \(found .*\): setup_sects 0 \(read as 4\) puts the protected-mode kernel at 0xa00, and setup_sects or payload_offset is wrong\n$/,
    );
    expect(r.status).toBe(1);
  });

  it('prints usage for -help and the log items for -d help', () => {
    const help = run('-help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: qemu-lite \[options\]/);
    const items = run('-d', 'help');
    expect(items.stdout).toMatch(/^exits +exit statistics/m);
  });
});
