/** Guests on a bare x86emu `Cpu` (no hypervisor): the machine, the entry state, the runner. */
export { applyEntryState, attrToSegment, segmentToAttr, stateToSregs } from './entry-state.js';
export { BareMachine, type BareMachineOptions, NS_PER_INSTRUCTION, RTC_EPOCH_MS } from './machine.js';
export { type BareReport, type BareRunOptions, runOnBareCpu } from './run.js';
