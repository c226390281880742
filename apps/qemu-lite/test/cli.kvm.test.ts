/** The built `qemu-lite` command on the host engine: console input, Ctrl-A x, exit status, the demo. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestGuest, cliPath, hostSkipReason } from './helpers.js';

interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; once `when` shows up on stdout, writes `input` to its stdin. */
function runCli(args: string[], when?: string, input?: string): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
      if (when !== undefined && !typed && stdout.includes(when)) {
        typed = true;
        child.stdin.write(input ?? '');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const demoBuilt = existsSync(fileURLToPath(new URL('../../../tools/guests/out/demo.elf', import.meta.url)));

describe.skipIf(hostSkipReason !== undefined)('qemu-lite command on the host engine', () => {
  let ticks: string;
  beforeAll(() => {
    ticks = buildTestGuest('ticks');
  });
  const debugExit = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];

  it('exits with (v << 1) | 1 when the guest writes v to the debug-exit port', async () => {
    const r = await runCli(['-kernel', ticks, ...debugExit, '-accel', 'kvm'], 'ticks\n', 'q');
    expect(r.stdout).toBe('ticks\nq');
    expect(r.status).toBe(0x43);
  });

  it('quits on Ctrl-A x with status 0', async () => {
    const r = await runCli(['-kernel', ticks, ...debugExit, '-nographic'], 'ticks\n', '\x01x');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ticks\n');
  });

  it('prints the exit table on -d exits', async () => {
    const r = await runCli(['-kernel', ticks, ...debugExit, '-d', 'exits'], 'ticks\n', 'q');
    expect(r.stderr).toMatch(/^ Exit reason +Count +%Total +Userspace ms/m);
    expect(r.stderr).toMatch(/^ IO +\d+ /m);
    expect(r.stderr).toMatch(/^ Total +\d+ +100\.0/m);
    // HLT stays in the kernel with the in-kernel irqchip (the default), so no HLT row.
    expect(r.stderr).not.toMatch(/^ HLT +\d+ /m);
  });

  it('counts HLT exits with -machine kernel-irqchip=off, the userspace PIC', async () => {
    const r = await runCli(
      ['-kernel', ticks, ...debugExit, '-machine', 'kernel-irqchip=off', '-d', 'exits'],
      'ticks\n',
      'q',
    );
    expect(r.stderr).toMatch(/^ HLT +\d+ /m);
  });

  it.skipIf(!demoBuilt)('boots the shipped demo with no arguments and prints exit statistics', async () => {
    const r = await runCli([]);
    expect(r.stdout).toMatch(/qemu-lite demo guest/);
    // Its tasks take turns on PIT interrupts: every task line shows up.
    for (const task of ['alpha', 'bravo', 'charlie', 'delta'])
      expect(r.stdout).toMatch(new RegExp(`\\[${task}\\] turn 1:`));
    expect(r.stderr).toMatch(/^ Exit reason +Count +%Total +Userspace ms/m);
    expect(r.stderr).toMatch(/^ IO +\d+/m);
    // The demo reports success through debug-exit (v = 0, which a -kernel guest would turn into
    // status (0 << 1) | 1); run as the demo, that success is status 0, and it says so.
    expect(r.stderr).toMatch(/^qemu-lite: the demo guest finished and reported success$/m);
    expect(r.status).toBe(0);
  });

  it.skipIf(!demoBuilt)('runs the shipped demo to its end when flags are given too', async () => {
    // These once left out the debug-exit device, so the demo's last write hit nothing and it hung.
    const r = await runCli(['-accel', 'kvm', '-d', 'exits', '-nographic']);
    expect(r.stdout).toMatch(/qemu-lite demo guest/);
    expect(r.stderr).toMatch(/^qemu-lite: the demo guest finished and reported success$/m);
    expect(r.status).toBe(0);
  });
});
if (!demoBuilt) console.warn('skipping the demo test: tools/guests/out/demo.elf is not built');
