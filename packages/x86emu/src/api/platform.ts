/**
 * The machine around the CPU, as interfaces the caller implements. Each has a default in
 * `defaults.ts` (no devices, no MSRs beyond the CPU's own, CPUID describing what x86emu
 * implements). None of these may throw.
 */

/** Port I/O (IN/OUT/INS/OUTS). `size` is 1, 2 or 4 bytes. */
export interface PortIoOps {
  /** Value read from `port`, zero-extended; an absent device reads all ones. */
  portIn(port: number, size: 1 | 2 | 4): number;
  portOut(port: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * Model-specific registers the CPU does not keep itself. The CPU owns EFER, TSC,
 * SYSENTER_CS/ESP/EIP and asks here for any other index. 64-bit values travel as two 32-bit
 * halves.
 */
export interface MsrOps {
  /** Fills `out[0]` (low) and `out[1]` (high); returns false when the MSR does not exist (#GP(0)). */
  rdmsr(index: number, out: Uint32Array): boolean;
  /** Returns false to refuse the write (#GP(0)): unknown MSR or reserved bits set. */
  wrmsr(index: number, lo: number, hi: number): boolean;
}

/** CPUID: fills `out` with EAX, EBX, ECX, EDX for (`leaf`, `subleaf`). */
export interface CpuidOps {
  cpuid(leaf: number, subleaf: number, out: Uint32Array): void;
}

/**
 * The interrupt controller the CPU takes maskable interrupts from (a PIC or local APIC model),
 * asked at instruction boundaries when RFLAGS.IF = 1 and no interrupt shadow is in force.
 */
export interface InterruptControllerOps {
  /** True when an interrupt is pending for the CPU (the INTR line is asserted). */
  hasInterrupt(): boolean;
  /** The interrupt-acknowledge cycle: returns the vector (0–255) and marks it in service. */
  acknowledge(): number;
}

/**
 * The processor's random number generator, which RDRAND and RDSEED read (SDM Vol. 1 7.3.17):
 * 32 random bits a call. Default: the host's cryptographic generator (`crypto.getRandomValues`),
 * or a seeded, reproducible sequence when `X86EMU_RANDOM_SEED` is set (cpu/random-source.ts).
 */
export interface RandomOps {
  /** 32 random bits as an unsigned number, or -1 when none are available now (CF = 0, the destination 0). */
  random32(): number;
}
