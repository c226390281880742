/**
 * The KVM ioctls, written once as data: name, direction, number, argument type and the file
 * descriptors they are issued on. Request numbers are derived the way `<linux/kvm.h>` derives
 * them (`_IO`/`_IOR`/`_IOW`/`_IOWR` with KVMIO and `sizeof` the argument, taken from the
 * codecs), and the layout test checks each one against the machine's header.
 *
 * An engine matches the whole request with `lookupIoctl` (numbers repeat: 0xa5 is KVM_SET_XSAVE
 * on a vCPU fd and KVM_SIGNAL_MSI on a VM fd), then dispatches by `_IOC_NR` in the table of that
 * kind of fd, where each number is used once.
 */
import { kvmCpuid2, kvmIrqRouting, kvmMsrList, kvmMsrs } from './flex.js';
import { _IOC, _IOC_SIZE, IOC_NONE, IOC_READ, IOC_WRITE, KVMIO } from './ioctl-encoding.js';
import {
  kvmCpuid2Header,
  kvmFpu,
  kvmGuestDebug,
  kvmInterrupt,
  kvmIrqchip,
  kvmIrqLevel,
  kvmIrqRoutingHeader,
  kvmLapicState,
  kvmMpState,
  kvmMsi,
  kvmMsrListHeader,
  kvmMsrsHeader,
  kvmPitConfig,
  kvmPitState2,
  kvmRegs,
  kvmSignalMaskHeader,
  kvmSregs,
  kvmTranslation,
  kvmUserspaceMemoryRegion,
  kvmVcpuEvents,
  kvmXcrs,
  kvmXsave,
} from './structs.js';

/** Which kind of file descriptor an ioctl is issued on. */
export type IoctlScope = 'system' | 'vm' | 'vcpu';

/** `_IO`, `_IOR`, `_IOW`, `_IOWR`. */
export type IoctlDir = 'IO' | 'IOR' | 'IOW' | 'IOWR';

/** The argument type as C names it (for `sizeof` in the layout test) and its size. */
export interface IoctlArg {
  readonly c: string;
  readonly size: number;
}

export interface IoctlDef {
  /** `'KVM_RUN'` */
  readonly name: KvmIoctlName;
  readonly dir: IoctlDir;
  /** The command number, `_IOC_NR`. */
  readonly nr: number;
  /** The pointed-to argument; `null` for `_IO` ioctls (no argument, or an integer by value). */
  readonly arg: IoctlArg | null;
  /** The file descriptors it is valid on. */
  readonly scopes: readonly IoctlScope[];
  /** The request number, derived: `_IOC(dir, KVMIO, nr, arg.size)`. */
  readonly request: number;
}

const DIR_BITS: Record<IoctlDir, number> = {
  IO: IOC_NONE,
  IOR: IOC_READ,
  IOW: IOC_WRITE,
  IOWR: IOC_READ | IOC_WRITE,
};

const struct = (codec: { size: number; layout: { c: string } }): IoctlArg => ({
  c: `struct ${codec.layout.c}`,
  size: codec.size,
});
const U64_ARG: IoctlArg = { c: '__u64', size: 8 };

type Row = readonly [
  name: string,
  dir: IoctlDir,
  nr: number,
  arg: IoctlArg | null,
  scopes: readonly IoctlScope[],
];

const SYS: readonly IoctlScope[] = ['system'];
const VM: readonly IoctlScope[] = ['vm'];
const VCPU: readonly IoctlScope[] = ['vcpu'];

