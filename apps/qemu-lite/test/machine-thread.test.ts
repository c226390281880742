/**
 * The machine's thread (src/machine-thread.ts): started before its machine is known, as the
 * command does, it runs the next guest; the input goes over as a message, the images read from
 * files by transfer, and bytes the caller gave stay the caller's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';
import { prestartMachineThread } from '../src/machine-thread.js';
import { cliPath } from './helpers.js';

// mov dx, 0x3f8; mov al, 'H'; out dx, al; mov al, 'i'; out dx, al; mov al, 10; out dx, al;
// mov eax, 3; out 0xf4, eax
const hello32 = new Uint8Array([
  0x66, 0xba, 0xf8, 0x03, 0xb0, 0x48, 0xee, 0xb0, 0x69, 0xee, 0xb0, 0x0a, 0xee, 0xb8, 3, 0, 0, 0, 0xe7, 0xf4,
]);

describe('the machine thread', () => {
  it('started ahead, runs the next guest; the guest after it gets a thread of its own', async () => {
    prestartMachineThread();
    for (let i = 0; i < 2; i++) {
      const r = await runGuest({
        flat: { image: hello32, loadAddr: 0x100000 },
        accel: 'vmx',
        timeoutMs: 20_000,
      });
      expect(r.serial).toBe('Hi\n');
      expect(r.status).toBe(7);
    }
  });

  it("leaves the caller's image bytes with the caller", async () => {
    const image = hello32.slice();
    await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'vmx', timeoutMs: 20_000 });
    // A transferred buffer would be detached here: length 0.
    expect(image.byteLength).toBe(hello32.byteLength);
    expect([...image]).toEqual([...hello32]);
  });

  it('runs an image it read from a file, handed over by transfer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ql-thread-'));
    const path = join(dir, 'hello.bin');
    writeFileSync(path, hello32);
    const r = await runGuest({ flat: { image: path, loadAddr: 0x100000 }, accel: 'vmx', timeoutMs: 20_000 });
    expect(r.serial).toBe('Hi\n');
  });

  it('does not keep the command alive when no guest runs (a kernel that is not there)', () => {
    const r = spawnSync(process.execPath, [cliPath, '-accel', 'vmx', '-kernel', '/nonexistent/vmlinux'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot read \/nonexistent\/vmlinux/);
  });
});
