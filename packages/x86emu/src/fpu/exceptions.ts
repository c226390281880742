/**
 * The six floating-point exceptions (SDM Vol. 1 4.9, 8.4). Their bit positions are the same in
 * the x87 status and control words (bits 0-5) and in MXCSR (flags 0-5, masks 7-12), so one set
 * of constants serves both. Every operation in this library returns a mask of these, plus C1.
 */
export const FE_INVALID = 0x01; // IE
export const FE_DENORMAL = 0x02; // DE
export const FE_DIVBYZERO = 0x04; // ZE
export const FE_OVERFLOW = 0x08; // OE
export const FE_UNDERFLOW = 0x10; // UE
export const FE_INEXACT = 0x20; // PE
export const FE_ALL = 0x3f;

/**
 * x87 condition code C1 as it sits in the status word (bit 9). Arithmetic instructions set it
 * when PE is reported and the result was rounded up in magnitude (SDM Vol. 1 8.1.3.1, 8.5.6).
 */
export const SW_C1 = 0x200;
/** The other condition codes, at their status-word positions (SDM Vol. 1 8.1.3). */
export const SW_C0 = 0x100;
export const SW_C2 = 0x400;
export const SW_C3 = 0x4000;

/** Exceptions detected before the computation: when unmasked, the destination is not written. */
export const FE_PRECOMPUTATION = FE_INVALID | FE_DENORMAL | FE_DIVBYZERO;

/** Exceptions in `flags` whose mask bit is clear in `masks` (x87 CW bits 0-5; MXCSR >> 7). */
export function unmaskedExceptions(flags: number, masks: number): number {
  return flags & ~masks & FE_ALL;
}
