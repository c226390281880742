/**
 * The engines a page can run: the software engine on either silicon model. The host engine
 * (/dev/kvm through a native addon) has no place in a browser. Options as qemu-lite's
 * `engines.ts` gives them to its soft engines: a HLT may block in KVM_RUN until a kick
 * (`haltBlocks`), and guest time follows host time (`tscClock: 'host'`), as under QEMU's TCG.
 * Guest RAM is a SharedArrayBuffer (`sharedMemory`): the page gets it in `started`, no copy.
 * `jit`: x86emu's block compiler, as `-accel vmx,jit=on`; undefined leaves the engines' default
 * (the compiler: `engineJitDefault`, whose X86EMU_JIT a browser has no environment for).
 */
import type { Kvm, VcpuKickHandle } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import type { Accel } from './protocol.js';

export function openEngine(accel: Accel, jit?: boolean): Kvm {
  const options = { haltBlocks: true, tscClock: 'host', sharedMemory: true, jit } as const;
  return accel === 'svm' ? createSvmKvm(options) : createVmxKvm(options);
}

/**
 * Makes the vCPU leave KVM_RUN promptly, from any thread: the soft vCPU polls its kick flag
 * between instruction batches and a blocked HLT sleeps on it (qemu-lite's `kickSoftVcpu`).
 */
export function kickVcpu(handle: VcpuKickHandle | undefined): void {
  const flag = handle?.flag;
  if (flag instanceof Int32Array) {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  }
}
