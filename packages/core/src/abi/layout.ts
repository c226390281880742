/**
 * Struct layouts as data, and the codecs derived from them.
 *
 * Each struct of `<linux/kvm.h>` is written down once as its C name, its size and its fields
 * (name, offset, kind); encoders and decoders are derived from that description, and the layout
 * test derives from the same description a C program that prints `sizeof`/`offsetof` from the
 * machine's own header, so the numbers here are checked against the kernel's, not copied.
 *
 * Byte order is little endian (x86). 64-bit fields are `bigint`: these cross the ABI once per
 * ioctl, never per instruction. The hot `kvm_run` fields have their own allocation-free view
 * (`run.ts`).
 */
import { Errno, KvmError } from '../api/errors.js';

/** What a field holds and how many bytes it takes. */
export type FieldKind =
  | { readonly kind: 'u8' | 'u16' | 'u32' | 's32' | 'u64'; readonly size: number }
  /** A fixed-size byte array, decoded as a copy (`Uint8Array`); a shorter array encodes zero-filled. */
  | { readonly kind: 'bytes'; readonly size: number }
  /** A fixed-size array of `__u64`, decoded as `bigint[]`. */
  | { readonly kind: 'u64[]'; readonly size: number; readonly count: number }
  /** A nested struct. */
  | { readonly kind: 'struct'; readonly size: number; readonly layout: StructLayout }
  /** Padding or reserved bytes: not a property, written as zeros. */
  | { readonly kind: 'pad'; readonly size: number };

export const u8: FieldKind = { kind: 'u8', size: 1 };
export const u16: FieldKind = { kind: 'u16', size: 2 };
export const u32: FieldKind = { kind: 'u32', size: 4 };
export const s32: FieldKind = { kind: 's32', size: 4 };
export const u64: FieldKind = { kind: 'u64', size: 8 };
export const bytes = (size: number): FieldKind => ({ kind: 'bytes', size });
export const u64s = (count: number): FieldKind => ({ kind: 'u64[]', size: 8 * count, count });
export const pad = (size: number): FieldKind => ({ kind: 'pad', size });
export const nested = (layout: StructLayout): FieldKind => ({ kind: 'struct', size: layout.size, layout });

export interface FieldLayout {
  /** The property of the TypeScript object (camel-cased C name), or `null` for padding. */
  readonly name: string | null;
  /** The C member designator, as `offsetof(struct c, <this>)` takes it: `'padding'`, `'arch.debugreg'`. */
  readonly c: string;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  readonly type: FieldKind;
}

export interface StructLayout {
  /** The C struct tag, without `struct`: `'kvm_regs'`. */
  readonly c: string;
  /** `sizeof(struct c)`; for a struct ending in a flexible array, the size without it. */
  readonly size: number;
  readonly fields: readonly FieldLayout[];
}

/** Encoder and decoder of one struct, derived from its layout. */
export interface StructCodec<T> {
  readonly layout: StructLayout;
  /** `sizeof` the struct. */
  readonly size: number;
  /** A fresh, zero-padded byte image of `value`. Throws KvmError(EINVAL) for a field out of range. */
  encode(value: T): Uint8Array;
  /**
   * Writes `value` into `bytes` at `offset`, padding included (zeros). Throws KvmError(EINVAL) for a
   * field out of range, KvmError(EFAULT) if `bytes` is too short (the kernel's copy_from_user).
   */
  encodeInto(value: T, bytes: Uint8Array, offset?: number): void;
  /** Reads a struct from `bytes` at `offset`. Throws KvmError(EFAULT) if `bytes` is too short. */
  decode(bytes: Uint8Array, offset?: number): T;
}

/** A field `name` at `offset`; `c` defaults to the snake-cased name. */
export function field(name: string, offset: number, type: FieldKind, c?: string): FieldLayout {
  return { name, c: c ?? name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), offset, type };
}

/** Padding or reserved bytes named `c` in the header. */
export function padding(c: string, offset: number, size: number): FieldLayout {
  return { name: null, c, offset, type: pad(size) };
}

