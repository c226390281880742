/**
 * @kvm/vmx — Intel VT-x for the software engine: the silicon (VMCS, VMX instructions, VMX
 * non-root operation on x86emu) and the driver that programs it (ArchOps, as kvm-intel).
 */
import { type Kvm, openKvm, SoftKvmDevice, type SoftKvmOptions } from '@kvm/core';
import { VmxDriver } from './driver/vmx.js';
import { VmxSilicon, type VmxSiliconConfig } from './silicon/vmx-silicon.js';

export { type ExitHandler, VMX_EXIT_HANDLERS, vmxHandleExit } from './driver/exit-handlers.js';
export { toVmx, VcpuVmx } from './driver/vcpu-vmx.js';
export { VmcsAccess, type VmxError } from './driver/vmcs-access.js';
export { KVM_VMX_DEFAULT_PLE_WINDOW, VmxDriver, type VmxDriverOptions } from './driver/vmx.js';
export {
  EPT_VPID_CAP_HI,
  EPT_VPID_CAP_LO,
  EptCap,
  Eptp,
  EptQual,
  eptpInvalid,
  InveptType,
  InvvpidType,
} from './silicon/ept.js';
export { VmxNonRoot } from './silicon/nonroot.js';
export * from './silicon/vmcs-fields.js';
export * from './silicon/vmx-arch.js';
export * from './silicon/vmx-capabilities.js';
export { VmxSilicon, type VmxSiliconConfig, VmxStatus } from './silicon/vmx-silicon.js';

/** Options of `createVmxKvm`. */
export interface VmxKvmOptions extends SoftKvmOptions {
  /** The silicon to drive; default a fresh VT-x part with VMX enabled by the firmware. */
  silicon?: VmxSilicon;
  /** Or how to build it. */
  siliconConfig?: VmxSiliconConfig;
  /** The block compiler (`VmxSiliconConfig.jit`) when the silicon is made here. */
  jit?: boolean;
  /**
   * EPT (kvm-intel's `ept`): the driver runs guests with "enable EPT" and VPID and the MMU builds
   * a TDP map in the EPT format instead of shadow pages (`VmxDriverOptions.ept`, `MmuOptions.tdp`
   * and `ept`). Default false.
   */
  ept?: boolean;
  /** Its code generator, and with 'wasm' the wasm arena's RAM (`VmxSiliconConfig.jitBackend`, `wasmRamBytes`). */
  jitBackend?: 'js' | 'wasm';
  wasmRamBytes?: number;
  /** RDRAND's and RDSEED's seed when the silicon is made here (`VmxSiliconConfig.randomSeed`). */
  randomSeed?: number;
}

/** The raw device (`KvmDevice`) of a software engine on VMX silicon. Throws KvmError(EOPNOTSUPP) if unusable. */
export function createVmxDevice(options: VmxKvmOptions = {}): SoftKvmDevice {
  const silicon =
    options.silicon ??
    new VmxSilicon({
      jit: options.jit,
      jitBackend: options.jitBackend,
      wasmRamBytes: options.wasmRamBytes,
      randomSeed: options.randomSeed,
      sharedArena: options.sharedMemory,
      ...options.siliconConfig,
    });
  const ept = options.ept === true;
  const mmuOptions = ept ? { ...options.mmuOptions, tdp: true, ept: true } : options.mmuOptions;
  return new SoftKvmDevice(new VmxDriver(silicon, { ept }), { ...options, mmuOptions });
}

/** `/dev/kvm` of the software engine on VMX silicon: what `qemu-lite -accel vmx` opens. */
export function createVmxKvm(options: VmxKvmOptions = {}): Kvm {
  return openKvm(createVmxDevice(options));
}
