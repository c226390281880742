import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GUESTS } from '../src/index.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('kvm-guests CLI (no engine needed)', () => {
  it('lists every guest in the manifest', () => {
    const r = run('list');
    expect(r.status).toBe(0);
    const names = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(GUESTS.map((g) => g.name));
  });
  it('refuses an unknown guest with status 2', () => {
    const r = run('no-such-guest');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown guest');
  });
  it('refuses an unknown option with status 2 and the usage', () => {
    const r = run('io64', '--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage:');
  });
});
