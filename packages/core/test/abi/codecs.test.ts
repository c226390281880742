import { describe, expect, it } from 'vitest';
import {
  Errno,
  KVM_RUN_LAYOUT,
  KVM_STRUCT_CODECS,
  KvmError,
  type KvmSregs,
  kvmCpuid2,
  kvmFpu,
  kvmMsrList,
  kvmMsrs,
  kvmRegs,
  kvmSegment,
  kvmSregs,
  kvmUserspaceMemoryRegion,
  type StructCodec,
  type StructLayout,
} from '../../src/index.js';

/** A deterministic pseudo-random byte image. */
function noise(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `image` with every padding byte of `layout` (recursively) cleared. */
function withoutPadding(layout: StructLayout, image: Uint8Array, base = 0): Uint8Array {
  const out = image.slice();
  const clear = (l: StructLayout, at: number): void => {
    for (const f of l.fields) {
      if (f.type.kind === 'pad') out.fill(0, at + f.offset, at + f.offset + f.type.size);
      if (f.type.kind === 'struct') clear(f.type.layout, at + f.offset);
    }
  };
  clear(layout, base);
  return out;
}

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KvmError) return e.errno;
    throw e;
  }
  return undefined;
}

const codecs = Object.entries(KVM_STRUCT_CODECS) as [string, StructCodec<unknown>][];

describe('struct layouts', () => {
  it.each(codecs)('%s: fields and padding tile the struct exactly, no gap, no overlap', (_, codec) => {
    const owner = new Array<string | undefined>(codec.size).fill(undefined);
    for (const f of codec.layout.fields) {
      for (let i = f.offset; i < f.offset + f.type.size; i++) {
        expect(owner[i], `byte ${i} claimed by ${owner[i]} and ${f.c}`).toBeUndefined();
        owner[i] = f.c;
      }
    }
    expect(owner.indexOf(undefined)).toBe(-1);
  });

  it('keeps every kvm_run field inside struct kvm_run', () => {
    for (const f of KVM_RUN_LAYOUT.fields)
      expect(f.offset + f.type.size).toBeLessThanOrEqual(KVM_RUN_LAYOUT.size);
  });
});

