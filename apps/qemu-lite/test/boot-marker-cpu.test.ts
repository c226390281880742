/**
 * tools/linux/boot-marker.mjs's CPU clocks, which the Linux boot bench prints: the process's CPU
 * time (every thread) and its busiest thread's (the vCPU thread's; what it is short of the wall
 * time is what it waited for a core).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { busiestThread, busiestThreadCpuMs, processCpuMs } from '../../../tools/linux/boot-marker.mjs';

/** A process whose worker thread spins ~400 ms while its main thread spins ~150 ms; both then wait (alive). */
const SCRIPT = `
const { Worker } = require('node:worker_threads');
const spin = (ms) => { const t = Date.now(); while (Date.now() - t < ms); };
const w = new Worker('const t = Date.now(); while (Date.now() - t < 400); require("node:worker_threads").parentPort.postMessage(1); setInterval(() => {}, 1000)', { eval: true });
spin(150);
w.on('message', () => { process.stdout.write('done\\n'); setInterval(() => {}, 1000); });
`;

describe.skipIf(!existsSync('/proc/self/task'))('boot-marker CPU clocks (/proc)', () => {
  it('tells the busiest thread from the whole process', async () => {
    const child = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.includes('done') && resolve()),
    );
    const all = processCpuMs(child.pid) as number;
    const busiest = busiestThreadCpuMs(child.pid) as number;
    const thread = busiestThread(child.pid);
    child.kill();
    // The worker thread, started after the process (by node's start-up, well under a second).
    expect(thread?.cpuMs).toBe(busiest);
    expect(thread?.startMs).toBeGreaterThanOrEqual(0);
    expect(thread?.startMs).toBeLessThan(5000);
    expect(busiest).toBeGreaterThanOrEqual(300);
    expect(all - busiest).toBeGreaterThanOrEqual(100);
    expect(busiestThreadCpuMs(undefined)).toBeUndefined();
  });
});
