/**
 * Guest-invisible debugging (issue 15): tools/guests' `dbgregs64` debugs itself (TF
 * single-stepping, an instruction breakpoint in DR0, watchpoints in DR1/DR2, INT3, its DR6 and
 * trap frames checked) twice, while Debian's gdb debugs it: INT3 breakpoints by name armed all
 * along (KVM_GUESTDBG_USE_SW_BP: the guest's own INT3 goes back to it), a write watchpoint and a
 * hardware breakpoint in DR0–DR3 (USE_HW_BP) armed while the guest writes and reads back its own
 * DR0–DR3/DR6/DR7 (which it must see as it left them, `kvmEmulateMovDr`), and `stepi` through
 * the guest's own TF sequence (KVM_GUESTDBG_SINGLESTEP with the guest's TF set). The guest must
 * print exactly what it prints alone. gdb's DR0–DR3 and the guest's are never armed at the same
 * time: KVM then runs the guest with the debugger's (kvm_update_dr7), so the guest's own
 * breakpoints would not fire, on the host's KVM as here.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';
import { gdbSkipReason, guestImage, runGdbScript, symbolAddress } from './gdb-helpers.js';

const elf = guestImage('dbgregs64.elf');
const elf64 = guestImage('dbgregs64.elf64');
const skipAll = gdbSkipReason(elf64);
const PVM =
  "kvm-pvm runs the guest's CPL-0 code in KVM's instruction emulator, which stops at INT3 and checks no data breakpoints (tools/guests/src/engines.ts)";

const SCRIPT = (address: string) => `set pagination off
set confirm off
set remotetimeout 60
target remote ${address}
break dbg_phase
continue
watch *(unsigned int *)&gdb_watched
hbreak dbg_hw_mark
break tf_seq
continue
continue
continue
info registers rip
delete 2 3
stepi
stepi
stepi
info registers rip
stepi
stepi
stepi
continue
delete
continue
`;

const hex = (name: string) => symbolAddress(elf64, name).toString(16);

for (const accel of ['kvm', 'vmx', 'svm']) {
  const skip =
    skipAll ??
    (accel === 'kvm' ? (hostSkipReason ?? (existsSync('/sys/module/kvm_pvm') ? PVM : undefined)) : undefined);
  describe.skipIf(skip !== undefined)(
    `a guest using its own TF, DR0–DR7 and INT3 under gdb on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it("prints what it prints alone while gdb's breakpoints, watchpoint, hbreak and steps hit", async () => {
        const options = {
          kernel: elf,
          accel,
          memory: '64M',
          timeoutMs: 120_000,
          noReboot: true,
        } as const;
        const alone = await runGuest(options);
        expect(alone.serial).toMatch(/SUMMARY dbgregs: 64 passed, 0 failed, 0 skipped/);
        let gdbOutput: Promise<string> | undefined;
        const debugged = await runGuest({
          ...options,
          gdb: 'tcp:127.0.0.1:0',
          startStopped: true,
          onGdbListening: (address) => {
            gdbOutput = runGdbScript(SCRIPT(address), elf64, 120_000);
          },
        });
        const out = (await gdbOutput) ?? '';
        expect(debugged.serial).toBe(alone.serial);
        expect(debugged.exitReason).toEqual(alone.exitReason);
        // gdb's own stops, in order: its INT3 at dbg_phase, its watchpoint (DR, USE_HW_BP) on the
        // guest's write, its hbreak, its INT3 at the guest's TF sequence, three steps into it.
        expect(out).toContain(`Breakpoint 1, 0x${hex('dbg_phase').padStart(16, '0')} in dbg_phase ()`);
        expect(out).toMatch(/Hardware watchpoint 2: \*\(unsigned int \*\)&gdb_watched\s+Old value = 0\s+New value = 1/);
        expect(out).toContain(`Breakpoint 3, 0x${hex('dbg_hw_mark').padStart(16, '0')} in dbg_hw_mark ()`);
        expect(out).toContain(`Breakpoint 4, 0x${hex('tf_seq').padStart(16, '0')} in tf_seq ()`);
        expect(out).toMatch(new RegExp(`rip\\s+0x${hex('tf_seq')}\\s+0x${hex('tf_seq')} <tf_seq>`));
        // pushfq, orq, popfq: the step after POPF is at tf_1 (tf_seq + 10).
        const tf1 = (symbolAddress(elf64, 'tf_seq') + 10n).toString(16);
        expect(out).toMatch(new RegExp(`rip\\s+0x${tf1}\\s+0x${tf1} <tf_1>`));
        // The second round's stop at dbg_phase, after everything above.
        expect(out.split('Breakpoint 1, ').length - 1).toBe(2);
      }, 300_000);
    },
  );
}
