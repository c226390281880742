/**
 * `SoftKvmDevice`: the software engine's `/dev/kvm`, implementing core's raw `KvmDevice`: file
 * descriptors, ioctl request numbers and the exact bytes of `<linux/kvm.h>`'s structs, decoded
 * with the same codecs the front end encodes with. Dispatch is by tables indexed by the ioctl's
 * `_IOC_NR`, one per kind of fd, after `lookupIoctl` has matched the whole request number.
 *
 * A backend (`ArchOps`) is passed in explicitly and must prove its silicon is usable before the
 * device exists; there is no global state, so devices with different backends coexist.
 */

import type { MmuOptions } from '@kvm/mmu';
import { KVM_CAP, KVM_CAP_SOFT } from '../abi/capabilities.js';
import { kvmCpuid2, kvmIrqRouting, kvmMsrList, kvmMsrs } from '../abi/flex.js';
import { type IoctlDef, type IoctlScope, lookupIoctl } from '../abi/ioctls.js';
import { KVM_RUN_STRUCT_SIZE } from '../abi/run-layout.js';
import {
  KVM_PIT_SPEAKER_DUMMY,
  kvmCpuid2Header,
  kvmFpu,
  kvmGuestDebug,
  kvmInterrupt,
  kvmIrqLevel,
  kvmIrqRoutingHeader,
  kvmMpState,
  kvmMsi,
  kvmPitConfig,
  kvmRegs,
  kvmSregs,
  kvmTranslation,
  kvmUserspaceMemoryRegion,
  kvmVcpuEvents,
} from '../abi/structs.js';
import { KVM_API_VERSION } from '../abi/version.js';
import { Errno, KvmError } from '../api/errors.js';
import type { KvmCpuidEntry2 } from '../api/structs.js';
import type { HostMemory, VcpuKickHandle } from '../api/types.js';
import type { KvmDevice } from '../front/device.js';
import { CPUID_7_EDX_ARCH_CAPABILITIES } from './arch-capabilities.js';
import type { ArchOps } from './arch-ops.js';
import { kvmQueueException } from './exceptions.js';
import { KVM_GUESTDBG_INJECT_BP, KVM_GUESTDBG_INJECT_DB, kvmSetGuestDebug } from './guest-debug.js';
import { HvaSpace } from './hva-space.js';
import { type IcountShift, isIcountShift, kvmIcountShift, kvmSetIcount, kvmVirtualNs } from './icount.js';
import { buildIrqRouting, KVM_MAX_IRQ_ROUTES } from './irqchip/irq-routing.js';
import { KVM_USERSPACE_IRQ_SOURCE_ID, type KvmIrqchip } from './irqchip/irqchip.js';
import { kvmGetMpState, kvmSetMpState } from './irqchip/mp-state.js';
import type { KvmPit } from './irqchip/pit.js';
import { kvmCreateIrqchip } from './irqchip/vcpu-irq.js';
import { KVM_USER_MEM_SLOTS } from './memslots.js';
import { shadowMmuOps } from './mmu-glue.js';
import { EMULATED_MSRS, MSRS_TO_SAVE } from './msrs.js';
import { DEFAULT_RUN_BUDGET, kvmVcpuRun } from './run-loop.js';
import { CPUID_7_2_EDX_BHI_CTRL, CPUID_7_EDX_SPEC_CTRL_ALL, siliconHasBhiCtrl } from './spec-ctrl.js';
import { kvmSetTscClock, SOFT_TSC_KHZ, type TscClockMode } from './tsc-clock.js';
import type { SoftVcpu } from './vcpu.js';
import { kvmGetVcpuEvents, kvmSetVcpuEvents } from './vcpu-events.js';
import { KVM_MAX_VCPU_IDS, KVM_MAX_VCPUS, KVM_SOFT_MAX_VCPUS, SoftVm, type VcpuMmuOps } from './vm.js';
import { skipEmulatedInstruction } from './x86.js';
import { getXcrs, getXsave, guestSupportedXcr0, setXcrs, setXsave } from './xsave.js';

/** KVM_GET_VCPU_MMAP_SIZE: kvm_run page, PIO data page, coalesced-MMIO page (as Linux x86). */
export const SOFT_VCPU_MMAP_SIZE = 3 * 4096;

