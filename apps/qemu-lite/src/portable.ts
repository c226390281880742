/**
 * `qemu-lite/portable`: the machine, its devices, its loaders and the vCPU loop, with nothing
 * from `node:` (the isomorphism test in apps/web bundles this entry for a browser and fails on
 * any Node built-in). What touches files or decompresses with Node's zlib goes through
 * `#platform/*` (package.json `imports`): Node gets `src/platform/*.node.ts`, a browser bundle
 * `*.browser.ts`. The engines are the caller's: `@kvm/vmx` or `@kvm/svm` (the host engine and
 * `runGuest`, which starts a worker_threads Worker, stay in the Node entry `qemu-lite`).
 */
export type { FlatImage, KernelImage, MachineConfig } from './config.js';
export { LOG_ITEMS } from './config.js';
export { DEFAULT_DEBUG_EXIT, type DebugExitConfig } from './devices/debug-exit.js';
export { parseBzImageHeader } from './loaders/bzimage.js';
export { kernelFormatOf } from './loaders/index.js';
export { MAX_INITRD_BYTES, MAX_KERNEL_BYTES } from './loaders/limits.js';
export { hostDecompress, hostDecompresses, type PayloadFormat, payloadFormat } from './loaders/payload.js';
export { LoaderError } from './loaders/types.js';
export { Machine, type MachineHooks } from './machine/machine.js';
export { type RunMachineOptions, runMachine } from './machine/run-machine.js';
export { parseSize } from './size.js';
export { ExitStats, type ExitStatsSnapshot, formatExitStats } from './stats.js';
export type { StopReason } from './vcpu/exit-handler.js';
export { formatRegisters } from './vcpu/registers.js';
export { SerialBuffer } from './vcpu/serial-buffer.js';
export {
  createSharedControl,
  DEADLINE_GEN,
  openSharedControl,
  QUIT,
  QUIT_TIMEOUT,
  QUIT_USER,
  ringWrite,
  type SharedControl,
  STATE,
  STATE_DONE,
  STATE_HALTED,
  STATE_IN_RUN,
  sharedClock,
  wakeMachine,
} from './vcpu/shared.js';
