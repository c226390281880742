/**
 * An AP's thread on the host engine (`-smp`): KVM_RUN on one vCPU the machine's thread created
 * (a vCPU fd is process-wide; `kvm_run` mapped here, as @kvm/host's README says a worker does),
 * until the machine says quit. With the in-kernel irqchip the kernel takes HLT, INIT, SIPI and
 * the IPIs itself; what needs userspace (port I/O, MMIO, shutdown, a failure) goes to the
 * machine's thread through the mailbox (`vcpu/ap-mailbox.ts`), and this thread waits for it.
 */
import { workerData } from 'node:worker_threads';
import { Errno, KVM_IOCTL, KvmError, type VcpuKickHandle } from '@kvm/core';
import { HostKvmDevice, kickHostVcpu } from '@kvm/host';
import {
  AP_DONE,
  AP_ERRNO,
  AP_HOLD,
  AP_PARKED,
  AP_QUIT,
  AP_REASON,
  AP_REQ,
  AP_REQ_EXIT,
  AP_REQ_FAILED,
  AP_REQ_NONE,
  KVM_RUN_EXIT_UNION,
  openApMailbox,
} from './vcpu/ap-mailbox.js';

export interface ApWorkerInput {
  fd: number;
  runSize: number;
  sab: SharedArrayBuffer;
  /** vCPU 0's kick handle: the machine's thread sleeps in its KVM_RUN. */
  bspKick: VcpuKickHandle;
}

/** kvm_run.exit_reason (<linux/kvm.h>). */
const EXIT_REASON_OFFSET = 8;

function main(): void {
  const { fd, runSize, sab, bspKick } = workerData as ApWorkerInput;
  const { cells, data } = openApMailbox(sab);
  const device = new HostKvmDevice();
  try {
    const run = new Uint8Array(device.mmapRun(fd, runSize));
    const dv = new DataView(run.buffer, run.byteOffset, run.byteLength);
    while (Atomics.load(cells, AP_QUIT) === 0) {
      if (Atomics.load(cells, AP_HOLD) !== 0) {
        // Held by the debugger: out of KVM_RUN until released (or told to quit).
        Atomics.store(cells, AP_PARKED, 1);
        Atomics.notify(cells, AP_PARKED);
        while (Atomics.load(cells, AP_HOLD) !== 0 && Atomics.load(cells, AP_QUIT) === 0)
          Atomics.wait(cells, AP_HOLD, 1, 100);
        Atomics.store(cells, AP_PARKED, 0);
        continue;
      }
      try {
        device.ioctl(fd, KVM_IOCTL.KVM_RUN, 0);
      } catch (error) {
        const errno = error instanceof KvmError ? error.errno : -1;
        // EINTR: a kick (the machine stopping us). EAGAIN: we took INIT/SIPI while UNINITIALIZED.
        if (errno === Errno.EINTR || errno === Errno.EAGAIN) continue;
        Atomics.store(cells, AP_ERRNO, errno);
        Atomics.store(cells, AP_REQ, AP_REQ_FAILED);
        Atomics.notify(cells, AP_REQ);
        kickHostVcpu(bspKick);
        break;
      }
      data.set(run);
      Atomics.store(cells, AP_REASON, dv.getUint32(EXIT_REASON_OFFSET, true));
      Atomics.store(cells, AP_REQ, AP_REQ_EXIT);
      kickHostVcpu(bspKick);
      while (Atomics.load(cells, AP_REQ) !== AP_REQ_NONE && Atomics.load(cells, AP_QUIT) === 0)
        Atomics.wait(cells, AP_REQ, AP_REQ_EXIT, 100);
      if (Atomics.load(cells, AP_QUIT) !== 0) break;
      run.set(data.subarray(KVM_RUN_EXIT_UNION, run.length), KVM_RUN_EXIT_UNION);
    }
  } finally {
    Atomics.store(cells, AP_DONE, 1);
    Atomics.notify(cells, AP_DONE);
  }
}

main();
