/**
 * The guest state held in the processor across VM exits (src/silicon/guest-cache.ts): the driver
 * reads exactly what a full save would have given it, a VMWRITE of one field keeps the rest of
 * its group as the guest left it, and the entry checks still catch a bad state written after an
 * exit, cold or hot.
 */
import { KVM_EXIT, openKvm, SoftKvmDevice } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing/guests';
import { describe, expect, it } from 'vitest';
import { VmxDriver } from '../src/driver/vmx.js';
import { encodingType, VMCS, VMCS_FIELDS, VmcsFieldType } from '../src/silicon/vmcs-fields.js';
import { VmxSilicon, VmxStatus } from '../src/silicon/vmx-silicon.js';

const GDT = 0x500;
const GDTR = 0x600;
const FS_BASE = 0x3000;

/**
 * lgdt [GDTR]; mov ax, 0x18; mov ds, ax; cpuid; wrmsr IA32_SYSENTER_ESP; out 0x80 (userspace may
 * poke the VMCS here); mov eax, ds; out 0x81; mov eax, fs:[0]; out 0x82; mov eax, cr0; out 0x83; hlt.
 */
const CODE = [
  [0x0f, 0x01, 0x15, GDTR & 0xff, GDTR >>> 8, 0, 0],
  [0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd8],
  [0x0f, 0xa2],
  [0xb9, 0x75, 0x01, 0, 0, 0xb8, 0x44, 0x33, 0x22, 0x11, 0x31, 0xd2, 0x0f, 0x30],
  [0xe6, 0x80],
  [0x8c, 0xd8, 0xe6, 0x81],
  [0x64, 0xa1, 0, 0, 0, 0, 0xe6, 0x82],
  [0x0f, 0x20, 0xc0, 0xe6, 0x83],
  [0xf4],
].flat();

interface Io {
  io: { port: number; data: Uint8Array };
}

/**
 * A VMX engine running CODE; with `record`, every exit is recorded first: each guest-state field
 * as VMREAD gives it (which writes every group back, so the other tests do not record).
 */
function engine(holdGuestState: boolean, record = false) {
  const si = new VmxSilicon({ holdGuestState, jit: false });
  const driver = new VmxDriver(si);
  const seen: number[][] = [];
  const handleExit = driver.handleExit.bind(driver);
  if (record)
    driver.handleExit = (vcpu, run) => {
      const fields: number[] = [];
      for (const f of VMCS_FIELDS) {
        if (encodingType(f.encoding) !== VmcsFieldType.Guest) continue;
        expect(si.vmread(f.encoding)).toBe(VmxStatus.Succeed);
        fields.push(si.vmreadValue, si.vmreadValueHigh);
      }
      seen.push(fields);
      return handleExit(vcpu, run);
    };
  const g = protectedModeGuest(openKvm(new SoftKvmDevice(driver)), CODE);
  const dv = new DataView(g.ram.buffer, g.ram.byteOffset);
  // GDT: null, flat code 8, flat data 16, data 18H based at FS_BASE; GDTR limit 31 at GDT.
  const desc = (i: number, base: number, type: number): void => {
    dv.setUint32(GDT + 8 * i, ((base & 0xffff) << 16) | 0xffff, true);
    dv.setUint32(
      GDT + 8 * i + 4,
      ((base >>> 24) << 24) | 0xcf0000 | ((0x90 | type) << 8) | ((base >>> 16) & 0xff),
      true,
    );
  };
  desc(1, 0, 0xb);
  desc(2, 0, 0x3);
  desc(3, FS_BASE, 0x3);
  dv.setUint16(GDTR, 31, true);
  dv.setUint32(GDTR + 2, GDT, true);
  dv.setUint32(FS_BASE, 0x5a, true);
  return { si, seen, ...g };
}

/** Runs to the next userspace exit, which must be OUT to `port`; returns its byte. */
function out(vcpu: ReturnType<typeof engine>['vcpu'], port: number): number {
  expect(vcpu.run()).toBe(KVM_EXIT.IO);
  const run = vcpu.kvmRun as unknown as Io;
  expect(run.io.port).toBe(port);
  return run.io.data[0];
}

