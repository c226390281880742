/**
 * Entry-state helpers shared by the loaders that enter a guest in 32-bit protected mode
 * (multiboot, the Linux 32-bit boot protocol).
 *
 * KVM loads segment registers from `kvm_sregs` as cached descriptors, so a guest runs with
 * them before it has a GDT; but both protocols' kernels reload DS/ES/SS from selectors (Linux's
 * startup_32 does `mov $__BOOT_DS, %eax; mov %eax, %ds` first thing), so the GDT the selectors
 * name must exist in guest memory too. `writeBootGdt` puts one there with the layout Linux's
 * boot protocol asks for (Documentation/x86/boot.rst, "32-bit boot protocol": __BOOT_CS 0x10
 * and __BOOT_DS 0x18, flat 4 GiB), which also satisfies multiboot (it names no selectors).
 */
import type { KvmSegment, KvmSregs } from '@kvm/core';

/** __BOOT_CS: flat 32-bit code, execute/read. */
export const BOOT_CS = 0x10;
/** __BOOT_DS: flat 32-bit data, read/write. */
export const BOOT_DS = 0x18;
/** Bytes of the boot GDT: null, unused, code, data. */
export const BOOT_GDT_SIZE = 4 * 8;

/** CR0.PE, SDM Vol. 3A 2.5. */
export const CR0_PE = 1n;
/** CR0.ET: hard-wired to 1 on every CPU since the 486; KVM reports it set. */
export const CR0_ET = 0x10n;

/**
 * Writes the flat boot GDT at `gdtGpa` (8-byte aligned, `BOOT_GDT_SIZE` bytes inside `ram`).
 * Descriptors per SDM Vol. 3A 3.4.5: limit 0xfffff with G=1, base 0, D/B=1, P=1, S=1, DPL 0;
 * code type 0xb (execute/read, accessed), data type 0x3 (read/write, accessed).
 */
export function writeBootGdt(ram: Uint8Array, gdtGpa: number): void {
  if (gdtGpa % 8 !== 0 || gdtGpa < 0 || gdtGpa + BOOT_GDT_SIZE > ram.length) {
    throw new RangeError(`boot GDT at gpa 0x${gdtGpa.toString(16)} is not 8-aligned inside RAM`);
  }
  const view = new DataView(ram.buffer, ram.byteOffset + gdtGpa, BOOT_GDT_SIZE);
  view.setBigUint64(0, 0n, true);
  view.setBigUint64(8, 0n, true);
  view.setBigUint64(16, 0x00cf9b000000ffffn, true);
  view.setBigUint64(24, 0x00cf93000000ffffn, true);
}

/** A flat 4 GiB segment as KVM's cached descriptor (limit in bytes, as `kvm_segment` has it). */
export function flatSegment(selector: number, type: number): KvmSegment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: 1,
    s: 1,
    l: 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

/**
 * Flat 32-bit protected mode without paging, as multiboot (spec 3.2, "Machine state") and the
 * Linux 32-bit boot protocol ask: CS = __BOOT_CS execute/read, DS/ES/FS/GS/SS = __BOOT_DS
 * read/write, CR0.PE set, paging off, GDTR at the boot GDT (`writeBootGdt` must have written it).
 * TR and LDTR keep their reset values (VMX entry checks want a usable busy TSS type; KVM's
 * reset state already satisfies them).
 */
export function protectedMode32(reset: KvmSregs, gdtGpa: number): KvmSregs {
  const code = flatSegment(BOOT_CS, 0xb);
  const data = flatSegment(BOOT_DS, 0x3);
  return {
    ...reset,
    cs: code,
    ds: { ...data },
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    gdt: { base: BigInt(gdtGpa), limit: BOOT_GDT_SIZE - 1 },
    idt: { base: 0n, limit: 0 },
    cr0: (reset.cr0 | CR0_PE | CR0_ET) & ~0x80000000n,
    cr4: 0n,
    efer: 0n,
  };
}

/** RFLAGS with only the reserved bit 1 set: interrupts off, as both protocols require. */
export const RFLAGS_RESERVED = 0x2n;
