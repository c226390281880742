/**
 * A vCPU on its own worker thread, kicked out of a guest's endless loop by the main thread —
 * how qemu-lite stops a vCPU: immediate_exit plus a signal to the vCPU thread, so KVM_RUN
 * returns EINTR and `run()` throws KvmError EINTR.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { KVM_EXIT, type KvmSystem, type KvmVcpu } from '@kvm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostKickHandle } from '../src/index.js';
import { HostKvmDevice, hostKvmAvailability, kickHostVcpu, openHostKvm } from '../src/index.js';
import { assembleReal, assemblerUnavailable, startRealMode } from '../src/testing/index.js';

const availability = hostKvmAvailability();
const skip = availability.available ? assemblerUnavailable() : availability.reason;
if (skip) console.warn(`[kick.kvm.test] skipped: ${skip}`);

const ORIGIN = 0x1000;
const COUNTER = 0x500;
const MEMORY_SIZE = 0x10000;

interface RunOutcome {
  reason?: number;
  code?: string;
  name?: string;
  rip: number;
}

describe.skipIf(skip !== undefined)(`a vCPU on a worker thread${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let worker: Worker;
  let handle: HostKickHandle;
  let counter: Uint32Array;
  let loop: { start: number; end: number };
  const messages: unknown[] = [];
  let waiting: ((message: unknown) => void) | undefined;
  const next = (): Promise<unknown> =>
    messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((resolve) => (waiting = resolve));

  // The guest counts in memory forever: it never exits on its own.
  const code = assembleReal(`
      xor ax, ax
      mov ds, ax
    spin:
      inc dword ptr [${COUNTER}]
      jmp spin
    end:
  `);
  // Guest RAM from the main thread's device; the worker's VM maps the same pages.
  const memory = new HostKvmDevice().allocateMemory(MEMORY_SIZE);

  /** Resolves once the guest has visibly run (its counter moved). */
  async function guestIsRunning(): Promise<void> {
    const start = counter[0];
    for (let i = 0; i < 2000 && counter[0] === start; i++) await sleep(5);
    expect(counter[0]).not.toBe(start);
  }

  beforeAll(async () => {
    const ram = new Uint8Array(memory.buffer);
    ram.set(code, ORIGIN);
    counter = new Uint32Array(memory.buffer, COUNTER, 1);
    loop = { start: ORIGIN + 4, end: ORIGIN + code.length };
    worker = new Worker(new URL('./fixtures/vcpu-worker.mjs', import.meta.url), {
      workerData: { userspaceAddr: memory.userspaceAddr, memorySize: MEMORY_SIZE, origin: ORIGIN },
    });
    worker.on('message', (message) => {
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve(message);
      } else messages.push(message);
    });
    worker.on('error', (error) => {
      throw error;
    });
    ({ handle } = (await next()) as { handle: HostKickHandle });
  });

  afterAll(async () => {
    worker.postMessage('close');
    await once(worker, 'exit');
  });

  it('hands out a structured-cloneable kick handle naming the vCPU', () => {
    expect(handle).toMatchObject({ engine: 'host', fd: expect.any(Number), token: expect.any(Number) });
  });

  it('stops a running guest: run() throws KvmError EINTR with RIP inside the loop', async () => {
    worker.postMessage('run');
    await guestIsRunning();
    kickHostVcpu(handle);
    const outcome = (await next()) as RunOutcome;
    expect(outcome).toMatchObject({ name: 'KvmError', code: 'EINTR' });
    expect(outcome.rip).toBeGreaterThanOrEqual(loop.start);
    expect(outcome.rip).toBeLessThan(loop.end);
  });

  it('consumes the kick: the next run enters the guest again, and a second kick stops it again', async () => {
    const before = counter[0];
    worker.postMessage('run');
    await guestIsRunning();
    expect(counter[0]).toBeGreaterThan(before);
    kickHostVcpu(handle);
    expect(await next()).toMatchObject({ code: 'EINTR' });
  });

  it('keeps a kick that comes before run(): that run returns EINTR without entering the guest', async () => {
    kickHostVcpu(handle);
    const before = counter[0];
    worker.postMessage('run');
    const outcome = (await next()) as RunOutcome;
    expect(outcome).toMatchObject({ code: 'EINTR' });
    expect(counter[0]).toBe(before);
  });
});

describe.skipIf(skip !== undefined)(
  `a vCPU created on the main thread and run on a worker${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('is stopped by the kick handle the main thread got before the worker mapped it', async () => {
      const kvm = openHostKvm() as KvmSystem;
      const vm = kvm.createVm();
      try {
        const memory = vm.allocateMemory(MEMORY_SIZE);
        const code = assembleReal(`
            out 0x10, al
          spin:
            inc dword ptr [${COUNTER}]
            jmp spin
        `);
        new Uint8Array(memory.buffer).set(code, ORIGIN);
        const counter = new Uint32Array(memory.buffer, COUNTER, 1);
        vm.setUserMemoryRegion({
          slot: 0,
          flags: 0,
          guestPhysAddr: 0n,
          memorySize: BigInt(MEMORY_SIZE),
          userspaceAddr: memory.userspaceAddr,
        });
        const vcpu = vm.createVcpu(0) as KvmVcpu;
        startRealMode(vcpu, ORIGIN);
        const handle = vcpu.kickHandle();

        const worker = new Worker(new URL('./fixtures/raw-vcpu-worker.mjs', import.meta.url), {
          workerData: { vcpuFd: vcpu.fd, mmapSize: kvm.getVcpuMmapSize() },
        });
        const next = () => once(worker, 'message').then(([message]) => message);
        try {
          expect(await next()).toBe('ready');
          worker.postMessage('run');
          expect(await next()).toEqual({ reason: KVM_EXIT.IO });
          expect(vcpu.kvmRun.exitReason).toBe(KVM_EXIT.IO); // the same page, seen from here

          worker.postMessage('run');
          for (let i = 0; i < 2000 && counter[0] === 0; i++) await sleep(5);
          expect(counter[0]).toBeGreaterThan(0);
          kickHostVcpu(handle);
          expect(await next()).toEqual({ code: 'EINTR' });
        } finally {
          worker.postMessage('close');
          await once(worker, 'exit');
        }
      } finally {
        vm.close();
        kvm.close();
      }
    });
  },
);
