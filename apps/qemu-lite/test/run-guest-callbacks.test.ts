/**
 * A caller's callback that throws: runGuest stops the machine and rejects with that error. Run
 * in a child node process on the software engine (no /dev/kvm needed), so the test can also see
 * that nothing is left behind: the child exits by itself once the promise has rejected, which a
 * live vCPU thread or a pending timer would prevent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const distIndex = new URL('../dist/index.js', import.meta.url).href;

// mov dx, 0x3f8; mov al, 'x'; 1: out dx, al; jmp 1b   (serial output for ever)
const chatty = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x78, 0xee, 0xeb, 0xfd];
// jmp $   (runs for ever, says nothing)
const silent = [0xeb, 0xfe];

/** Runs one runGuest call in a fresh node; prints how the promise settled. */
function child(guest: number[], callbacks: string) {
  const script = `
    import { runGuest } from ${JSON.stringify(distIndex)};
    const image = new Uint8Array(${JSON.stringify(guest)});
    try {
      const r = await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'vmx', ${callbacks} });
      console.log('resolved', r.status);
    } catch (error) {
      console.log('rejected:', error instanceof Error ? error.message : error);
      if (globalThis.thrown !== undefined) console.log('same object:', error === globalThis.thrown);
    }`;
  // A file, not -e: the vCPU worker inherits node's execArgv, where -e and --input-type do not belong.
  const file = join(mkdtempSync(join(tmpdir(), 'qemu-lite-cb-')), 'child.mjs');
  writeFileSync(file, script);
  return spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('runGuest when a callback throws', () => {
  it('rejects with the error onSerial threw, stops the guest and leaves nothing running', () => {
    const r = child(chatty, `onSerial: () => { throw new Error('boom from onSerial'); }`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('rejected: boom from onSerial\n');
    expect(r.status).toBe(0);
  });

  it('rejects with the error onStart threw, stops the guest and leaves nothing running', () => {
    const r = child(silent, `onStart: () => { throw new RangeError('boom from onStart'); }`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('rejected: boom from onStart\n');
    expect(r.status).toBe(0);
  });

  it('keeps the rejection the same object the callback threw', () => {
    const r = child(
      silent,
      `onStart: () => { const e = new Error('mine'); e.code = 'E_MINE'; globalThis.thrown = e; throw e; }`,
    );
    expect(r.stdout).toBe('rejected: mine\nsame object: true\n');
    expect(r.status).toBe(0);
  });
});

describe('runGuest from node -e', () => {
  it('starts its vCPU worker when the caller runs under --input-type=module -e', () => {
    // The worker inherits node's execArgv; --input-type and -e describe only the main script.
    const script = `
      import { runGuest } from ${JSON.stringify(distIndex)};
      const image = new Uint8Array(${JSON.stringify(silent)});
      const r = await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'vmx', timeoutMs: 300 });
      console.log('resolved', r.exitReason.kind);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('resolved quit\n');
    expect(r.status).toBe(0);
  });
});

describe('runGuest under V8 flags', () => {
  it('starts its vCPU worker when node runs with a V8 flag, which a worker refuses in execArgv', () => {
    // V8's flags are the process's: the worker's isolate has them without its execArgv.
    const script = `
      import { runGuest } from ${JSON.stringify(distIndex)};
      const image = new Uint8Array(${JSON.stringify(silent)});
      const r = await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'vmx', timeoutMs: 300 });
      console.log('resolved', r.exitReason.kind);`;
    const file = join(mkdtempSync(join(tmpdir(), 'qemu-lite-v8flags-')), 'child.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--max-semi-space-size=32', '--stack-size=2000', file], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('resolved quit\n');
    expect(r.status).toBe(0);
  });
});
