/**
 * What the package says where the host engine can't be used: never a throw on import, one
 * clear reason, and the same reason in the KvmError that using it throws. Runs everywhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Errno, KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { hostKvmAvailability, openHostKvm } from '../src/index.js';
import { loadNative } from '../src/native.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const native = loadNative();

/** Runs `code` as an ES module in a fresh Node with `env` added; returns its stdout as JSON. */
function inFreshNode(code: string, env: Record<string, string>): unknown {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('availability', () => {
  it.skipIf(!native.ok)('names a missing device node and throws ENOENT with the same words', () => {
    const missing = hostKvmAvailability({ path: '/nonexistent/kvm' });
    expect(missing).toMatchObject({ available: false, errno: Errno.ENOENT });
    expect(missing.reason).toContain('/nonexistent/kvm does not exist');
    let caught: unknown;
    try {
      openHostKvm({ path: '/nonexistent/kvm' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvmError);
    expect((caught as KvmError).code).toBe('ENOENT');
    expect((caught as KvmError).message).toContain(missing.reason);
  });

  it.skipIf(!existsSync(join(packageDir, 'dist', 'index.js')))(
    'imports without throwing when the addon is switched off, and says so with ENODEV on use',
    () => {
      const result = inFreshNode(
        `import { hostKvmAvailability, openHostKvm } from '@kvm/host';
         const availability = hostKvmAvailability();
         let error;
         try { openHostKvm(); } catch (e) { error = { name: e.name, code: e.code, message: e.message }; }
         console.log(JSON.stringify({ availability, error }));`,
        { KVM_HOST_NATIVE: '0' },
      );
      expect(result).toMatchObject({
        availability: {
          available: false,
          errno: Errno.ENODEV,
          reason: expect.stringContaining('KVM_HOST_NATIVE=0'),
        },
        error: { name: 'KvmError', code: 'ENODEV', message: expect.stringContaining('KVM_HOST_NATIVE=0') },
      });
    },
  );
});

describe('the install script', () => {
  // A copy of the package without its devDependencies: the build can't happen there.
  function bareCopy(): string {
    const dir = mkdtempSync(join(tmpdir(), 'kvm-host-install-'));
    for (const entry of ['package.json', 'binding.gyp', 'native', 'scripts']) {
      cpSync(join(packageDir, entry), join(dir, entry), { recursive: true });
    }
    return dir;
  }
  const run = (dir: string, env: Record<string, string>) => {
    // pnpm's bin shims put the store on NODE_PATH; the copy must not find the deps through it.
    const { NODE_PATH: _nodePath, ...inherited } = process.env;
    return spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: dir,
      env: { ...inherited, KVM_HOST_NATIVE: '', ...env },
      encoding: 'utf8',
    });
  };

  it('says once why the addon is unavailable and lets the install go on (exit 0)', () => {
    const dir = bareCopy();
    try {
      const result = run(dir, {});
      expect(result.status).toBe(0);
      expect(result.stderr).toContain(
        'native addon unavailable: node-addon-api or node-gyp is not installed',
      );
      expect(readFileSync(join(dir, 'build', 'native-unavailable.txt'), 'utf8')).toContain('node-addon-api');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the install when KVM_HOST_NATIVE=1 and the addon cannot be built', () => {
    const dir = bareCopy();
    try {
      const result = run(dir, { KVM_HOST_NATIVE: '1' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('could not be built (KVM_HOST_NATIVE=1)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds nothing when KVM_HOST_NATIVE=0, and rejects other values', () => {
    const dir = bareCopy();
    try {
      const off = run(dir, { KVM_HOST_NATIVE: '0' });
      expect(off.status).toBe(0);
      expect(off.stderr).toContain('not built (KVM_HOST_NATIVE=0)');
      expect(existsSync(join(dir, 'build', 'Release'))).toBe(false);
      expect(run(dir, { KVM_HOST_NATIVE: 'yes' }).status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
