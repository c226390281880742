/**
 * The layouts of `<linux/kvm.h>`'s structs (x86-64), written once as data; the codecs are
 * derived (`layout.ts`) and the layout test checks every size and offset against the machine's
 * own header. Flexible-array structs (`kvm_msrs`, `kvm_msr_list`, `kvm_cpuid2`) are a header
 * codec plus an entry codec, joined in `flex.ts`.
 */
import type {
  KvmCpuidEntry2,
  KvmDebugExitArch,
  KvmDtable,
  KvmFpu,
  KvmGuestDebug,
  KvmInterrupt,
  KvmIrqchip,
  KvmIrqLevel,
  KvmIrqRoutingEntry,
  KvmLapicState,
  KvmMpState,
  KvmMsi,
  KvmMsrEntry,
  KvmPitChannelState,
  KvmPitConfig,
  KvmRegs,
  KvmSegment,
  KvmSregs,
  KvmTranslation,
  KvmUserspaceMemoryRegion,
  KvmVcpuEvents,
} from '../api/structs.js';
import {
  bytes,
  defineStruct,
  field,
  nested,
  padding,
  type StructCodec,
  s32,
  u8,
  u16,
  u32,
  u64,
  u64s,
} from './layout.js';

const REGS = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rsp',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
  'rip',
  'rflags',
] as const;

/** struct kvm_regs: 18 × __u64 in this order. */
export const kvmRegs: StructCodec<KvmRegs> = defineStruct<KvmRegs>(
  'kvm_regs',
  144,
  REGS.map((name, i) => field(name, 8 * i, u64)),
);

/** struct kvm_segment: the VMX/SVM segment descriptor cache, `unusable` then one pad byte. */
export const kvmSegment: StructCodec<KvmSegment> = defineStruct<KvmSegment>('kvm_segment', 24, [
  field('base', 0, u64),
  field('limit', 8, u32),
  field('selector', 12, u16),
  field('type', 14, u8),
  field('present', 15, u8),
  field('dpl', 16, u8),
  field('db', 17, u8),
  field('s', 18, u8),
  field('l', 19, u8),
  field('g', 20, u8),
  field('avl', 21, u8),
  field('unusable', 22, u8),
  padding('padding', 23, 1),
]);

/** struct kvm_dtable: GDTR/IDTR. */
export const kvmDtable: StructCodec<KvmDtable> = defineStruct<KvmDtable>('kvm_dtable', 16, [
  field('base', 0, u64),
  field('limit', 8, u16),
  padding('padding', 10, 6),
]);

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;

/** struct kvm_sregs */
export const kvmSregs: StructCodec<KvmSregs> = defineStruct<KvmSregs>('kvm_sregs', 312, [
  ...SEGMENTS.map((name, i) => field(name, 24 * i, nested(kvmSegment.layout))),
  field('gdt', 192, nested(kvmDtable.layout)),
  field('idt', 208, nested(kvmDtable.layout)),
  field('cr0', 224, u64),
  field('cr2', 232, u64),
  field('cr3', 240, u64),
  field('cr4', 248, u64),
  field('cr8', 256, u64),
  field('efer', 264, u64),
  field('apicBase', 272, u64),
  // KVM_NR_INTERRUPTS (256) bits, one per vector.
  field('interruptBitmap', 280, u64s(4)),
]);

/** struct kvm_fpu: the FXSAVE image, rearranged (ftwx is the abridged tag word). */
export const kvmFpu: StructCodec<KvmFpu> = defineStruct<KvmFpu>('kvm_fpu', 416, [
  field('fpr', 0, bytes(128)),
  field('fcw', 128, u16),
  field('fsw', 130, u16),
  field('ftwx', 132, u8),
  padding('pad1', 133, 1),
  field('lastOpcode', 134, u16),
  field('lastIp', 136, u64),
  field('lastDp', 144, u64),
  field('xmm', 152, bytes(256)),
  field('mxcsr', 408, u32),
  padding('pad2', 412, 4),
]);

/** struct kvm_msr_entry */
export const kvmMsrEntry: StructCodec<KvmMsrEntry> = defineStruct<KvmMsrEntry>('kvm_msr_entry', 16, [
  field('index', 0, u32),
  padding('reserved', 4, 4),
  field('data', 8, u64),
]);

/** struct kvm_msrs without its `entries[]`. */
export const kvmMsrsHeader: StructCodec<{ nmsrs: number }> = defineStruct<{ nmsrs: number }>('kvm_msrs', 8, [
  field('nmsrs', 0, u32),
  padding('pad', 4, 4),
]);

