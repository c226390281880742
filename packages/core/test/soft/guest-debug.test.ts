/**
 * KVM_SET_GUEST_DEBUG's state and the guest's own debug registers while the debugger owns the
 * silicon's (`guest-debug.ts`, `debugregs.ts`): what the backends load and what an intercepted
 * MOV DR reads and writes. The end-to-end cases are the shared ABI suite's (@kvm/host/testing).
 */
import { CpuState } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { GuestDebugRegs } from '../../src/soft/debugregs.js';
import {
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP,
  kvmGuestDebugExceptions,
  kvmSetGuestDebug,
  kvmUsesHwBp,
} from '../../src/soft/guest-debug.js';

function state() {
  return { guestDebug: 0, guestDebugRegs: new Uint32Array(8), guestDebugRegsHigh: new Uint32Array(8) };
}

describe('KVM_GUESTDBG_USE_HW_BP', () => {
  it('keeps 64-bit breakpoint addresses whole and DR7 with bit 10 set, as the silicon reads it back', () => {
    const s = state();
    const debugreg = [0xffffffff83077e46n, 0x2000n, 0n, 0n, 0n, 0n, 0n, 0x603n];
    kvmSetGuestDebug(s, { control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, debugreg });
    expect([s.guestDebugRegs[0], s.guestDebugRegsHigh[0]]).toEqual([0x83077e46, 0xffffffff]);
    expect([s.guestDebugRegs[1], s.guestDebugRegsHigh[1]]).toEqual([0x2000, 0]);
    expect(s.guestDebugRegs[7]).toBe(0x603);
    expect(kvmUsesHwBp(s)).toBe(true);
  });

  it('intercepts #DB only with USE_HW_BP, #BP only with USE_SW_BP, nothing without ENABLE', () => {
    const s = state();
    const regs = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    kvmSetGuestDebug(s, { control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, debugreg: regs });
    expect(kvmGuestDebugExceptions(s)).toBe(1 << 1);
    kvmSetGuestDebug(s, { control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, debugreg: regs });
    expect(kvmGuestDebugExceptions(s)).toBe(1 << 3);
    kvmSetGuestDebug(s, { control: KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_USE_SW_BP, debugreg: regs });
    expect(kvmGuestDebugExceptions(s)).toBe(0);
    expect(kvmUsesHwBp(s)).toBe(false);
  });
});

describe("the guest's own debug registers while the debugger owns the silicon's", () => {
  it('MOV DR reads what the guest wrote, with the fixed bits of DR6/DR7 and DR4/DR5 as DR6/DR7', () => {
    const d = new GuestDebugRegs();
    expect(d.set(0, 0x1000, 0xffff8000)).toBe(true);
    expect(d.get(0)).toEqual([0x1000, 0xffff8000]);
    expect(d.set(7, 0xffffffff, 0)).toBe(true);
    expect(d.get(7)).toEqual([0xffff2fff, 0]); // DR7_VOLATILE (12, 14, 15 read as 0), DR7_FIXED_1 (bit 10)
    expect(d.get(5)).toEqual(d.get(7));
    expect(d.set(6, 0, 0)).toBe(true);
    expect(d.get(6)).toEqual([0xffff0ff0, 0]);
    expect(d.get(4)).toEqual(d.get(6));
  });

  it('a DR6/DR7 write with bits 63:32 set is refused (#GP(0)) and changes nothing', () => {
    const d = new GuestDebugRegs();
    expect(d.set(7, 0x401, 1)).toBe(false);
    expect(d.get(7)).toEqual([0x400, 0]);
  });

  it("loading the debugger's registers leaves the guest's DR0–DR3 in the vCPU, DR6 reading as after a reset", () => {
    const d = new GuestDebugRegs();
    d.set(1, 0x5000, 0);
    const s = new CpuState();
    s.dr[6] = 0xffff4ff1;
    d.loadDebugger(s, new Uint32Array([0xaaaa, 0xbbbb, 0, 0, 0, 0, 0, 0]), new Uint32Array(8));
    expect([s.dr[0], s.dr[1], s.dr[6]]).toEqual([0xaaaa, 0xbbbb, 0xffff0ff0]);
    expect(d.get(1)).toEqual([0x5000, 0]);
  });
});
