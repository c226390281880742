/**
 * `pnpm bench` for the page: MIPS of tools/guests' bench-int32 (a CPU-bound integer workload,
 * 2-level paging, `iterations=N` on its command line) in headless Chromium, beside the same
 * machine module in a worker_threads Worker under Node, in the same run. Both count what the
 * engine retired over the run's unpaused time (LiveStats), on -accel vmx, 64 MiB, with the engines'
 * interpreter (`jit=off`) and with x86emu's block compiler (`jit=on`, the default; the page's checkbox).
 * The page half needs Debian's chromium (CHROMIUM_PATH) and the built page; without them it says
 * why and prints Node's figure alone.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { MachineController } from '../src/machine/controller.js';
import { type LiveStats, mipsBetween, type WorkerEvent } from '../src/machine/protocol.js';
import { browserSkip, openPageHost, waitForTerminal } from '../test/browser.js';
import { bundleForWorker } from '../test/bundle.js';

const image = fileURLToPath(new URL('../../../tools/guests/out/bench-int32.elf', import.meta.url));
const ITERATIONS = Number(process.env.WEB_BENCH_ITERATIONS ?? 100);
const cmdline = `iterations=${ITERATIONS}`;
const ZERO: LiveStats = {
  instructions: 0,
  elapsedMs: 0,
  pausedMs: 0,
  exits: { rows: [], totalExits: 0, guestNs: 0, userspaceNs: 0, haltedNs: 0, deadlines: 0 },
};

interface Figure {
  mips: number;
  instructions: number;
  seconds: number;
  checksum: string;
}

function figure(stats: LiveStats, serial: string): Figure {
  return {
    mips: mipsBetween(ZERO, stats),
    instructions: stats.instructions,
    seconds: (stats.elapsedMs - stats.pausedMs) / 1000,
    checksum: /checksum=(\S+)/.exec(serial)?.[1] ?? '?',
  };
}

async function inNode(jit: boolean): Promise<Figure> {
  const file = await bundleForWorker(
    fileURLToPath(new URL('../test/fixtures/node-machine-worker.ts', import.meta.url)),
  );
  let serial = '';
  return new Promise((resolve, reject) => {
    const c = new MachineController(
      (deliver, crash) => {
        const w = new Worker(file);
        w.on('message', deliver);
        w.on('error', (e) => crash(e.message));
        return { postMessage: (m) => w.postMessage(m), terminate: () => void w.terminate() };
      },
      (e: WorkerEvent | { type: 'state' }) => {
        if (e.type === 'serial') serial += Buffer.from(e.data).toString('latin1');
        if (e.type === 'done') resolve(figure(e.stats, serial));
        if (e.type === 'error') reject(new Error(`${e.name}: ${e.message}`));
      },
    );
    c.start({
      accel: 'vmx',
      jit,
      ramSize: 64 * 1024 * 1024,
      kernel: { name: 'bench-int32.elf', image: new Uint8Array(readFileSync(image)) },
      cmdline,
      debugExit: { iobase: 0xf4, iosize: 4 },
    });
  });
}

async function inPage(jit: boolean): Promise<Figure | string> {
  if (browserSkip) return browserSkip;
  const host = await openPageHost(4800 + (process.pid % 500));
  try {
    const page = await host.browser.newPage();
    await page.goto(host.url);
    await page.waitForFunction(
      () => (document.getElementById('guest') as HTMLSelectElement).options.length > 1,
    );
    await page.selectOption('#guest', 'bench-int32');
    await page.selectOption('#accel', 'vmx');
    await page.setChecked('#jit', jit);
    await page.selectOption('#memory', String(64 * 1024 * 1024));
    await page.fill('#cmdline', cmdline);
    await page.click('#start');
    await page.waitForFunction(
      () => document.getElementById('status')!.textContent!.startsWith('ended'),
      null,
      {
        timeout: 600_000,
      },
    );
    // The checksum line is the guest's last output: wait for xterm.js to have parsed it.
    const text = await waitForTerminal(page, /checksum=\S+/);
    const stats = (await page.evaluate(
      () => (window as unknown as { kvmTs: { lastStats: unknown } }).kvmTs.lastStats,
    )) as LiveStats;
    return figure(stats, text);
  } finally {
    await host.close();
  }
}

it(`bench-int32 (${cmdline}) MIPS: the page in Chromium beside Node, interpreter and block compiler`, async () => {
  const row = (name: string, f: Figure | string) =>
    typeof f === 'string'
      ? `  ${name.padEnd(40)}skipped (${f})`
      : `  ${name.padEnd(40)}${f.mips.toFixed(1).padStart(8)}${(f.instructions / 1e6).toFixed(1).padStart(14)}${f.seconds.toFixed(2).padStart(10)}   ${f.checksum}`;
  const lines = [
    `bench-int32 ${cmdline}, -accel vmx, 64M`,
    `  ${'where'.padEnd(40)}${'MIPS'.padStart(8)}${'M instr'.padStart(14)}${'s'.padStart(10)}   checksum`,
  ];
  const checksums = new Set<string>();
  // Interpreter first (jit=off, in Node as in the page), then jit=on (the default); each pair
  // back to back so that both sides of a ratio see the same machine load.
  for (const jit of [false, true]) {
    const how = jit ? 'jit=on' : 'interpreter';
    const node = await inNode(jit);
    const page = await inPage(jit);
    lines.push(row(`Node (worker_threads), ${how}`, node), row(`the page (headless Chromium), ${how}`, page));
    if (typeof page !== 'string') lines.push(`  page / Node, ${how}: ${(page.mips / node.mips).toFixed(2)}×`);
    expect(node.instructions).toBeGreaterThan(0);
    checksums.add(node.checksum);
    if (typeof page !== 'string') checksums.add(page.checksum);
  }
  console.log(lines.join('\n'));
  // The same guest computation on every row.
  expect([...checksums]).toHaveLength(1);
  expect([...checksums][0]).not.toBe('?');
}, 900_000);
