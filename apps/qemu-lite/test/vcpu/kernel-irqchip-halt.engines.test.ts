/**
 * With `-machine kernel-irqchip=on` on the software engines, a vCPU halted with nothing armed to
 * wake it sleeps inside KVM_RUN until a kick (core's kvmVcpuBlock with `haltBlocks`), as on
 * Linux, instead of returning EINTR at once into a loop. And the in-kernel PIT (KVM_CREATE_PIT2)
 * wakes such a vCPU through the in-kernel PIC when it ticks.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';

const engines = [{ accel: 'vmx' }, { accel: 'svm' }];

function kicks(rows: { reason: string; count: number }[]): number {
  return rows.find((r) => r.reason === 'KICK (EINTR)')?.count ?? 0;
}

describe.each(engines)('kernel-irqchip=on on -accel $accel', ({ accel }) => {
  it('sleeps while the vCPU is halted with nothing armed, instead of looping on EINTR', async () => {
    // mov al, 0xff; out 0x21, al (every 8259 line masked, the BIOS tick included); sti; hlt;
    // jmp $-1: halts with interrupts on, and nothing ever reaches the vCPU.
    const image = new Uint8Array([0xb0, 0xff, 0xe6, 0x21, 0xfb, 0xf4, 0xeb, 0xfd]);
    const r = await runGuest({
      flat: { image, loadAddr: 0x100000 },
      accel,
      kernelIrqchip: true,
      timeoutMs: 500,
    });
    expect(r.exitReason).toEqual({ kind: 'quit', cause: 'timeout' });
    // A loop straight back into KVM_RUN counts hundreds of thousands of EINTRs in 500 ms; the
    // sleeping KVM_RUN returns only when kicked (the quit at the time limit).
    expect(kicks(r.stats.rows)).toBeLessThan(20);
    // It slept inside KVM_RUN, never in the loop's HALTED state (which counts haltedNs).
    expect(r.stats.haltedNs).toBe(0);
    // The kernel handles HLT itself: no HLT exit reaches userspace.
    expect(r.stats.rows.map((row) => row.reason)).not.toContain('HLT');
  });

  it('wakes a halted vCPU with the in-kernel PIT through the in-kernel PIC', async () => {
    // Real mode at 0x7c00: the in-kernel 8259 master at base 0x08 with only IRQ 0 open, the
    // PIT's channel 0 in mode 2 at ~1 kHz; IVT[8] → a handler that sends EOI and writes the
    // debug-exit port with 0x21 (status 0x43), then sti; hlt.
    // prettier-ignore
    const code = [
      0xfa, // cli
      0x31,
      0xc0,
      0x8e,
      0xd8, // xor ax, ax; mov ds, ax
      0xc7,
      0x06,
      0x20,
      0x00,
      0x40,
      0x7c, // mov word [0x20], 0x7c40 (IVT[8].offset)
      0xc7,
      0x06,
      0x22,
      0x00,
      0x00,
      0x00, // mov word [0x22], 0 (IVT[8].segment)
      0xb0,
      0x11,
      0xe6,
      0x20, // ICW1: edge, cascade, ICW4
      0xb0,
      0x08,
      0xe6,
      0x21, // ICW2: vector base 0x08
      0xb0,
      0x04,
      0xe6,
      0x21, // ICW3: slave on IRQ 2
      0xb0,
      0x01,
      0xe6,
      0x21, // ICW4: 8086 mode
      0xb0,
      0xfe,
      0xe6,
      0x21, // OCW1: IMR, all masked but IRQ 0
      0xb0,
      0x34,
      0xe6,
      0x43, // PIT channel 0, lobyte/hibyte, mode 2
      0xb0,
      0xa9,
      0xe6,
      0x40, // count 0x04a9 (1193182 Hz / 1193 ≈ 1 kHz)
      0xb0,
      0x04,
      0xe6,
      0x40,
      0xfb,
      0xf4,
      0xeb,
      0xfd, // sti; hlt; jmp $-1
    ];
    const image = new Uint8Array(0x50);
    image.set(code);
    // The IRQ 0 handler at 0x7c40: EOI, then out 0xf4 with 0x21.
    image.set([0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x21, 0xe6, 0xf4, 0xf4], 0x40);
    const r = await runGuest({
      flat: { image, loadAddr: 0x7c00, mode: 'real' },
      accel,
      kernelIrqchip: true,
      timeoutMs: 5_000,
    });
    expect(r.exitReason).toEqual({ kind: 'debug-exit', status: 0x43 });
  });
});
