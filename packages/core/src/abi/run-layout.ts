/**
 * The layout of `struct kvm_run` (x86-64), as data: the fixed header, the members of the exit
 * union that x86 uses (all at offset 32, overlapping), and the sync-regs tail. The union members
 * are flattened into C member designators (`'io.port'`), which is what `offsetof` takes and what
 * the layout test checks against the machine's header. `KvmRunView` reads its offsets from here.
 */
import {
  bytes,
  type FieldKind,
  type FieldLayout,
  pad,
  type StructLayout,
  u8,
  u16,
  u32,
  u64,
  u64s,
} from './layout.js';

/** sizeof(struct kvm_run): 32-byte header, 256-byte exit union, valid/dirty regs, 2048 bytes of sync regs. */
export const KVM_RUN_STRUCT_SIZE = 2352;

/** Offset of the exit union (every `io`, `mmio`, … member starts here). */
export const KVM_RUN_EXIT_UNION_OFFSET = 32;

/**
 * In pages, where KVM puts the port-I/O data page and the coalesced-MMIO ring in the vCPU's
 * mmap (asm/kvm.h). `io.data_offset` is `KVM_PIO_PAGE_OFFSET * 4096` on Linux.
 */
export const KVM_PIO_PAGE_OFFSET = 1;
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;

const f = (c: string, offset: number, type: FieldKind): FieldLayout => ({ name: c, c, offset, type });

/** Every field of `struct kvm_run` we read or write, by C designator. */
export const KVM_RUN_LAYOUT: StructLayout = {
  c: 'kvm_run',
  size: KVM_RUN_STRUCT_SIZE,
  fields: [
    // in
    f('request_interrupt_window', 0, u8),
    f('immediate_exit', 1, u8),
    f('padding1', 2, pad(6)),
    // out
    f('exit_reason', 8, u32),
    f('ready_for_interrupt_injection', 12, u8),
    f('if_flag', 13, u8),
    f('flags', 14, u16),
    // in (before KVM_RUN), out (after)
    f('cr8', 16, u64),
    f('apic_base', 24, u64),
    // KVM_EXIT_UNKNOWN
    f('hw.hardware_exit_reason', 32, u64),
    // KVM_EXIT_FAIL_ENTRY
    f('fail_entry.hardware_entry_failure_reason', 32, u64),
    f('fail_entry.cpu', 40, u32),
    // KVM_EXIT_EXCEPTION
    f('ex.exception', 32, u32),
    f('ex.error_code', 36, u32),
    // KVM_EXIT_IO
    f('io.direction', 32, u8),
    f('io.size', 33, u8),
    f('io.port', 34, u16),
    f('io.count', 36, u32),
    f('io.data_offset', 40, u64),
    // KVM_EXIT_DEBUG (struct kvm_debug_exit_arch)
    f('debug.arch.exception', 32, u32),
    f('debug.arch.pc', 40, u64),
    f('debug.arch.dr6', 48, u64),
    f('debug.arch.dr7', 56, u64),
    // KVM_EXIT_MMIO
    f('mmio.phys_addr', 32, u64),
    f('mmio.data', 40, bytes(8)),
    f('mmio.len', 48, u32),
    f('mmio.is_write', 52, u8),
    // KVM_EXIT_HYPERCALL
    f('hypercall.nr', 32, u64),
    f('hypercall.args', 40, u64s(6)),
    f('hypercall.ret', 88, u64),
    f('hypercall.longmode', 96, u32),
    // KVM_EXIT_TPR_ACCESS
    f('tpr_access.rip', 32, u64),
    f('tpr_access.is_write', 40, u32),
    // KVM_EXIT_INTERNAL_ERROR
    f('internal.suberror', 32, u32),
    f('internal.ndata', 36, u32),
    f('internal.data', 40, u64s(16)),
    // KVM_INTERNAL_ERROR_EMULATION's overlay of `internal`
    f('emulation_failure.flags', 40, u64),
    f('emulation_failure.insn_size', 48, u8),
    f('emulation_failure.insn_bytes', 49, bytes(15)),
    // KVM_EXIT_SYSTEM_EVENT
    f('system_event.type', 32, u32),
    f('system_event.ndata', 36, u32),
    f('system_event.data', 40, u64s(16)),
    // KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR
    f('msr.error', 32, u8),
    f('msr.reason', 40, u32),
    f('msr.index', 44, u32),
    f('msr.data', 48, u64),
    // The union is padded to 256 bytes.
    f('padding', 32, pad(256)),
    f('kvm_valid_regs', 288, u64),
    f('kvm_dirty_regs', 296, u64),
    f('s', 304, pad(2048)),
  ],
};

const offsets: Record<string, number> = Object.fromEntries(KVM_RUN_LAYOUT.fields.map((x) => [x.c, x.offset]));

/** `offsetof(struct kvm_run, <c>)` for a designator in `KVM_RUN_LAYOUT`; throws for an unknown one. */
export function kvmRunOffset(c: string): number {
  const o = offsets[c];
  if (o === undefined) throw new Error(`struct kvm_run has no field ${c} in KVM_RUN_LAYOUT`);
  return o;
}
