/**
 * The vCPU thread as the host sees it (src/host-thread.ts): the monitor's `info cpus` prints
 * its host thread id, as QEMU's does, and the thread lowers the priority of the process's other
 * threads (V8's compiler workers, libuv's pool) when it starts, keeping its own and the main
 * thread's, so that on a two-core machine it is not the one waiting for a core.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../src/host-thread.js';
import { cliPath } from './helpers.js';

const demo = fileURLToPath(new URL('../../../tools/guests/out/demo.elf', import.meta.url));
const skip = !existsSync('/proc/thread-self')
  ? 'no per-thread /proc (not Linux)'
  : !existsSync(demo)
    ? `${demo} is not built`
    : undefined;

/** A thread's nice value: field 19 of /proc/PID/task/TID/stat, the 17th after the command's ")". */
function niceOf(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** `info cpus` from a machine held at its first instruction, and the nice value of each of its threads then. */
function heldMachine(accel: string): Promise<{ out: string; pid: number; nice: Map<number, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cliPath, '-S', '-monitor', 'stdio', '-kernel', demo, '-accel', accel, '-m', '64M'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let asked = false;
    const nice = new Map<number, number>();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!asked && out.includes('(qemu) ')) {
        asked = true;
        child.stdin.write('info cpus\n');
      } else if (asked && /thread_id=\d+.*\n\(qemu\) /.test(out) && nice.size === 0) {
        for (const t of readdirSync(`/proc/${child.pid}/task`))
          nice.set(Number(t), niceOf(child.pid as number, Number(t)));
        child.stdin.write('quit\n');
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ out, pid: child.pid as number, nice });
    });
  });
}

describe.skipIf(skip !== undefined)(`the vCPU thread on the host${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it.each(['vmx', 'svm'])(
    'keeps its priority and lowers the other threads but the main one (-accel %s)',
    async (accel) => {
      const { out, pid, nice } = await heldMachine(accel);
      const tid = Number(/\* CPU #0: pc=0x[0-9a-f]{16} thread_id=(\d+) \(stopped\)/.exec(out)?.[1]);
      // thread_id is a thread of the process, not Node's worker number.
      expect(nice.has(tid), out).toBe(true);
      expect(tid).not.toBe(pid);
      const base = niceOf(process.pid, process.pid);
      expect(nice.get(tid)).toBe(base);
      expect(nice.get(pid)).toBe(base);
      // V8's four platform workers at least (node's default --v8-pool-size), and libuv's pool if made.
      const lowered = [...nice].filter(
        ([t, n]) => t !== tid && t !== pid && n === Math.min(19, base + BACKGROUND_NICE),
      );
      expect(lowered.length, JSON.stringify([...nice])).toBeGreaterThanOrEqual(4);
    },
  );
});
