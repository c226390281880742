/**
 * `-chardev stdio,id=c0 -device virtio-serial -device virtconsole,chardev=c0` (QEMU's spelling)
 * through the qemu-lite command: what is written to its stdin reaches our own virtio-console
 * driver (tools/guests/guest/tests/virtiocon.c), which prints each line it reads on the serial
 * port, and what the guest writes to the console comes out on stdout. Without chardev= the same
 * input goes to the serial port and the guest never reads it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

const guest = fileURLToPath(new URL('../../../tools/guests/out/virtiocon64.elf', import.meta.url));
const skip = !existsSync(guest)
  ? 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)'
  : !existsSync(cliPath)
    ? `${cliPath} is missing: build qemu-lite first`
    : undefined;
if (skip) console.warn(`cli-chardev.test: SKIPPED: ${skip}`);

/** Runs the command with `args`, writes `input` once the guest says it is ready; stdout and status. */
function run(args: string[], input: string): Promise<{ out: string; status: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      cliPath,
      '-accel',
      'vmx',
      '-m',
      '64M',
      '-nographic',
      '-kernel',
      guest,
      '-append',
      'wait=20',
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=0x04',
      ...args,
    ]);
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!sent && out.includes('virtiocon ready')) {
        sent = true;
        child.stdin.write(input);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    child.on('close', (status) => resolve({ out, status }));
  });
}

describe.skipIf(skip !== undefined)('-chardev stdio on a virtconsole', () => {
  it('stdin reaches the guest through the virtio console; the console writes to stdout', async () => {
    const r = await run(
      ['-chardev', 'stdio,id=c0', '-device', 'virtio-serial', '-device', 'virtconsole,chardev=c0'],
      'hello console\nquit\n',
    );
    expect(r.out, r.out).toContain('virtiocon: type a line');
    expect(r.out).toContain('console: hello console');
    expect(r.out).toMatch(/^PASS virtiocon\.read\.quit-line/m);
    expect(r.out).toContain('virtiocon: bye');
    // report_end wrote 0 failures to isa-debug-exit: status (0 << 1) | 1.
    expect(r.status).toBe(1);
  }, 120_000);

  it('without chardev= the terminal is the serial port: the console reads nothing', async () => {
    const r = await run(
      ['-device', 'virtio-serial', '-device', 'virtconsole', '-append', 'wait=3'],
      'hello console\nquit\n',
    );
    expect(r.out, r.out).not.toContain('console: hello console');
    expect(r.out).toMatch(/^FAIL virtiocon\.read\.quit-line/m);
  }, 120_000);
});