/** struct kvm_msr_list without its `indices[]` (__u32 each). */
export const kvmMsrListHeader: StructCodec<{ nmsrs: number }> = defineStruct<{ nmsrs: number }>(
  'kvm_msr_list',
  4,
  [field('nmsrs', 0, u32)],
);

/** struct kvm_cpuid_entry2 */
export const kvmCpuidEntry2: StructCodec<KvmCpuidEntry2> = defineStruct<KvmCpuidEntry2>(
  'kvm_cpuid_entry2',
  40,
  [
    field('function', 0, u32),
    field('index', 4, u32),
    field('flags', 8, u32),
    field('eax', 12, u32),
    field('ebx', 16, u32),
    field('ecx', 20, u32),
    field('edx', 24, u32),
    padding('padding', 28, 12),
  ],
);

/** struct kvm_cpuid2 without its `entries[]`. */
export const kvmCpuid2Header: StructCodec<{ nent: number }> = defineStruct<{ nent: number }>(
  'kvm_cpuid2',
  8,
  [field('nent', 0, u32), padding('padding', 4, 4)],
);

/** struct kvm_userspace_memory_region */
export const kvmUserspaceMemoryRegion: StructCodec<KvmUserspaceMemoryRegion> =
  defineStruct<KvmUserspaceMemoryRegion>('kvm_userspace_memory_region', 32, [
    field('slot', 0, u32),
    field('flags', 4, u32),
    field('guestPhysAddr', 8, u64),
    field('memorySize', 16, u64),
    field('userspaceAddr', 24, u64),
  ]);

/** struct kvm_interrupt */
export const kvmInterrupt: StructCodec<KvmInterrupt> = defineStruct<KvmInterrupt>('kvm_interrupt', 4, [
  field('irq', 0, u32),
]);

/** struct kvm_guest_debug (x86 `arch` is `debugreg[8]`). */
export const kvmGuestDebug: StructCodec<KvmGuestDebug> = defineStruct<KvmGuestDebug>('kvm_guest_debug', 72, [
  field('control', 0, u32),
  padding('pad', 4, 4),
  field('debugreg', 8, u64s(8), 'arch.debugreg'),
]);

/** struct kvm_irq_level: `irq` shares a union with the `status` KVM_IRQ_LINE_STATUS returns. */
export const kvmIrqLevel: StructCodec<KvmIrqLevel> = defineStruct<KvmIrqLevel>('kvm_irq_level', 8, [
  field('irq', 0, u32),
  field('level', 4, u32),
]);

/** struct kvm_irq_level as KVM_IRQ_LINE_STATUS returns it: `status` overlays `irq`. */
export const kvmIrqLevelStatus: StructCodec<{ status: number; level: number }> = defineStruct<{
  status: number;
  level: number;
}>('kvm_irq_level', 8, [field('status', 0, s32), field('level', 4, u32)]);

/** KVM_GET/SET_IRQCHIP's `chip_id`s (`KVM_IRQCHIP_*`). */
export const KVM_IRQCHIP = { PIC_MASTER: 0, PIC_SLAVE: 1, IOAPIC: 2 } as const;

/** struct kvm_irqchip: chip_id, then the 512-byte `chip` union (`pic`, `ioapic`, `dummy`). */
export const kvmIrqchip: StructCodec<KvmIrqchip> = defineStruct<KvmIrqchip>('kvm_irqchip', 520, [
  field('chipId', 0, u32),
  padding('pad', 4, 4),
  field('chip', 8, bytes(512)),
]);

/** struct kvm_pic_state: one i8259 as KVM_GET/SET_IRQCHIP exchange it (all `__u8`). */
export const kvmPicState = defineStruct<Record<string, number>>('kvm_pic_state', 16, [
  field('lastIrr', 0, u8),
  field('irr', 1, u8),
  field('imr', 2, u8),
  field('isr', 3, u8),
  field('priorityAdd', 4, u8),
  field('irqBase', 5, u8),
  field('readRegSelect', 6, u8),
  field('poll', 7, u8),
  field('specialMask', 8, u8),
  field('initState', 9, u8),
  field('autoEoi', 10, u8),
  field('rotateOnAutoEoi', 11, u8),
  field('specialFullyNestedMode', 12, u8),
  field('init4', 13, u8),
  field('elcr', 14, u8),
  field('elcrMask', 15, u8),
]);

/** struct kvm_ioapic_state: base, IOREGSEL, ID, IRR, then 24 redirection entries (KVM_IOAPIC_NUM_PINS). */
export const kvmIoapicState = defineStruct<{
  baseAddress: bigint;
  ioregsel: number;
  id: number;
  irr: number;
  redirtbl: bigint[];
}>('kvm_ioapic_state', 216, [
  field('baseAddress', 0, u64),
  field('ioregsel', 8, u32),
  field('id', 12, u32),
  field('irr', 16, u32),
  padding('pad', 20, 4),
  field('redirtbl', 24, u64s(24)),
]);