/** Options for a software engine device. */
export interface SoftKvmOptions {
  /**
   * Instructions one KVM_RUN may execute before it returns EINTR (default 2,000,000); where the
   * host clock drives a VM of one vCPU (`tscClock: 'host'`, no -icount), not before RUN_NS (10 ms)
   * of host time either.
   */
  runBudget?: number;
  /** The MMU glue; default the shadow MMU. `null` only for tests of the ABI layer (no guest runs). */
  mmu?: VcpuMmuOps | null;
  /** Options of the default shadow MMU (e.g. `shadowCache: false` for the 2007 behaviour). */
  mmuOptions?: Partial<MmuOptions>;
  /** Bytes `allocateMemory` may hand out in total. */
  memoryLimit?: number;
  /**
   * `allocateMemory` hands out SharedArrayBuffers (default false: ArrayBuffers), so guest RAM
   * can be shared with another thread without a copy. A TypeError where SharedArrayBuffer does
   * not exist (a page that is not cross-origin isolated).
   */
  sharedMemory?: boolean;
  /**
   * With the in-kernel irqchip, KVM_RUN of a vCPU halted with nothing armed to wake it sleeps
   * until `kick`, as Linux's does until a signal (default false: it returns EINTR at once, for
   * callers that drive several vCPUs from one thread). Needs a shared kick flag.
   */
  haltBlocks?: boolean;
  /**
   * How the guest TSC advances: `'instructions'` (default) one tick per retired instruction, a
   * deterministic clock; `'host'` also carried forward to the host's clock at SOFT_TSC_KHZ
   * (1 GHz), advertised in CPUID 0x15/0x16 with an invariant TSC (`tsc-clock.ts`).
   */
  tscClock?: TscClockMode;
  /**
   * QEMU's `-icount shift=N|auto` (N 0–10): virtual time, 2^N ns per retired instruction; `'auto'`
   * moves N to keep it near real time (`icount.ts`). The TSC is that clock in ns (`tscClock` must
   * be `'instructions'`), CPUID 0x15/0x16 advertise its nominal 1 GHz with an invariant TSC, the
   * in-kernel PIT runs on it, and a halt skips ahead (auto: no further than real time). Default:
   * none.
   */
  icountShift?: IcountShift;
}

/** Capabilities this engine answers in KVM_CHECK_EXTENSION; any other is 0. */
const CAPABILITIES: ReadonlyMap<number, number> = new Map([
  [KVM_CAP.USER_MEMORY, 1],
  [KVM_CAP.SET_TSS_ADDR, 1],
  [KVM_CAP.EXT_CPUID, 1],
  [KVM_CAP.NR_VCPUS, KVM_SOFT_MAX_VCPUS],
  [KVM_CAP.MAX_VCPUS, KVM_MAX_VCPUS],
  [KVM_CAP.MAX_VCPU_ID, KVM_MAX_VCPU_IDS],
  [KVM_CAP.NR_MEMSLOTS, KVM_USER_MEM_SLOTS],
  [KVM_CAP.DESTROY_MEMORY_REGION_WORKS, 1],
  [KVM_CAP.JOIN_MEMORY_REGIONS_WORKS, 1],
  [KVM_CAP.IMMEDIATE_EXIT, 1],
  [KVM_CAP.CHECK_EXTENSION_VM, 1],
  [KVM_CAP.IRQCHIP, 1],
  [KVM_CAP.IRQ_ROUTING, KVM_MAX_IRQ_ROUTES],
  [KVM_CAP.IRQ_INJECT_STATUS, 1],
  [KVM_CAP.SIGNAL_MSI, 1],
  [KVM_CAP.TSC_DEADLINE_TIMER, 1],
  // KVM_SET_GUEST_DEBUG (guest-debug.ts); SET_GUEST_DEBUG2's mask is not offered: USE_HW_BP is not acted on yet.
  [KVM_CAP.SET_GUEST_DEBUG, 1],
  [KVM_CAP.PIT2, 1],
  [KVM_CAP.PIT_STATE2, 1],
  // KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS (xsave.ts).
  [KVM_CAP.XSAVE, 1],
  [KVM_CAP.XCRS, 1],
  // KVM_GET/SET_VCPU_EVENTS (vcpu-events.ts); KVM_NMI.
  [KVM_CAP.VCPU_EVENTS, 1],
  [KVM_CAP.USER_NMI, 1],
  // kvm_run.soft_run_flags (run-loop.ts).
  [KVM_CAP_SOFT.NO_USER_WRITES_HINT, 1],
]);

type FdEntry =
  | { kind: 'system' }
  | { kind: 'vm'; vm: SoftVm; refs: { open: number } }
  | { kind: 'vcpu'; vcpu: SoftVcpu; vmRefs: { open: number } };

type Handler<T> = (self: SoftKvmDevice, entry: T, arg: Uint8Array | number, def: IoctlDef) => number;
type SysEntry = Extract<FdEntry, { kind: 'system' }>;
type VmEntry = Extract<FdEntry, { kind: 'vm' }>;
type VcpuEntry = Extract<FdEntry, { kind: 'vcpu' }>;

/**
 * VM ioctls after which a KVM_RUN may still take userspace's no-user-writes hint (run-loop.ts):
 * those a VMM makes between runs that change no guest code, registers or debugging.
 */
const VM_IOCTLS_KEEPING_CODE: ReadonlySet<string> = new Set([
  'KVM_IRQ_LINE',
  'KVM_IRQ_LINE_STATUS',
  'KVM_SIGNAL_MSI',
  'KVM_CHECK_EXTENSION',
]);

/** The errno for a request the fd's kind does not serve, as each Linux handler's default case. */
const UNKNOWN_IOCTL_ERRNO: Record<IoctlScope, number> = {
  system: Errno.EINVAL,
  vm: Errno.ENOTTY,
  vcpu: Errno.EINVAL,
};

function ptr(def: IoctlDef, arg: Uint8Array | number): Uint8Array {
  if (!(arg instanceof Uint8Array)) throw new KvmError(def.name, Errno.EFAULT, 'argument is not a buffer');
  if (def.arg !== null && arg.byteLength < def.arg.size) {
    throw new KvmError(
      def.name,
      Errno.EFAULT,
      `buffer of ${arg.byteLength} bytes, ${def.arg.c} needs ${def.arg.size}`,
    );
  }
  return arg;
}

