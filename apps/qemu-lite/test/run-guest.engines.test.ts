/**
 * The same guests on every engine, same expected result: qemu-lite sees only the ABI. The
 * software engine (vmx, svm) needs no /dev/kvm; the host engine joins where it is usable.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';
import { hostSkipReason } from './helpers.js';

const engines = ['vmx', 'svm', ...(hostSkipReason ? [] : ['kvm'])];

// mov dx, 0x3f8; mov al, 'H'; out dx, al; mov al, 'i'; out dx, al; mov al, 10; out dx, al;
// mov eax, 3; out 0xf4, eax
const hello32 = new Uint8Array([
  0x66, 0xba, 0xf8, 0x03, 0xb0, 0x48, 0xee, 0xb0, 0x69, 0xee, 0xb0, 0x0a, 0xee, 0xb8, 3, 0, 0, 0, 0xe7, 0xf4,
]);
// 16-bit: mov al, 7; out 0xf4, al
const real16 = new Uint8Array([0xb0, 7, 0xe6, 0xf4]);

describe.each(engines)('guests on -accel %s', (accel) => {
  it('prints through the UART and exits through debug-exit from 32-bit protected mode', async () => {
    const r = await runGuest({ flat: { image: hello32, loadAddr: 0x100000 }, accel, timeoutMs: 20_000 });
    expect(r.serial).toBe('Hi\n');
    expect(r.status).toBe(7);
  });

  it('runs a real-mode flat binary', async () => {
    const r = await runGuest({
      flat: { image: real16, loadAddr: 0x7c00, mode: 'real' },
      accel,
      timeoutMs: 20_000,
    });
    expect(r.exitReason).toEqual({ kind: 'debug-exit', status: 15 });
  });
});

// rdrand eax; then its four bytes out of the UART, low first; mov eax, 3; out 0xf4, eax
const rdrand32 = new Uint8Array([
  0x0f, 0xc7, 0xf0, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xc1, 0xe8, 0x08, 0xee, 0xc1, 0xe8, 0x08, 0xee, 0xc1, 0xe8,
  0x08, 0xee, 0xb8, 3, 0, 0, 0, 0xe7, 0xf4,
]);

describe.each(['vmx', 'svm'])('RDRAND on -accel %s, with and without -seed', (accel) => {
  const run = async (seed?: number) => {
    const r = await runGuest({
      flat: { image: rdrand32, loadAddr: 0x100000 },
      accel,
      seed,
      timeoutMs: 20_000,
    });
    expect(r.status).toBe(7);
    expect(r.serial).toHaveLength(4);
    return r.serial;
  };

  it('a seed gives the same bits on every run, another seed others; without one they differ', async () => {
    const a = await run(42);
    expect(await run(42)).toBe(a);
    expect(await run(43)).not.toBe(a);
    expect(await run()).not.toBe(await run());
  });

  it('refuses a seed that is not an integer from 0 to 2^53 - 1', async () => {
    await expect(run(-1)).rejects.toThrow(/seed/);
    await expect(run(1.5)).rejects.toThrow(/seed/);
  });
});

// mov eax, LEAF; xor ecx, ecx; cpuid; mov eax, REG; shr eax, BIT; and eax, 1; out 0xf4, eax:
// the debug exit's status is (bit << 1) | 1.
const cpuidBit = (leaf: number, reg: 'ecx' | 'edx', bit: number) =>
  new Uint8Array([
    ...[0xb8, leaf, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2, 0x89, reg === 'ecx' ? 0xc8 : 0xd0],
    ...[0xc1, 0xe8, bit, 0x83, 0xe0, 0x01, 0xe7, 0xf4],
  ]);

// The software engines only: this machine's kvm-pvm answered the guest's CPUID with the same
// bits whatever KVM_SET_CPUID2 said (-rdrand and -sse4.2 measured, 2026-12-07).
describe.each(['vmx', 'svm'])('-cpu on -accel %s', (accel) => {
  const bit = async (image: Uint8Array, cpuFeatures?: Record<string, boolean>, kernelIrqchip = true) => {
    const r = await runGuest({
      flat: { image, loadAddr: 0x100000 },
      accel,
      cpuFeatures,
      kernelIrqchip,
      timeoutMs: 20_000,
    });
    expect(r.exitReason.kind).toBe('debug-exit');
    return (r.status ?? 0) >> 1;
  };

  it('takes RDRAND (leaf 1 ECX bit 30) out of the guest CPUID with -rdrand, and only it', async () => {
    const rdrand = cpuidBit(1, 'ecx', 30);
    const sse42 = cpuidBit(1, 'ecx', 20);
    expect(await bit(rdrand)).toBe(1);
    expect(await bit(rdrand, { rdrand: false })).toBe(0);
    expect(await bit(sse42, { rdrand: false })).toBe(1);
  });

  it('refuses a feature the machine does not offer, naming it (x2APIC without the in-kernel irqchip)', async () => {
    const x2apic = cpuidBit(1, 'ecx', 21);
    expect(await bit(x2apic, { x2apic: true })).toBe(1);
    await expect(bit(x2apic, { lm: true, x2apic: true }, false)).rejects.toThrow(
      /\+x2apic: this engine's CPU does not have x2apic/,
    );
  });
});
