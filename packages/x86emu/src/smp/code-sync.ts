/**
 * Cross-modifying code between vCPU threads (issue 14): code one thread writes into the shared
 * RAM must not run stale on another. SDM Vol. 3 8.1.3 ("Handling Self- and Cross-Modifying
 * Code") asks the executing processor to execute a serializing instruction between the writer's
 * store and its own execution of the new code; until then it may run the old bytes. Each thread's
 * Cpu keeps its own decode cache and compiled blocks by frame, and only its own writes drop them
 * (tlb.ts): another thread's store goes straight into the SharedArrayBuffer. So at each
 * serializing point a thread's Cpu revalidates its code (`Cpu.revalidateCode`: every decoded or
 * compiled page is compared with memory before its next use, and dropped if it changed), as a
 * real core discards prefetched and decoded instructions there.
 *
 * The serializing points a bare Cpu sees are CPUID and SERIALIZE (`serializingCpuid`, SDM Vol. 3
 * 10.3 "Serializing Instructions"); an engine also serializes at every KVM_RUN entry (a VM exit and
 * entry serialize, SDM Vol. 3 25.1.3/26) and at interrupt delivery, which is how Linux's
 * text_poke_sync reaches every CPU (an IPI each, then IRET). The cost is one 4 KiB compare per
 * code page at its first use after each point (bench/smp-locked.mjs measures it).
 */
import type { CpuidOps } from '../api/platform.js';
import type { Cpu } from '../cpu/cpu.js';

/** A serializing event on `cpu`: code written by other threads since is seen from now on. */
export function serializeCode(cpu: Cpu): void {
  cpu.revalidateCode();
}

/**
 * Makes CPUID and SERIALIZE on `cpu` serialize its code (SDM Vol. 3 10.3: both are serializing),
 * CPUID around its current CPUID ops, for a Cpu whose RAM other threads write.
 */
export function serializingCpuid(cpu: Cpu): void {
  cpu.serializeRevalidates = true;
  const inner: CpuidOps = cpu.cpuidOps;
  cpu.cpuidOps = {
    cpuid(leaf: number, subleaf: number, out: Uint32Array): void {
      cpu.revalidateCode();
      inner.cpuid(leaf, subleaf, out);
    },
  };
}