function num(arg: Uint8Array | number): number {
  return typeof arg === 'number' ? arg : 0;
}

// ---- system fd ---------------------------------------------------------------------------

const systemIoctls: (Handler<SysEntry> | undefined)[] = new Array(256);
systemIoctls[0x00] = () => KVM_API_VERSION;
systemIoctls[0x01] = (self, _e, arg) => self.createVm(num(arg));
systemIoctls[0x02] = (self, _e, arg, def) => {
  const b = ptr(def, arg);
  const list = self.msrIndexList;
  const room = kvmMsrList.count(b);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(0, list.length, true);
  if (room < list.length) throw new KvmError(def.name, Errno.E2BIG, `${list.length} MSRs, room for ${room}`);
  if (b.byteLength < kvmMsrList.sizeFor(list.length))
    throw new KvmError(def.name, Errno.EFAULT, 'short buffer');
  for (let i = 0; i < list.length; i++) dv.setUint32(4 + 4 * i, list[i], true);
  return 0;
};
systemIoctls[0x03] = (_self, _e, arg) => CAPABILITIES.get(num(arg)) ?? 0;
systemIoctls[0x04] = () => SOFT_VCPU_MMAP_SIZE;
systemIoctls[0x05] = (self, _e, arg, def) => writeCpuid(def.name, ptr(def, arg), self.supportedCpuid);
systemIoctls[0x09] = (_self, _e, arg, def) => writeCpuid(def.name, ptr(def, arg), []);
systemIoctls[0x0a] = (_self, _e, arg, def) => {
  const b = ptr(def, arg);
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(0, 0, true);
  return 0;
};

function writeCpuid(op: string, b: Uint8Array, entries: readonly KvmCpuidEntry2[]): number {
  const room = kvmCpuid2.count(b);
  if (room < entries.length)
    throw new KvmError(op, Errno.E2BIG, `${entries.length} entries, room for ${room}`);
  const image = kvmCpuid2.encode(entries);
  if (b.byteLength < image.byteLength) throw new KvmError(op, Errno.EFAULT, 'short buffer');
  b.set(image);
  return 0;
}

// ---- VM fd -------------------------------------------------------------------------------