/** Describes a struct and derives its codec. Throws if a field runs past `size` (a typo in the data). */
export function defineStruct<T>(c: string, size: number, fields: readonly FieldLayout[]): StructCodec<T> {
  for (const f of fields) {
    if (f.offset < 0 || f.offset + f.type.size > size) {
      throw new RangeError(`struct ${c}: field ${f.c} at ${f.offset}+${f.type.size} exceeds size ${size}`);
    }
  }
  const layout: StructLayout = { c, size, fields };
  return {
    layout,
    size,
    encode(value: T): Uint8Array {
      const out = new Uint8Array(size);
      writeStruct(layout, value as Record<string, unknown>, viewOf(out, 0, size, c), 0);
      return out;
    },
    encodeInto(value: T, target: Uint8Array, offset = 0): void {
      const dv = viewOf(target, offset, size, c);
      target.fill(0, offset, offset + size);
      writeStruct(layout, value as Record<string, unknown>, dv, offset);
    },
    decode(source: Uint8Array, offset = 0): T {
      return readStruct(layout, viewOf(source, offset, size, c), offset) as T;
    },
  };
}

function viewOf(b: Uint8Array, offset: number, size: number, c: string): DataView {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > b.byteLength) {
    throw new KvmError(
      `struct ${c}`,
      Errno.EFAULT,
      `needs ${size} bytes at ${offset}, buffer has ${b.byteLength}`,
    );
  }
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const U64_MAX = (1n << 64n) - 1n;

function badField(layout: StructLayout, f: FieldLayout, why: string): KvmError {
  return new KvmError(`struct ${layout.c}`, Errno.EINVAL, `${f.c}: ${why}`);
}

function checkInt(layout: StructLayout, f: FieldLayout, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badField(layout, f, `${String(v)} is not an integer in [${min}, ${max}]`);
  }
  return v;
}

/** A u64 from a bigint, or from a non-negative safe integer for callers that hold numbers. */
function toU64(layout: StructLayout, f: FieldLayout, v: unknown): bigint {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw badField(layout, f, `${String(v)} is not a u64`);
}

function writeStruct(layout: StructLayout, value: Record<string, unknown>, dv: DataView, base: number): void {
  if (value === null || typeof value !== 'object') {
    throw new KvmError(`struct ${layout.c}`, Errno.EINVAL, 'not an object');
  }
  for (const f of layout.fields) {
    if (f.name === null) continue;
    const at = base + f.offset;
    const v = value[f.name];
    const t = f.type;
    switch (t.kind) {
      case 'u8':
        dv.setUint8(at, checkInt(layout, f, v, 0, 0xff));
        break;
      case 'u16':
        dv.setUint16(at, checkInt(layout, f, v, 0, 0xffff), true);
        break;
      case 'u32':
        dv.setUint32(at, checkInt(layout, f, v, 0, 0xffffffff), true);
        break;
      case 's32':
        dv.setInt32(at, checkInt(layout, f, v, -0x80000000, 0x7fffffff), true);
        break;
      case 'u64':
        dv.setBigUint64(at, toU64(layout, f, v), true);
        break;
      case 'bytes': {
        if (!(v instanceof Uint8Array) || v.length > t.size) {
          throw badField(layout, f, `expected a Uint8Array of at most ${t.size} bytes`);
        }
        new Uint8Array(dv.buffer, dv.byteOffset + at, t.size).set(v);
        break;
      }
      case 'u64[]': {
        if (!Array.isArray(v) || v.length > t.count) {
          throw badField(layout, f, `expected an array of at most ${t.count} u64`);
        }
        for (let i = 0; i < v.length; i++) dv.setBigUint64(at + 8 * i, toU64(layout, f, v[i]), true);
        break;
      }
      case 'struct':
        writeStruct(t.layout, v as Record<string, unknown>, dv, at);
        break;
      case 'pad':
        break;
    }
  }
}

function readStruct(layout: StructLayout, dv: DataView, base: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of layout.fields) {
    if (f.name === null) continue;
    const at = base + f.offset;
    const t = f.type;
    switch (t.kind) {
      case 'u8':
        out[f.name] = dv.getUint8(at);
        break;
      case 'u16':
        out[f.name] = dv.getUint16(at, true);
        break;
      case 'u32':
        out[f.name] = dv.getUint32(at, true);
        break;
      case 's32':
        out[f.name] = dv.getInt32(at, true);
        break;
      case 'u64':
        out[f.name] = dv.getBigUint64(at, true);
        break;
      case 'bytes': {
        // A copy in a fresh ArrayBuffer, even when the source is a SharedArrayBuffer.
        const copy = new Uint8Array(t.size);
        copy.set(new Uint8Array(dv.buffer, dv.byteOffset + at, t.size));
        out[f.name] = copy;
        break;
      }
      case 'u64[]': {
        const a: bigint[] = [];
        for (let i = 0; i < t.count; i++) a.push(dv.getBigUint64(at + 8 * i, true));
        out[f.name] = a;
        break;
      }
      case 'struct':
        out[f.name] = readStruct(t.layout, dv, at);
        break;
      case 'pad':
        break;
    }
  }
  return out;
}
