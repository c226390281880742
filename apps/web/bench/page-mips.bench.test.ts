/**
 * `pnpm bench` for the page: MIPS of tools/guests' bench-int32 (a CPU-bound integer workload,
 * 2-level paging, `iterations=N` on its command line) in headless Chromium, beside the same
 * machine module in a worker_threads Worker under Node, in the same run. Both count what the
 * engine retired over the run's unpaused time (LiveStats), on -accel vmx, 64 MiB.
 * The page half needs Debian's chromium (CHROMIUM_PATH) and the built page; without them it says
 * why and prints Node's figure alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { expect, it } from 'vitest';
import { MachineController } from '../src/machine/controller.js';
import { type LiveStats, mipsBetween, type WorkerEvent } from '../src/machine/protocol.js';
import { bundleForWorker } from '../test/bundle.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const image = fileURLToPath(new URL('../../../tools/guests/out/bench-int32.elf', import.meta.url));
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ITERATIONS = Number(process.env.WEB_BENCH_ITERATIONS ?? 100);
const cmdline = `iterations=${ITERATIONS}`;
const ZERO: LiveStats = {
  instructions: 0,
  elapsedMs: 0,
  pausedMs: 0,
  exits: { rows: [], totalExits: 0, guestNs: 0, userspaceNs: 0, haltedNs: 0 },
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

async function inNode(): Promise<Figure> {
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
      ramSize: 64 * 1024 * 1024,
      kernel: { name: 'bench-int32.elf', image: new Uint8Array(readFileSync(image)) },
      cmdline,
      debugExit: { iobase: 0xf4, iosize: 4 },
    });
  });
}

async function inPage(): Promise<Figure | string> {
  if (!existsSync(executablePath)) return `no chromium at ${executablePath}`;
  if (!existsSync(`${here}dist/index.html`)) return 'the page is not built (pnpm --filter web build)';
  const server = await preview({
    root: here,
    preview: { port: 4800 + (process.pid % 500) },
    logLevel: 'silent',
  });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(server.resolvedUrls!.local[0]!);
    await page.waitForFunction(
      () => (document.getElementById('guest') as HTMLSelectElement).options.length > 1,
    );
    await page.selectOption('#guest', 'bench-int32');
    await page.selectOption('#accel', 'vmx');
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
    const { stats, text } = await page.evaluate(() => {
      const k = (
        window as unknown as { kvmTs: { lastStats: unknown; terminal: import('@xterm/xterm').Terminal } }
      ).kvmTs;
      const b = k.terminal.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
      return { stats: k.lastStats as LiveStats, text: lines.join('\n') };
    });
    return figure(stats, text);
  } finally {
    await browser.close();
    server.httpServer.close();
  }
}

it(`bench-int32 (${cmdline}) MIPS: the page in Chromium beside Node`, async () => {
  const node = await inNode();
  const page = await inPage();
  const row = (name: string, f: Figure) =>
    `  ${name.padEnd(28)}${f.mips.toFixed(1).padStart(8)}${(f.instructions / 1e6).toFixed(1).padStart(14)}${f.seconds.toFixed(2).padStart(10)}   ${f.checksum}`;
  const lines = [
    `bench-int32 ${cmdline}, -accel vmx, 64M`,
    `  ${'where'.padEnd(28)}${'MIPS'.padStart(8)}${'M instr'.padStart(14)}${'s'.padStart(10)}   checksum`,
    row('Node (worker_threads)', node),
    typeof page === 'string' ? `  the page: skipped (${page})` : row('the page (headless Chromium)', page),
  ];
  if (typeof page !== 'string') lines.push(`  page / Node: ${(page.mips / node.mips).toFixed(2)}×`);
  console.log(lines.join('\n'));
  expect(node.instructions).toBeGreaterThan(0);
  if (typeof page !== 'string') expect(page.checksum).toBe(node.checksum);
}, 900_000);
