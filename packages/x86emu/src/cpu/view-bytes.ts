/**
 * A byte, word or dword of guest memory in a host page view (a TLB entry's `tlbView`),
 * little-endian: the fast paths of the interpreter's memory accesses share these (V8 inlines them).
 */

/** The `size`-byte (1, 2 or 4) value at offset `o` of `view`, unsigned. */
export function viewLoad(view: Uint8Array, o: number, size: number): number {
  if (size === 4) return (view[o] | (view[o + 1] << 8) | (view[o + 2] << 16) | (view[o + 3] << 24)) >>> 0;
  if (size === 2) return view[o] | (view[o + 1] << 8);
  return view[o];
}

/** Stores the low `size` (1, 2 or 4) bytes of `value` at offset `o` of `view`. */
export function viewStore(view: Uint8Array, o: number, size: number, value: number): void {
  view[o] = value;
  if (size >= 2) view[o + 1] = value >>> 8;
  if (size === 4) {
    view[o + 2] = value >>> 16;
    view[o + 3] = value >>> 24;
  }
}