/** struct kvm_lapic_state { char regs[KVM_APIC_REG_SIZE]; } */
export const kvmLapicState: StructCodec<KvmLapicState> = defineStruct<KvmLapicState>(
  'kvm_lapic_state',
  1024,
  [field('regs', 0, bytes(1024))],
);

/** struct kvm_msi (KVM_SIGNAL_MSI) */
export const kvmMsi: StructCodec<KvmMsi> = defineStruct<KvmMsi>('kvm_msi', 32, [
  field('addressLo', 0, u32),
  field('addressHi', 4, u32),
  field('data', 8, u32),
  field('flags', 12, u32),
  field('devid', 16, u32),
  padding('pad', 20, 12),
]);

/** struct kvm_irq_routing without its `entries[]`. */
export const kvmIrqRoutingHeader: StructCodec<{ nr: number; flags: number }> = defineStruct<{
  nr: number;
  flags: number;
}>('kvm_irq_routing', 8, [field('nr', 0, u32), field('flags', 4, u32)]);

/** struct kvm_irq_routing_entry: `u` is the union (`irqchip`, `msi`, `adapter`, `hv_sint`, `xen_evtchn`, `pad`). */
export const kvmIrqRoutingEntry: StructCodec<KvmIrqRoutingEntry> = defineStruct<KvmIrqRoutingEntry>(
  'kvm_irq_routing_entry',
  48,
  [
    field('gsi', 0, u32),
    field('type', 4, u32),
    field('flags', 8, u32),
    padding('pad', 12, 4),
    field('u', 16, bytes(32)),
  ],
);

/**
 * `kvm_pit_config.flags` KVM_PIT_SPEAKER_DUMMY: the kernel also takes port 0x61 (channel 2's
 * gate, the speaker enable, OUT2 and the refresh toggle; `speaker_ioport_read/write`).
 */
export const KVM_PIT_SPEAKER_DUMMY = 1;

/** struct kvm_pit_config */
export const kvmPitConfig: StructCodec<KvmPitConfig> = defineStruct<KvmPitConfig>('kvm_pit_config', 64, [
  field('flags', 0, u32),
  padding('pad', 4, 60),
]);

/** struct kvm_vcpu_events (KVM_GET/SET_VCPU_EVENTS), 64 bytes. */
export const kvmVcpuEvents: StructCodec<KvmVcpuEvents> = defineStruct<KvmVcpuEvents>('kvm_vcpu_events', 64, [
  field('exceptionInjected', 0, u8, 'exception.injected'),
  field('exceptionNr', 1, u8, 'exception.nr'),
  field('exceptionHasErrorCode', 2, u8, 'exception.has_error_code'),
  field('exceptionPending', 3, u8, 'exception.pending'),
  field('exceptionErrorCode', 4, u32, 'exception.error_code'),
  field('interruptInjected', 8, u8, 'interrupt.injected'),
  field('interruptNr', 9, u8, 'interrupt.nr'),
  field('interruptSoft', 10, u8, 'interrupt.soft'),
  field('interruptShadow', 11, u8, 'interrupt.shadow'),
  field('nmiInjected', 12, u8, 'nmi.injected'),
  field('nmiPending', 13, u8, 'nmi.pending'),
  field('nmiMasked', 14, u8, 'nmi.masked'),
  padding('nmi.pad', 15, 1),
  field('sipiVector', 16, u32, 'sipi_vector'),
  field('flags', 20, u32),
  field('smiSmm', 24, u8, 'smi.smm'),
  field('smiPending', 25, u8, 'smi.pending'),
  field('smiSmmInsideNmi', 26, u8, 'smi.smm_inside_nmi'),
  field('smiLatchedInit', 27, u8, 'smi.latched_init'),
  field('tripleFaultPending', 28, u8, 'triple_fault.pending'),
  padding('reserved', 29, 26),
  field('exceptionHasPayload', 55, u8, 'exception_has_payload'),
  field('exceptionPayload', 56, u64, 'exception_payload'),
]);

/** struct kvm_mp_state (KVM_GET/SET_MP_STATE): one of `KVM_MP_STATE`. */
export const kvmMpState: StructCodec<KvmMpState> = defineStruct<KvmMpState>('kvm_mp_state', 4, [
  field('mpState', 0, u32, 'mp_state'),
]);

