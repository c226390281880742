/**
 * Structs that end in a flexible array (`kvm_msrs`, `kvm_msr_list`, `kvm_cpuid2`): a header
 * whose count field says how many entries follow. The ioctl number carries only the header's
 * size; the kernel reads `count` entries after it (copy_from_user, EFAULT if they are not there).
 */

import { Errno, KvmError } from '../api/errors.js';
import type { KvmCpuidEntry2, KvmIrqRoutingEntry, KvmMsrEntry } from '../api/structs.js';
import {
  kvmCpuid2Header,
  kvmCpuidEntry2,
  kvmIrqRoutingEntry,
  kvmIrqRoutingHeader,
  kvmMsrEntry,
  kvmMsrListHeader,
  kvmMsrsHeader,
} from './structs.js';

/** How one entry is written and read. */
export interface EntryCodec<E> {
  readonly size: number;
  encodeInto(value: E, bytes: Uint8Array, offset: number): void;
  decode(bytes: Uint8Array, offset: number): E;
}

export interface FlexCodec<E> {
  /** The C struct tag: `'kvm_msrs'`. */
  readonly c: string;
  /** `sizeof` the header (what the ioctl number encodes). */
  readonly headerSize: number;
  readonly entrySize: number;
  /** Bytes for a struct with room for `count` entries. */
  sizeFor(count: number): number;
  /**
   * A byte image with `entries` and the count field set to `capacity` (default: the number of
   * entries), with room for `capacity` entries: for the ioctls the kernel fills (`capacity` > 0,
   * no entries) as well as those it reads.
   */
  encode(entries: readonly E[], capacity?: number): Uint8Array;
  /** The count field. Throws KvmError(EFAULT) if `bytes` is shorter than the header. */
  count(bytes: Uint8Array): number;
  /**
   * The first `count` entries (default: the count field). Throws KvmError(EFAULT) if `bytes`
   * does not hold them.
   */
  decode(bytes: Uint8Array, count?: number): E[];
}

function defineFlex<E>(
  header: { readonly size: number; readonly layout: { readonly c: string } },
  entry: EntryCodec<E>,
): FlexCodec<E> {
  const c = header.layout.c;
  const sizeFor = (count: number): number => header.size + count * entry.size;
  const readCount = (b: Uint8Array): number => {
    if (b.byteLength < header.size) {
      throw new KvmError(
        `struct ${c}`,
        Errno.EFAULT,
        `header needs ${header.size} bytes, buffer has ${b.byteLength}`,
      );
    }
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  };
  return {
    c,
    headerSize: header.size,
    entrySize: entry.size,
    sizeFor,
    encode(entries, capacity = entries.length) {
      if (!Number.isInteger(capacity) || capacity < entries.length || capacity > 0xffffffff) {
        throw new KvmError(`struct ${c}`, Errno.EINVAL, `capacity ${capacity} for ${entries.length} entries`);
      }
      const out = new Uint8Array(sizeFor(capacity));
      new DataView(out.buffer).setUint32(0, capacity, true);
      for (let i = 0; i < entries.length; i++)
        entry.encodeInto(entries[i], out, header.size + i * entry.size);
      return out;
    },
    count: readCount,
    decode(b, count = readCount(b)) {
      if (b.byteLength < sizeFor(count)) {
        throw new KvmError(
          `struct ${c}`,
          Errno.EFAULT,
          `${count} entries need ${sizeFor(count)} bytes, buffer has ${b.byteLength}`,
        );
      }
      const out: E[] = [];
      for (let i = 0; i < count; i++) out.push(entry.decode(b, header.size + i * entry.size));
      return out;
    },
  };
}

/** A `__u32` array element. */
const u32Entry: EntryCodec<number> = {
  size: 4,
  encodeInto(value, b, offset) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new KvmError('__u32', Errno.EINVAL, `${value} is not a u32`);
    }
    new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(offset, value, true);
  },
  decode(b, offset) {
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(offset, true);
  },
};

/** struct kvm_msrs { __u32 nmsrs; __u32 pad; struct kvm_msr_entry entries[]; } */
export const kvmMsrs: FlexCodec<KvmMsrEntry> = defineFlex(kvmMsrsHeader, kvmMsrEntry);
/** struct kvm_msr_list { __u32 nmsrs; __u32 indices[]; } */
export const kvmMsrList: FlexCodec<number> = defineFlex(kvmMsrListHeader, u32Entry);
/** struct kvm_cpuid2 { __u32 nent; __u32 padding; struct kvm_cpuid_entry2 entries[]; } */
export const kvmCpuid2: FlexCodec<KvmCpuidEntry2> = defineFlex(kvmCpuid2Header, kvmCpuidEntry2);
/** struct kvm_irq_routing { __u32 nr; __u32 flags; struct kvm_irq_routing_entry entries[]; } */
export const kvmIrqRouting: FlexCodec<KvmIrqRoutingEntry> = defineFlex(kvmIrqRoutingHeader, {
  size: kvmIrqRoutingEntry.size,
  encodeInto: (v, b, o) => kvmIrqRoutingEntry.encodeInto(v, b, o),
  decode: (b, o) => kvmIrqRoutingEntry.decode(b, o),
});
