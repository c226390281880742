/** Exception vectors (SDM Vol. 3 Table 6-1). */
export const DE = 0;
export const DB = 1;
export const NMI = 2;
export const BP = 3;
export const OF = 4;
export const BR = 5;
export const UD = 6;
export const NM = 7;
export const DF = 8;
export const TS = 10;
export const NP = 11;
export const SS = 12;
export const GP = 13;
export const PF = 14;
export const MF = 16;
export const AC = 17;

/** Thrown (one shared object, no allocation) to unwind an instruction that raised a guest fault. */
export const GUEST_FAULT = { guestFault: true } as const;
/** Thrown to unwind when an intercept or stop request ends the instruction early. */
export const GUEST_EXIT = { guestExit: true } as const;

/** Segment-flag bits kept per segment register for fast limit/type checks. */
export const SF_R = 1;
export const SF_W = 2;
export const SF_EXPDOWN = 4;
export const SF_BIG = 8;
export const SF_NULL = 16;
/** Base 0, limit 4 GiB - 1, expand-up: the check reduces to the type bits and the 4 GiB wrap. */
export const SF_FLAT = 32;
/** 64-bit mode: the address is checked for canonical form, not against a limit (Cpu.linear64). */
export const SF_LONG = 64;

/** TLB permission bits. */
export const TP_SR = 1;
export const TP_SW = 2;
export const TP_UR = 4;
export const TP_UW = 8;
export const TP_SX = 16;
export const TP_UX = 32;
export const TP_GLOBAL = 64;

export const TLB_SIZE = 4096;
export const TLB_MASK = TLB_SIZE - 1;
/** Filled entries a flush clears one by one; beyond this many it clears the whole TLB. */
export const TLB_USED_MAX = 256;
/** Thrown under emulate() when a locked compare-exchange lost a race: the instruction is emulated again. */
export const EMUL_RETRY = { emulRetry: true } as const;

/** `Cpu.unwinding`: how the current instruction ended early without a throw. */
export const Unwind = {
  None: 0,
  /** A fault recorded in `faultVector`/`faultError`/`faultHasError` (and `faultAddress`): deliver it. */
  Fault: 1,
  /** An intercept or stop request: `stopRequested` says which StopReason ends the run. */
  Exit: 2,
} as const;
