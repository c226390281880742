import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MachineController, type MachineSettings, type RunState } from '../src/machine/controller.js';
import type { LiveStats, WorkerEvent } from '../src/machine/protocol.js';
import { bundleForWorker } from './bundle.js';
import { echoGuest } from './fixtures/echo-guest.js';

const demoPath = fileURLToPath(new URL('../../../tools/guests/out/demo.elf', import.meta.url));
const benchPath = fileURLToPath(new URL('../../../tools/guests/out/bench-int32.elf', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/node-machine-worker.ts', import.meta.url));
const linuxCache = fileURLToPath(new URL('../../../tools/linux/cache/', import.meta.url));
const haveLinux = existsSync(`${linuxCache}vmlinuz`) && existsSync(`${linuxCache}initramfs.cpio.gz`);
/** Minutes of guest time (about 1 unloaded, 14 on a 2-core machine at load 27): asked for with WEB_LINUX=1. */
const linuxSkip = !haveLinux
  ? 'no tools/linux/cache (node tools/linux/fetch.mjs)'
  : process.env.WEB_LINUX !== '1'
    ? 'WEB_LINUX=1 not set'
    : undefined;
if (linuxSkip) console.warn(`worker-node.test.ts: the Linux boot skipped: ${linuxSkip}`);

type Seen = WorkerEvent | { type: 'state'; state: RunState };

/** A MachineController whose workers are worker_threads Workers running the bundled machine module. */
let script: Promise<string> | undefined;

async function nodeController(onEvent: (e: Seen) => void): Promise<MachineController> {
  script ??= bundleForWorker(fixture);
  const file = await script;
  return new MachineController(
    (deliver, crash) => {
      const w = new Worker(file);
      w.on('message', deliver);
      w.on('error', (e) => crash(e.message));
      return { postMessage: (m) => w.postMessage(m), terminate: () => void w.terminate() };
    },
    onEvent,
    100,
  );
}

function demoSettings(accel: 'vmx' | 'svm'): MachineSettings {
  return {
    accel,
    ramSize: 64 * 1024 * 1024,
    kernel: { name: 'demo.elf', image: new Uint8Array(readFileSync(demoPath)) },
    cmdline: '',
    debugExit: { iobase: 0xf4, iosize: 4 },
  };
}

describe('the page machine module in a worker_threads Worker', () => {
  it.each(['vmx', 'svm'] as const)(
    'boots the demo guest on -accel %s to its serial output and its debug-exit, with live MIPS',
    async (accel) => {
      const events: Seen[] = [];
      let serial = '';
      const ended = new Promise<void>((resolve) => {
        void nodeController((e) => {
          events.push(e);
          if (e.type === 'serial') serial += Buffer.from(e.data).toString('latin1');
          if (e.type === 'done' || e.type === 'error') resolve();
        }).then((c) => c.start(demoSettings(accel)));
      });
      await ended;
      const last = events.findLast((e) => e.type === 'done' || e.type === 'error');
      // The demo's "all good" is a 0 written to isa-debug-exit: status (0 << 1) | 1.
      expect(last).toMatchObject({ type: 'done', stop: { kind: 'debug-exit', status: 1 } });
      expect(serial).toContain('qemu-lite demo guest: a tiny multitasking kernel');
      expect(serial).toMatch(/all \d+ tasks finished after \d+ turns each; shutting down/);
      const started = events.find((e) => e.type === 'started');
      expect(started).toMatchObject({ type: 'started', description: expect.stringMatching(/multiboot/) });
      const stats = (last as { stats: LiveStats }).stats;
      expect(stats.instructions).toBeGreaterThan(10_000);
      expect(stats.exits.totalExits).toBeGreaterThan(0);
      const states = events.filter((e) => e.type === 'state').map((e) => (e as { state: string }).state);
      expect(states).toEqual(['starting', 'running', 'ended']);
    },
    60_000,
  );

  it('runs bench-int32 with jit=on (x86emu block compiler in the worker bundle) to the interpreter checksum', async () => {
    const image = new Uint8Array(readFileSync(benchPath));
    const run = (jit: boolean) =>
      new Promise<{ last: Seen; serial: string }>((resolve) => {
        let serial = '';
        void nodeController((e) => {
          if (e.type === 'serial') serial += Buffer.from(e.data).toString('latin1');
          if (e.type === 'done' || e.type === 'error') resolve({ last: e, serial });
        }).then((c) =>
          c.start({
            ...demoSettings('vmx'),
            jit,
            kernel: { name: 'bench-int32.elf', image },
            cmdline: 'iterations=20',
          }),
        );
      });
    const interpreted = await run(false);
    const compiled = await run(true);
    for (const r of [interpreted, compiled])
      expect(r.last).toMatchObject({ type: 'done', stop: { kind: 'debug-exit', status: 1 } });
    const checksum = /checksum=(0x[0-9a-f]+)/.exec(interpreted.serial)?.[1];
    expect(checksum).toBeDefined();
    expect(compiled.serial).toContain(`checksum=${checksum}`);
  }, 120_000);

  it('reports a bad kernel as a LoaderError event, not a crash of the worker', async () => {
    const last = await new Promise<Seen>((resolve) => {
      void nodeController((e) => {
        if (e.type === 'done' || e.type === 'error') resolve(e);
      }).then((c) =>
        c.start({
          ...demoSettings('vmx'),
          kernel: { name: 'junk.bin', image: new Uint8Array(8192).fill(0x90) },
        }),
      );
    });
    expect(last).toMatchObject({ type: 'error', name: 'LoaderError' });
    expect((last as { message: string }).message).toMatch(/junk\.bin|multiboot|bzImage|format/i);
  }, 30_000);

  it('pauses at the next exit and resumes where it was: the pause is kept out of the run time, the ending is the same', async () => {
    const samples: LiveStats[] = [];
    let controller: MachineController | undefined;
    let pausedAt = 0;
    const last = await new Promise<Seen>((resolve) => {
      void nodeController((e) => {
        if (e.type === 'started') {
          controller!.pause();
          pausedAt = Date.now();
          setTimeout(() => controller!.resume(), 600);
        }
        if (e.type === 'stats' && controller!.state === 'paused') samples.push(e.stats);
        if (e.type === 'done' || e.type === 'error') resolve(e);
      }).then((c) => {
        controller = c;
        c.start(demoSettings('vmx'));
      });
    });
    expect(last).toMatchObject({ type: 'done', stop: { kind: 'debug-exit', status: 1 } });
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(600);
    // The worker posts a sample when it stops for the pause, and the guest runs on after resume.
    expect(samples.length).toBeGreaterThan(0);
    const end = (last as { stats: LiveStats }).stats;
    expect(end.pausedMs).toBeGreaterThan(400);
    expect(end.instructions).toBeGreaterThan(samples[0]!.instructions);
  });

  it('stops a paused machine: done with quit (user), and the controller ends', async () => {
    let controller: MachineController | undefined;
    const last = await new Promise<Seen>((resolve) => {
      void nodeController((e) => {
        if (e.type === 'started') {
          controller!.pause();
          setTimeout(() => controller!.stop(), 200);
        }
        if (e.type === 'done' || e.type === 'error') resolve(e);
      }).then((c) => {
        controller = c;
        c.start(demoSettings('svm'));
      });
    });
    expect(last).toMatchObject({ type: 'done', stop: { kind: 'quit', cause: 'user' } });
    expect(controller!.state).toBe('ended');
  });

  it('types into the guest: bytes given to input() reach its UART, and its echo comes back', async () => {
    let controller: MachineController | undefined;
    let serial = '';
    let ram: Uint8Array | undefined;
    const last = await new Promise<Seen>((resolve) => {
      void nodeController((e) => {
        if (e.type === 'started') {
          ram = e.ram && new Uint8Array(e.ram, e.ramOffset, 64 * 1024 * 1024);
          controller!.input(new TextEncoder().encode('hello, guest'));
        }
        if (e.type === 'serial') {
          serial += Buffer.from(e.data).toString('latin1');
          if (serial === 'HELLO, GUEST') controller!.input(new TextEncoder().encode('q'));
        }
        if (e.type === 'done' || e.type === 'error') resolve(e);
      }).then((c) => {
        controller = c;
        c.start({ ...demoSettings('vmx'), kernel: { name: 'echo.bin', image: echoGuest() } });
      });
    });
    expect(serial).toBe('HELLO, GUEST');
    expect(last).toMatchObject({ type: 'done', stop: { kind: 'debug-exit', status: 1 } });
    // Guest RAM is shared with this thread, in the silicon's wasm arena (the page's engines compile
    // to wasm): the loader put the kernel at 1 MiB, header first.
    expect(ram!.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(ram!.byteOffset).toBeGreaterThan(0);
    expect(new DataView(ram!.buffer, ram!.byteOffset).getUint32(0x100000, true)).toBe(0x1badb002);
  });

  it.skipIf(linuxSkip !== undefined)(
    "boots Debian's kernel (xz payload decompressed by the browser build) to its shell, where a typed command runs",
    async () => {
      let controller: MachineController | undefined;
      let serial = '';
      let typed = false;
      const last = await new Promise<Seen>((resolve) => {
        void nodeController((e) => {
          if (e.type === 'serial') {
            serial += Buffer.from(e.data).toString('latin1');
            // busybox's prompt ("/ # ") ends the console once init has started the shell.
            if (!typed && serial.includes('busybox shell on the serial console') && /# $/.test(serial)) {
              typed = true;
              controller!.input(new TextEncoder().encode('echo hi-$((6*7)); poweroff -f\n'));
            }
          }
          if (e.type === 'done' || e.type === 'error') resolve(e);
        }).then((c) => {
          controller = c;
          c.start({
            accel: 'vmx',
            ramSize: 256 * 1024 * 1024,
            kernel: { name: 'vmlinuz', image: new Uint8Array(readFileSync(`${linuxCache}vmlinuz`)) },
            initrd: {
              name: 'initramfs.cpio.gz',
              image: new Uint8Array(readFileSync(`${linuxCache}initramfs.cpio.gz`)),
            },
            cmdline: 'console=ttyS0 nokaslr tsc=reliable no_timer_check i8042.noaux pci=off',
            debugExit: { iobase: 0xf4, iosize: 4 },
          });
        });
      });
      expect(serial).toMatch(/^hi-42\r?$/m);
      expect(last).toMatchObject({ type: 'done', stop: { kind: 'poweroff' } });
    },
    1_800_000,
  );
});