const vmIoctls: (Handler<VmEntry> | undefined)[] = new Array(256);
vmIoctls[0x03] = (_self, _e, arg) => CAPABILITIES.get(num(arg)) ?? 0;
vmIoctls[0x41] = (self, e, arg) => self.createVcpu(e, num(arg));
vmIoctls[0x46] = (_self, e, arg, def) => {
  e.vm.setUserMemoryRegion(kvmUserspaceMemoryRegion.decode(ptr(def, arg)));
  return 0;
};
vmIoctls[0x47] = (_self, e, arg) => {
  e.vm.tssAddr = num(arg);
  return 0;
};
vmIoctls[0x48] = (_self, _e, arg, def) => {
  ptr(def, arg);
  return 0;
};
// KVM_CREATE_IRQCHIP: once per VM (EEXIST), and before any vCPU (EINVAL), as Linux.
vmIoctls[0x60] = (self, e, _a, def) => {
  if (e.vm.irqchip !== null) throw new KvmError(def.name, Errno.EEXIST, 'the VM has an irqchip');
  if (e.vm.vcpus.size > 0) throw new KvmError(def.name, Errno.EINVAL, 'the VM already has vCPUs');
  const chip = kvmCreateIrqchip();
  chip.haltBlocks = self.haltBlocks;
  e.vm.irqchip = chip;
  return 0;
};
/** The VM's irqchip, or KvmError(`errno`) as each ioctl answers without one. */
function irqchipOf(e: VmEntry, def: IoctlDef, errno: number): KvmIrqchip {
  if (e.vm.irqchip === null) throw new KvmError(def.name, errno, 'no in-kernel irqchip (KVM_CREATE_IRQCHIP)');
  return e.vm.irqchip;
}
// KVM_IRQ_LINE(_STATUS): kvm_set_irq's answer goes back in `status` for the _STATUS form.
vmIoctls[0x61] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const l = kvmIrqLevel.decode(b);
  const status = irqchipOf(e, def, Errno.ENXIO).setIrq(KVM_USERSPACE_IRQ_SOURCE_ID, l.irq, l.level);
  if (def.nr === 0x67) new DataView(b.buffer, b.byteOffset, b.byteLength).setInt32(0, status, true);
  return 0;
};
vmIoctls[0x67] = vmIoctls[0x61];
/** KVM_GET/SET_IRQCHIP's chip ids: PIC master, PIC slave, I/O APIC. */
const KVM_IRQCHIP_IOAPIC = 2;
vmIoctls[0x62] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const chip = irqchipOf(e, def, Errno.ENXIO);
  const id = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  // Only the chip's own struct is written; the rest of the union is what userspace passed in.
  if (id < KVM_IRQCHIP_IOAPIC) chip.pic.saveChip(id, b, 8);
  else if (id === KVM_IRQCHIP_IOAPIC) chip.ioapic.save(b, 8);
  else throw new KvmError(def.name, Errno.EINVAL, `chip_id ${id}`);
  return 0;
};
vmIoctls[0x63] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const chip = irqchipOf(e, def, Errno.ENXIO);
  const id = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  if (id < KVM_IRQCHIP_IOAPIC) chip.pic.loadChip(id, b, 8);
  else if (id === KVM_IRQCHIP_IOAPIC) chip.ioapic.load(b, 8);
  else throw new KvmError(def.name, Errno.EINVAL, `chip_id ${id}`);
  return 0;
};
// KVM_SET_GSI_ROUTING: header checks, then the entries (EFAULT if not there), then kvm_set_irq_routing.
vmIoctls[0x6a] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const h = kvmIrqRoutingHeader.decode(b);
  const chip = irqchipOf(e, def, Errno.EINVAL);
  if (h.nr > KVM_MAX_IRQ_ROUTES) throw new KvmError(def.name, Errno.EINVAL, `nr ${h.nr}`);
  if (h.flags !== 0) throw new KvmError(def.name, Errno.EINVAL, `flags ${h.flags}`);
  const table = buildIrqRouting(kvmIrqRouting.decode(b, h.nr));
  if (typeof table === 'string') throw new KvmError(def.name, Errno.EINVAL, table);
  chip.routing = table;
  return 0;
};
/** `KVM_MSI_VALID_DEVID`, the one flag KVM_SIGNAL_MSI accepts (x86 ignores the devid). */
const KVM_MSI_VALID_DEVID = 1;
// KVM_SIGNAL_MSI: returns how many vCPUs took it; "no destination" is -1 from the ioctl: EPERM.
vmIoctls[0xa5] = (_s, e, arg, def) => {
  const m = kvmMsi.decode(ptr(def, arg));
  const chip = irqchipOf(e, def, Errno.EINVAL);
  if (m.flags & ~KVM_MSI_VALID_DEVID) throw new KvmError(def.name, Errno.EINVAL, `flags ${m.flags}`);
  const r = chip.deliverMsi(m.addressLo, m.data);
  if (r < 0) throw new KvmError(def.name, Errno.EPERM, 'no local APIC is a destination');
  return r;
};
// KVM_CREATE_PIT2: the config is read first (EFAULT), then EEXIST, then ENOENT without the PIC.
vmIoctls[0x77] = (_s, e, arg, def) => {
  const config = kvmPitConfig.decode(ptr(def, arg));
  if (e.vm.irqchip?.pit) throw new KvmError(def.name, Errno.EEXIST, 'the VM has a PIT');
  // An icount VM's PIT runs on its virtual clock (the TSC, in ns), not the host's.
  const vm = e.vm;
  irqchipOf(e, def, Errno.ENOENT).createPit(
    kvmIcountShift(vm) >= 0 ? () => kvmVirtualNs(vm) : undefined,
    (config.flags & KVM_PIT_SPEAKER_DUMMY) !== 0,
  );
  return 0;
};
function pitOf(e: VmEntry, def: IoctlDef): KvmPit {
  const pit = e.vm.irqchip?.pit;
  if (!pit) throw new KvmError(def.name, Errno.ENXIO, 'no in-kernel PIT (KVM_CREATE_PIT2)');
  return pit;
}
// KVM_GET_PIT2: ENXIO before the buffer is looked at; KVM_SET_PIT2 copies it in first (EFAULT).
vmIoctls[0x9f] = (_s, e, arg, def) => {
  const pit = pitOf(e, def);
  pit.save(ptr(def, arg), 0);
  return 0;
};
vmIoctls[0xa0] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  pitOf(e, def).load(b, 0);
  return 0;
};

// ---- vCPU fd -----------------------------------------------------------------------------

