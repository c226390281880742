/**
 * Test helper: runs N x86emu Cpus, a worker_thread each (fixtures/smp-vcpu-worker.mjs), over one
 * guest RAM in a SharedArrayBuffer, all started at once, and returns what each reported at HLT.
 */
import { Worker } from 'node:worker_threads';

export interface VcpuSpec {
  rip: number;
  gpr?: Record<number, number>;
}
export interface VcpuResult {
  stop: number;
  gpr: number[];
  retired: number;
  locked: { atomic: number; splitLocks: number; retries: number } | null;
}

const WORKER = new URL('./fixtures/smp-vcpu-worker.mjs', import.meta.url);
const DIST = new URL('../dist/index.js', import.meta.url).href;

/** The workers load dist/: say so when it is missing or older than src/smp (turbo builds it first). */
async function checkDist(): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(DIST)) as Record<string, unknown>;
  } catch {
    throw new Error('packages/x86emu/dist is not built: run `pnpm --filter @kvm/x86emu build` first');
  }
  for (const name of ['SharedPhysicalMemory', 'LockedMemory', 'serializingCpuid'])
    if (typeof mod[name] !== 'function')
      throw new Error(
        `packages/x86emu/dist has no ${name}: rebuild it (\`pnpm --filter @kvm/x86emu build\`)`,
      );
}

export async function runThreads(
  ram: SharedArrayBuffer,
  vcpus: VcpuSpec[],
  opts: { mode?: 32 | 64; cr3?: number; atomics?: boolean; serialize?: boolean; timeoutMs?: number } = {},
): Promise<VcpuResult[]> {
  await checkDist();
  const lock = new SharedArrayBuffer(4);
  const go = new SharedArrayBuffer(4);
  const workers = vcpus.map(
    (v) =>
      new Worker(WORKER, {
        workerData: {
          ram,
          lock,
          go,
          mode: opts.mode ?? 32,
          cr3: opts.cr3 ?? 0,
          rip: v.rip,
          gpr: v.gpr ?? {},
          atomics: opts.atomics ?? true,
          serialize: opts.serialize ?? true,
        },
      }),
  );
  try {
    const results = workers.map(
      (w) =>
        new Promise<VcpuResult>((resolve, reject) => {
          w.on('message', (m) => {
            if (m !== 'ready') resolve(m as VcpuResult);
          });
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`vCPU worker exited (${code}) before HLT`)));
        }),
    );
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => w.once('message', () => resolve()))));
    const flag = new Int32Array(go);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    // A guest that never halts (a lock lost without atomics spins for ever) ends the test, not
    // the process: the finally below terminates every worker.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('vCPU threads did not all halt in time')),
        opts.timeoutMs ?? 45_000,
      );
    });
    try {
      return await Promise.race([Promise.all(results), limit]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Identity-maps the first 4 MiB with two 2 MiB pages under 4-level paging; returns CR3. */
export function identityMap64(ram: SharedArrayBuffer, at: number): number {
  const d = new DataView(ram);
  d.setUint32(at, (at + 0x1000) | 3, true);
  d.setUint32(at + 0x1000, (at + 0x2000) | 3, true);
  d.setUint32(at + 0x2000, 0x83, true);
  d.setUint32(at + 0x2008, 0x200000 | 0x83, true);
  return at;
}
