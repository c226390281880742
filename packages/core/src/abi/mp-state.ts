/**
 * `KVM_MP_STATE_*` (<linux/kvm.h>): a vCPU's multiprocessing state as KVM_GET/SET_MP_STATE
 * exchange it. On x86 the states past SIPI_RECEIVED belong to other architectures, except
 * AP_RESET_HOLD (SEV-ES) and SUSPENDED (Xen's SCHEDOP_poll).
 */
export const KVM_MP_STATE = {
  RUNNABLE: 0,
  UNINITIALIZED: 1,
  INIT_RECEIVED: 2,
  HALTED: 3,
  SIPI_RECEIVED: 4,
  STOPPED: 5,
  CHECK_STOP: 6,
  OPERATING: 7,
  LOAD: 8,
  AP_RESET_HOLD: 9,
  SUSPENDED: 10,
} as const;
