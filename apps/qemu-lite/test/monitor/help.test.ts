/** The monitor's `help`: every command, or the one named (QEMU's help_cmd). */
import { describe, expect, it } from 'vitest';
import { runMonitorCommand } from '../../src/monitor/commands.js';
import type { MonitorSession } from '../../src/monitor/session-api.js';

/** `help` reads nothing of the machine. */
const session = {} as MonitorSession;

describe('monitor help', () => {
  it('lists every command, one line each', () => {
    const out = runMonitorCommand('help', session);
    expect(out).toContain('x /fmt addr -- virtual memory dump starting at addr\n');
    expect(out).toContain('system_powerdown -- send system power down event\n');
    expect(out.split('\n').length).toBeGreaterThan(10);
  });

  it('shows only the command named, and says so for one it does not know', () => {
    expect(runMonitorCommand('help xp', session)).toBe(
      'xp /fmt addr -- physical memory dump starting at addr\n',
    );
    expect(runMonitorCommand('help frob', session)).toBe("unknown command: 'frob'\n");
  });
});
