/**
 * @kvm/svm — AMD-V for the software engine: the silicon (VMCB, VMRUN, intercepts, guest mode on
 * x86emu) and the driver that programs it (ArchOps, as kvm-amd).
 */
import { type Kvm, openKvm, SoftKvmDevice, type SoftKvmOptions } from '@kvm/core';
import { SvmDriver } from './driver/svm.js';
import { SvmSilicon, type SvmSiliconConfig } from './silicon/svm-silicon.js';

export { SVM_EXIT_HANDLERS, type SvmExitHandler, svmHandleExit } from './driver/exit-handlers.js';
export { KVM_SVM_DEFAULT_PLE_WINDOW, SvmDriver, type SvmDriverOptions } from './driver/svm.js';
export { toSvm, VcpuSvm } from './driver/vcpu-svm.js';
export { arToAttrib, attribToAr, SvmGuestMode } from './silicon/guest-mode.js';
export { NP_ENABLE, NPF_INFO_HI_FINAL, NPF_INFO_HI_TABLE } from './silicon/npt.js';
export * from './silicon/svm-arch.js';
export { SVM_MAXPHYADDR, SvmSilicon, type SvmSiliconConfig, SvmStatus } from './silicon/svm-silicon.js';
export { Vmcb } from './silicon/vmcb.js';
export * from './silicon/vmcb-layout.js';

export interface SvmKvmOptions extends SoftKvmOptions {
  silicon?: SvmSilicon;
  siliconConfig?: SvmSiliconConfig;
  /** The block compiler (`SvmSiliconConfig.jit`) when the silicon is made here. */
  jit?: boolean;
  /** Its code generator, and with 'wasm' the wasm arena's RAM (`SvmSiliconConfig.jitBackend`, `wasmRamBytes`). */
  jitBackend?: 'js' | 'wasm';
  wasmRamBytes?: number;
  /** RDRAND's and RDSEED's seed when the silicon is made here (`SvmSiliconConfig.randomSeed`). */
  randomSeed?: number;
  /**
   * Nested paging (kvm-amd's `npt`): the driver runs guests with NP_ENABLE and the MMU builds a
   * TDP map instead of shadow pages (`SvmDriverOptions.npt`, `MmuOptions.tdp`). Default false.
   */
  npt?: boolean;
}

/** The raw device (`KvmDevice`) of a software engine on SVM silicon. Throws KvmError(EOPNOTSUPP) if unusable. */
export function createSvmDevice(options: SvmKvmOptions = {}): SoftKvmDevice {
  const silicon =
    options.silicon ??
    new SvmSilicon({
      jit: options.jit,
      jitBackend: options.jitBackend,
      wasmRamBytes: options.wasmRamBytes,
      randomSeed: options.randomSeed,
      sharedArena: options.sharedMemory,
      ...options.siliconConfig,
    });
  const npt = options.npt === true;
  const mmuOptions = npt ? { ...options.mmuOptions, tdp: true } : options.mmuOptions;
  return new SoftKvmDevice(new SvmDriver(silicon, { npt }), { ...options, mmuOptions });
}

/** `/dev/kvm` of the software engine on SVM silicon: what `qemu-lite -accel svm` opens. */
export function createSvmKvm(options: SvmKvmOptions = {}): Kvm {
  return openKvm(createSvmDevice(options));
}
