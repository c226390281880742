/**
 * `m`, `M` and `Z0` go through the page tables of the thread `Hg` selects, as QEMU's stub does
 * (memory and breakpoints through gdbserver_state.g_cpu): on a -smp 2 machine held at its first
 * instruction (-S), vCPU 0 runs unpaged (0x400000 is 0x400000) while the test gives vCPU 1 32-bit
 * paging (CR3, CR0.PG by `P`) mapping 0x400000 to 0x301000. Before, an INT3 set with `Hg2`
 * was patched where vCPU 0 maps the address.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type GuestSession, runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';
import { RspClient } from './rsp-client.js';

/** jmp $: the machine never runs it (held by -S); the test only reads and writes. */
const GUEST = new Uint8Array([0xeb, 0xfe]);

/** Little-endian hex of a 32-bit value (an M packet's bytes), or of 64 bits (a P packet's). */
const le32 = (v: number) =>
  [0, 8, 16, 24].map((s) => ((v >>> s) & 0xff).toString(16).padStart(2, '0')).join('');
const le64 = (v: number) => `${le32(v)}00000000`;

/** gdb's register numbers in our x86-64 description (src/gdbstub/registers.ts: cr0, cr2, cr3). */
const REG_CR0 = 59;
const REG_CR3 = 61;

const PD_B = 0x202000;
const PT_B = 0x203000;
const PAGE_B = 0x301000;
const VA = 0x400000;

/**
 * The host engine: on kvm-pvm, which refuses 32-bit paging and whose breakpoints are stepped
 * rather than patched, this machine cannot be built; elsewhere its KVM would run it as is.
 */
const hostSkip =
  hostSkipReason ??
  (existsSync('/sys/module/kvm_pvm')
    ? 'kvm-pvm refuses CR0.PG outside long mode, and its breakpoints are stepped, not INT3s in RAM'
    : undefined);

for (const accel of ['kvm', 'vmx', 'svm']) {
  const skip = accel === 'kvm' ? hostSkip : undefined;
  describe.skipIf(skip !== undefined)(
    `gdb's Hg thread's page tables on -smp 2 -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('reads, writes and sets INT3 breakpoints where that vCPU maps the address', async () => {
        const replies: Record<string, string> = {};
        let done: Promise<void> | undefined;
        let session: GuestSession | undefined;
        let monitorOut = '';
        /** A monitor command (the raw RAM: `xp` shows what gdb's reads hide), its output. */
        const monitor = async (line: string) => {
          const before = monitorOut.length;
          session?.monitor(line);
          for (let i = 0; i < 500 && monitorOut.length === before; i++)
            await new Promise((r) => setTimeout(r, 10));
          return monitorOut.slice(before).trim();
        };
        const result = await runGuest({
          flat: { image: GUEST, loadAddr: 0x100000 },
          accel,
          smp: 2,
          memory: '16M',
          timeoutMs: 60_000,
          gdb: 'tcp:127.0.0.1:0',
          startStopped: true,
          onStart: (s) => {
            session = s;
          },
          onMonitorOutput: (text) => {
            monitorOut += text;
          },
          onGdbListening: (address) => {
            done = (async () => {
              const gdb = await RspClient.open(address);
              const ask = async (p: string, key = p) => {
                replies[key] = await gdb.ask(p);
                return replies[key];
              };
              await ask('?');
              // Through vCPU 0 (unpaged): vCPU 1's page directory and table, and the two pages.
              await ask(`Hg1`);
              await ask(`M${(PD_B + 4 * (VA >>> 22)).toString(16)},4:${le32(PT_B | 3)}`, 'pde');
              await ask(`M${PT_B.toString(16)},4:${le32(PAGE_B | 3)}`, 'pte');
              await ask(`M${VA.toString(16)},2:1111`, 'fill A');
              await ask(`M${PAGE_B.toString(16)},2:bbbb`, 'fill B');
              // vCPU 1: 32-bit paging on those tables (CR3, then CR0.PG with PE, SDM Vol. 3A 4.1).
              await ask('Hg2');
              await ask(`P${REG_CR3.toString(16)}=${le64(PD_B)}`, 'cr3');
              await ask(`P${REG_CR0.toString(16)}=${le64(0x80000011)}`, 'cr0');
              await ask(`m${VA.toString(16)},2`, 'read 2');
              await ask(`M${(VA + 1).toString(16)},1:77`, 'write 2');
              await ask(`Z0,${VA.toString(16)},1`, 'Z0 2');
              // RAM itself: the INT3 and the write landed in vCPU 1's page, not at 0x400000.
              replies['raw B'] = await monitor(`xp /2xb ${PAGE_B}`);
              // As in QEMU's HMP, 0x… is hex and a plain number decimal (it was read as hex).
              replies['raw A'] = await monitor(`xp /2xb 0x${VA.toString(16)}`);
              // gdb's reads never show its INT3, through either vCPU (sw-breakpoints.ts).
              await ask(`m${VA.toString(16)},2`, 'read 2 hidden');
              await ask('Hg1');
              await ask(`m${PAGE_B.toString(16)},2`, 'read B via 1 hidden');
              await ask('Hg2');
              await ask(`z0,${VA.toString(16)},1`, 'z0 2');
              replies['raw B after z0'] = await monitor(`xp /2xb ${PAGE_B}`);
              gdb.send('k');
              gdb.close();
            })();
          },
        });
        await done;
        expect(result.exitReason.kind).toBe('quit');
        expect(replies.cr3).toBe('OK');
        expect(replies.cr0).toBe('OK');
        expect(replies['read 2']).toBe('bbbb');
        expect(replies['write 2']).toBe('OK');
        expect(replies['Z0 2']).toBe('OK');
        expect(replies['raw B']).toBe('0000000000301000: 0xcc 0x77');
        expect(replies['raw A']).toBe('0000000000400000: 0x11 0x11');
        expect(replies['read 2 hidden']).toBe('bb77');
        expect(replies['read B via 1 hidden']).toBe('bb77');
        expect(replies['z0 2']).toBe('OK');
        expect(replies['raw B after z0']).toBe('0000000000301000: 0xbb 0x77');
      }, 90_000);
    },
  );
}
