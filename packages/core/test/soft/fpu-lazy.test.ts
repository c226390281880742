import { CpuState } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { GuestFpu } from '../../src/soft/fpu.js';

/** What a guest's FPU/SSE instructions leave in the processor between an entry and its exit. */
function guestWrites(s: CpuState, mxcsr: number, xmm0: number): void {
  s.mxcsr[0] = mxcsr;
  s.xmm[0] = xmm0;
}

describe('GuestFpu keeps the guest FPU in the processor between entries (kvm_load_guest_fpu)', () => {
  it('an entry after an exit of the same vCPU copies nothing: the guest finds its own registers', () => {
    const s = new CpuState();
    const fpu = new GuestFpu();
    fpu.loadInto(s);
    guestWrites(s, 0x1f00, 0x5a);
    // Nothing may overwrite what the guest left: a second load is a no-op.
    fpu.loadInto(s);
    expect(s.mxcsr[0]).toBe(0x1f00);
    expect(s.xmm[0]).toBe(0x5a);
  });

  it('KVM_GET_FPU (toKvm) sees what the guest left in the processor', () => {
    const s = new CpuState();
    const fpu = new GuestFpu();
    fpu.loadInto(s);
    guestWrites(s, 0x1f00, 0x5a);
    const k = fpu.toKvm();
    expect(k.mxcsr).toBe(0x1f00);
    expect(k.xmm[0]).toBe(0x5a);
  });

  it('KVM_SET_FPU (fromKvm) between entries reaches the guest at the next entry', () => {
    const s = new CpuState();
    const fpu = new GuestFpu();
    fpu.loadInto(s);
    guestWrites(s, 0x1f00, 0x5a);
    const k = fpu.toKvm();
    fpu.fromKvm({ ...k, mxcsr: 0x1f80, xmm: new Uint8Array(256).fill(7) });
    fpu.loadInto(s);
    expect(s.mxcsr[0]).toBe(0x1f80);
    expect(s.xmm[0]).toBe(7);
  });

  it('an XCR0 written by the kernel after release() is loaded at the next entry', () => {
    const s = new CpuState();
    const fpu = new GuestFpu();
    fpu.loadInto(s);
    fpu.release();
    fpu.xcr0[0] = 3;
    fpu.loadInto(s);
    expect(s.xcr0[0]).toBe(3);
  });

  it('two vCPUs taking turns on one processor each keep their own registers', () => {
    const s = new CpuState();
    const a = new GuestFpu();
    const b = new GuestFpu();
    a.loadInto(s);
    guestWrites(s, 0x1f01, 1);
    b.loadInto(s);
    expect(s.mxcsr[0]).toBe(0x1f80);
    expect(s.xmm[0]).toBe(0);
    guestWrites(s, 0x1f02, 2);
    a.loadInto(s);
    expect(s.mxcsr[0]).toBe(0x1f01);
    expect(s.xmm[0]).toBe(1);
    // b's registers were taken out of the processor when a came back.
    expect(b.toKvm().mxcsr).toBe(0x1f02);
    expect(b.toKvm().xmm[0]).toBe(2);
    b.loadInto(s);
    expect(s.mxcsr[0]).toBe(0x1f02);
  });

  it('a vCPU moving to another processor takes its registers along', () => {
    const s1 = new CpuState();
    const s2 = new CpuState();
    const a = new GuestFpu();
    a.loadInto(s1);
    guestWrites(s1, 0x1f03, 3);
    a.loadInto(s2);
    expect(s2.mxcsr[0]).toBe(0x1f03);
    expect(s2.xmm[0]).toBe(3);
  });
});
