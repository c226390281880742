/** Test helper: `X86EmulateOps` over a sparse byte map, logging every call (the emulate() tests). */
import { type X86EmulateOps, X86EmulStatus } from '../src/index.js';

/** Ops over a sparse byte map, logging every call. */
export function fakeOps(overrides: Partial<X86EmulateOps> = {}) {
  const mem = new Map<number, number>();
  const log: string[] = [];
  const ops: X86EmulateOps = {
    fetch: (gva, data) => {
      log.push(`fetch ${gva.toString(16)}`);
      data[0] = mem.get(gva) ?? 0;
      return X86EmulStatus.Ok;
    },
    read: (gva, data) => {
      log.push(`read ${gva.toString(16)}/${data.length}`);
      for (let i = 0; i < data.length; i++) data[i] = mem.get(gva + i) ?? 0;
      return X86EmulStatus.Ok;
    },
    write: (gva, data) => {
      log.push(`write ${gva.toString(16)}/${data.length}`);
      for (let i = 0; i < data.length; i++) mem.set(gva + i, data[i]);
      return X86EmulStatus.Ok;
    },
    cmpxchg: (gva, expected, replacement) => {
      log.push(`cmpxchg ${gva.toString(16)}/${expected.length}`);
      let equal = true;
      for (let i = 0; i < expected.length; i++) if ((mem.get(gva + i) ?? 0) !== expected[i]) equal = false;
      if (equal) for (let i = 0; i < replacement.length; i++) mem.set(gva + i, replacement[i]);
      else for (let i = 0; i < expected.length; i++) expected[i] = mem.get(gva + i) ?? 0;
      return X86EmulStatus.Ok;
    },
    pioIn: (port, size, _count, data) => {
      log.push(`in ${port.toString(16)}/${size}`);
      data.fill(0x5a);
      return X86EmulStatus.Ok;
    },
    pioOut: (port, size, _count, data) => {
      log.push(`out ${port.toString(16)}/${size}=${data[0].toString(16)}`);
      return X86EmulStatus.Ok;
    },
    ...overrides,
  };
  return { ops, mem, log };
}
