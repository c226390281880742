/**
 * The console on a real terminal: qemu-lite under a pseudo-terminal (util-linux `script`), raw
 * mode while the guest runs, Ctrl-A x through the pty, and the terminal back in cooked mode
 * (`stty -a` run after it in the same pty shows icanon and echo again).
 */
import { spawn, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestGuest, cliPath, hostSkipReason } from './helpers.js';

const scriptMissing = spawnSync('script', ['--version']).error !== undefined;
if (scriptMissing) console.warn('skipping the pty test: util-linux script(1) is not installed');

describe.skipIf(hostSkipReason !== undefined || scriptMissing)('qemu-lite on a pseudo-terminal', () => {
  let ticks: string;
  beforeAll(() => {
    ticks = buildTestGuest('ticks');
  });

  it('takes Ctrl-A x in raw mode and restores the terminal', async () => {
    const command = `stty icanon echo; ${process.execPath} ${cliPath} -kernel ${ticks} -nographic; s=$?; echo; echo "STATUS=$s"; stty -a; exit $s`;
    const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!typed && out.includes('ticks')) {
        typed = true;
        child.stdin.write('\x01x');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(out).toMatch(/STATUS=0/);
    expect(status).toBe(0);
    const afterwards = out.slice(out.indexOf('STATUS='));
    expect(afterwards).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(afterwards).toMatch(/(^|\s)echo(\s|$)/m);
  });
});
