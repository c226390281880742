/**
 * KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS on the guest FPU state (`GuestFpu`).
 *
 * The region is the non-compacted XSAVE image (SDM Vol. 1 13.4): the 512-byte legacy region in
 * the 64-bit FXSAVE layout, the 64-byte header (XSTATE_BV at 512, XCOMP_BV at 520), nothing
 * beyond it (our XCR0 has only x87 and SSE). As Linux's `__copy_xstate_to_uabi_buf` in
 * XSTATE_COPY_XSAVE mode: the software-reserved bytes 464–511 carry `fx_sw_reserved`
 * (FP_XSTATE_MAGIC1, sizes, features), the rest of the 4 KiB is zero. As
 * `fpu_copy_uabi_to_guest_fpstate` / `copy_uabi_to_xstate`: EINVAL for an XSTATE_BV bit the
 * engine does not support, a non-zero XCOMP_BV or reserved header byte, or (with SSE in
 * XSTATE_BV) an MXCSR with bits outside MXCSR_MASK; a component not in XSTATE_BV is left in its
 * initial state (the next XRSTOR would put it there).
 */
import { Errno, KvmError } from '../api/errors.js';
import { ExitResult, newArchSegment, VcpuSreg } from './arch-ops.js';
import type { GuestFpu } from './fpu.js';
import type { SoftVcpu } from './vcpu.js';
import { injectGp, skipEmulatedInstruction } from './x86.js';

/** XCR0 bits the engine supports (x86emu's: x87 and SSE; SDM Vol. 1 13.3). */
export const SOFT_SUPPORTED_XCR0 = 0x3;
/** x86emu's MXCSR_MASK (FXSAVE byte 28): DAZ and every architectural bit below 16. */
const MXCSR_FEATURE_MASK = 0xffff;
/** Legacy region + header: CPUID.(EAX=0DH,ECX=0):EBX for XCR0 = 3. */
const XSTATE_SIZE = 576;
const FP_XSTATE_MAGIC1 = 0x46505853;
/** sizeof(FP_XSTATE_MAGIC2), which `extended_size` counts. */
const FP_XSTATE_MAGIC2_SIZE = 4;
const XFEATURE_MASK_FP = 1;
const XFEATURE_MASK_SSE = 2;
/** KVM_MAX_XCRS */
const KVM_MAX_XCRS = 16;
/** XCR_XFEATURE_ENABLED_MASK */
const XCR_XFEATURE_ENABLED_MASK = 0;

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** KVM_GET_XSAVE into `region` (4096 bytes). The state is always "in use": XSTATE_BV = 3. */
export function getXsave(fpu: GuestFpu, region: Uint8Array): void {
  region.fill(0, 0, 4096);
  const v = view(region);
  const k = fpu.toKvm();
  v.setUint16(0, k.fcw, true);
  v.setUint16(2, k.fsw, true);
  region[4] = k.ftwx;
  v.setUint16(6, k.lastOpcode, true);
  v.setBigUint64(8, k.lastIp, true);
  v.setBigUint64(16, k.lastDp, true);
  v.setUint32(24, k.mxcsr, true);
  v.setUint32(28, MXCSR_FEATURE_MASK, true);
  for (let i = 0; i < 8; i++) region.set(k.fpr.subarray(16 * i, 16 * i + 10), 32 + 16 * i);
  region.set(k.xmm.subarray(0, 256), 160);
  // struct _fpx_sw_bytes (xstate_fx_sw_bytes): magic1, extended_size, xfeatures, xstate_size.
  v.setUint32(464, FP_XSTATE_MAGIC1, true);
  v.setUint32(468, XSTATE_SIZE + FP_XSTATE_MAGIC2_SIZE, true);
  v.setUint32(472, SOFT_SUPPORTED_XCR0, true);
  v.setUint32(480, XSTATE_SIZE, true);
  v.setUint32(512, XFEATURE_MASK_FP | XFEATURE_MASK_SSE, true);
}

/** KVM_SET_XSAVE from `region`; throws KvmError(EINVAL) and changes nothing on a bad image. */
export function setXsave(fpu: GuestFpu, region: Uint8Array, name: string): void {
  const v = view(region);
  const bvLo = v.getUint32(512, true);
  if (bvLo & ~SOFT_SUPPORTED_XCR0 || v.getUint32(516, true) !== 0)
    throw new KvmError(name, Errno.EINVAL, 'XSTATE_BV has a component this engine does not support');
  if (v.getUint32(520, true) !== 0 || v.getUint32(524, true) !== 0)
    throw new KvmError(name, Errno.EINVAL, 'XCOMP_BV is not 0 (the compacted format)');
  for (let o = 528; o < 576; o++)
    if (region[o] !== 0) throw new KvmError(name, Errno.EINVAL, 'reserved header bytes are not 0');
  const mxcsr = v.getUint32(24, true);
  if (bvLo & XFEATURE_MASK_SSE && mxcsr & ~MXCSR_FEATURE_MASK)
    throw new KvmError(name, Errno.EINVAL, `MXCSR ${mxcsr.toString(16)}h has reserved bits`);
  const k = fpu.toKvm();
  if (bvLo & XFEATURE_MASK_FP) {
    k.fcw = v.getUint16(0, true);
    k.fsw = v.getUint16(2, true);
    k.ftwx = region[4];
    k.lastOpcode = v.getUint16(6, true);
    k.lastIp = v.getBigUint64(8, true);
    k.lastDp = v.getBigUint64(16, true);
    for (let i = 0; i < 8; i++) k.fpr.set(region.subarray(32 + 16 * i, 42 + 16 * i), 16 * i);
  } else {
    // The x87's initial state (SDM Vol. 1 13.6: FCW 37Fh, the rest 0, all registers empty).
    k.fcw = 0x37f;
    k.fsw = 0;
    k.ftwx = 0;
    k.lastOpcode = 0;
    k.lastIp = 0n;
    k.lastDp = 0n;
    k.fpr.fill(0);
  }
  if (bvLo & XFEATURE_MASK_SSE) {
    k.mxcsr = mxcsr;
    k.xmm.set(region.subarray(160, 416));
  } else {
    k.mxcsr = 0x1f80;
    k.xmm.fill(0);
  }
  fpu.fromKvm(k);
}

