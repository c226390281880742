/**
 * Debian's gdb against qemu-lite's GDB stub, on every engine: the demo guest started held (-S)
 * with the stub on an ephemeral loopback port; gdb (with the demo's 64-bit symbols) breaks at the
 * C function `timer` by name, continues to it, reads registers and a variable with `x`, steps one
 * instruction, watches a variable until the guest writes it, detaches — and the guest then runs
 * to its normal end. On the software engines also `hbreak` and `awatch`, which take DR0–DR3
 * (KVM_GUESTDBG_USE_HW_BP). Skipped, with the reason, where gdb, the guests or the engine are missing.
 */
import { describe, expect, it } from 'vitest';
import { type GuestResult, runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';
import { gdbSkipReason, guestImage, runGdbScript, symbolAddress } from './gdb-helpers.js';

const guest = (ext: string): string => guestImage(`demo.${ext}`);
const io32 = guestImage('io.elf');
const skipAll = gdbSkipReason(guest('elf64'));

const SCRIPT = (address: string, debugRegs: boolean) => `set pagination off
set confirm off
target remote ${address}
info registers rip cs
break timer
continue
info registers rip
x/4xb &switches
print *(unsigned int *)&switches
stepi
info registers rip
watch *(unsigned int *)&switches
continue
print *(unsigned int *)&switches
delete
${
  debugRegs
    ? `hbreak timer
continue
info registers rip
delete
awatch *(unsigned int *)&switches
continue
delete
`
    : ''
}detach
`;

/** 32-bit code with the x86-64 layout (README, "16- and 32-bit code"): io.elf's own symbols. */
const SCRIPT32 = (address: string) => `set pagination off
set confirm off
set architecture i386:x86-64
target remote ${address}
break report_begin
continue
info registers rip eax
detach
`;

/** A symbol's address in hex, without 0x. */
const symbol = (elf: string, name: string): string => symbolAddress(elf, name).toString(16);

function runGdb(address: string, script32 = false, debugRegs = false): Promise<string> {
  return runGdbScript(
    script32 ? SCRIPT32(address) : SCRIPT(address, debugRegs),
    script32 ? io32 : guest('elf64'),
  );
}

for (const accel of ['kvm', 'vmx', 'svm']) {
  const skip = skipAll ?? (accel === 'kvm' ? hostSkipReason : undefined);
  describe.skipIf(skip !== undefined)(`gdb on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    it('breaks at a C function by name, reads registers and memory, steps, watches a variable, detaches', async () => {
      let gdbOutput: Promise<string> | undefined;
      let quit: (() => void) | undefined;
      const result: GuestResult = await runGuest({
        kernel: guest('elf'),
        accel,
        memory: '64M',
        timeoutMs: 120_000,
        noReboot: true,
        gdb: 'tcp:127.0.0.1:0',
        startStopped: true,
        onStart: (session) => {
          quit = () => session.quit();
        },
        onGdbListening: (address) => {
          // On the host's KVM, stepping through the timer interrupt leaves TF (which KVM sets to
          // step) in the frame the interrupt pushed, so the guest takes a #DB of its own after
          // detach and never finishes (KVM's limitation that KVM_GUESTDBG_BLOCKIRQ works around,
          // which would keep the interrupt away): there the session ends it.
          gdbOutput = runGdb(address, false, accel !== 'kvm').then((out) => {
            if (accel === 'kvm') quit?.();
            return out;
          });
        },
      });
      const out = await gdbOutput;
      const timer = symbol(guest('elf64'), 'timer');
      const timer1 = (BigInt(`0x${timer}`) + 1n).toString(16);
      // The session, in order: stopped at the entry (-S), the breakpoint by name, the step, the watchpoint.
      expect(out).toMatch(/rip\s+0x100020\s+0x100020 <_start>/);
      expect(out).toContain(`Breakpoint 1 at 0x${timer}`);
      expect(out).toContain(`Breakpoint 1, 0x${timer.padStart(16, '0')} in timer ()`);
      expect(out).toMatch(new RegExp(`rip\\s+0x${timer}\\s+0x${timer} <timer>`));
      expect(out).toMatch(
        new RegExp(`0x${symbol(guest('elf64'), 'switches')} <switches>:\\s+0x00\\s+0x00\\s+0x00\\s+0x00`),
      );
      expect(out).toMatch(/\$1 = 0/);
      expect(out).toMatch(new RegExp(`rip\\s+0x${timer1}\\s+0x${timer1} <timer\\+1>`));
      expect(out).toMatch(
        /Hardware watchpoint 2: \*\(unsigned int \*\)&switches\s+Old value = 0\s+New value = 1/s,
      );
      expect(out).toMatch(/\$2 = 1/);
      if (accel !== 'kvm') {
        // DR0–DR3 through KVM_GUESTDBG_USE_HW_BP: an instruction breakpoint, then an access
        // watchpoint (which single-stepping cannot give).
        expect(out).toContain(`Hardware assisted breakpoint 3 at 0x${timer}`);
        expect(out).toContain(`Breakpoint 3, 0x${timer.padStart(16, '0')} in timer ()`);
        expect(out).toMatch(/Hardware access \(read\/write\) watchpoint 4: \*\(unsigned int \*\)&switches/);
        expect(out).toMatch(/Value = \d+/);
      }
      expect(out).toMatch(/Inferior 1 \(Remote target\) detached/);
      // Detached, the guest runs on to its own end: the demo's four tasks and its debug-exit.
      if (accel !== 'kvm') {
        expect(result.exitReason.kind).toBe('debug-exit');
        expect(result.serial).toContain('[delta] turn 3');
      }
    }, 150_000);

    it('debugs 32-bit protected-mode code with the x86-64 layout: break by name, registers', async () => {
      let gdbOutput: Promise<string> | undefined;
      let quit: (() => void) | undefined;
      await runGuest({
        kernel: io32,
        accel,
        memory: '64M',
        timeoutMs: 60_000,
        noReboot: true,
        gdb: 'tcp:127.0.0.1:0',
        startStopped: true,
        onStart: (session) => {
          quit = () => session.quit();
        },
        onGdbListening: (address) => {
          gdbOutput = runGdb(address, true).then((out) => {
            quit?.();
            return out;
          });
        },
      });
      const out = await gdbOutput;
      expect(out).toContain('The target architecture is set to "i386:x86-64".');
      const at = symbol(io32, 'report_begin');
      expect(out).toContain(`Breakpoint 1, 0x${at.padStart(16, '0')} in report_begin ()`);
      expect(out).toMatch(new RegExp(`rip\\s+0x${at}\\s+0x${at} <report_begin>`));
      expect(out).toMatch(/eax\s+0x[0-9a-f]+\s+\d+/);
    }, 150_000);
  });
}