describe('VMX: guest state held in the processor across exits', () => {
  it('gives the driver, at every exit, the guest-state fields a full save gives', () => {
    const runs = [true, false].map((hold) => {
      const e = engine(hold, true);
      const bytes = [0x80, 0x81, 0x82, 0x83].map((p) => out(e.vcpu, p));
      expect(e.vcpu.run()).toBe(KVM_EXIT.HLT);
      return { seen: e.seen, bytes, sregs: e.vcpu.getSregs() };
    });
    // CPUID, WRMSR, four OUTs and HLT exit; the guest loaded DS 18H and GDTR on the way.
    expect(runs[0].seen.length).toBeGreaterThanOrEqual(7);
    // FS is still the flat selector 10H here: fs:[0] reads gpa 0.
    expect(runs[0].bytes).toEqual([runs[0].bytes[0], 0x18, 0, 0x11]);
    expect(runs[0].seen).toEqual(runs[1].seen);
    expect(runs[0].sregs).toEqual(runs[1].sregs);
    expect(runs[0].sregs.ds.selector).toBe(0x18);
    expect(runs[0].sregs.gdt).toEqual({ base: BigInt(GDT), limit: 31 });
  });

  it('keeps the rest of a group as the guest left it when one field of it is written', () => {
    const { si, vcpu } = engine(true);
    out(vcpu, 0x80);
    // One field of the segment group, right after the exit: DS (loaded by the guest, not yet
    // written back) must survive the group's reload at the next entry.
    expect(si.vmwrite(VMCS.GUEST_FS_BASE, FS_BASE)).toBe(VmxStatus.Succeed);
    // And IDTR's limit: GDTR, which the guest's LGDT loaded, is in the same group.
    expect(si.vmwrite(VMCS.GUEST_IDTR_LIMIT, 0x3ff)).toBe(VmxStatus.Succeed);
    expect(out(vcpu, 0x81)).toBe(0x18);
    expect(out(vcpu, 0x82)).toBe(0x5a);
    const s = vcpu.getSregs();
    expect(s.gdt).toEqual({ base: BigInt(GDT), limit: 31 });
    expect(s.idt.limit).toBe(0x3ff);
    expect(s.fs.base).toBe(BigInt(FS_BASE));
  });

  it('still fails the entry on a cold field written bad after an exit (TR unusable)', () => {
    const { si, vcpu } = engine(true);
    out(vcpu, 0x80);
    expect(si.vmread(VMCS.GUEST_TR_AR_BYTES)).toBe(VmxStatus.Succeed);
    expect(si.vmwrite(VMCS.GUEST_TR_AR_BYTES, si.vmreadValue | (1 << 16))).toBe(VmxStatus.Succeed);
    expect(vcpu.run()).toBe(KVM_EXIT.FAIL_ENTRY);
    expect(si.lastEntryFailure).toBe('TR unusable');
  });

  it('still fails the entry on a hot field written bad after an exit (RFLAGS bit 3)', () => {
    const { si, vcpu } = engine(true);
    out(vcpu, 0x80);
    expect(si.vmread(VMCS.GUEST_RFLAGS)).toBe(VmxStatus.Succeed);
    expect(si.vmwrite(VMCS.GUEST_RFLAGS, si.vmreadValue | (1 << 3))).toBe(VmxStatus.Succeed);
    expect(vcpu.run()).toBe(KVM_EXIT.FAIL_ENTRY);
    expect(si.lastEntryFailure).toBe('guest RFLAGS reserved bits');
  });

  it('writes the held state back on VMCLEAR (SDM 31.3), so another VMCS can be made current', () => {
    const { si, vcpu } = engine(true);
    out(vcpu, 0x80);
    const vmcs = si.vmptrst();
    expect(si.vmclear(vmcs)).toBe(VmxStatus.Succeed);
    expect(si.vmptrld(vmcs)).toBe(VmxStatus.Succeed);
    expect(si.vmread(VMCS.GUEST_DS_SELECTOR)).toBe(VmxStatus.Succeed);
    expect(si.vmreadValue).toBe(0x18);
    expect(si.vmread(VMCS.GUEST_GDTR_BASE)).toBe(VmxStatus.Succeed);
    expect(si.vmreadValue).toBe(GDT);
  });
});
