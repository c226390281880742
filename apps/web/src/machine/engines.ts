/**
 * The engines a page can run: the software engine on either silicon model. The host engine
 * (/dev/kvm through a native addon) has no place in a browser. Options as qemu-lite's
 * `engines.ts` gives them to its soft engines: a HLT may block in KVM_RUN until a kick
 * (`haltBlocks`), and guest time follows host time (`tscClock: 'host'`), as under QEMU's TCG.
 * Guest RAM is shared memory (`sharedMemory`): the page gets it in `started`, no copy.
 * `jit`: x86emu's block compiler, as `-accel vmx,jit=on`; undefined leaves the engines' default
 * (the compiler: `engineJitDefault`, whose X86EMU_JIT a browser has no environment for). The
 * compiler's code generator is WebAssembly, as qemu-lite's default (`defaultJitBackend`), with
 * `ramSize` of guest RAM in the silicon's wasm arena, a shared `WebAssembly.Memory` (the page is
 * cross-origin isolated, which a SharedArrayBuffer needs anyway); where the arena cannot be had
 * (no WebAssembly, or the engine refuses that much shared memory) the JavaScript one.
 */
import type { Kvm, VcpuKickHandle } from '@kvm/core';
import { createSvmKvm } from '@kvm/svm';
import { createVmxKvm } from '@kvm/vmx';
import type { Accel } from './protocol.js';

export function openEngine(accel: Accel, jit: boolean | undefined, ramSize: number): Kvm {
  const base = { haltBlocks: true, tscClock: 'host', sharedMemory: true, jit } as const;
  const open = (o: typeof base & { jitBackend?: 'js' | 'wasm'; wasmRamBytes?: number }): Kvm =>
    accel === 'svm' ? createSvmKvm(o) : createVmxKvm(o);
  if (jit === false || typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== 'object')
    return open({ ...base, jitBackend: 'js' });
  try {
    return open({ ...base, jitBackend: 'wasm', wasmRamBytes: ramSize });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return open({ ...base, jitBackend: 'js' });
  }
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
