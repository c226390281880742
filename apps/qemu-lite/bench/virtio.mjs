// virtio throughput beside QEMU's TCG with the same devices (issue 17), one run each:
// - virtio-blk: tools/guests' bench-vblk (our polled driver, one 4 KiB request at a time) reads
//   and writes 2 MiB sequentially and at random 4 KiB places of a 32 MiB raw image;
// - virtio-net: two virtionet64 guests on one `-netdev socket` (listen= / connect=), the sender
//   streaming 2 MiB of UDP to the receiver with go-back-N (window 32 frames of 1400 bytes).
// Our freestanding guests, not Linux: a Linux boot takes minutes on the software engine, and the
// guests time only the device work (the ACPI PM timer), never the boot. QEMU runs the same images
// with `-device virtio-blk-pci,disable-legacy=on` and `virtio-net-pci,disable-legacy=on` (the
// modern IDs our drivers look for). Engines: VIRTIO_BENCH_ENGINES (default kvm,vmx,svm,tcg); a
// missing one is skipped with the reason. Figures move with the machine's load.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGuest } from '../dist/index.js';
import { engineSkipReason } from './engine-skip.mjs';

const engines = (process.env.VIRTIO_BENCH_ENGINES ?? 'kvm,vmx,svm,tcg').split(',');
const COUNT = Number(process.env.VIRTIO_BENCH_BLK_COUNT ?? 512);
const NET_KIB = Number(process.env.VIRTIO_BENCH_NET_KIB ?? 2048);
const out = (name) => fileURLToPath(new URL(`../../../tools/guests/out/${name}`, import.meta.url));
const blkGuest = out('bench-vblk.elf');
const netGuest = out('virtionet64.elf');
if (!existsSync(blkGuest) || !existsSync(netGuest)) {
  console.log('virtio bench skipped: tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)');
  process.exit(0);
}

const QEMU = ['-accel', 'tcg', '-m', '64M', '-display', 'none', '-monitor', 'none', '-no-reboot'];
const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];

/** Runs QEMU to its end; its serial text. */
function qemu(args) {
  return new Promise((resolve) => {
    const child = spawn('qemu-system-x86_64', [...QEMU, '-serial', 'stdio', ...DEBUG_EXIT, ...args]);
    let text = '';
    child.stdout.on('data', (d) => {
      text += d.toString('latin1');
    });
    child.stderr.on('data', (d) => {
      text += d.toString('latin1');
    });
    const timer = setTimeout(() => child.kill(), 300_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** MiB/s of one bench-vblk run, from the microseconds the guest printed. */
async function blk(engine, image, op, pattern) {
  const append = `op=${op} pattern=${pattern} count=${COUNT} span=32`;
  const text =
    engine === 'tcg'
      ? await qemu([
          '-kernel',
          blkGuest,
          '-append',
          append,
          '-drive',
          `file=${image},format=raw,if=none,id=d0`,
          '-device',
          'virtio-blk-pci,drive=d0,disable-legacy=on',
        ])
      : (
          await runGuest({
            kernel: blkGuest,
            accel: engine,
            memory: '64M',
            append,
            timeoutMs: 300_000,
            drives: [{ file: image }],
          })
        ).serial;
  const m = /vblk \w+ \w+: (\d+) x 4096 bytes in (\d+) us/.exec(text);
  if (!m) throw new Error(`no result from ${engine}: ${text.slice(-400)}`);
  return (Number(m[1]) * 4096) / 2 ** 20 / (Number(m[2]) / 1e6);
}

/** MiB/s of one virtionet64 send → recv stream, from the sender's milliseconds. */
async function net(engine) {
  const port = await freePort();
  const recv = `ip=192.168.79.1 peer=192.168.79.2 role=recv wait=120`;
  const send = `ip=192.168.79.2 peer=192.168.79.1 role=send kib=${NET_KIB} wait=60`;
  let sender;
  if (engine === 'tcg') {
    const nic = (id, mac) => ['-device', `virtio-net-pci,netdev=${id},disable-legacy=on,mac=${mac}`];
    const receiver = qemu([
      '-kernel',
      netGuest,
      '-append',
      recv,
      '-netdev',
      `socket,id=n0,listen=127.0.0.1:${port}`,
      ...nic('n0', '52:54:00:79:00:01'),
    ]);
    // QEMU's connect= fails if nobody listens yet: give the listener a moment.
    await new Promise((r) => setTimeout(r, 1500));
    sender = await qemu([
      '-kernel',
      netGuest,
      '-append',
      send,
      '-netdev',
      `socket,id=n0,connect=127.0.0.1:${port}`,
      ...nic('n0', '52:54:00:79:00:02'),
    ]);
    await receiver;
  } else {
    let pending;
    const receiver = runGuest({
      kernel: netGuest,
      accel: engine,
      memory: '64M',
      append: recv,
      timeoutMs: 300_000,
      nics: [
        { netdev: 'socket', mac: '52:54:00:79:00:01', socket: { mode: 'listen', host: '127.0.0.1', port } },
      ],
      onStart: () => {
        pending = runGuest({
          kernel: netGuest,
          accel: engine,
          memory: '64M',
          append: send,
          timeoutMs: 300_000,
          nics: [
            {
              netdev: 'socket',
              mac: '52:54:00:79:00:02',
              socket: { mode: 'connect', host: '127.0.0.1', port },
            },
          ],
        });
      },
    });
    await receiver;
    sender = (await pending).serial;
  }
  const m = /sent \d+ frames \((\d+) KiB\) in (\d+) ms/.exec(sender);
  if (!m || /^FAIL /m.test(sender)) throw new Error(`no result from ${engine}: ${sender.slice(-400)}`);
  return Number(m[1]) / 1024 / (Number(m[2]) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'virtio-bench-'));
const workloads = [
  ['virtio-blk read, sequential 4 KiB', (e, img) => blk(e, img, 'read', 'seq')],
  ['virtio-blk read, random 4 KiB', (e, img) => blk(e, img, 'read', 'rand')],
  ['virtio-blk write, sequential 4 KiB', (e, img) => blk(e, img, 'write', 'seq')],
  ['virtio-blk write, random 4 KiB', (e, img) => blk(e, img, 'write', 'rand')],
  [`virtio-net, guest to guest over -netdev socket (${NET_KIB} KiB)`, (e) => net(e)],
];
console.log(`virtio bench: one run per cell, MiB/s (higher is better); ${COUNT} requests per disk row`);
try {
  for (const [name, fn] of workloads) {
    console.log(`\n${name}`);
    console.log('| engine | MiB/s | × QEMU TCG |');
    console.log('| --- | ---: | ---: |');
    const rows = [];
    for (const engine of engines) {
      const why = engineSkipReason(engine);
      if (why) {
        rows.push([engine, `skipped: ${why}`]);
        continue;
      }
      const image = join(dir, `${engine}.img`);
      writeFileSync(image, new Uint8Array(32 << 20));
      try {
        rows.push([engine, await fn(engine, image)]);
      } catch (error) {
        rows.push([engine, `failed: ${error.message.split('\n')[0]}`]);
      }
    }
    const tcg = rows.find((r) => r[0] === 'tcg' && typeof r[1] === 'number')?.[1];
    for (const [engine, v] of rows) {
      if (typeof v !== 'number') console.log(`| ${engine} | ${v} | |`);
      else console.log(`| ${engine} | ${v.toFixed(2)} | ${tcg ? (v / tcg).toFixed(2) : ''} |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
