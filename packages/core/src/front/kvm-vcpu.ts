/**
 * `KvmVcpu`: the typed vCPU over a vCPU fd. Each method encodes its argument with the codecs,
 * issues one ioctl, decodes the answer. `run()` is the hot path: one ioctl, one read of
 * `exit_reason`, one counter increment, no allocation.
 */

import { kvmCpuid2, kvmMsrs } from '../abi/flex.js';
import { KVM_IOCTL } from '../abi/ioctls.js';
import { KvmRunView } from '../abi/run.js';
import {
  kvmFpu,
  kvmGuestDebug,
  kvmInterrupt,
  kvmLapicState,
  kvmMpState,
  kvmRegs,
  kvmSregs,
  kvmTranslation,
  kvmVcpuEvents,
  kvmXcrs,
  kvmXsave,
} from '../abi/structs.js';
import { Errno, KvmError } from '../api/errors.js';
import type {
  KvmCpuidEntry2,
  KvmFpu,
  KvmGuestDebug,
  KvmLapicState,
  KvmMsrEntry,
  KvmRegs,
  KvmSregs,
  KvmTranslation,
  KvmVcpuEvents,
} from '../api/structs.js';
import type { Vcpu, VcpuKickHandle } from '../api/types.js';
import type { KvmDevice } from './device.js';
import { asKvmError, DeviceFd, intArg } from './fd.js';

const KVM_RUN = KVM_IOCTL.KVM_RUN;

/** Most CPUID entries we ask for (KVM_MAX_CPUID_ENTRIES is 256 in Linux 6.x). */
export const CPUID_CAPACITY_MAX = 4096;

/** The slice of the owning VM a vCPU needs: somewhere to count exits, and to be forgotten on close. */
export interface VcpuOwner {
  /** Exits by reason; index `exitCounts.length - 1` collects reasons beyond the table. */
  readonly exitCounts: Float64Array;
  forgetVcpu(vcpu: KvmVcpu): void;
}

export class KvmVcpu implements Vcpu {
  readonly kvmRun: KvmRunView;
  private readonly handle: DeviceFd;
  private readonly exitCounts: Float64Array;
  private readonly lastExitSlot: number;

