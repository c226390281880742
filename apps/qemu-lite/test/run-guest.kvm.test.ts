/**
 * End to end on the host engine: tiny guests booted through `runGuest`, with the real
 * /dev/kvm, the userspace PIC/PIT/UART, the worker thread and the timer service.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GuestSession, LoaderError, runGuest } from '../src/index.js';
import { buildTestGuest, hostSkipReason } from './helpers.js';

if (hostSkipReason) console.warn(`skipping host-engine tests: ${hostSkipReason}`);

describe.skipIf(hostSkipReason !== undefined)('runGuest on the host engine', () => {
  let ticks: string;
  beforeAll(() => {
    ticks = buildTestGuest('ticks');
  });

  /** Waits for `text` in the serial output, then types `input`. */
  function typeAfter(text: string, input: string) {
    let seen = '';
    let typed = false;
    let session: { sendInput(b: Uint8Array): void } | undefined;
    return {
      onStart: (s: { sendInput(b: Uint8Array): void }) => {
        session = s;
      },
      onSerial: (chunk: Uint8Array) => {
        seen += Buffer.from(chunk).toString('latin1');
        if (!typed && seen.includes(text)) {
          typed = true;
          session?.sendInput(new TextEncoder().encode(input));
        }
      },
    };
  }

  it('takes PIT interrupts through the userspace PIC, wakes from HLT, and echoes UART input on IRQ 4', async () => {
    const result = await runGuest({
      kernel: ticks,
      accel: 'kvm',
      kernelIrqchip: false,
      timeoutMs: 20_000,
      ...typeAfter('ticks\n', 'hi q'),
    });
    expect(result.serial).toBe('ticks\nhi q');
    expect(result.status).toBe((0x21 << 1) | 1);
    expect(result.exitReason).toEqual({ kind: 'debug-exit', status: 0x43 });
    const reasons = result.stats.rows.map((r) => r.reason);
    expect(reasons).toContain('IO');
    expect(reasons).toContain('HLT');
    expect(result.stats.totalExits).toBe(result.stats.rows.reduce((n, r) => n + r.count, 0));
  });

  it('runs the same guest with the in-kernel irqchip and PIT', async () => {
    const result = await runGuest({
      kernel: readFileSync(ticks),
      accel: 'kvm',
      kernelIrqchip: true,
      timeoutMs: 20_000,
      ...typeAfter('ticks\n', 'q'),
    });
    expect(result.serial).toBe('ticks\nq');
    expect(result.status).toBe(0x43);
    // The kernel handles HLT and the PIT itself: no HLT exits reach userspace.
    expect(result.stats.rows.map((r) => r.reason)).not.toContain('HLT');
  });

  it('ends a guest that never stops at the time limit, with status 124', async () => {
    const cliHlt = new Uint8Array([0xfa, 0xf4]); // cli; hlt: asleep until NMI, which never comes
    const result = await runGuest({
      flat: { image: cliHlt, loadAddr: 0x100000 },
      accel: 'kvm',
      timeoutMs: 300,
    });
    expect(result.status).toBe(124);
    expect(result.exitReason).toEqual({ kind: 'quit', cause: 'timeout' });
  });

  it('enters a flat binary in protected mode or real mode and exits through debug-exit', async () => {
    // mov eax, 5; out 0xf4, eax
    const pm = await runGuest({
      flat: { image: new Uint8Array([0xb8, 5, 0, 0, 0, 0xe7, 0xf4]), loadAddr: 0x100000 },
    });
    expect(pm.exitReason).toEqual({ kind: 'debug-exit', status: 11 });
    // mov al, 7; out 0xf4, al (16-bit code at 0x7c00)
    const real = await runGuest({
      flat: { image: new Uint8Array([0xb0, 7, 0xe6, 0xf4]), loadAddr: 0x7c00, mode: 'real' },
    });
    expect(real.exitReason).toEqual({ kind: 'debug-exit', status: 15 });
  });

  it('shows no local APIC in CPUID without the in-kernel irqchip, and one with it (the default)', async () => {
    // mov eax, 1; cpuid; mov eax, edx; shr eax, 9; and eax, 1; out 0xf4, eax: reports CPUID.01H:EDX.APIC
    const image = new Uint8Array([
      0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x89, 0xd0, 0xc1, 0xe8, 9, 0x83, 0xe0, 1, 0xe7, 0xf4,
    ]);
    const without = await runGuest({
      flat: { image, loadAddr: 0x100000 },
      accel: 'kvm',
      kernelIrqchip: false,
    });
    expect(without.exitReason).toEqual({ kind: 'debug-exit', status: (0 << 1) | 1 });
    const byDefault = await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'kvm' });
    expect(byDefault.exitReason).toEqual({ kind: 'debug-exit', status: (1 << 1) | 1 });
  });

  it('treats a triple fault and an i8042 reset as resets: status 0 with noReboot', async () => {
    const ud2 = await runGuest({
      flat: { image: new Uint8Array([0x0f, 0x0b]), loadAddr: 0x100000 },
      noReboot: true,
    });
    expect(ud2.status).toBe(0);
    expect(ud2.exitReason).toEqual({
      kind: 'reset',
      cause: 'triple fault (KVM_EXIT_SHUTDOWN)',
      rip: '0x100000',
    });
    // mov al, 0xfe; out 0x64, al
    const kbd = await runGuest({
      flat: { image: new Uint8Array([0xb0, 0xfe, 0xe6, 0x64, 0xf4]), loadAddr: 0x100000 },
    });
    expect(kbd.exitReason).toMatchObject({ kind: 'reset', cause: 'i8042 reset line' });
  });

  it('reboots on reset without noReboot: the guest starts again', async () => {
    // Each boot prints 'B' and resets through the i8042:
    // mov dx, 0x3f8; mov al, 'B'; out dx, al; mov al, 0xfe; out 0x64, al; hlt
    const image = new Uint8Array([0x66, 0xba, 0xf8, 0x03, 0xb0, 0x42, 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xf4]);
    // Quit at the third boot: counted, not timed, so a loaded host cannot cut the test short.
    let session: GuestSession | undefined;
    let boots = 0;
    const result = await runGuest({
      flat: { image, loadAddr: 0x100000 },
      noReboot: false,
      timeoutMs: 60_000,
      onStart: (s) => {
        session = s;
      },
      onSerial: (chunk) => {
        boots += chunk.filter((b) => b === 0x42).length;
        if (boots >= 3) session?.quit('user');
      },
    });
    expect(result.exitReason).toEqual({ kind: 'quit', cause: 'user' });
    expect(result.serial.length).toBeGreaterThanOrEqual(3);
    expect(result.serial).toMatch(/^B+$/);
  });

  it('rejects a truncated multiboot kernel with the loader error, never starting the guest', async () => {
    const whole = readFileSync(ticks);
    // Cut the file just after its multiboot header: the header is intact, the code is not.
    const header = whole.indexOf(Buffer.from([0x02, 0xb0, 0xad, 0x1b]));
    expect(header).toBeGreaterThan(0);
    const image = whole.subarray(0, header + 64);
    const error = await runGuest({ kernel: image, accel: 'kvm' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoaderError);
    expect((error as LoaderError).format).toBe('multiboot');
    expect((error as Error).message).toMatch(
      /^multiboot: segment \d+: file bytes .* lie past the end of the \d+-byte file \(truncated\?\)$/,
    );
  });

  it('says what is missing for an image that is no kernel at all', async () => {
    const error = await runGuest({ kernel: new Uint8Array(4096), accel: 'kvm' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^kernel: neither a Linux bzImage .*, a multiboot kernel .* nor a PVH ELF/,
    );
  });
});
