/**
 * KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS (KVM_CAP_XSAVE, KVM_CAP_XCRS), through the typed API.
 * Every expectation was first the host kernel's answer (`fpu_copy_uabi_to_guest_fpstate`,
 * `__copy_xstate_to_uabi_buf`, `kvm_vcpu_ioctl_x86_set_xcrs` → `__kvm_set_xcr`). The bytes the
 * host fills from its own CPU (MXCSR_MASK at 28, `fx_sw_reserved` at 464, XSTATE_BV bits above
 * SSE) are not compared.
 */
import { Errno, KVM_CAP, type Kvm, KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';

function expectErrno(fn: () => unknown, errno: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a KvmError').toBeInstanceOf(KvmError);
  expect((caught as KvmError).code).toBe(new KvmError('x', errno).code);
}

/** An XSAVE image with x87 and SSE state in use: TOP = 7, ST(0) = 1.0, XMM0 and XMM15 patterned. */
function sampleImage(): Uint8Array {
  const r = new Uint8Array(4096);
  const v = new DataView(r.buffer);
  v.setUint16(0, 0x027f, true); // FCW: 53-bit precision
  v.setUint16(2, 0x3800, true); // FSW: TOP = 7
  r[4] = 0x80; // abridged tag: R7 (= ST(0)) valid
  v.setUint16(6, 0x1d9, true); // FOP
  v.setBigUint64(8, 0x1234n, true); // FIP
  v.setBigUint64(16, 0x5678n, true); // FDP
  v.setUint32(24, 0x1fa0, true); // MXCSR: RC = down
  v.setBigUint64(32, 0x8000_0000_0000_0000n, true); // ST(0) = 1.0
  v.setUint16(40, 0x3fff, true);
  for (let i = 0; i < 16; i++) {
    r[160 + i] = 0x11 * (i + 1);
    r[160 + 15 * 16 + i] = 0xf0 - i;
  }
  v.setUint32(512, 3, true); // XSTATE_BV: x87 | SSE
  return r;
}

export function defineXsaveCases(kvm: () => Kvm): void {
  describe('KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS', () => {
    const vcpuOf = (k: Kvm) => k.createVm().createVcpu(0);

    it('are offered: KVM_CAP_XSAVE and KVM_CAP_XCRS', () => {
      const k = kvm();
      expect(k.checkExtension(KVM_CAP.XSAVE)).toBeGreaterThan(0);
      expect(k.checkExtension(KVM_CAP.XCRS)).toBeGreaterThan(0);
    });

    it('shows a new vCPU with XCR0 = x87 and the x87/SSE reset state (FCW 37Fh, MXCSR 1F80h)', () => {
      const vcpu = vcpuOf(kvm());
      expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 1n }]);
      const x = new DataView(vcpu.getXsave().buffer);
      expect(x.getUint16(0, true)).toBe(0x37f);
      expect(x.getUint32(24, true)).toBe(0x1f80);
      // Non-compacted: XCOMP_BV 0.
      expect(x.getBigUint64(520, true)).toBe(0n);
    });

    it('gives back the x87 and SSE state KVM_SET_XSAVE loaded, in the legacy region and in KVM_GET_FPU', () => {
      const vcpu = vcpuOf(kvm());
      const image = sampleImage();
      vcpu.setXsave(image);
      const got = vcpu.getXsave();
      // FCW … XMM15, but for MXCSR_MASK (the CPU's).
      expect([...got.subarray(0, 28)]).toEqual([...image.subarray(0, 28)]);
      expect([...got.subarray(32, 416)]).toEqual([...image.subarray(32, 416)]);
      expect(new DataView(got.buffer).getUint32(512, true) & 3).toBe(3);
      const fpu = vcpu.getFpu();
      expect(fpu.fcw).toBe(0x27f);
      // (Not MXCSR: this machine's KVM_GET_FPU answers 0 for it after KVM_SET_XSAVE.)
      expect(fpu.ftwx).toBe(0x80);
      expect([...fpu.xmm.subarray(0, 16)]).toEqual([...image.subarray(160, 176)]);
    });

    it('refuses an image with an unsupported component, XCOMP_BV, reserved header bytes or a bad MXCSR: EINVAL', () => {
      const vcpu = vcpuOf(kvm());
      const bad = (edit: (v: DataView) => void) => {
        const r = sampleImage();
        edit(new DataView(r.buffer));
        expectErrno(() => vcpu.setXsave(r), Errno.EINVAL);
      };
      bad((v) => v.setUint32(516, 0x8000_0000, true)); // XSTATE_BV bit 63
      bad((v) => v.setUint32(524, 0x8000_0000, true)); // XCOMP_BV: the compacted format
      bad((v) => v.setUint8(540, 1)); // header reserved bytes
      bad((v) => v.setUint32(24, 0x10000, true)); // MXCSR bit 16, with SSE in XSTATE_BV
      // Nothing was loaded.
      expect(new DataView(vcpu.getXsave().buffer).getUint16(0, true)).toBe(0x37f);
    });

    it('sets XCR0 only as __kvm_set_xcr allows: x87 always, nothing beyond the guest CPUID.0DH', () => {
      const k = kvm();
      const vcpu = vcpuOf(k);
      // No CPUID yet: the guest supports no XSAVE component but x87.
      expectErrno(() => vcpu.setXcrs([{ xcr: 0, value: 3n }]), Errno.EINVAL);
      vcpu.setXcrs([{ xcr: 0, value: 1n }]);
      vcpu.setCpuid2(k.getSupportedCpuid());
      vcpu.setXcrs([{ xcr: 0, value: 3n }]);
      expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 3n }]);
      expectErrno(() => vcpu.setXcrs([{ xcr: 0, value: 2n }]), Errno.EINVAL); // SSE without x87
      expectErrno(() => vcpu.setXcrs([{ xcr: 0, value: 0n }]), Errno.EINVAL);
      expectErrno(() => vcpu.setXcrs([{ xcr: 0, value: 1n << 62n }]), Errno.EINVAL);
      expectErrno(() => vcpu.setXcrs([{ xcr: 0, value: 1n }], 1), Errno.EINVAL); // flags
      const seventeen = Array.from({ length: 17 }, () => ({ xcr: 0, value: 1n }));
      expectErrno(() => vcpu.setXcrs(seventeen), Errno.EINVAL); // nr_xcrs > KVM_MAX_XCRS
      // An entry for another XCR is ignored; XCR0 keeps its value.
      vcpu.setXcrs([{ xcr: 1, value: 0n }]);
      expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 3n }]);
    });
  });
}
