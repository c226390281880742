/**
 * qemu-lite as a library: `runGuest` boots a guest and resolves with how it ended; the pieces
 * (devices, loaders, exit handling, the engine table) are exported for tests and other VMMs.
 */
export type { MachineConfig } from './config.js';
export { LOG_ITEMS } from './config.js';
export { Cmos } from './devices/cmos.js';
export { DEFAULT_DEBUG_EXIT, DebugExit, type DebugExitConfig } from './devices/debug-exit.js';
export { FERR_IRQ, FpuErrorPort } from './devices/ferr-port.js';
export { FW_CFG, FwCfg } from './devices/fw-cfg.js';
export { I8042 } from './devices/i8042.js';
export { I8254, PIT_HZ } from './devices/i8254.js';
export { I8259Pair } from './devices/i8259.js';
export { IoBus } from './devices/io-bus.js';
export { Serial16550 } from './devices/serial.js';
export type { Clock, IrqSink, PortIoDevice } from './devices/types.js';
export {
  ACCEL_NAMES,
  defaultEngine,
  ENGINES,
  type EngineEntry,
  EngineUnavailableError,
  engineByName,
  SVM_NPT_DEFAULT,
  VMX_EPT_DEFAULT,
} from './engines.js';
export {
  type BzImageLoaderOptions,
  hostDecompress,
  makeBzImageLoader,
  parseBzImageHeader,
} from './loaders/bzimage.js';
export { kernelFormatOf, loadFlat, loadMultiboot } from './loaders/index.js';
export * from './loaders/types.js';
export { guestCpuid } from './machine/cpuid.js';
export { Machine, type MachineCarryOver, type MachineHooks } from './machine/machine.js';
export { buildE820 } from './machine/memory-map.js';
export {
  demoGuestPath,
  type GuestResult,
  type GuestSession,
  type RunGuestOptions,
  resolveConfig,
  runGuest,
  STATUS_ENGINE_FAILURE,
  STATUS_TIMEOUT,
  statusOf,
} from './run-guest.js';
export { parseSize } from './size.js';
export { type ExitStatsSnapshot, formatExitStats } from './stats.js';
export {
  EXIT_CONTINUE,
  EXIT_HALT,
  EXIT_STOP,
  type ExitAction,
  type ExitContext,
  handleExit,
  type StopReason,
} from './vcpu/exit-handler.js';