  /** Use `KvmVm.createVcpu`. */
  constructor(
    device: KvmDevice,
    readonly fd: number,
    readonly id: number,
    run: ArrayBufferLike,
    private readonly owner: VcpuOwner,
  ) {
    this.handle = new DeviceFd(device, fd);
    this.kvmRun = new KvmRunView(run);
    this.exitCounts = owner.exitCounts;
    this.lastExitSlot = owner.exitCounts.length - 1;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  run(): number {
    const h = this.handle;
    if (h.closed) h.check('KVM_RUN');
    try {
      h.device.ioctl(h.fd, KVM_RUN, 0);
    } catch (e) {
      throw asKvmError('KVM_RUN', e);
    }
    const reason = this.kvmRun.exitReason;
    this.exitCounts[Math.min(reason, this.lastExitSlot)]++;
    return reason;
  }

  getRegs(): KvmRegs {
    const buf = new Uint8Array(kvmRegs.size);
    this.handle.ioctl('KVM_GET_REGS', buf);
    return kvmRegs.decode(buf);
  }

  setRegs(regs: KvmRegs): void {
    this.handle.check('KVM_SET_REGS');
    this.handle.ioctl('KVM_SET_REGS', kvmRegs.encode(regs));
  }

  getSregs(): KvmSregs {
    const buf = new Uint8Array(kvmSregs.size);
    this.handle.ioctl('KVM_GET_SREGS', buf);
    return kvmSregs.decode(buf);
  }

  setSregs(sregs: KvmSregs): void {
    this.handle.check('KVM_SET_SREGS');
    this.handle.ioctl('KVM_SET_SREGS', kvmSregs.encode(sregs));
  }

  getMsrs(indices: number[]): KvmMsrEntry[] {
    this.handle.check('KVM_GET_MSRS');
    const buf = kvmMsrs.encode(indices.map((index) => ({ index, data: 0n })));
    const n = this.handle.ioctl('KVM_GET_MSRS', buf);
    return kvmMsrs.decode(buf, Math.min(n, indices.length));
  }

  setMsrs(entries: KvmMsrEntry[]): number {
    this.handle.check('KVM_SET_MSRS');
    return this.handle.ioctl('KVM_SET_MSRS', kvmMsrs.encode(entries));
  }

  setCpuid2(entries: KvmCpuidEntry2[]): void {
    this.handle.check('KVM_SET_CPUID2');
    this.handle.ioctl('KVM_SET_CPUID2', kvmCpuid2.encode(entries));
  }

  /** KVM_GET_CPUID2: the CPUID table last set with KVM_SET_CPUID2. */
  getCpuid2(): KvmCpuidEntry2[] {
    return getCpuidTable((buf) => this.handle.ioctl('KVM_GET_CPUID2', buf), 'KVM_GET_CPUID2');
  }

  interrupt(irq: number): void {
    this.handle.check('KVM_INTERRUPT');
    this.handle.ioctl(
      'KVM_INTERRUPT',
      kvmInterrupt.encode({ irq: intArg('KVM_INTERRUPT', 'irq', irq, 0xffffffff) }),
    );
  }

  getLapic(): KvmLapicState {
    const buf = new Uint8Array(kvmLapicState.size);
    this.handle.ioctl('KVM_GET_LAPIC', buf);
    return kvmLapicState.decode(buf);
  }

  setLapic(state: KvmLapicState): void {
    this.handle.check('KVM_SET_LAPIC');
    if (!(state.regs instanceof Uint8Array) || state.regs.length !== kvmLapicState.size) {
      throw new KvmError('KVM_SET_LAPIC', Errno.EINVAL, `regs must be ${kvmLapicState.size} bytes`);
    }
    this.handle.ioctl('KVM_SET_LAPIC', kvmLapicState.encode(state));
  }

  getMpState(): number {
    const buf = new Uint8Array(kvmMpState.size);
    this.handle.ioctl('KVM_GET_MP_STATE', buf);
    return kvmMpState.decode(buf).mpState;
  }

  setMpState(state: number): void {
    this.handle.check('KVM_SET_MP_STATE');
    const mpState = intArg('KVM_SET_MP_STATE', 'state', state, 0xffffffff);
    this.handle.ioctl('KVM_SET_MP_STATE', kvmMpState.encode({ mpState }));
  }

  /** KVM_NMI: queue an NMI, delivered through IDT vector 2 once NMIs are not blocked. */
  nmi(): void {
    this.handle.ioctl('KVM_NMI', 0);
  }

  /** KVM_GET_VCPU_EVENTS. */
  getVcpuEvents(): KvmVcpuEvents {
    const buf = new Uint8Array(kvmVcpuEvents.size);
    this.handle.ioctl('KVM_GET_VCPU_EVENTS', buf);
    return kvmVcpuEvents.decode(buf);
  }

  /** KVM_SET_VCPU_EVENTS. */
  setVcpuEvents(events: KvmVcpuEvents): void {
    this.handle.ioctl('KVM_SET_VCPU_EVENTS', kvmVcpuEvents.encode(events));
  }

  /** KVM_TRANSLATE: walk the guest's page tables for linear address `gva`. */
  translate(gva: bigint): KvmTranslation {
    this.handle.check('KVM_TRANSLATE');
    const buf = kvmTranslation.encode({
      linearAddress: gva,
      physicalAddress: 0n,
      valid: 0,
      writeable: 0,
      usermode: 0,
    });
    this.handle.ioctl('KVM_TRANSLATE', buf);
    return kvmTranslation.decode(buf);
  }

  getFpu(): KvmFpu {
    const buf = new Uint8Array(kvmFpu.size);
    this.handle.ioctl('KVM_GET_FPU', buf);
    return kvmFpu.decode(buf);
  }

  setFpu(fpu: KvmFpu): void {
    this.handle.check('KVM_SET_FPU');
    this.handle.ioctl('KVM_SET_FPU', kvmFpu.encode(fpu));
  }
  getXsave(): Uint8Array {
    const buf = new Uint8Array(kvmXsave.size);
    this.handle.ioctl('KVM_GET_XSAVE', buf);
    return buf;
  }

  setXsave(region: Uint8Array): void {
    this.handle.check('KVM_SET_XSAVE');
    const buf = new Uint8Array(kvmXsave.size);
    buf.set(region.subarray(0, kvmXsave.size));
    this.handle.ioctl('KVM_SET_XSAVE', buf);
  }

  getXcrs(): { xcr: number; value: bigint }[] {
    const buf = new Uint8Array(kvmXcrs.size);
    this.handle.ioctl('KVM_GET_XCRS', buf);
    const v = new DataView(buf.buffer);
    const n = Math.min(v.getUint32(0, true), 16);
    const out: { xcr: number; value: bigint }[] = [];
    for (let i = 0; i < n; i++)
      out.push({ xcr: v.getUint32(8 + 16 * i, true), value: v.getBigUint64(16 + 16 * i, true) });
    return out;
  }

  /** `flags` (0 unless testing the kernel's check) goes into `kvm_xcrs.flags`. */
  setXcrs(xcrs: { xcr: number; value: bigint }[], flags = 0): void {
    this.handle.check('KVM_SET_XCRS');
    const buf = new Uint8Array(kvmXcrs.size);
    const v = new DataView(buf.buffer);
    v.setUint32(0, xcrs.length, true);
    v.setUint32(4, flags >>> 0, true);
    xcrs.slice(0, 16).forEach((x, i) => {
      v.setUint32(8 + 16 * i, x.xcr >>> 0, true);
      v.setBigUint64(16 + 16 * i, BigInt.asUintN(64, x.value), true);
    });
    this.handle.ioctl('KVM_SET_XCRS', buf);
  }

  setGuestDebug(debug: KvmGuestDebug): void {
    this.handle.check('KVM_SET_GUEST_DEBUG');
    this.handle.ioctl('KVM_SET_GUEST_DEBUG', kvmGuestDebug.encode(debug));
  }

  /**
   * KVM_SET_SIGNAL_MASK: the signals blocked while in KVM_RUN (`sigset` is the kernel's
   * 8-byte sigset_t on x86-64; anything else is EINVAL, as in Linux), or `null` to clear it.
   */
  setSignalMask(sigset: Uint8Array | null): void {
    if (sigset === null) {
      this.handle.ioctl('KVM_SET_SIGNAL_MASK', 0);
      return;
    }
    const buf = new Uint8Array(4 + sigset.length);
    new DataView(buf.buffer).setUint32(0, sigset.length, true);
    buf.set(sigset, 4);
    this.handle.ioctl('KVM_SET_SIGNAL_MASK', buf);
  }

  kickHandle(): VcpuKickHandle {
    this.handle.check('kickHandle');
    try {
      return this.handle.device.kickHandle(this.fd);
    } catch (e) {
      throw asKvmError('kickHandle', e);
    }
  }

  close(): void {
    if (this.handle.closed) return;
    this.owner.forgetVcpu(this);
    this.handle.close();
  }
}

/**
 * Reads a CPUID table through `ioctl`, which fails with E2BIG while the buffer is too small
 * (KVM_GET_SUPPORTED_CPUID, KVM_GET_CPUID2; the kernel does not say how many it needs, so
 * the capacity doubles, as QEMU does).
 */
export function getCpuidTable(ioctl: (buf: Uint8Array) => number, op: string): KvmCpuidEntry2[] {
  for (let capacity = 64; capacity <= CPUID_CAPACITY_MAX; capacity *= 2) {
    const buf = kvmCpuid2.encode([], capacity);
    try {
      ioctl(buf);
    } catch (e) {
      if (e instanceof KvmError && e.errno === Errno.E2BIG) continue;
      throw e;
    }
    return kvmCpuid2.decode(buf);
  }
  throw new KvmError(op, Errno.E2BIG, `more than ${CPUID_CAPACITY_MAX} entries`);
}
