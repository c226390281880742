import { describe, expect, it } from 'vitest';
import { openKvm } from '../../src/front/kvm-system.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { fakeArch } from './fake-arch.js';

describe('SoftKvmOptions.sharedMemory', () => {
  it('makes allocateMemory hand out SharedArrayBuffers; the default stays ArrayBuffers', () => {
    const shared = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null, sharedMemory: true })).createVm();
    const m = shared.allocateMemory(64 * 1024);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.buffer.byteLength).toBe(64 * 1024);
    const plain = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null })).createVm();
    expect(plain.allocateMemory(4096).buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('is a TypeError, said once at open, where SharedArrayBuffer does not exist', () => {
    const saved = globalThis.SharedArrayBuffer;
    // As in a page that is not cross-origin isolated.
    (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
    try {
      expect(() => new SoftKvmDevice(fakeArch(), { mmu: null, sharedMemory: true })).toThrow(
        /sharedMemory needs SharedArrayBuffer/,
      );
    } finally {
      globalThis.SharedArrayBuffer = saved;
    }
  });
});
