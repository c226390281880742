/**
 * v86 as a benchmark peer (issue #18 names it: JavaScript with a wasm JIT, the engine this
 * project measures itself against in Node). The npm package is a dev dependency of this one;
 * each run is a child process (`peer-v86-child.ts`).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { PeerAvailability, PeerRun } from './peer-run.js';

// The child is its own tsup entry: dist/peer-v86-child.js, from src/ (tests) and dist/ (bundles) alike.
const CHILD = new URL('../dist/peer-v86-child.js', import.meta.url);

export function v86Availability(): PeerAvailability {
  try {
    return { available: true, note: `v86 ${createRequire(import.meta.url).resolve('v86')}` };
  } catch (error) {
    return { available: false, note: `the v86 npm package is not installed (${String(error)})` };
  }
}

/** Runs `image` (a 32-bit multiboot ELF) with `append` as its command line; ends at debug-exit. */
export function runOnV86(image: string, append: string, timeoutMs: number): Promise<PeerRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CHILD.pathname, image, append], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const serial = Buffer.concat(out).toString('latin1');
      // Our guests leave through isa-debug-exit with 0 for success (QEMU's status (0 << 1) | 1).
      const ok = code === 0;
      const why = ok
        ? undefined
        : signal
          ? `killed by ${signal} after ${timeoutMs} ms`
          : `v86 exited with ${code}: ${Buffer.concat(err).toString().trim().split('\n').slice(-3).join(' | ')}`;
      const cpu = /cpu-ms=([\d.]+)/.exec(Buffer.concat(err).toString());
      resolve({ ms, serial, ok, why, cpuMs: cpu ? Number(cpu[1]) : undefined });
    });
  });
}
