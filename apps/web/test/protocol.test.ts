import { describe, expect, it } from 'vitest';
import {
  checkStartRequest,
  type LiveStats,
  mipsBetween,
  type StartRequest,
} from '../src/machine/protocol.js';

function request(over: Partial<StartRequest> = {}): StartRequest {
  return {
    type: 'start',
    accel: 'vmx',
    ramSize: 64 * 1024 * 1024,
    kernel: { name: 'demo.elf', image: new Uint8Array([0x7f, 0x45, 0x4c, 0x46]) },
    cmdline: '',
    debugExit: { iobase: 0xf4, iosize: 4 },
    control: new SharedArrayBuffer(64),
    epochMs: 1000,
    page: new SharedArrayBuffer(8),
    statsIntervalMs: 500,
    ...over,
  };
}

describe('checkStartRequest', () => {
  it('accepts what the page sends, with and without an initrd and a debug-exit port', () => {
    expect(checkStartRequest(request())).toBeUndefined();
    expect(
      checkStartRequest(request({ initrd: { name: 'i.cpio', image: new Uint8Array(1) }, debugExit: null })),
    ).toBeUndefined();
    expect(checkStartRequest(request({ jit: true }))).toBeUndefined();
    expect(checkStartRequest(request({ jit: false }))).toBeUndefined();
    // A structured clone of it too (what a worker receives).
    expect(checkStartRequest(structuredClone(request()))).toBeUndefined();
  });

  it.each([
    ['null', null, /not a message object/],
    ['another type', { ...request(), type: 'stop' }, /unknown message type stop/],
    ['the host engine', request({ accel: 'kvm' as never }), /accel must be one of vmx, svm, not kvm/],
    ['jit as a string', request({ jit: 'on' as never }), /jit must be a boolean, not on/],
    ['1 MiB of RAM', request({ ramSize: 1 << 20 }), /ramSize must be an integer from/],
    ['2 GiB of RAM', request({ ramSize: 2 ** 31 }), /ramSize must be an integer from/],
    ['RAM not in pages', request({ ramSize: 64 * 1024 * 1024 + 512 }), /multiple of 4 KiB/],
    ['an empty kernel', request({ kernel: { name: 'k', image: new Uint8Array(0) } }), /kernel must be/],
    ['a kernel as an array', request({ kernel: { name: 'k', image: [1, 2] as never } }), /kernel must be/],
    ['a bad initrd', request({ initrd: { name: 'i' } as never }), /initrd must be/],
    ['a 3-byte port', request({ debugExit: { iobase: 0xf4, iosize: 3 } }), /debugExit must be/],
    ['a port past 0xffff', request({ debugExit: { iobase: 0x10000, iosize: 1 } }), /debugExit must be/],
    [
      'control not shared',
      request({ control: new ArrayBuffer(64) as never }),
      /control must be a SharedArrayBuffer/,
    ],
    [
      'page too small',
      request({ page: new SharedArrayBuffer(4) }),
      /page must be a SharedArrayBuffer of at least 8/,
    ],
    ['epoch NaN', request({ epochMs: Number.NaN }), /epochMs/],
    ['stats every 1 ms', request({ statsIntervalMs: 1 }), /statsIntervalMs/],
  ])('refuses %s, saying what is wrong', (_what, message, reason) => {
    expect(checkStartRequest(message)).toMatch(reason);
  });
});

describe('mipsBetween', () => {
  const at = (instructions: number, elapsedMs: number, pausedMs = 0): LiveStats => ({
    instructions,
    elapsedMs,
    pausedMs,
    exits: { rows: [], totalExits: 0, guestNs: 0, userspaceNs: 0, haltedNs: 0, deadlines: 0 },
  });

  it('is instructions per µs over the unpaused time between two samples', () => {
    expect(mipsBetween(at(0, 0), at(50_000_000, 1000))).toBe(50);
    // 400 ms of the 500 ms between the samples were paused: 10 M in 100 ms.
    expect(mipsBetween(at(10_000_000, 500, 0), at(20_000_000, 1000, 400))).toBe(100);
  });

  it('is 0, not Infinity or NaN, when no unpaused time passed', () => {
    expect(mipsBetween(at(5, 100), at(5, 100))).toBe(0);
    expect(mipsBetween(at(5, 100, 0), at(9, 300, 200))).toBe(0);
  });
});
