import { describe, expect, it } from 'vitest';
import {
  Errno,
  KVM_EXIT,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_INTERNAL_ERROR,
  KVM_RUN_STRUCT_SIZE,
  KvmError,
  KvmRunView,
  kvmRunOffset,
} from '../../src/index.js';

const MMAP_SIZE = 3 * 4096;
const PIO = 4096;

function fresh(): { view: KvmRunView; dv: DataView; bytes: Uint8Array } {
  const buffer = new ArrayBuffer(MMAP_SIZE);
  return { view: new KvmRunView(buffer), dv: new DataView(buffer), bytes: new Uint8Array(buffer) };
}

describe('KvmRunView header fields', () => {
  it('reads what the engine wrote at the kernel offsets', () => {
    const { view, dv } = fresh();
    dv.setUint8(0, 1);
    dv.setUint8(1, 1);
    dv.setUint32(8, KVM_EXIT.HLT, true);
    dv.setUint8(12, 1);
    dv.setUint8(13, 1);
    dv.setUint16(14, 3, true);
    dv.setBigUint64(16, 0xfn, true);
    dv.setBigUint64(24, 0xfee00900n, true);
    expect(view.requestInterruptWindow).toBe(1);
    expect(view.immediateExit).toBe(1);
    expect(view.exitReason).toBe(KVM_EXIT.HLT);
    expect(view.readyForInterruptInjection).toBe(1);
    expect(view.ifFlag).toBe(1);
    expect(view.flags).toBe(3);
    expect(view.cr8).toBe(0xfn);
    expect(view.apicBase).toBe(0xfee00900n);
  });

  it('writes the in fields where the kernel reads them', () => {
    const { view, bytes, dv } = fresh();
    view.requestInterruptWindow = 1;
    view.immediateExit = 1;
    view.cr8 = 5n;
    expect(bytes[0]).toBe(1);
    expect(bytes[1]).toBe(1);
    expect(dv.getBigUint64(16, true)).toBe(5n);
  });

  it('refuses a mapping smaller than struct kvm_run', () => {
    let err: unknown;
    try {
      new KvmRunView(new ArrayBuffer(KVM_RUN_STRUCT_SIZE - 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect((err as KvmError).errno).toBe(Errno.EINVAL);
  });

  it('views part of a larger buffer from its byte offset', () => {
    const buffer = new ArrayBuffer(8192 + MMAP_SIZE);
    const view = new KvmRunView(new Uint8Array(buffer, 8192));
    view.exitReason = KVM_EXIT.SHUTDOWN;
    expect(new DataView(buffer).getUint32(8192 + 8, true)).toBe(KVM_EXIT.SHUTDOWN);
  });
});

describe('KvmRunView io', () => {
  it('reads an OUT exit and its data in the PIO page without copying', () => {
    const { view, dv, bytes } = fresh();
    dv.setUint32(8, KVM_EXIT.IO, true);
    dv.setUint8(32, KVM_EXIT_IO_OUT);
    dv.setUint8(33, 2);
    dv.setUint16(34, 0x3f8, true);
    dv.setUint32(36, 3, true);
    dv.setBigUint64(40, BigInt(PIO), true);
    dv.setUint16(PIO, 0x4241, true);
    dv.setUint16(PIO + 2, 0x4443, true);
    dv.setUint16(PIO + 4, 0x4645, true);
    const io = view.io;
    expect([io.direction, io.size, io.port, io.count, io.dataOffset]).toEqual([
      KVM_EXIT_IO_OUT,
      2,
      0x3f8,
      3,
      PIO,
    ]);
    expect(io.value).toBe(0x4241);
    expect(io.valueAt(2)).toBe(0x4645);
    expect(new TextDecoder().decode(io.data)).toBe('ABCDEF');
    // Zero copy: the view shares the mapping.
    bytes[PIO] = 0x61;
    expect(io.data[0]).toBe(0x61);
    // Same offset and length: the same view object, no allocation.
    expect(io.data).toBe(io.data);
  });

  it('answers an IN by writing the data where the kernel reads it', () => {
    const { view, dv } = fresh();
    view.exitReason = KVM_EXIT.IO;
    view.io.direction = KVM_EXIT_IO_IN;
    view.io.size = 4;
    view.io.count = 1;
    view.io.port = 0xcfc;
    view.io.dataOffset = PIO;
    view.io.value = 0x80861237;
    expect(dv.getUint32(PIO, true)).toBe(0x80861237);
    expect(dv.getUint16(34, true)).toBe(0xcfc);
    expect(dv.getBigUint64(40, true)).toBe(BigInt(PIO));
  });

  it('clamps the data to the mapping when the offset points outside it', () => {
    const { view } = fresh();
    view.io.size = 4;
    view.io.count = 4;
    view.io.dataOffset = MMAP_SIZE - 8;
    expect(view.io.data.length).toBe(8);
    expect(view.io.valueAt(3)).toBe(0);
    view.io.dataOffset = MMAP_SIZE + 100;
    expect(view.io.data.length).toBe(0);
  });
});

describe('KvmRunView other exits', () => {
  it('reads an MMIO write: address as bigint and halves, data, length', () => {
    const { view, dv } = fresh();
    dv.setUint32(8, KVM_EXIT.MMIO, true);
    dv.setBigUint64(32, 0x1_fee0_0030n, true);
    dv.setUint32(40, 0xdeadbeef, true);
    dv.setUint32(48, 4, true);
    dv.setUint8(52, 1);
    expect(view.mmio.physAddr).toBe(0x1_fee0_0030n);
    expect(view.mmio.physAddrLo).toBe(0xfee00030);
    expect(view.mmio.physAddrHi).toBe(1);
    expect(view.mmio.len).toBe(4);
    expect(view.mmio.isWrite).toBe(1);
    expect([...view.mmio.data.subarray(0, 4)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(view.exit()).toEqual({
      reason: 'mmio',
      physAddr: 0x1_fee0_0030n,
      len: 4,
      isWrite: true,
      data: new Uint8Array([0xef, 0xbe, 0xad, 0xde]),
    });
  });

  it('decodes fail_entry, internal error, exception, debug and system events', () => {
    const { view } = fresh();
    view.exitReason = KVM_EXIT.FAIL_ENTRY;
    view.failEntry.hardwareEntryFailureReason = 0x80000021n;
    view.failEntry.cpu = 3;
    expect(view.exit()).toEqual({ reason: 'fail_entry', hardwareEntryFailureReason: 0x80000021n, cpu: 3 });

    view.exitReason = KVM_EXIT.INTERNAL_ERROR;
    view.internal.suberror = KVM_INTERNAL_ERROR.EMULATION;
    view.internal.ndata = 2;
    view.internal.setDataAt(0, 7n);
    view.internal.setDataAt(1, 8n);
    expect(view.exit()).toEqual({ reason: 'internal_error', suberror: 1, data: [7n, 8n] });

    view.exitReason = KVM_EXIT.EXCEPTION;
    view.ex.exception = 13;
    view.ex.errorCode = 0x18;
    expect(view.exit()).toEqual({ reason: 'exception', exception: 13, errorCode: 0x18 });

    view.exitReason = KVM_EXIT.DEBUG;
    view.debug.exception = 1;
    view.debug.pc = 0x7c00n;
    view.debug.dr6 = 0xffff0ff0n;
    view.debug.dr7 = 0x400n;
    expect(view.exit()).toEqual({
      reason: 'debug',
      exception: 1,
      pc: 0x7c00n,
      dr6: 0xffff0ff0n,
      dr7: 0x400n,
    });

    view.exitReason = KVM_EXIT.SYSTEM_EVENT;
    view.systemEvent.type = 2;
    view.systemEvent.ndata = 1;
    view.systemEvent.setDataAt(0, 9n);
    expect(view.exit()).toEqual({ reason: 'system_event', type: 2, data: [9n] });
  });

  it('decodes an emulation failure with the failing instruction bytes', () => {
    const { view, dv } = fresh();
    view.exitReason = KVM_EXIT.INTERNAL_ERROR;
    view.internal.suberror = KVM_INTERNAL_ERROR.EMULATION;
    view.internal.ndata = 3;
    view.internal.emulationFailureFlags = 1n;
    view.internal.insnSize = 2;
    view.internal.insnBytes.set([0x0f, 0x0b]);
    expect(dv.getUint8(kvmRunOffset('emulation_failure.insn_size'))).toBe(2);
    expect(dv.getUint8(kvmRunOffset('emulation_failure.insn_bytes') + 1)).toBe(0x0b);
    const exit = view.exit();
    expect(exit).toMatchObject({ reason: 'internal_error', suberror: 1, insn: new Uint8Array([0x0f, 0x0b]) });
    // Without the flag, no instruction bytes are claimed.
    view.internal.emulationFailureFlags = 0n;
    expect(view.exit()).not.toHaveProperty('insn');
  });

  it('puts the union members at their kvm_run offsets', () => {
    const { view, dv } = fresh();
    view.ex.errorCode = 0xabcd;
    expect(dv.getUint32(kvmRunOffset('ex.error_code'), true)).toBe(0xabcd);
    view.failEntry.cpu = 7;
    expect(dv.getUint32(kvmRunOffset('fail_entry.cpu'), true)).toBe(7);
    view.hypercall.ret = 5n;
    expect(dv.getBigUint64(kvmRunOffset('hypercall.ret'), true)).toBe(5n);
  });

  it('decodes payload-free exits by name, and unknown numbers as other', () => {
    const { view } = fresh();
    view.exitReason = KVM_EXIT.HLT;
    expect(view.exit()).toEqual({ reason: 'hlt' });
    view.exitReason = KVM_EXIT.SHUTDOWN;
    expect(view.exit()).toEqual({ reason: 'shutdown' });
    view.exitReason = KVM_EXIT.IRQ_WINDOW_OPEN;
    expect(view.exit()).toEqual({ reason: 'irq_window_open' });
    view.exitReason = KVM_EXIT.X86_BUS_LOCK;
    expect(view.exit()).toEqual({ reason: 'other', exitReason: 33, name: 'KVM_EXIT_X86_BUS_LOCK' });
    view.exitReason = 500;
    expect(view.exit()).toEqual({ reason: 'other', exitReason: 500, name: 'KVM_EXIT_500' });
  });

  it('decodes an io exit to a value whose data is a view of the mapping', () => {
    const { view, bytes } = fresh();
    view.exitReason = KVM_EXIT.IO;
    view.io.direction = KVM_EXIT_IO_OUT;
    view.io.size = 1;
    view.io.count = 1;
    view.io.port = 0xe9;
    view.io.dataOffset = PIO;
    bytes[PIO] = 0x21;
    const exit = view.exit();
    expect(exit).toMatchObject({ reason: 'io', direction: 'out', size: 1, port: 0xe9, count: 1 });
    if (exit.reason !== 'io') throw new Error('not io');
    expect(exit.data.buffer).toBe(bytes.buffer);
    expect([...exit.data]).toEqual([0x21]);
  });
});