const vcpuIoctls: (Handler<VcpuEntry> | undefined)[] = new Array(256);
vcpuIoctls[0x80] = (self, e) => kvmVcpuRun(e.vcpu, self.runBudget);
vcpuIoctls[0x81] = (_s, e, arg, def) => {
  kvmRegs.encodeInto(e.vcpu.getRegs(), ptr(def, arg));
  return 0;
};
vcpuIoctls[0x82] = (_s, e, arg, def) => {
  e.vcpu.setRegs(kvmRegs.decode(ptr(def, arg)));
  return 0;
};
vcpuIoctls[0x83] = (_s, e, arg, def) => {
  kvmSregs.encodeInto(e.vcpu.getSregs(), ptr(def, arg));
  return 0;
};
vcpuIoctls[0x84] = (_s, e, arg, def) => {
  e.vcpu.setSregs(kvmSregs.decode(ptr(def, arg)));
  return 0;
};
vcpuIoctls[0x85] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const t = kvmTranslation.decode(b);
  const gpa = e.vcpu.translate(t.linearAddress);
  // As kvm_arch_vcpu_ioctl_translate: writeable 1, usermode 0, whatever the ptes say.
  kvmTranslation.encodeInto(
    {
      linearAddress: t.linearAddress,
      physicalAddress: gpa < 0 ? 0xffffffffffffffffn : BigInt(gpa),
      valid: gpa < 0 ? 0 : 1,
      writeable: 1,
      usermode: 0,
    },
    b,
  );
  return 0;
};
vcpuIoctls[0x86] = (_s, e, arg, def) => {
  e.vcpu.interrupt(kvmInterrupt.decode(ptr(def, arg)).irq);
  return 0;
};
vcpuIoctls[0x88] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const entries = kvmMsrs.decode(b);
  const n = e.vcpu.getMsrs(entries);
  const image = kvmMsrs.encode(entries.slice(0, n));
  b.set(image.subarray(8), 8);
  return n;
};
vcpuIoctls[0x89] = (_s, e, arg, def) => e.vcpu.setMsrs(kvmMsrs.decode(ptr(def, arg)));
vcpuIoctls[0x8b] = (_s, _e, arg, def) => {
  if (arg === 0) return 0;
  const b = ptr(def, arg);
  // The kernel's sigset_t is 8 bytes on x86-64.
  if (new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true) !== 8) {
    throw new KvmError(def.name, Errno.EINVAL, 'sigset length must be 8');
  }
  return 0;
};
vcpuIoctls[0x8c] = (_s, e, arg, def) => {
  kvmFpu.encodeInto(e.vcpu.fpu.toKvm(), ptr(def, arg));
  return 0;
};
vcpuIoctls[0x8d] = (_s, e, arg, def) => {
  e.vcpu.fpu.fromKvm(kvmFpu.decode(ptr(def, arg)));
  return 0;
};
// KVM_GET/SET_LAPIC: EINVAL without an in-kernel APIC, before the buffer is looked at.
vcpuIoctls[0x8e] = (_s, e, arg, def) => {
  const apic = e.vcpu.apic;
  if (apic === null) throw new KvmError(def.name, Errno.EINVAL, 'no in-kernel local APIC');
  apic.getState(ptr(def, arg));
  return 0;
};
vcpuIoctls[0x8f] = (_s, e, arg, def) => {
  const apic = e.vcpu.apic;
  if (apic === null) throw new KvmError(def.name, Errno.EINVAL, 'no in-kernel local APIC');
  apic.setState(ptr(def, arg));
  return 0;
};
vcpuIoctls[0x90] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const n = kvmCpuid2.count(b);
  // KVM_MAX_CPUID_ENTRIES
  if (n > 256) throw new KvmError(def.name, Errno.E2BIG, `${n} entries`);
  e.vcpu.setCpuid2(kvmCpuid2.decode(b));
  return 0;
};
vcpuIoctls[0x91] = (_s, e, arg, def) => {
  const b = ptr(def, arg);
  const entries = e.vcpu.cpuidEntries;
  const room = kvmCpuid2.count(b);
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(0, entries.length, true);
  if (room < entries.length) throw new KvmError(def.name, Errno.E2BIG, `${entries.length} entries`);
  b.set(kvmCpuid2.encode(entries).subarray(kvmCpuid2Header.size), kvmCpuid2Header.size);
  return 0;
};
vcpuIoctls[0x98] = (_s, e, arg, def) => {
  kvmMpState.encodeInto({ mpState: kvmGetMpState(e.vcpu) }, ptr(def, arg));
  return 0;
};
vcpuIoctls[0x99] = (_s, e, arg, def) => {
  kvmSetMpState(e.vcpu, kvmMpState.decode(ptr(def, arg)).mpState);
  return 0;
};
vcpuIoctls[0x9a] = (_s, e, _a, def) => {
  if (e.vcpu.ops.injectNmi === undefined)
    throw new KvmError(def.name, Errno.EINVAL, 'this backend cannot inject NMIs');
  e.vcpu.nmiQueued = true;
  return 0;
};
vcpuIoctls[0x9f] = (_s, e, arg, def) => {
  kvmVcpuEvents.encodeInto(kvmGetVcpuEvents(e.vcpu), ptr(def, arg));
  return 0;
};
vcpuIoctls[0xa0] = (_s, e, arg, def) => {
  kvmSetVcpuEvents(e.vcpu, kvmVcpuEvents.decode(ptr(def, arg)));
  return 0;
};
vcpuIoctls[0x9b] = (_s, e, arg, def) => {
  const d = kvmGuestDebug.decode(ptr(def, arg));
  const v = e.vcpu;
  // kvm_arch_vcpu_ioctl_set_guest_debug: INJECT_DB/BP while an exception is pending is EBUSY.
  if (
    d.control & (KVM_GUESTDBG_INJECT_DB | KVM_GUESTDBG_INJECT_BP) &&
    (v.ops.pendingException?.(v) ?? -1) >= 0
  )
    throw new KvmError(def.name, Errno.EBUSY, 'an exception is pending');
  const inject = kvmSetGuestDebug(v, d);
  // KVM queues #BP as a soft exception of the length the #BP exit recorded (vmx_inject_exception's
  // event_exit_inst_len; svm: next_rip), so the guest's handler sees the IP after its INT3, as
  // with no debugger. The backends inject hard exceptions: step over the 1-byte INT3 first.
  if (inject === 3) skipEmulatedInstruction(v, 1);
  if (inject >= 0) kvmQueueException(v, inject, 0, false);
  return 0;
};
// KVM_GET_XSAVE / KVM_SET_XSAVE (xsave.ts): the x87/SSE state as a non-compacted XSAVE image.
vcpuIoctls[0xa4] = (_s, e, arg, def) => {
  getXsave(e.vcpu.fpu, ptr(def, arg));
  return 0;
};
vcpuIoctls[0xa5] = (_s, e, arg, def) => {
  setXsave(e.vcpu.fpu, ptr(def, arg), def.name);
  return 0;
};
vcpuIoctls[0xa6] = (_s, e, arg, def) => {
  getXcrs(e.vcpu.fpu, ptr(def, arg));
  return 0;
};
// KVM_SET_XCRS: XCR0 checked against the guest's CPUID.(0DH,0) (`cpuid_get_supported_xcr0`).
vcpuIoctls[0xa7] = (_s, e, arg, def) => {
  setXcrs(e.vcpu.fpu, ptr(def, arg), guestSupportedXcr0(e.vcpu), def.name);
  return 0;
};