// The table. Order and numbers as in <linux/kvm.h>.
const ROWS = [
  ['KVM_GET_API_VERSION', 'IO', 0x00, null, SYS],
  ['KVM_CREATE_VM', 'IO', 0x01, null, SYS],
  ['KVM_GET_MSR_INDEX_LIST', 'IOWR', 0x02, struct(kvmMsrListHeader), SYS],
  // On a VM fd too with KVM_CAP_CHECK_EXTENSION_VM.
  ['KVM_CHECK_EXTENSION', 'IO', 0x03, null, ['system', 'vm']],
  ['KVM_GET_VCPU_MMAP_SIZE', 'IO', 0x04, null, SYS],
  ['KVM_GET_SUPPORTED_CPUID', 'IOWR', 0x05, struct(kvmCpuid2Header), SYS],
  ['KVM_GET_EMULATED_CPUID', 'IOWR', 0x09, struct(kvmCpuid2Header), SYS],
  ['KVM_GET_MSR_FEATURE_INDEX_LIST', 'IOWR', 0x0a, struct(kvmMsrListHeader), SYS],
  ['KVM_CREATE_VCPU', 'IO', 0x41, null, VM],
  ['KVM_SET_USER_MEMORY_REGION', 'IOW', 0x46, struct(kvmUserspaceMemoryRegion), VM],
  ['KVM_SET_TSS_ADDR', 'IO', 0x47, null, VM],
  ['KVM_SET_IDENTITY_MAP_ADDR', 'IOW', 0x48, U64_ARG, VM],
  ['KVM_CREATE_IRQCHIP', 'IO', 0x60, null, VM],
  ['KVM_IRQ_LINE', 'IOW', 0x61, struct(kvmIrqLevel), VM],
  ['KVM_GET_IRQCHIP', 'IOWR', 0x62, struct(kvmIrqchip), VM],
  // _IOR although userspace writes: the header has it so.
  ['KVM_SET_IRQCHIP', 'IOR', 0x63, struct(kvmIrqchip), VM],
  ['KVM_IRQ_LINE_STATUS', 'IOWR', 0x67, struct(kvmIrqLevel), VM],
  ['KVM_SET_GSI_ROUTING', 'IOW', 0x6a, struct(kvmIrqRoutingHeader), VM],
  ['KVM_CREATE_PIT2', 'IOW', 0x77, struct(kvmPitConfig), VM],
  ['KVM_RUN', 'IO', 0x80, null, VCPU],
  ['KVM_GET_REGS', 'IOR', 0x81, struct(kvmRegs), VCPU],
  ['KVM_SET_REGS', 'IOW', 0x82, struct(kvmRegs), VCPU],
  ['KVM_GET_SREGS', 'IOR', 0x83, struct(kvmSregs), VCPU],
  ['KVM_SET_SREGS', 'IOW', 0x84, struct(kvmSregs), VCPU],
  ['KVM_TRANSLATE', 'IOWR', 0x85, struct(kvmTranslation), VCPU],
  ['KVM_INTERRUPT', 'IOW', 0x86, struct(kvmInterrupt), VCPU],
  ['KVM_GET_MSRS', 'IOWR', 0x88, struct(kvmMsrsHeader), VCPU],
  ['KVM_SET_MSRS', 'IOW', 0x89, struct(kvmMsrsHeader), VCPU],
  ['KVM_SET_SIGNAL_MASK', 'IOW', 0x8b, struct(kvmSignalMaskHeader), VCPU],
  ['KVM_GET_FPU', 'IOR', 0x8c, struct(kvmFpu), VCPU],
  ['KVM_SET_FPU', 'IOW', 0x8d, struct(kvmFpu), VCPU],
  ['KVM_GET_LAPIC', 'IOR', 0x8e, struct(kvmLapicState), VCPU],
  ['KVM_SET_LAPIC', 'IOW', 0x8f, struct(kvmLapicState), VCPU],
  ['KVM_SET_CPUID2', 'IOW', 0x90, struct(kvmCpuid2Header), VCPU],
  ['KVM_GET_CPUID2', 'IOWR', 0x91, struct(kvmCpuid2Header), VCPU],
  ['KVM_GET_MP_STATE', 'IOR', 0x98, struct(kvmMpState), VCPU],
  ['KVM_SET_MP_STATE', 'IOW', 0x99, struct(kvmMpState), VCPU],
  ['KVM_NMI', 'IO', 0x9a, null, VCPU],
  ['KVM_SET_GUEST_DEBUG', 'IOW', 0x9b, struct(kvmGuestDebug), VCPU],
  ['KVM_GET_PIT2', 'IOR', 0x9f, struct(kvmPitState2), VM],
  // Numbers 0x9f/0xa0 twice, as in the header (a vCPU's events, the VM's PIT).
  ['KVM_GET_VCPU_EVENTS', 'IOR', 0x9f, struct(kvmVcpuEvents), VCPU],
  ['KVM_SET_PIT2', 'IOW', 0xa0, struct(kvmPitState2), VM],
  ['KVM_SET_VCPU_EVENTS', 'IOW', 0xa0, struct(kvmVcpuEvents), VCPU],
  ['KVM_GET_XSAVE', 'IOR', 0xa4, struct(kvmXsave), VCPU],
  // Number 0xa5 twice, as in the header: the request (direction, size) tells them apart.
  ['KVM_SET_XSAVE', 'IOW', 0xa5, struct(kvmXsave), VCPU],
  ['KVM_SIGNAL_MSI', 'IOW', 0xa5, struct(kvmMsi), VM],
  ['KVM_GET_XCRS', 'IOR', 0xa6, struct(kvmXcrs), VCPU],
  ['KVM_SET_XCRS', 'IOW', 0xa7, struct(kvmXcrs), VCPU],
] as const satisfies readonly Row[];

