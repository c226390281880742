/**
 * @kvm/guests: freestanding guest programs that test an engine from inside the guest, the
 * demo guest qemu-lite boots, benchmark guests, and the runner that boots them on qemu-lite and
 * parses their reports.
 */

export {
  applyEntryState,
  BareMachine,
  type BareMachineOptions,
  type BareReport,
  type BareRunOptions,
  NS_PER_INSTRUCTION,
  runOnBareCpu,
  stateToSregs,
} from './bare/index.js';
export {
  ACCELS,
  type Accel,
  type EngineQuirks,
  engineAvailability,
  engineQuirks,
  HOST_QUIRKS,
  hostKvmFlavor,
  hostQuirks,
  SOFT_ENGINE_QUIRKS,
  SVM_NPT_ENGINE_QUIRKS,
  svmNptDefault,
} from './engines.js';
export {
  DEVICE_GUESTS,
  GUESTS,
  type GuestInfo,
  type GuestKind,
  guestByName,
  imagePath,
  type Need,
  type Outcome,
} from './manifest.js';
export { type FailedCheck, type ParsedReport, parseReport, type SkippedCheck } from './report.js';
export {
  DEFAULT_TIMEOUT_MS,
  type Ending,
  type GuestReport,
  judge,
  type RunOptions,
  runGuestReport,
} from './runner.js';
