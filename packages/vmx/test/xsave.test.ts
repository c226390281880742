/**
 * KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS on the software engine, against what a 64-bit guest's
 * own XGETBV and XSAVE see: the state the ioctls carry is the state the guest runs with (the
 * shared ABI suite pins the errnos and the legacy region against the host's KVM).
 */
import { Errno, KVM_EXIT, KvmError } from '@kvm/core';
import { longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

// xor ecx, ecx ; xgetbv ; mov [0x4000], eax ; mov eax, 3 ; xor edx, edx ; xsave [0x5000] ; hlt
const XGETBV_XSAVE = [
  0x31, 0xc9, 0x0f, 0x01, 0xd0, 0x89, 0x04, 0x25, 0x00, 0x40, 0x00, 0x00, 0xb8, 0x03, 0x00, 0x00, 0x00, 0x31,
  0xd2, 0x0f, 0xae, 0x24, 0x25, 0x00, 0x50, 0x00, 0x00, 0xf4,
];

function setup() {
  const kvm = createVmxKvm();
  const g = longModeGuest(kvm, XGETBV_XSAVE);
  g.vcpu.setCpuid2(kvm.getSupportedCpuid());
  // PAE | OSFXSR | OSXSAVE
  g.vcpu.setSregs({ ...g.vcpu.getSregs(), cr4: 0x40220n });
  return g;
}

describe('vmx engine: KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS', () => {
  it('loads the XCR0 and x87/SSE state the guest then reads with XGETBV and stores with XSAVE', () => {
    const { vcpu, ram } = setup();
    vcpu.setXcrs([{ xcr: 0, value: 3n }]);
    const image = new Uint8Array(4096);
    const v = new DataView(image.buffer);
    v.setUint16(0, 0x27f, true);
    v.setUint32(24, 0x3f80, true); // MXCSR: RC = down, all masked
    for (let i = 0; i < 256; i++) image[160 + i] = (i * 5 + 3) & 0xff;
    v.setUint32(512, 3, true);
    vcpu.setXsave(image);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    const mem = new DataView(ram.buffer, ram.byteOffset);
    expect(mem.getUint32(0x4000, true)).toBe(3);
    expect(mem.getUint16(0x5000, true)).toBe(0x27f);
    expect(mem.getUint32(0x5000 + 24, true)).toBe(0x3f80);
    expect(ram.subarray(0x5000 + 160, 0x5000 + 416)).toEqual(image.subarray(160, 416));
    // XSTATE_BV as the guest's XSAVE wrote it.
    expect(mem.getUint32(0x5000 + 512, true)).toBe(3);
    const got = vcpu.getXsave();
    expect(got.subarray(160, 416)).toEqual(image.subarray(160, 416));
    expect(new DataView(got.buffer).getUint32(24, true)).toBe(0x3f80);
    // fx_sw_reserved: FP_XSTATE_MAGIC1 and the 576-byte x87+SSE area.
    expect(new DataView(got.buffer).getUint32(464, true)).toBe(0x46505853);
    expect(new DataView(got.buffer).getUint32(480, true)).toBe(576);
  });

  it('puts a component missing from XSTATE_BV in its initial state', () => {
    const { vcpu } = setup();
    const image = new Uint8Array(4096);
    const v = new DataView(image.buffer);
    v.setUint16(0, 0x27f, true);
    v.setUint32(24, 0x3f80, true);
    image.fill(0xaa, 160, 416);
    v.setUint32(512, 1, true); // x87 only
    vcpu.setXsave(image);
    const fpu = vcpu.getFpu();
    expect(fpu.fcw).toBe(0x27f);
    expect(fpu.mxcsr).toBe(0x1f80);
    expect(fpu.xmm.every((b) => b === 0)).toBe(true);
    v.setUint32(512, 2, true); // SSE only: the x87 is reset
    vcpu.setXsave(image);
    expect(vcpu.getFpu().fcw).toBe(0x37f);
    expect(vcpu.getFpu().mxcsr).toBe(0x3f80);
  });

  it('refuses AVX state (XSTATE_BV bit 2) and XCR0.AVX: x86emu has no AVX', () => {
    const { vcpu } = setup();
    const image = new Uint8Array(4096);
    new DataView(image.buffer).setUint32(512, 7, true);
    const errnoOf = (fn: () => void): number | undefined => {
      try {
        fn();
      } catch (e) {
        return e instanceof KvmError ? e.errno : undefined;
      }
      return 0;
    };
    expect(errnoOf(() => vcpu.setXsave(image))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vcpu.setXcrs([{ xcr: 0, value: 7n }]))).toBe(Errno.EINVAL);
  });
});
