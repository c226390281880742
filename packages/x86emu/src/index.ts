export * from './api/cpu-options.js';
export * from './api/emulate.js';
export * from './api/intercepts.js';
export * from './api/physical-memory.js';
export * from './api/platform.js';
export * from './api/stop-reason.js';
export { Cpu } from './cpu/cpu.js';
export {
  CPUID_EXT_ECX,
  CPUID_EXT_EDX,
  CPUID1_EBX,
  CPUID1_ECX,
  CPUID1_EDX,
  CPUID7_EBX,
  CPUID7_EDX,
  defaultCpuid,
} from './cpu/defaults.js';
export { defaultRandom, hostRandom, seededRandom } from './cpu/random-source.js';
export { type ByteSource, DecodeStatus, decode, MAX_INSN_LENGTH } from './decoder/decoder.js';
export { Insn } from './decoder/insn.js';
export { OPCODE_TABLE, type OpcodeRow, UNDEFINED_FLAGS_NOTES } from './decoder/opcode-table.js';
export { holdAsDoubles } from './double-fields.js';
export { Emulator, emulate } from './emulate/emulator.js';
export {
  ENGINE_EARLY,
  ENGINE_HOT,
  ENGINE_HOT_JS,
  ENGINE_RUN_UNIT,
  engineJitTuning,
} from './jit/engine-policy.js';
export { engineJitDefault, Jit, jitDefault } from './jit/jit.js';
export type { WasmMemory } from './jit/wasm/api.js';
export {
  isWasmPhysicalMemory,
  WasmGuestMemory,
  type WasmPhysicalMemory,
  wasmArenaMemory,
} from './jit/wasm/arena.js';
export { wasmBackend } from './jit/wasm/compile.js';
export {
  EPT_ACCESSED,
  EPT_DIRTY,
  EPT_EXEC,
  EPT_IPAT,
  EPT_LARGE,
  EPT_MT_SHIFT,
  EPT_MT_WB,
  EPT_READ,
  EPT_RWX,
  EPT_WRITE,
  EptWalkResult,
  EptWalkStatus,
  walkEpt,
} from './paging/ept.js';
export { NestedFormat, NestedPaging } from './paging/nested.js';
export { MAXPHYADDR, PFERR, WalkCtl, WalkResult, walkAddr } from './paging/walker.js';
export {
  attrIntoSegmentFields,
  attrToSegmentFields,
  type SegmentFields,
  segmentFieldsToAttr,
} from './segment-fields.js';
export { serializeCode, serializingCpuid } from './smp/code-sync.js';
export { LockedMemory } from './smp/locked-memory.js';
export { SharedPhysicalMemory } from './smp/shared-physical-memory.js';
export * from './state.js';