/** KVM_GET_XCRS into `buf` (struct kvm_xcrs): XCR0 only, as `kvm_vcpu_ioctl_x86_get_xcrs`. */
export function getXcrs(fpu: GuestFpu, buf: Uint8Array): void {
  buf.fill(0, 0, 392);
  const v = view(buf);
  v.setUint32(0, 1, true);
  v.setUint32(8, XCR_XFEATURE_ENABLED_MASK, true);
  fpu.sync();
  v.setUint32(16, fpu.xcr0[0], true);
  v.setUint32(20, fpu.xcr0[1], true);
}

/**
 * Whether `xcr0` (as [low, high]) may be loaded into XCR0 of a guest whose CPUID.(0DH,0) offers
 * `guestSupported` (`__kvm_set_xcr`): x87 always set, AVX only with SSE, nothing outside what the
 * guest's CPUID offers (and the engine supports) besides x87. Returns a reason, or null if valid.
 */
export function invalidXcr0(lo: number, hi: number, guestSupported: number): string | null {
  if (!(lo & XFEATURE_MASK_FP)) return 'XCR0.X87 is 0';
  // XFEATURE_MASK_YMM (bit 2) without SSE.
  if (lo & 4 && !(lo & XFEATURE_MASK_SSE)) return 'XCR0.AVX without XCR0.SSE';
  const valid = (guestSupported & SOFT_SUPPORTED_XCR0) | XFEATURE_MASK_FP;
  if (hi !== 0 || lo & ~valid) return `XCR0 bits ${(lo & ~valid).toString(16)}h not offered by CPUID.0DH`;
  return null;
}

/** XCR0 bits the guest's CPUID.(0DH,0):EAX offers (`cpuid_get_supported_xcr0`; 0 without the leaf). */
export function guestSupportedXcr0(vcpu: SoftVcpu): number {
  const leaf = vcpu.cpuidEntries.find((c) => c.function === 0xd && c.index === 0);
  return leaf === undefined ? 0 : leaf.eax;
}

const ss = newArchSegment();

/**
 * The XSETBV exit (VMX reason 55, SVM exit code 8DH), as `kvm_emulate_xsetbv`: #GP(0) at CPL > 0
 * or for an XCR0 `__kvm_set_xcr` refuses (ECX not 0, x87 clear, a bit the guest's CPUID.0DH does
 * not offer), else XCR0 takes EDX:EAX and RIP moves past the instruction. The #UD for
 * CR4.OSXSAVE = 0 came before the exit (the silicon's).
 */
export function kvmEmulateXsetbv(vcpu: SoftVcpu, length: number): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  vcpu.ops.getSegment(vcpu, VcpuSreg.SS, ss);
  const r = vcpu.regs;
  // __kvm_set_xcr's index is a u32: ECX; the value EDX:EAX.
  if (ss.dpl !== 0 || r[1] !== 0 || invalidXcr0(r[0], r[2], guestSupportedXcr0(vcpu)) !== null) {
    injectGp(vcpu);
    return ExitResult.Reenter;
  }
  vcpu.fpu.release();
  vcpu.fpu.xcr0[0] = r[0];
  vcpu.fpu.xcr0[1] = r[2];
  skipEmulatedInstruction(vcpu, length);
  return ExitResult.Reenter;
}

/** KVM_SET_XCRS from `buf`: EINVAL for too many entries, flags, or an XCR0 `__kvm_set_xcr` refuses. */
export function setXcrs(fpu: GuestFpu, buf: Uint8Array, guestSupported: number, name: string): void {
  const v = view(buf);
  const n = v.getUint32(0, true);
  if (n > KVM_MAX_XCRS || v.getUint32(4, true) !== 0)
    throw new KvmError(name, Errno.EINVAL, `nr_xcrs ${n}, flags ${v.getUint32(4, true)}`);
  for (let i = 0; i < n; i++) {
    const o = 8 + 16 * i;
    // Only XCR0 exists; other entries are ignored, the first XCR0 entry is the one loaded.
    if (v.getUint32(o, true) !== XCR_XFEATURE_ENABLED_MASK) continue;
    const lo = v.getUint32(o + 8, true);
    const hi = v.getUint32(o + 12, true);
    const why = invalidXcr0(lo, hi, guestSupported);
    if (why !== null) throw new KvmError(name, Errno.EINVAL, why);
    fpu.release();
    fpu.xcr0[0] = lo;
    fpu.xcr0[1] = hi;
    return;
  }
}
