/**
 * `qemu-lite -monitor stdio` driven through a pipe, as a script would: the demo guest held with
 * `stop` once its first task has printed (serial output shares stdout), its registers, CPU, mappings, memory and address spaces printed in QEMU's shapes, then
 * `system_reset` and `quit`. On the software engine (always there) and the host's KVM where present.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { symbolAddress } from '../gdbstub/gdb-helpers.js';
import { cliPath, hostSkipReason } from '../helpers.js';

const demo = fileURLToPath(new URL('../../../../tools/guests/out/demo.elf', import.meta.url));

/** Runs the CLI with the monitor on a pipe; each command is written once the previous answered. */
function monitorSession(accel: string, commands: string[]): Promise<{ out: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cliPath, '-kernel', demo, '-accel', accel, '-m', '64M', '-monitor', 'stdio'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let prompts = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      const seen = out.split('(qemu) ').length - 1;
      // The first command once the guest is in long mode with paging on (its first task prints,
      // on the same stdout); then one command per prompt, once the last one printed its output.
      if (!out.includes('turn 1:')) return;
      while (prompts < seen && prompts < commands.length) child.stdin.write(`${commands[prompts++]}\n`);
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ out, status });
    });
  });
}

for (const accel of ['vmx', 'kvm']) {
  const skip = accel === 'kvm' ? hostSkipReason : undefined;
  describe.skipIf(skip !== undefined)(
    `-monitor stdio on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('answers info, x, xp, stop, cont, system_reset and quit through a pipe', async () => {
        const timer = symbolAddress(`${demo}64`, 'timer');
        const at = (offset: number) => `0x${(timer + BigInt(offset)).toString(16).padStart(16, '0')}`;
        const { out, status } = await monitorSession(accel, [
          'stop',
          'info cpus',
          'info registers',
          'info kvm',
          'x/4xb 0x100000',
          'xp/2xg 0x100000',
          'x/3c 0x100000',
          `x/4i 0x${timer.toString(16)}`,
          'xp/1dw 0x200000000',
          'info tlb',
          'info mem',
          'info mtree',
          'bogus',
          'cont',
          'system_reset',
          'help',
          'quit',
        ]);
        expect(out).toMatch(/^QEMU \S+ monitor - type 'help' for more information\n/);
        // The demo waits for its timer in HLT much of the time: QEMU's hmp_info_cpus says so.
        expect(out).toMatch(/\* CPU #0: pc=0x[0-9a-f]{16}( \(halted\))? thread_id=\d+ \(stopped\)/);
        expect(out).toMatch(/RIP=[0-9a-f]{16} RFL=[0-9a-f]{8}\nCS =[0-9a-f]{4} base=/);
        expect(out).toMatch(
          /CR0=[0-9a-f]{8} CR2=[0-9a-f]{16} CR3=[0-9a-f]{16} CR4=[0-9a-f]{8} EFER=00000500/,
        );
        expect(out).toContain(`kvm support: enabled (engine: ${accel === 'kvm' ? 'host' : accel})`);
        // The multiboot header's magic, 0x1badb002, at the image's first byte (1 MiB).
        expect(out).toContain('0000000000100000: 0x02 0xb0 0xad 0x1b\n');
        expect(out).toContain('0000000000100000: 0x000100031badb002 0x00100000e4514ffb\n');
        expect(out).toContain("0000000000100000: '\\x02' '\\xb0' '\\xad'\n");
        expect(out).toContain('Cannot access memory at 0x200000000\n');
        // x/i: the demo's timer() from its first byte, decoded by x86emu (objdump agrees).
        expect(out).toContain(
          [
            `${at(0)}:  53                       push rbx`,
            `${at(1)}:  48 89 fb                 mov rbx, rdi`,
            `${at(4)}:  31 ff                    xor edi, edi`,
            // call rel32 -0xa5b, to pic_eoi
            `${at(6)}:  e8 a5 f5 ff ff           call 0x${(timer + 11n - 0xa5bn).toString(16)}`,
          ].join('\n'),
        );
        // The demo's kernel mapping: 2 MiB pages, identity, supervisor, writable.
        expect(out).toContain('0000000000000000: 0000000000000000 PS -sw\n');
        expect(out).toMatch(/0000000000000000-0000000004000000 0000000004000000 -rw\n/);
        expect(out).toContain('  0000000000000000-0000000003ffffff (prio 0, ram): pc.ram\n');
        expect(out).toContain('  03f8-03ff (prio 0, i/o): Serial16550\n');
        expect(out).toContain("unknown command: 'bogus'\n");
        expect(out).toContain('system_reset -- reset the system\n');
        expect(status).toBe(0);
      }, 90_000);
    },
  );
}
