import { KVM_EXIT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_SYSTEM_EVENT, KvmRunView } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { DebugExit } from '../../src/devices/debug-exit.js';
import { IoBus } from '../../src/devices/io-bus.js';
import type { PortIoDevice } from '../../src/devices/types.js';
import {
  EXIT_CONTINUE,
  EXIT_HALT,
  EXIT_STOP,
  type ExitContext,
  handleExit,
  type StopReason,
} from '../../src/vcpu/exit-handler.js';

/** A kvm_run area of plain bytes, as the kernel lays it out (data page one page in). */
function runArea(): KvmRunView {
  return new KvmRunView(new Uint8Array(8192));
}

class Recorder implements PortIoDevice {
  readonly name = 'recorder';
  readonly writes: [number, number, number][] = [];
  ioIn(port: number, size: number): number {
    return (port + size) & 0xff;
  }
  ioOut(port: number, size: number, value: number): void {
    this.writes.push([port, size, value]);
  }
}

function context(bus = new IoBus()) {
  let stopped: StopReason | undefined;
  const mmio: string[] = [];
  const ctx: ExitContext = {
    bus,
    mmioRead: (gpa, data) => {
      mmio.push(`r ${gpa.toString(16)} ${data.length}`);
      data.fill(0xab);
    },
    mmioWrite: (gpa, data) => mmio.push(`w ${gpa.toString(16)} ${Array.from(data).join(',')}`),
    stop: (r) => {
      stopped ??= r;
    },
    stopReason: () => stopped,
  };
  return { ctx, mmio, stopped: () => stopped };
}

function ioExit(run: KvmRunView, direction: number, port: number, size: number, count: number): void {
  run.exitReason = KVM_EXIT.IO;
  run.io.direction = direction;
  run.io.port = port;
  run.io.size = size;
  run.io.count = count;
  run.io.dataOffset = 4096;
}

describe('handleExit', () => {
  it('sends an OUT to the device on the port and continues', () => {
    const bus = new IoBus();
    const dev = new Recorder();
    bus.register(0x3f8, 8, dev);
    const run = runArea();
    ioExit(run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1);
    run.io.value = 0x41;
    const { ctx } = context(bus);
    expect(handleExit(KVM_EXIT.IO, run, ctx)).toBe(EXIT_CONTINUE);
    expect(dev.writes).toEqual([[0x3f8, 1, 0x41]]);
  });

  it('fills every item of a string IN (rep insw) from the device', () => {
    const bus = new IoBus();
    bus.register(0x1f0, 1, new Recorder());
    const run = runArea();
    ioExit(run, KVM_EXIT_IO_IN, 0x1f0, 2, 3);
    const { ctx } = context(bus);
    handleExit(KVM_EXIT.IO, run, ctx);
    expect([run.io.valueAt(0), run.io.valueAt(1), run.io.valueAt(2)]).toEqual([0xf2, 0xf2, 0xf2]);
  });

  it('reads all ones from a port nobody claims, and counts it', () => {
    const bus = new IoBus();
    const run = runArea();
    ioExit(run, KVM_EXIT_IO_IN, 0xcfc, 4, 1);
    const { ctx } = context(bus);
    handleExit(KVM_EXIT.IO, run, ctx);
    expect(run.io.value).toBe(0xffffffff);
    expect(bus.unclaimed.get(0xcfc)).toBe(1);
  });

  it('stops with (v << 1) | 1 when the guest writes v to debug-exit', () => {
    const bus = new IoBus();
    const { ctx, stopped } = context(bus);
    bus.register(0xf4, 4, new DebugExit((status) => ctx.stop({ kind: 'debug-exit', status })));
    const run = runArea();
    ioExit(run, KVM_EXIT_IO_OUT, 0xf4, 4, 1);
    run.io.value = 0x10;
    expect(handleExit(KVM_EXIT.IO, run, ctx)).toBe(EXIT_STOP);
    expect(stopped()).toEqual({ kind: 'debug-exit', status: 0x21 });
  });

  it('answers an MMIO read and passes an MMIO write with its bytes', () => {
    const run = runArea();
    const { ctx, mmio } = context();
    run.mmio.physAddr = 0xfee00020n;
    run.mmio.len = 4;
    run.mmio.isWrite = 0;
    expect(handleExit(KVM_EXIT.MMIO, run, ctx)).toBe(EXIT_CONTINUE);
    expect(Array.from(run.mmio.data.subarray(0, 4))).toEqual([0xab, 0xab, 0xab, 0xab]);
    run.mmio.isWrite = 1;
    run.mmio.len = 2;
    run.mmio.data.set([1, 2]);
    handleExit(KVM_EXIT.MMIO, run, ctx);
    expect(mmio).toEqual(['r fee00020 4', 'w fee00020 1,2']);
  });

  it('halts on HLT and continues on an open interrupt window', () => {
    const run = runArea();
    const { ctx } = context();
    expect(handleExit(KVM_EXIT.HLT, run, ctx)).toBe(EXIT_HALT);
    expect(handleExit(KVM_EXIT.IRQ_WINDOW_OPEN, run, ctx)).toBe(EXIT_CONTINUE);
  });

  it('treats a triple fault as a reset and a system-event shutdown as power-off', () => {
    const run = runArea();
    const a = context();
    expect(handleExit(KVM_EXIT.SHUTDOWN, run, a.ctx)).toBe(EXIT_STOP);
    expect(a.stopped()).toEqual({ kind: 'reset', cause: 'triple fault (KVM_EXIT_SHUTDOWN)' });
    const b = context();
    run.systemEvent.type = KVM_SYSTEM_EVENT.SHUTDOWN;
    expect(handleExit(KVM_EXIT.SYSTEM_EVENT, run, b.ctx)).toBe(EXIT_STOP);
    expect(b.stopped()).toEqual({ kind: 'poweroff' });
  });

  it('stops with a failure that names what the engine reported', () => {
    const run = runArea();
    const a = context();
    run.failEntry.hardwareEntryFailureReason = 0x80000021n;
    run.failEntry.cpu = 0;
    expect(handleExit(KVM_EXIT.FAIL_ENTRY, run, a.ctx)).toBe(EXIT_STOP);
    expect(a.stopped()).toEqual({
      kind: 'failure',
      exitReason: KVM_EXIT.FAIL_ENTRY,
      detail: 'hardware_entry_failure_reason 0x80000021 on cpu 0',
    });
    const b = context();
    run.internal.suberror = 1;
    run.internal.ndata = 0;
    handleExit(KVM_EXIT.INTERNAL_ERROR, run, b.ctx);
    expect(b.stopped()).toEqual({
      kind: 'failure',
      exitReason: 17,
      detail: 'suberror 1 (emulation failure)',
    });
  });

  it('fails cleanly on an exit reason it has no handler for', () => {
    const run = runArea();
    const { ctx, stopped } = context();
    expect(handleExit(KVM_EXIT.HYPERCALL, run, ctx)).toBe(EXIT_STOP);
    expect(stopped()).toEqual({
      kind: 'failure',
      exitReason: 3,
      detail: 'qemu-lite does not handle this exit',
    });
  });
});
