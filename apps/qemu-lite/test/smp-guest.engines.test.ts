/**
 * `-smp N` end to end with our SMP guest (tools/guests/guest/tests/smp.c): the BSP finds the N
 * CPUs in the MADT, starts the APs by INIT-SIPI-SIPI, every CPU increments three shared counters
 * (spinlock by XCHG, LOCK XADD, LOCK CMPXCHG) `iter` times, and IPIs go both ways. On the host
 * engine each AP has a thread of its own (real concurrency); on vmx and svm the vCPUs take turns
 * on the machine's thread. Every run must end with no failed check and the exact total, and print
 * what the host engine prints for the same N. `smp` is 32-bit code without paging; `smp64` runs
 * in long mode with paging, the APs on the BSP's page tables (on the software engine: the
 * per-VM shadow MMU).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';
import { hostSkipReason } from './helpers.js';

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));
const notBuilt = existsSync(image('smp64'))
  ? undefined
  : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';
const ITER = 1000;

const ENGINES: [accel: string, skip: string | undefined][] = [
  ['kvm', notBuilt ?? hostSkipReason],
  ['vmx', notBuilt],
  ['svm', notBuilt],
];

/** The host engine's output by guest and N: the referee for the software engine's. */
const referee = new Map<string, string>();

describe('the SMP guest on -smp 1, 2 and 4', () => {
  for (const guest of ['smp', 'smp64']) {
    for (const cpus of [1, 2, 4]) {
      for (const [accel, skip] of ENGINES) {
        it.skipIf(skip !== undefined)(
          `${guest} -smp ${cpus} -accel ${accel}: every CPU up, the counters exact, IPIs both ways${skip ? ` (skipped: ${skip})` : ''}`,
          async () => {
            const result = await runGuest({
              kernel: image(guest),
              accel,
              smp: cpus,
              memory: '64M',
              append: `iter=${ITER}`,
              timeoutMs: 60_000,
            });
            // How it ended first, so that a run that stopped early says why.
            expect({ ending: result.exitReason, tail: result.serial.slice(-200) }).toMatchObject({
              ending: { kind: 'debug-exit', status: 1 },
            });
            expect(result.serial).not.toMatch(/^FAIL /m);
            expect(result.serial).toContain(`CPUS ${cpus}: ${[...Array(cpus).keys()].join(' ')}\n`);
            expect(result.serial).toContain(`SMP total ${cpus * ITER} = ${cpus} cpus x ${ITER}\n`);
            const key = `${guest}/${cpus}`;
            if (accel === 'kvm') referee.set(key, result.serial);
            else if (referee.has(key)) expect(result.serial).toBe(referee.get(key));
          },
          90_000,
        );
      }
    }
  }
});

describe('stopping a -smp machine', () => {
  for (const [accel, skip] of ENGINES) {
    it.skipIf(skip !== undefined)(
      `-accel ${accel} -smp 4: a time limit stops every vCPU (the APs halted in KVM_RUN, the BSP spinning) and the run ends at once${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const started = Date.now();
        const result = await runGuest({
          kernel: image('smp'),
          accel,
          smp: 4,
          memory: '64M',
          append: 'iter=10 hang=1',
          timeoutMs: 20_000,
        });
        expect(result.serial).toContain('SMP total 40 = 4 cpus x 10\nHANG\n');
        expect(result.exitReason).toEqual({ kind: 'quit', cause: 'timeout' });
        expect(result.status).toBe(124);
        // The stop itself (quit flag, kicks, every AP thread out of KVM_RUN) takes well under the
        // limit's slack: the run ends within 5 s of the 20 s limit.
        expect(Date.now() - started).toBeLessThan(25_000);
      },
      60_000,
    );
  }
});

describe('-smp with -icount on the software engine', () => {
  for (const accel of ['vmx', 'svm']) {
    it.skipIf(notBuilt !== undefined)(
      `-accel ${accel} -smp 4 -icount 0: the vCPUs' turns repeat exactly (two runs, the same instructions and output)${notBuilt ? ` (skipped: ${notBuilt})` : ''}`,
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'smp-icount-'));
        const runs = [];
        for (const i of [0, 1]) {
          const logFile = join(dir, `${i}.log`);
          const result = await runGuest({
            kernel: image('smp64'),
            accel,
            smp: 4,
            memory: '64M',
            append: 'iter=300',
            icount: { shift: 0 },
            log: ['exits'],
            logFile,
            timeoutMs: 60_000,
          });
          // An AP's INIT taken while another vCPU's VMCS was loaded once reset that vCPU instead.
          expect({ ending: result.exitReason, tail: result.serial.slice(-300) }).toMatchObject({
            ending: { kind: 'debug-exit', status: 1 },
          });
          const retired = readFileSync(logFile, 'utf8').match(/guest instructions retired (\d+)/)?.[1];
          runs.push({ serial: result.serial, retired });
        }
        expect(runs[0].retired).toBeDefined();
        expect(runs[1]).toEqual(runs[0]);
      },
      120_000,
    );
  }
});
