/**
 * The guest's x87/SSE state through KVM_SET_FPU / KVM_GET_FPU: what userspace sets is what the
 * guest's FXSAVE stores (FCW, FSW, the abridged tag, FOP, FIP, FDP, MXCSR, XMM), and KVM_GET_FPU
 * gives it back — on the software engine that means the state is swapped into the shared
 * processor around each entry, FIP/FDP/FOP included. (Measured on kvm-pvm: its instruction
 * emulator's FXSAVE stores FCW 37Fh, not the state KVM_SET_FPU gave, so that host is no referee
 * here; KVM on VMX/SVM hardware executes the guest's FXSAVE on the guest's own state.)
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { longModeGuest } from './guests.js';

export function defineFpuSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: x87/SSE state through KVM_GET/SET_FPU`, () => {
    it('is what the guest FXSAVE stores, and KVM_GET_FPU returns it', () => {
      // 64-bit mode (the host's KVM runs it too): fxsave [0x5000] ; hlt — without REX.W, the
      // 32-bit image (FIP and FDP as 32-bit offsets with selectors).
      const kvm = open();
      const { vcpu, ram } = longModeGuest(kvm, [0x0f, 0xae, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00, 0xf4]);
      // KVM's emulator executes FXSAVE only for a guest whose CPUID has FXSR.
      vcpu.setCpuid2(kvm.getSupportedCpuid());
      // CR4.OSFXSR: FXSAVE stores MXCSR and the XMM registers.
      vcpu.setSregs({ ...vcpu.getSregs(), cr4: 0x220n });
      const fpu = vcpu.getFpu();
      const xmm = new Uint8Array(256);
      for (let i = 0; i < 128; i++) xmm[i] = (i * 7 + 1) & 0xff;
      const fpr = new Uint8Array(128);
      // ST(0) = 1.0 (significand 8000000000000000h, exponent 3FFFh), tagged valid.
      fpr.set([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f], 0);
      const want = {
        ...fpu,
        fpr,
        fcw: 0x27f,
        fsw: 0x3800, // TOP = 7
        ftwx: 0x80, // physical register 7 (ST(0)) in use
        lastOpcode: 0x1d9,
        lastIp: 0x1234n,
        lastDp: 0x5678n,
        xmm,
        mxcsr: 0x1fa0,
      };
      vcpu.setFpu(want);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      const img = new DataView(ram.buffer, ram.byteOffset + 0x5000, 512);
      expect(img.getUint16(0, true)).toBe(0x27f);
      expect(img.getUint16(2, true)).toBe(0x3800);
      expect(img.getUint8(4)).toBe(0x80);
      expect(img.getUint16(6, true)).toBe(0x1d9);
      expect(img.getUint32(8, true)).toBe(0x1234);
      expect(img.getUint32(16, true)).toBe(0x5678);
      expect(img.getUint32(24, true)).toBe(0x1fa0);
      expect(new Uint8Array(ram.buffer, ram.byteOffset + 0x5000 + 32, 10)).toEqual(fpr.subarray(0, 10));
      expect(new Uint8Array(ram.buffer, ram.byteOffset + 0x5000 + 160, 128)).toEqual(xmm.subarray(0, 128));
      const got = vcpu.getFpu();
      expect({ ...got, fpr: got.fpr.subarray(0, 10), xmm: got.xmm.subarray(0, 128) }).toEqual({
        ...want,
        fpr: fpr.subarray(0, 10),
        xmm: xmm.subarray(0, 128),
      });
    });
  });
}