describe('struct codecs', () => {
  it.each(codecs)('%s: decode then encode gives back any image, padding cleared', (_, codec) => {
    for (let seed = 1; seed <= 5; seed++) {
      const image = noise(codec.size, seed * 7919);
      expect(codec.encode(codec.decode(image))).toEqual(withoutPadding(codec.layout, image));
    }
  });

  it.each(codecs)('%s: decodes at an offset inside a larger buffer', (_, codec) => {
    const image = noise(codec.size + 24, 42);
    expect(codec.decode(image, 24)).toEqual(codec.decode(image.slice(24)));
  });

  it('writes kvm_regs little endian, 8 bytes per register in header order', () => {
    const regs = kvmRegs.decode(new Uint8Array(kvmRegs.size));
    regs.rax = 0x1122334455667788n;
    regs.rbx = 2n;
    regs.rip = 0xfff0n;
    regs.rflags = 0x2n;
    const b = kvmRegs.encode(regs);
    expect([...b.subarray(0, 8)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(b[8]).toBe(2);
    expect([...b.subarray(128, 130)]).toEqual([0xf0, 0xff]);
    expect(b[136]).toBe(2);
    expect(kvmRegs.decode(b)).toEqual(regs);
  });

  it('writes kvm_segment fields at their bytes and zeroes the pad byte even over old data', () => {
    const seg = {
      base: 0xf0000n,
      limit: 0xffff,
      selector: 0xf000,
      type: 0xb,
      present: 1,
      dpl: 3,
      db: 0,
      s: 1,
      l: 0,
      g: 1,
      avl: 1,
      unusable: 1,
    };
    const b = new Uint8Array(24).fill(0xee);
    kvmSegment.encodeInto(seg, b);
    expect([...b]).toEqual([
      0x00,
      0x00,
      0x0f,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00, // base
      0xff,
      0xff,
      0x00,
      0x00, // limit
      0x00,
      0xf0, // selector
      0x0b,
      0x01,
      0x03,
      0x00,
      0x01,
      0x00,
      0x01,
      0x01, // type present dpl db s l g avl
      0x01,
      0x00, // unusable, padding
    ]);
  });

  it('round-trips kvm_sregs with segments, tables and the interrupt bitmap', () => {
    const sregs = kvmSregs.decode(noise(kvmSregs.size, 99)) as KvmSregs;
    sregs.interruptBitmap = [1n, 0n, 1n << 63n, 0x8000n];
    sregs.tr.unusable = 0;
    sregs.ldt.unusable = 1;
    const again = kvmSregs.decode(kvmSregs.encode(sregs));
    expect(again).toEqual(sregs);
    const b = kvmSregs.encode(sregs);
    // The bitmap's third word has vector 191 set: byte 280 + 16 + 7, bit 7.
    expect(b[280 + 23]).toBe(0x80);
  });

  it('refuses values a C field cannot hold, with EINVAL', () => {
    const region = { slot: 0, flags: 0, guestPhysAddr: 0n, memorySize: 4096n, userspaceAddr: 0n };
    expect(errnoOf(() => kvmUserspaceMemoryRegion.encode({ ...region, slot: 2 ** 32 }))).toBe(Errno.EINVAL);
    expect(errnoOf(() => kvmUserspaceMemoryRegion.encode({ ...region, slot: -1 }))).toBe(Errno.EINVAL);
    expect(errnoOf(() => kvmUserspaceMemoryRegion.encode({ ...region, slot: 1.5 }))).toBe(Errno.EINVAL);
    expect(errnoOf(() => kvmUserspaceMemoryRegion.encode({ ...region, memorySize: -1n }))).toBe(Errno.EINVAL);
    expect(errnoOf(() => kvmUserspaceMemoryRegion.encode({ ...region, memorySize: 1n << 64n }))).toBe(
      Errno.EINVAL,
    );
    // A safe-integer number is accepted for a u64.
    const b = kvmUserspaceMemoryRegion.encode({ ...region, memorySize: 8192 as unknown as bigint });
    expect(kvmUserspaceMemoryRegion.decode(b).memorySize).toBe(8192n);
  });

  it('decodes byte arrays as copies, also out of a SharedArrayBuffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(kvmFpu.size));
    shared[0] = 0x7f;
    const fpu = kvmFpu.decode(shared);
    expect(fpu.fpr.buffer).toBeInstanceOf(ArrayBuffer);
    expect(fpu.fpr[0]).toBe(0x7f);
    shared[0] = 0;
    expect(fpu.fpr[0]).toBe(0x7f);
  });

  it('refuses an object with a field missing', () => {
    expect(errnoOf(() => kvmRegs.encode({} as never))).toBe(Errno.EINVAL);
  });

  it('fails with EFAULT when a buffer is shorter than the struct', () => {
    expect(errnoOf(() => kvmRegs.decode(new Uint8Array(143)))).toBe(Errno.EFAULT);
    expect(errnoOf(() => kvmRegs.decode(new Uint8Array(144), 1))).toBe(Errno.EFAULT);
    const regs = kvmRegs.decode(new Uint8Array(144));
    expect(errnoOf(() => kvmRegs.encodeInto(regs, new Uint8Array(100)))).toBe(Errno.EFAULT);
  });
});

describe('flexible-array codecs', () => {
  it('lays out kvm_msrs as a count, a pad word, then 16-byte entries', () => {
    const b = kvmMsrs.encode([
      { index: 0x174, data: 0x10n },
      { index: 0xc0000080, data: 0x500n },
    ]);
    const dv = new DataView(b.buffer);
    expect(b.length).toBe(8 + 2 * 16);
    expect(dv.getUint32(0, true)).toBe(2);
    expect(dv.getUint32(8, true)).toBe(0x174);
    expect(dv.getBigUint64(16, true)).toBe(0x10n);
    expect(dv.getUint32(24, true)).toBe(0xc0000080);
    expect(dv.getBigUint64(32, true)).toBe(0x500n);
    expect(kvmMsrs.decode(b)).toEqual([
      { index: 0x174, data: 0x10n },
      { index: 0xc0000080, data: 0x500n },
    ]);
    expect(kvmMsrs.decode(b, 1)).toEqual([{ index: 0x174, data: 0x10n }]);
  });

  it('leaves room for a capacity and reads back what the kernel filled', () => {
    const b = kvmMsrList.encode([], 3);
    expect(b.length).toBe(4 + 3 * 4);
    expect(kvmMsrList.count(b)).toBe(3);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 2, true);
    dv.setUint32(4, 0x10, true);
    dv.setUint32(8, 0x1b, true);
    expect(kvmMsrList.decode(b)).toEqual([0x10, 0x1b]);
  });

  it('round-trips kvm_cpuid2 entries', () => {
    const entries = [
      { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
      { function: 7, index: 0, flags: 1, eax: 0, ebx: 0x209, ecx: 0, edx: 0 },
    ];
    const b = kvmCpuid2.encode(entries);
    expect(b.length).toBe(8 + 2 * 40);
    expect(kvmCpuid2.decode(b)).toEqual(entries);
  });

  it('fails with EFAULT when the count promises more entries than the buffer holds', () => {
    const b = kvmMsrs.encode([{ index: 1, data: 1n }]);
    new DataView(b.buffer).setUint32(0, 5, true);
    expect(errnoOf(() => kvmMsrs.decode(b))).toBe(Errno.EFAULT);
    expect(errnoOf(() => kvmMsrs.count(new Uint8Array(2)))).toBe(Errno.EFAULT);
  });

  it('refuses a capacity smaller than the entries', () => {
    expect(
      errnoOf(() =>
        kvmCpuid2.encode([{ function: 0, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }], 0),
      ),
    ).toBe(Errno.EINVAL);
  });
});
