/**
 * Debugging a `-smp` guest: Debian's gdb against tools/guests' `smp64` (long mode, the APs started
 * by INIT-SIPI-SIPI into `ap_main`) at -smp 2 and 4, held at its first instruction (-S). gdb must
 * see one thread per vCPU (`info threads`, the APs halted until their SIPI), stop when an AP hits
 * a breakpoint with that AP named as the thread, read that AP's registers and the BSP's by
 * `thread N`, step the AP, and detach, after which every CPU finishes its work (the guest's
 * counters exact). The monitor, on the same machine: `info cpus` lists every vCPU, `cpu N`
 * selects the one `info registers` shows. On every engine: on vmx and svm the vCPUs take turns on
 * the machine's thread; on the host engine each AP has a thread of its own, which the debugger
 * holds out of KVM_RUN while the machine is stopped.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';
import { gdbSkipReason, guestImage, runGdbScript, symbolAddress } from './gdb-helpers.js';

const image = (ext: string): string => guestImage(`smp64.${ext}`);
const ITER = 200;
const skip = gdbSkipReason(image('elf64'));

const SCRIPT = (address: string) => `set pagination off
set confirm off
set remotetimeout 60
target remote ${address}
info threads
break ap_main
continue
info threads
thread 1
info registers rip
thread 2
info registers rip
shell sleep 1
maintenance flush register-cache
thread 1
info registers rip
thread 2
stepi
info registers rip
delete
detach
`;

for (const accel of ['kvm', 'vmx', 'svm']) {
  for (const cpus of [2, 4]) {
    const why = skip ?? (accel === 'kvm' ? hostSkipReason : undefined);
    describe.skipIf(why !== undefined)(
      `gdb and the monitor on -smp ${cpus} -accel ${accel}${why ? ` (skipped: ${why})` : ''}`,
      () => {
        it('shows a thread per vCPU, stops on the AP that hits a breakpoint, reads and steps it, detaches', async () => {
          let gdbOutput: Promise<string> | undefined;
          let monitorOut = '';
          const result = await runGuest({
            kernel: image('elf'),
            accel,
            smp: cpus,
            memory: '64M',
            append: `iter=${ITER}`,
            timeoutMs: 150_000,
            gdb: 'tcp:127.0.0.1:0',
            startStopped: true,
            onMonitorOutput: (text) => {
              monitorOut += text;
            },
            onStart: (session) => {
              // Held at the first instruction (-S): the monitor's view before gdb lets it run.
              for (const line of [
                'info cpus',
                'cpu 1',
                'info registers',
                'info cpus',
                `cpu ${cpus}`,
                'cpu 0',
                'info registers -a',
                'info registers -x',
              ])
                session.monitor(line);
            },
            onGdbListening: (address) => {
              gdbOutput = runGdbScript(SCRIPT(address), image('elf64'), 120_000);
            },
          });
          const out = (await gdbOutput) ?? '';
          expect({ ending: result.exitReason, tail: result.serial.slice(-300) }).toMatchObject({
            ending: { kind: 'debug-exit', status: 1 },
          });
          expect(result.serial).not.toMatch(/^FAIL /m);
          expect(result.serial).toContain(`SMP total ${cpus * ITER} = ${cpus} cpus x ${ITER}\n`);

          // The monitor: every vCPU, the BSP at the entry, the APs halted at the reset vector
          // (waiting for SIPI); `cpu 1` makes CPU 1 current, whose registers `info registers` shows.
          const lines = monitorOut.split('\n');
          const listing = lines.filter((l) => / CPU #\d+: pc=/.test(l));
          expect(listing).toHaveLength(2 * cpus);
          expect(listing[0]).toMatch(/^\* CPU #0: pc=0x0000000000100020 thread_id=\d+ \(stopped\)$/);
          for (let i = 1; i < cpus; i++)
            expect(listing[i]).toMatch(
              new RegExp(`^  CPU #${i}: pc=0x000000000000fff0 \\(halted\\) thread_id=`),
            );
          expect(listing[cpus]).toMatch(/^ {2}CPU #0: /);
          expect(listing[cpus + 1]).toMatch(/^\* CPU #1: /);
          expect(monitorOut).toMatch(/RIP=000000000000fff0 RFL=00000002\nCS =f000 base=00000000ffff0000/);
          expect(monitorOut).toContain('invalid CPU index\n');
          // info registers -a: each vCPU's under its CPU#, the APs at the reset vector.
          const all = monitorOut.slice(monitorOut.indexOf('\nCPU#0\n'));
          for (let i = 0; i < cpus; i++) expect(all).toContain(`\nCPU#${i}\nRAX=`);
          expect(all.split('RIP=000000000000fff0')).toHaveLength(cpus);
          expect(monitorOut).toContain("info: invalid option '-x' (-a: every CPU)\n");

          // gdb: a thread per vCPU, the APs halted before their SIPI.
          expect(out).toMatch(/\* 1 {4}Thread 1 \(CPU#0 \[running\]\) 0x0000000000100020 in _start/);
          for (let i = 2; i <= cpus; i++)
            expect(out).toMatch(
              new RegExp(`\\n +${i} +Thread ${i} \\(CPU#${i - 1} \\[halted \\]\\) 0x000000000000fff0`),
            );
          // The breakpoint in ap_main is hit by an AP, which gdb is told of and switches to.
          const hit = /\nThread (\d+) hit Breakpoint 1, 0x[0-9a-f]+ in ap_main \(\)/.exec(out);
          expect(hit, out).not.toBeNull();
          expect(Number(hit![1])).toBeGreaterThanOrEqual(2);
          const at = symbolAddress(image('elf64'), 'ap_main');
          const rips = [...out.matchAll(/^rip +0x([0-9a-f]+)/gm)].map((m) => BigInt(`0x${m[1]}`));
          expect(rips, out).toHaveLength(4);
          // All-stop: while gdb holds the AP at its breakpoint the BSP does not run either.
          expect(rips[2]).toBe(rips[0]);
          // Thread 1 (the BSP) is elsewhere; thread 2 ran to ap_main if it is the one that hit it,
          // and after stepi it has moved on by one instruction within ap_main.
          expect(rips[0]).not.toBe(at);
          expect(out).toMatch(/\[Switching to thread 2 \(Thread 2\)\]/);
          if (Number(hit![1]) === 2) {
            expect(rips[1]).toBe(at);
            expect(rips[3] > at && rips[3] < at + 0x40n).toBe(true);
          }
          expect(out).toContain('[Inferior 1 (Remote target) detached]');
        }, 240_000);
      },
    );
  }
}