export class SoftKvmDevice implements KvmDevice {
  readonly engine: string;
  readonly runBudget: number;
  readonly haltBlocks: boolean;
  readonly tscClock: TscClockMode;
  /** `icountShift`, or -1 without -icount. */
  readonly icountShift: IcountShift | -1;
  /** KVM_GET_MSR_INDEX_LIST: the candidates the silicon implements, fixed at set-up. */
  readonly msrIndexList: readonly number[];
  /** KVM_GET_SUPPORTED_CPUID */
  readonly supportedCpuid: readonly KvmCpuidEntry2[];
  private readonly fds = new Map<number, FdEntry>();
  private nextFd = 3;
  private readonly hva: HvaSpace;
  private readonly mmu: VcpuMmuOps | null;

  /**
   * Accepts `ops` only if its silicon is usable (`hardwareSetup`); otherwise throws
   * KvmError(EOPNOTSUPP) with the backend's reason, and nothing is left behind (changelog: a
   * wrong arch module must not leave kvm_arch_ops set).
   */
  constructor(
    readonly ops: ArchOps,
    options: SoftKvmOptions = {},
  ) {
    const check = ops.hardwareSetup();
    if (!check.ok) throw new KvmError(`kvm-${ops.name}`, Errno.EOPNOTSUPP, check.reason);
    this.engine = ops.name;
    this.runBudget = options.runBudget ?? DEFAULT_RUN_BUDGET;
    this.haltBlocks = options.haltBlocks ?? false;
    this.tscClock = options.tscClock ?? 'instructions';
    const shift = options.icountShift;
    if (shift !== undefined && !isIcountShift(shift))
      throw new RangeError(`icountShift must be an integer from 0 to 10 or 'auto', not ${shift}`);
    if (shift !== undefined && this.tscClock !== 'instructions')
      throw new RangeError("icountShift needs tscClock: 'instructions' (the TSC is the virtual clock)");
    this.icountShift = shift ?? -1;
    this.mmu = options.mmu === undefined ? shadowMmuOps(options.mmuOptions) : options.mmu;
    if (options.sharedMemory === true && typeof SharedArrayBuffer !== 'function')
      throw new TypeError(
        'sharedMemory needs SharedArrayBuffer (in a browser: a cross-origin isolated page)',
      );
    // RAM for the VMM comes from the silicon's wasm arena first, if it has one (HostPhysicalMemory)
    // that fits: with `sharedMemory`, a shared one (the silicon's `sharedArena`).
    const shared = options.sharedMemory === true;
    const arenaFits = !shared || ops.memory.arenaBytes?.buffer instanceof SharedArrayBuffer;
    this.hva = new HvaSpace(options.memoryLimit, shared, arenaFits ? ops.memory : null);
    this.msrIndexList = [...MSRS_TO_SAVE.filter((i) => ops.hasMsr(i)), ...EMULATED_MSRS];
    this.supportedCpuid = supportedCpuid(
      ops,
      this.tscClock === 'host' || this.icountShift !== -1 ? SOFT_TSC_KHZ : 0,
    );
  }

  open(): number {
    return this.newFd({ kind: 'system' });
  }

  ioctl(fd: number, request: number, arg: Uint8Array | number): number {
    const entry = this.fds.get(fd);
    if (entry === undefined) throw new KvmError(`ioctl on fd ${fd}`, Errno.EBADF);
    const def = lookupIoctl(request);
    const scope = entry.kind;
    if (def === undefined || !def.scopes.includes(scope)) {
      throw new KvmError(def?.name ?? `ioctl 0x${(request >>> 0).toString(16)}`, UNKNOWN_IOCTL_ERRNO[scope]);
    }
    const nr = def.nr;
    switch (entry.kind) {
      case 'system': {
        const h = systemIoctls[nr];
        if (h === undefined) throw new KvmError(def.name, UNKNOWN_IOCTL_ERRNO.system);
        return h(this, entry, arg, def);
      }
      case 'vm': {
        const h = vmIoctls[nr];
        if (h === undefined) throw new KvmError(def.name, UNKNOWN_IOCTL_ERRNO.vm);
        // Any but a device's interrupt and KVM_CHECK_EXTENSION: every vCPU's next KVM_RUN checks
        // the code (SoftVcpu.userIoctls).
        if (!VM_IOCTLS_KEEPING_CODE.has(def.name))
          for (const v of entry.vm.vcpus.values()) v.userIoctls = true;
        return h(this, entry, arg, def);
      }
      case 'vcpu': {
        const h = vcpuIoctls[nr];
        if (h === undefined) throw new KvmError(def.name, UNKNOWN_IOCTL_ERRNO.vcpu);
        // Any but KVM_RUN and KVM_INTERRUPT: the next KVM_RUN checks the code (SoftVcpu.userIoctls).
        if (def.name !== 'KVM_RUN' && def.name !== 'KVM_INTERRUPT') entry.vcpu.userIoctls = true;
        return h(this, entry, arg, def);
      }
    }
  }

