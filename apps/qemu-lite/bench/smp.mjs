// An SMP workload at -smp 1, 2 and 4 on every engine, beside QEMU's TCG with a thread per vCPU
// (`-accel tcg,thread=multi`): tools/guests' `smp` (the BSP starts the APs by INIT-SIPI-SIPI,
// every CPU does ITER rounds of a spinlock, LOCK XADD and LOCK CMPXCHG on shared counters),
// wall time of the whole run, best of RUNS. The work grows with N (N × ITER rounds). Engines:
// SMP_BENCH_ENGINES (default kvm,vmx,svm,tcg); a missing one is skipped with the reason.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runGuest } from '../dist/index.js';
import { engineSkipReason } from './engine-skip.mjs';

const ITER = Number(process.env.SMP_BENCH_ITER ?? 5000);
const RUNS = Number(process.env.SMP_BENCH_RUNS ?? 2);
const engines = (process.env.SMP_BENCH_ENGINES ?? 'kvm,vmx,svm,tcg').split(',');
const image = fileURLToPath(new URL('../../../tools/guests/out/smp.elf', import.meta.url));
if (!existsSync(image)) {
  console.log('smp bench skipped: tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)');
  process.exit(0);
}

/** One run: seconds, or throws with what went wrong. */
async function once(engine, cpus) {
  const started = process.hrtime.bigint();
  let serial;
  if (engine === 'tcg') {
    const r = spawnSync(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg,thread=multi',
        '-smp',
        String(cpus),
        '-m',
        '64M',
        '-kernel',
        image,
        '-append',
        `iter=${ITER}`,
        '-display',
        'none',
        '-serial',
        'stdio',
        '-monitor',
        'none',
        '-no-reboot',
        '-device',
        'isa-debug-exit,iobase=0xf4,iosize=4',
      ],
      { encoding: 'latin1', timeout: 300_000 },
    );
    serial = r.stdout;
  } else {
    const r = await runGuest({
      kernel: image,
      accel: engine,
      smp: cpus,
      memory: '64M',
      append: `iter=${ITER}`,
      timeoutMs: 300_000,
    });
    serial = r.serial;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!serial.includes(`SMP total ${cpus * ITER} = ${cpus} cpus x ${ITER}`) || !/ 0 failed/.test(serial))
    throw new Error(`${engine} -smp ${cpus}: the guest did not finish cleanly:\n${serial.slice(-600)}`);
  return seconds;
}

console.log(`SMP workload (tools/guests smp, iter=${ITER}, best of ${RUNS}): wall seconds per run`);
console.log(`  ${'engine'.padEnd(28)}${['-smp 1', '-smp 2', '-smp 4'].map((h) => h.padStart(10)).join('')}`);
for (const engine of engines) {
  const label = engine === 'tcg' ? 'QEMU -accel tcg,thread=multi' : `qemu-lite -accel ${engine}`;
  const why = engineSkipReason(engine);
  if (why) {
    console.log(`  ${label.padEnd(28)}skipped: ${why}`);
    continue;
  }
  const cells = [];
  for (const cpus of [1, 2, 4]) {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < RUNS; i++) best = Math.min(best, await once(engine, cpus));
    cells.push(`${best.toFixed(2)} s`.padStart(10));
  }
  console.log(`  ${label.padEnd(28)}${cells.join('')}`);
}