/** struct kvm_pit_channel_state: one i8254 counter as KVM_GET/SET_PIT2 exchange it. */
export const kvmPitChannelState: StructCodec<KvmPitChannelState> = defineStruct<KvmPitChannelState>(
  'kvm_pit_channel_state',
  24,
  [
    field('count', 0, u32),
    field('latchedCount', 4, u16, 'latched_count'),
    field('countLatched', 6, u8, 'count_latched'),
    field('statusLatched', 7, u8, 'status_latched'),
    field('status', 8, u8),
    field('readState', 9, u8, 'read_state'),
    field('writeState', 10, u8, 'write_state'),
    field('writeLatch', 11, u8, 'write_latch'),
    field('rwMode', 12, u8, 'rw_mode'),
    field('mode', 13, u8),
    field('bcd', 14, u8),
    field('gate', 15, u8),
    // __s64 in the header; ns of the host's ktime when the count was loaded.
    field('countLoadTime', 16, u64, 'count_load_time'),
  ],
);

/** struct kvm_pit_state2: three kvm_pit_channel_state, flags (KVM_PIT_FLAGS_HPET_LEGACY), reserved. */
export const kvmPitState2 = defineStruct<{ channels: Uint8Array; flags: number }>('kvm_pit_state2', 112, [
  field('channels', 0, bytes(72)),
  field('flags', 72, u32),
  padding('reserved', 76, 36),
]);

/** struct kvm_translation: in `linear_address` (a gva), out the gpa and its permissions. */
export const kvmTranslation: StructCodec<KvmTranslation> = defineStruct<KvmTranslation>(
  'kvm_translation',
  24,
  [
    field('linearAddress', 0, u64),
    field('physicalAddress', 8, u64),
    field('valid', 16, u8),
    field('writeable', 17, u8),
    field('usermode', 18, u8),
    padding('pad', 19, 5),
  ],
);

/** struct kvm_debug_exit_arch (x86) */
export const kvmDebugExitArch: StructCodec<KvmDebugExitArch> = defineStruct<KvmDebugExitArch>(
  'kvm_debug_exit_arch',
  32,
  [
    field('exception', 0, u32),
    padding('pad', 4, 4),
    field('pc', 8, u64),
    field('dr6', 16, u64),
    field('dr7', 24, u64),
  ],
);

/** struct kvm_xsave { __u32 region[1024]; __u32 extra[]; }: the XSAVE image, non-compacted (`extra` is KVM_GET_XSAVE2's). */
export const kvmXsave: StructCodec<{ region: Uint8Array }> = defineStruct<{ region: Uint8Array }>(
  'kvm_xsave',
  4096,
  [field('region', 0, bytes(4096))],
);

/** struct kvm_xcrs { __u32 nr_xcrs; __u32 flags; struct kvm_xcr xcrs[KVM_MAX_XCRS = 16]; __u64 padding[16]; } */
export const kvmXcrs: StructCodec<{ nrXcrs: number; flags: number; xcrs: Uint8Array }> = defineStruct<{
  nrXcrs: number;
  flags: number;
  xcrs: Uint8Array;
}>('kvm_xcrs', 392, [
  field('nrXcrs', 0, u32),
  field('flags', 4, u32),
  // struct kvm_xcr { __u32 xcr; __u32 reserved; __u64 value; } × 16
  field('xcrs', 8, bytes(256)),
  padding('padding', 264, 128),
]);

/** struct kvm_signal_mask without its `sigset[]`. */
export const kvmSignalMaskHeader: StructCodec<{ len: number }> = defineStruct<{ len: number }>(
  'kvm_signal_mask',
  4,
  [field('len', 0, u32)],
);

/** Every fixed layout above, for the layout test and for tools that walk them. */
export const KVM_STRUCT_CODECS = {
  kvmRegs,
  kvmSegment,
  kvmDtable,
  kvmSregs,
  kvmFpu,
  kvmMsrEntry,
  kvmMsrsHeader,
  kvmMsrListHeader,
  kvmCpuidEntry2,
  kvmCpuid2Header,
  kvmUserspaceMemoryRegion,
  kvmInterrupt,
  kvmGuestDebug,
  kvmIrqLevel,
  kvmIrqchip,
  kvmPicState,
  kvmIoapicState,
  kvmLapicState,
  kvmMsi,
  kvmIrqRoutingHeader,
  kvmIrqRoutingEntry,
  kvmPitConfig,
  kvmMpState,
  kvmVcpuEvents,
  kvmPitChannelState,
  kvmPitState2,
  kvmTranslation,
  kvmDebugExitArch,
  kvmSignalMaskHeader,
  kvmXsave,
  kvmXcrs,
} as const;