  close(fd: number): void {
    const e = this.fds.get(fd);
    if (e === undefined) throw new KvmError(`close fd ${fd}`, Errno.EBADF);
    this.fds.delete(fd);
    if (e.kind === 'vm') this.release(e.vm, e.refs);
    else if (e.kind === 'vcpu') {
      e.vcpu.vm.destroyVcpu(e.vcpu);
      this.release(e.vcpu.vm, e.vmRefs);
    }
  }

  mmapRun(vcpuFd: number, size: number): ArrayBufferLike {
    const e = this.fds.get(vcpuFd);
    if (e === undefined) throw new KvmError('mmap', Errno.EBADF);
    if (e.kind !== 'vcpu') throw new KvmError('mmap', Errno.ENODEV, 'only a vCPU fd maps kvm_run');
    if (size > SOFT_VCPU_MMAP_SIZE || size < KVM_RUN_STRUCT_SIZE)
      throw new KvmError('mmap', Errno.EINVAL, `size ${size}`);
    return e.vcpu.runBuffer;
  }

  allocateMemory(size: number): HostMemory {
    const m = this.hva.allocate(size);
    return m.byteOffset === undefined
      ? { userspaceAddr: m.userspaceAddr, size: m.size, buffer: m.buffer }
      : { userspaceAddr: m.userspaceAddr, size: m.size, buffer: m.buffer, byteOffset: m.byteOffset };
  }

  kickHandle(vcpuFd: number): VcpuKickHandle {
    const e = this.fds.get(vcpuFd);
    if (e === undefined || e.kind !== 'vcpu') throw new KvmError('kickHandle', Errno.EBADF);
    return { engine: this.engine, flag: e.vcpu.kickFlag };
  }

  kick(handle: VcpuKickHandle): void {
    const flag = handle.flag;
    if (flag instanceof Int32Array) {
      Atomics.store(flag, 0, 1);
      // Wakes a KVM_RUN sleeping in a halt (`haltBlocks`); a no-op on an unshared flag.
      if (flag.buffer instanceof SharedArrayBuffer) Atomics.notify(flag, 0);
    }
  }

  getStats(vmFd: number): Record<string, number> {
    const e = this.fds.get(vmFd);
    if (e === undefined || e.kind !== 'vm') throw new KvmError('getStats', Errno.EBADF);
    return e.vm.getStats();
  }

  /** KVM_CREATE_VM: type 0 only (EINVAL otherwise, as x86 Linux without other VM types). */
  createVm(type: number): number {
    if (type !== 0) throw new KvmError('KVM_CREATE_VM', Errno.EINVAL, `type ${type}`);
    const vm = new SoftVm(this.ops, this.hva, SOFT_VCPU_MMAP_SIZE, this.mmu);
    kvmSetTscClock(vm, this.tscClock);
    if (this.icountShift !== -1) kvmSetIcount(vm, this.icountShift);
    return this.newFd({ kind: 'vm', vm, refs: { open: 1 } });
  }

  /** KVM_CREATE_VCPU on VM fd entry `e`; returns the new vCPU fd. */
  createVcpu(e: VmEntry, id: number): number {
    const vcpu = e.vm.createVcpu(id);
    e.refs.open++;
    return this.newFd({ kind: 'vcpu', vcpu, vmRefs: e.refs });
  }

  private release(vm: SoftVm, refs: { open: number }): void {
    if (--refs.open === 0) vm.close();
  }

  private newFd(e: FdEntry): number {
    const fd = this.nextFd++;
    this.fds.set(fd, e);
    return fd;
  }
}

/** CPUID bits KVM never passes to a guest: VMX (leaf 1 ECX bit 5), SVM (0x80000001 ECX bit 2). */
const CPUID_1_ECX_VMX = 1 << 5;
const CPUID_80000001_ECX_SVM = 1 << 2;
/** CPUID.1:ECX bit 31: "running on a hypervisor", which KVM sets. */
const CPUID_1_ECX_HYPERVISOR = 1 << 31;

/**
 * What KVM emulates whatever the host has (`kvm_set_cpu_caps`): the local APIC (CPUID.1:EDX[9]),
 * x2APIC (ECX[21]) and the TSC-deadline timer (ECX[24]), all served by the in-kernel irqchip.
 */
const CPUID_1_EDX_APIC = 1 << 9;
const CPUID_1_ECX_KVM_EMULATED = (1 << 21) | (1 << 24);

/** kvm_cpuid_entry2.flags bit 0: the entry applies to its `index` (sub-leaf) only. */
const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

/** KVM's signature leaf ("KVMKVMKVM\0\0\0" in EBX, ECX, EDX; EAX the features leaf) and features leaf. */
const KVM_CPUID_SIGNATURE = 0x40000000;
const KVM_CPUID_FEATURES = 0x40000001;
/** KVM_FEATURE_NOP_IO_DELAY: port I/O needs no delay (a hint the guest acts on alone). */
const KVM_FEATURE_NOP_IO_DELAY = 1 << 1;

/** CPUID.80000007H:EDX bit 8: the TSC runs at a constant rate (invariant TSC). */
const CPUID_80000007_EDX_INVARIANT_TSC = 1 << 8;

