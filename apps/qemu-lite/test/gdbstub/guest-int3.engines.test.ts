/**
 * The guest's own INT3 while gdb has an INT3 breakpoint set (KVM_GUESTDBG_USE_SW_BP on, so the
 * engine turns every #BP into KVM_EXIT_DEBUG): the stub must give it back to the guest
 * (KVM_GUESTDBG_INJECT_BP), which then sees #BP with the IP after its INT3, as without a
 * debugger, while gdb's own breakpoint still stops. tools/guests' `softint` checks both. On the
 * software engines (the host's kvm-pvm runs no INT3 in CPL-0 code at all).
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { gdbSkipReason, guestImage, runGdbScript } from './gdb-helpers.js';

const image = (ext: string): string => guestImage(`softint64.${ext}`);
const skip = gdbSkipReason(image('elf64'));

/** gdb's breakpoint is after the guest's INT3 and its checks: `set_handler`, first called for INT 0x40. */
const SCRIPT = (address: string) => `set pagination off
set confirm off
set remotetimeout 60
target remote ${address}
break set_handler
continue
info registers rip
delete
detach
`;

for (const accel of ['vmx', 'svm']) {
  describe.skipIf(skip !== undefined)(
    `the guest's own INT3 under gdb on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('reaches the guest as #BP after its INT3 while gdb has a breakpoint of its own, which still stops', async () => {
        let gdbOutput: Promise<string> | undefined;
        const result = await runGuest({
          kernel: image('elf'),
          accel,
          memory: '64M',
          timeoutMs: 60_000,
          gdb: 'tcp:127.0.0.1:0',
          startStopped: true,
          onGdbListening: (address) => {
            gdbOutput = runGdbScript(SCRIPT(address), image('elf64'), 60_000);
          },
        });
        const out = (await gdbOutput) ?? '';
        expect(out).toMatch(/Breakpoint 1, 0x[0-9a-f]+ in set_handler \(\)/);
        expect(out).toMatch(/rip +0x[0-9a-f]+ +0x[0-9a-f]+ <set_handler>/);
        expect(result.serial).toContain('PASS bp.int3-vector');
        expect(result.serial).toContain('PASS bp.ip-after-int3');
        expect(result.serial).not.toMatch(/^FAIL /m);
        expect(result.exitReason).toEqual({ kind: 'debug-exit', status: 1 });
      }, 90_000);
    },
  );
}
