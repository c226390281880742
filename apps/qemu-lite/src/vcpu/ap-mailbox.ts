/**
 * The shared mailbox between an AP's thread (host engine, `-smp`) and the machine's thread,
 * which owns the devices. An AP's KVM_RUN that ends in an exit for userspace copies its
 * `kvm_run` here, raises REQ and kicks vCPU 0 out of KVM_RUN; the machine's thread handles the
 * exit against these bytes (a `KvmRunView` over plain bytes, as exit-handler tests do), clears
 * REQ, and the AP copies the answer (an IN's data, an MMIO read's bytes) back before it runs on.
 */

/** Int32 cells. */
export const AP_REQ = 0;
export const AP_REASON = 1;
export const AP_ERRNO = 2;
export const AP_QUIT = 3;
export const AP_DONE = 4;
/**
 * The debugger's hold (`ApThreads.hold`): while AP_HOLD is 1 the AP's thread does not enter
 * KVM_RUN, and says so in AP_PARKED, so that the machine's thread may use its vCPU (registers,
 * KVM_SET_GUEST_DEBUG) without waiting on a KVM_RUN that a halted AP never leaves.
 */
export const AP_HOLD = 5;
export const AP_PARKED = 6;

/** AP_REQ: nothing posted; an exit posted; KVM_RUN failed (AP_ERRNO says how). */
export const AP_REQ_NONE = 0;
export const AP_REQ_EXIT = 1;
export const AP_REQ_FAILED = 2;

/** Where the copy of kvm_run starts. */
export const AP_DATA_OFFSET = 64;

/**
 * The part of kvm_run an AP copies back after its exit was handled: from the exit union (offset
 * 32) on. The header before it (request_interrupt_window, immediate_exit, exit_reason, …) stays
 * as the kernel and a concurrent kick left it, so a kick that raced the handling is not undone.
 */
export const KVM_RUN_EXIT_UNION = 32;

export interface ApMailbox {
  sab: SharedArrayBuffer;
  cells: Int32Array;
  /** The copy of the AP's kvm_run. */
  data: Uint8Array;
}

export function createApMailbox(runSize: number): ApMailbox {
  const sab = new SharedArrayBuffer(AP_DATA_OFFSET + runSize);
  return openApMailbox(sab);
}

export function openApMailbox(sab: SharedArrayBuffer): ApMailbox {
  return { sab, cells: new Int32Array(sab, 0, 8), data: new Uint8Array(sab, AP_DATA_OFFSET) };
}