/**
 * KVM_GET_SUPPORTED_CPUID from the silicon's own CPUID, virtualization bits masked; with the TSC
 * on the host clock, its nominal rate too: leaf 0x15 (TSC = crystal × EBX / EAX, the crystal 1 GHz
 * here) and 0x16 (base, maximum and bus MHz; the bus is KVM's 1 GHz APIC bus), and the invariant
 * TSC bit (SDM Vol. 2A CPUID; Vol. 3B 18.7.3 "Determining the Processor Base Frequency").
 */
function supportedCpuid(ops: ArchOps, tscKhz: number): KvmCpuidEntry2[] {
  // A nominal TSC rate to advertise: 1 GHz on the host clock or -icount's (the TSC counts ns); 0 for none.
  const hostTsc = tscKhz > 0;
  const out = new Uint32Array(4);
  const leaf = (fn: number): KvmCpuidEntry2 => {
    ops.cpu.cpuid(fn, 0, out);
    return { function: fn, index: 0, flags: 0, eax: out[0], ebx: out[1], ecx: out[2], edx: out[3] };
  };
  const entries: KvmCpuidEntry2[] = [];
  const l0 = leaf(0);
  for (let fn = 0; fn <= Math.min(l0.eax, 0x1f); fn++) {
    const e = leaf(fn);
    // KVM emulates IA32_ARCH_CAPABILITIES in software, so it is always offered (kvm_set_cpu_caps),
    // and the speculation controls, which x86emu has nothing to do for (spec-ctrl.ts).
    if (fn === 7) {
      e.edx = (e.edx | CPUID_7_EDX_ARCH_CAPABILITIES | CPUID_7_EDX_SPEC_CTRL_ALL) >>> 0;
      // Leaf 7 is indexed, sub-leaves 0 to 2 as KVM lists them (`__do_cpuid_func`: EAX, the
      // highest sub-leaf, at most 2): 1 holds nothing x86emu has, 2 an Intel model's BHI
      // control (spec-ctrl.ts), which x86emu honours whatever its CPUID lists.
      const bhiCtrl = siliconHasBhiCtrl((l, sub, o) => ops.cpu.cpuid(l, sub, o)) ? CPUID_7_2_EDX_BHI_CTRL : 0;
      e.eax = Math.max(e.eax, 2);
      e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
      entries.push(e);
      for (const index of [1, 2]) {
        ops.cpu.cpuid(7, index, out);
        const edx = index === 2 ? out[3] | bhiCtrl : out[3];
        entries.push({
          function: 7,
          index,
          flags: e.flags,
          eax: 0,
          ebx: out[1],
          ecx: out[2],
          edx: edx >>> 0,
        });
      }
      continue;
    }
    if (fn === 1) {
      e.ecx = ((e.ecx & ~CPUID_1_ECX_VMX) | CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_KVM_EMULATED) >>> 0;
      e.edx = (e.edx | CPUID_1_EDX_APIC) >>> 0;
    }
    if (fn === 0xd) {
      // The XSAVE leaf is indexed (KVM_CPUID_FLAG_SIGNIFCANT_INDEX): sub-leaf 0 (XCR0's bits and
      // the area's size) and sub-leaf 1 (XSAVEOPT …), as KVM lists them.
      e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
      entries.push(e);
      ops.cpu.cpuid(0xd, 1, out);
      entries.push({
        function: 0xd,
        index: 1,
        flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
        eax: out[0],
        ebx: out[1],
        ecx: out[2],
        edx: out[3],
      });
      continue;
    }
    entries.push(e);
  }
  if (hostTsc) {
    const mhz = Math.max(1, Math.floor(tscKhz / 1000));
    const timing = (fn: number, eax: number, ebx: number, ecx: number): KvmCpuidEntry2 => ({
      function: fn,
      index: 0,
      flags: 0,
      eax,
      ebx,
      ecx,
      edx: 0,
    });
    for (const e of [timing(0x15, 1, 1, Math.round(tscKhz * 1000)), timing(0x16, mhz, mhz, 1000)]) {
      const i = entries.findIndex((x) => x.function === e.function);
      if (i >= 0) entries[i] = e;
      else entries.push(e);
    }
    entries[0].eax = Math.max(entries[0].eax, 0x16);
    entries.sort((a, b) => a.function - b.function);
  }
  // KVM's paravirtual leaves (KVM_CPUID_SIGNATURE, KVM_CPUID_FEATURES; Documentation/virt/kvm/x86/
  // cpuid.rst): the signature, and of the features only what needs nothing from the host.
  entries.push(
    {
      function: KVM_CPUID_SIGNATURE,
      index: 0,
      flags: 0,
      eax: KVM_CPUID_FEATURES,
      ebx: 0x4b4d564b,
      ecx: 0x564b4d56,
      edx: 0x4d,
    },
    {
      function: KVM_CPUID_FEATURES,
      index: 0,
      flags: 0,
      eax: KVM_FEATURE_NOP_IO_DELAY,
      ebx: 0,
      ecx: 0,
      edx: 0,
    },
  );
  const x0 = leaf(0x80000000);
  for (let fn = 0x80000000; fn <= Math.min(x0.eax >>> 0, 0x80000008); fn++) {
    const e = leaf(fn);
    if (fn === 0x80000001) e.ecx = (e.ecx & ~CPUID_80000001_ECX_SVM) >>> 0;
    if (fn === 0x80000007 && hostTsc) e.edx = (e.edx | CPUID_80000007_EDX_INVARIANT_TSC) >>> 0;
    entries.push(e);
  }
  return entries;
}
