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

/**
 * The 64-bit guest with its ELF64 symbols, and the 32-bit one with the x86-64 layout gdb gets
 * whatever the mode (README, "16- and 32-bit code").
 */
const BUILDS = [
  {
    name: 'dbgregs64',
    kernel: guestImage('dbgregs64.elf'),
    symbols: guestImage('dbgregs64.elf64'),
    arch: '',
  },
  {
    name: 'dbgregs',
    kernel: guestImage('dbgregs.elf'),
    symbols: guestImage('dbgregs.elf'),
    arch: 'set architecture i386:x86-64\n',
  },
];
const skipAll = gdbSkipReason(BUILDS[0].symbols) ?? gdbSkipReason(BUILDS[1].symbols);
const PVM =
  "kvm-pvm runs the guest's CPL-0 code in KVM's instruction emulator, which stops at INT3 and checks no data breakpoints (tools/guests/src/engines.ts)";

const SCRIPT = (address: string, arch: string, watched: string) => `set pagination off
set confirm off
set remotetimeout 60
${arch}target remote ${address}
break dbg_phase
continue
watch *(unsigned int *)0x${watched}
hbreak dbg_hw_mark
break tf_seq
continue
continue
continue
info registers rip
monitor info cpus
delete 2 3
stepi
stepi
stepi
info registers rip
stepi
stepi
stepi
continue
next
delete
continue
`;

for (const { name, kernel, symbols, arch } of BUILDS)
  for (const accel of ['kvm', 'vmx', 'svm']) {
    const hex = (symbol: string) => symbolAddress(symbols, symbol).toString(16);
    const skip =
      skipAll ??
      (accel === 'kvm'
        ? (hostSkipReason ?? (existsSync('/sys/module/kvm_pvm') ? PVM : undefined))
        : undefined);
    describe.skipIf(skip !== undefined)(
      `${name}: a guest using its own TF, DR0–DR7 and INT3 under gdb on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
      () => {
        it("prints what it prints alone while gdb's breakpoints, watchpoint, hbreak and steps hit", async () => {
          const options = {
            kernel,
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
              gdbOutput = runGdbScript(SCRIPT(address, arch, hex('gdb_watched')), symbols, 120_000);
            },
          });
          const out = (await gdbOutput) ?? '';
          expect(debugged.serial).toBe(alone.serial);
          expect(debugged.exitReason).toEqual(alone.exitReason);
          // gdb's own stops, in order: its INT3 at dbg_phase, its watchpoint (DR, USE_HW_BP) on the
          // guest's write, its hbreak, its INT3 at the guest's TF sequence, three steps into it.
          expect(out).toContain(`Breakpoint 1, 0x${hex('dbg_phase').padStart(16, '0')} in dbg_phase ()`);
          expect(out).toMatch(
            new RegExp(
              `Hardware watchpoint 2: \\*\\(unsigned int \\*\\)0x${hex('gdb_watched')}\\s+Old value = 0\\s+New value = 1`,
            ),
          );
          expect(out).toContain(`Breakpoint 3, 0x${hex('dbg_hw_mark').padStart(16, '0')} in dbg_hw_mark ()`);
          expect(out).toContain(`Breakpoint 4, 0x${hex('tf_seq').padStart(16, '0')} in tf_seq ()`);
          expect(out).toMatch(new RegExp(`rip\\s+0x${hex('tf_seq')}\\s+0x${hex('tf_seq')} <tf_seq>`));
          // gdb's `monitor` (qRcmd) runs QEMU's monitor on the stopped machine.
          expect(out).toContain(`* CPU #0: pc=0x${hex('tf_seq').padStart(16, '0')}`);
          // PUSHF, OR, POPF: the third step ends at tf_1.
          const tf1 = hex('tf_1');
          expect(out).toMatch(new RegExp(`rip\\s+0x${tf1}\\s+0x${tf1} <tf_1>`));
          // `next` with no line information steps out of dbg_phase (a step-over of the return).
          expect(out).toContain('Single stepping until exit from function dbg_phase,');
          expect(out).toMatch(/0x[0-9a-f]+ in main \(\)/);
          // The second round's stop at dbg_phase, after everything above.
          expect(out.split('Breakpoint 1, ').length - 1).toBe(2);
        }, 300_000);
      },
    );
  }