export type KvmIoctlName = (typeof ROWS)[number][0];

/** Every ioctl we define, in header order. */
export const KVM_IOCTL_TABLE: readonly IoctlDef[] = ROWS.map(([name, dir, nr, arg, scopes]) => ({
  name,
  dir,
  nr,
  arg,
  scopes,
  request: _IOC(DIR_BITS[dir], KVMIO, nr, arg?.size ?? 0),
}));

/** Request numbers by name: `KVM_IOCTL.KVM_RUN === 0xae80`. */
export const KVM_IOCTL = Object.fromEntries(KVM_IOCTL_TABLE.map((d) => [d.name, d.request])) as Readonly<
  Record<KvmIoctlName, number>
>;

/**
 * The definitions by whole request number. Linux reuses a number within KVMIO (KVM_SET_XSAVE and
 * KVM_SIGNAL_MSI are both 0xa5, `_IOW` of structs of different size), so `_IOC_NR` alone does not
 * name an ioctl: the request (type, number, direction, size) does.
 */
export const ioctlByRequest: ReadonlyMap<number, IoctlDef> = (() => {
  const table = new Map<number, IoctlDef>();
  for (const d of KVM_IOCTL_TABLE) {
    if (table.has(d.request)) throw new Error(`ioctl request 0x${d.request.toString(16)} defined twice`);
    table.set(d.request, d);
  }
  return table;
})();

/**
 * The definition of a whole request number (type, number, direction and size must all match),
 * or `undefined`: a request that is not exactly one of ours is unknown, as to the kernel.
 */
export function lookupIoctl(request: number): IoctlDef | undefined {
  return ioctlByRequest.get(request >>> 0);
}

/** The ioctls whose struct ends in a flexible array, and the element size that follows the header. */
const FLEX_ENTRY_SIZE: Partial<Record<KvmIoctlName, number>> = {
  KVM_GET_MSR_INDEX_LIST: kvmMsrList.entrySize,
  KVM_GET_MSR_FEATURE_INDEX_LIST: kvmMsrList.entrySize,
  KVM_GET_SUPPORTED_CPUID: kvmCpuid2.entrySize,
  KVM_GET_EMULATED_CPUID: kvmCpuid2.entrySize,
  KVM_SET_CPUID2: kvmCpuid2.entrySize,
  KVM_GET_CPUID2: kvmCpuid2.entrySize,
  KVM_GET_MSRS: kvmMsrs.entrySize,
  KVM_SET_MSRS: kvmMsrs.entrySize,
  KVM_SET_GSI_ROUTING: kvmIrqRouting.entrySize,
  // kvm_signal_mask { __u32 len; __u8 sigset[]; }
  KVM_SET_SIGNAL_MASK: 1,
};

/**
 * The most bytes of `arg` the kernel may read or write for `request`: `_IOC_SIZE(request)`,
 * plus, for a struct ending in a flexible array, as many entries as its leading `__u32` count
 * says (the count is read from `arg`; if `arg` cannot even hold the header, the header size).
 * An engine that hands `arg` to the kernel checks `arg.length` against this first and fails with
 * EFAULT rather than let the kernel run past the buffer.
 */
export function ioctlArgSize(request: number, arg: Uint8Array): number {
  const header = _IOC_SIZE(request);
  const d = lookupIoctl(request);
  const entry = d ? FLEX_ENTRY_SIZE[d.name] : undefined;
  if (entry === undefined || arg.byteLength < 4) return header;
  const count = new DataView(arg.buffer, arg.byteOffset, arg.byteLength).getUint32(0, true);
  return header + count * entry;
}

/** `'KVM_RUN'`, or `'ioctl 0x…'` for a request we do not define. */
export function ioctlName(request: number): string {
  return lookupIoctl(request)?.name ?? `ioctl 0x${(request >>> 0).toString(16)}`;
}
