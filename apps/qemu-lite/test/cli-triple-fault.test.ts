/**
 * The built `qemu-lite` command when a guest triple-faults: with -no-reboot, exactly one line on
 * stderr saying so and where, and status 0 (a reset with -no-reboot, README "Exit status");
 * without it, the guest reboots (here until the -d cpu_reset log shows a second start).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, hostSkipReason } from './helpers.js';

/** UD2 with the flat loader's empty IDT: #UD, #GP, #DF cannot be delivered, so a shutdown. */
const guest = join(mkdtempSync(join(tmpdir(), 'qemu-lite-tf-')), 'ud2.bin');
writeFileSync(guest, new Uint8Array([0x0f, 0x0b]));

/**
 * RIP at KVM_EXIT_SHUTDOWN: the faulting UD2 on Intel and on the host here; on AMD, KVM's
 * `shutdown_interception` INITs the vCPU before reporting it, so RIP is the reset vector's.
 */
const engines: [string, string][] = [
  ['vmx', '0x100000'],
  ['svm', '0xfff0'],
  ...(hostSkipReason ? [] : ([['kvm', '0x100000']] as [string, string][])),
];

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 20_000, input: '' });

describe.each(engines)('a triple fault on -accel %s', (accel, rip) => {
  it('with -no-reboot prints one line naming KVM_EXIT_SHUTDOWN and RIP, and exits 0', () => {
    const r = run(
      '-accel',
      accel,
      '-nographic',
      '-no-reboot',
      '-device',
      `loader,file=${guest},addr=0x100000`,
    );
    expect(r.stderr).toBe(
      `qemu-lite: guest triple fault (KVM_EXIT_SHUTDOWN) at RIP ${rip}; -no-reboot: exiting\n`,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it("without -no-reboot reboots the guest, then ends on SIGTERM with status 0 (QEMU's)", async () => {
    const child = spawn(
      process.execPath,
      [
        cliPath,
        '-accel',
        accel,
        '-nographic',
        '-d',
        'cpu_reset',
        '-device',
        `loader,file=${guest},addr=0x100000`,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const reboots = () => stderr.split('reset (triple fault (KVM_EXIT_SHUTDOWN)): rebooting').length - 1;
    const status = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (reboots() >= 3 && !child.killed) child.kill('SIGTERM');
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(reboots()).toBeGreaterThanOrEqual(3);
    // Every boot loads the image and enters it again: one start line per boot.
    const starts = stderr.split('[cpu_reset] start: flat binary, 2 bytes at 0x100000').length - 1;
    expect(starts).toBeGreaterThanOrEqual(reboots());
    expect(stderr).not.toMatch(/-no-reboot: exiting/);
    expect(status).toBe(0);
  });
});
