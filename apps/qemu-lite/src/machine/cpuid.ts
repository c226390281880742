/**
 * The CPUID the guest sees: KVM_GET_SUPPORTED_CPUID, minus what this machine does not have.
 *
 * - No local APIC unless the in-kernel irqchip is used: leaf 1 EDX.APIC (bit 9), ECX.x2APIC
 *   (bit 21) and ECX.TSC-deadline (bit 24, a local APIC timer mode) are cleared. A guest that
 *   believed them would program an APIC nobody emulates (Linux would wait for its timer).
 *   KVM recomputes EDX.APIC from IA32_APIC_BASE.EN at run time, so the machine also clears
 *   that enable bit (`machine.ts`); clearing the CPUID bit alone is not enough.
 * - Leaf 1 ECX.hypervisor (bit 31) is set, as every VMM does, so guests know they are guests.
 * - KVM's paravirtual leaf 0x40000001: only the clock source features (kvmclock MSRs, which
 *   the kernel handles itself) and NOP_IO_DELAY are kept. PV EOI, PV unhalt, PV IPIs, async
 *   page-fault interrupts and the like all need a local APIC or in-kernel help we do not set up.
 * - The topology (`-smp`), per vCPU, as QEMU's `cpu_x86_cpuid` writes it: leaf 1 EBX[31:24] the
 *   initial APIC ID and EBX[23:16] the logical processors per package (EDX.HTT when more than
 *   one); leaf 4 EAX[31:26] the cores per package − 1 and EAX[25:14] the logical processors
 *   sharing each cache − 1 (L1/L2 per core, L3 per package); leaf 0xB (and 0x1F where the host
 *   has it) the SMT and core levels with their APIC-ID shifts and the x2APIC ID in EDX (SDM Vol.
 *   2A CPUID, Vol. 3A 9.9.1); AMD's 0x80000008 ECX NC and ApicIdSize. Linux builds its topology
 *   (`nproc`, `/proc/cpuinfo`'s siblings/cores) from these, and a guest brings up the APs by the
 *   APIC IDs the MADT lists, which are these.
 */
import type { KvmCpuidEntry2 } from '@kvm/core';
import { apicIdWidths, type SmpTopology } from './smp.js';

const LEAF1_EDX_APIC = 1 << 9;
const LEAF1_ECX_X2APIC = 1 << 21;
const LEAF1_ECX_TSC_DEADLINE = 1 << 24;
const LEAF1_ECX_HYPERVISOR = 1 << 31;

/** KVM_FEATURE_* bits we keep: CLOCKSOURCE (0), NOP_IO_DELAY (1), CLOCKSOURCE2 (3), CLOCKSOURCE_STABLE_BIT (24). */
const KVM_FEATURES_KEPT = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 24);

export interface GuestCpuidOptions {
  /** The in-kernel irqchip (LAPIC) is present. */
  localApic: boolean;
  /** The machine's topology and this vCPU's initial APIC ID; absent: one CPU, APIC ID 0. */
  topology?: SmpTopology;
  apicId?: number;
}

const LEAF1_EDX_HTT = 1 << 28;
/** kvm_cpuid_entry2.flags: the entry is for one sub-leaf (`index`). */
const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
/** Leaf 0xB/0x1F ECX[15:8] level types (SDM Vol. 2A, CPUID leaf 0BH). */
const LEVEL_INVALID = 0;
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

/** Rewrites one entry for the vCPU's place in the topology (leaves 1, 4, 0xB, 0x1F, 0x80000008). */
function applyTopology(e: KvmCpuidEntry2, t: SmpTopology, apicId: number): void {
  const { threadBits, coreBits } = apicIdWidths(t);
  const perPackage = t.cores * t.threads;
  switch (e.function) {
    case 1:
      // QEMU fills the count only for more than one (and then sets HTT); 0 otherwise.
      e.ebx = (e.ebx & 0xffff) | ((perPackage > 1 ? perPackage & 0xff : 0) << 16) | ((apicId & 0xff) << 24);
      if (perPackage > 1) e.edx |= LEAF1_EDX_HTT;
      else e.edx &= ~LEAF1_EDX_HTT;
      break;
    case 4: {
      // Cache type 0 (EAX[4:0]) ends the list: its sharing fields stay 0.
      if ((e.eax & 0x1f) === 0) break;
      const level = (e.eax >>> 5) & 7;
      const sharing = level >= 3 ? (1 << (coreBits + threadBits)) - 1 : (1 << threadBits) - 1;
      e.eax = (e.eax & 0x3fff) | ((sharing & 0xfff) << 14) | ((((1 << coreBits) - 1) & 0x3f) << 26);
      break;
    }
    case 0xb:
    case 0x1f:
      e.edx = apicId;
      if (e.index === 0) {
        e.eax = threadBits;
        e.ebx = t.threads;
        e.ecx = (LEVEL_SMT << 8) | 0;
      } else if (e.index === 1) {
        e.eax = coreBits + threadBits;
        e.ebx = perPackage;
        e.ecx = (LEVEL_CORE << 8) | 1;
      } else {
        e.eax = 0;
        e.ebx = 0;
        e.ecx = (LEVEL_INVALID << 8) | (e.index & 0xff);
      }
      break;
    case 0x80000008:
      // AMD: NC (logical processors per package − 1) and ApicIdSize (APM Vol. 3, CPUID Fn8000_0008).
      e.ecx = (e.ecx & ~0xf0ff) | ((perPackage - 1) & 0xff) | ((coreBits + threadBits) << 12);
      break;
  }
}

export function guestCpuid(supported: readonly KvmCpuidEntry2[], opts: GuestCpuidOptions): KvmCpuidEntry2[] {
  const out = supported.map((entry) => {
    const e = { ...entry };
    if (e.function === 1) {
      e.ecx |= LEAF1_ECX_HYPERVISOR;
      if (!opts.localApic) {
        e.edx &= ~LEAF1_EDX_APIC;
        e.ecx &= ~(LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE);
      }
      e.ecx >>>= 0;
      e.edx >>>= 0;
    } else if (e.function === 0x40000001 && !opts.localApic) {
      e.eax = (e.eax & KVM_FEATURES_KEPT) >>> 0;
    }
    return e;
  });
  if (opts.topology === undefined) return out;
  const topology = opts.topology;
  const apicId = opts.apicId ?? 0;
  return out.flatMap((e) => {
    // The extended topology leaves are enumerated by sub-leaf until one says "invalid": they must
    // be index-significant, with sub-leaves 0 (SMT) and 1 (core) and nothing past them (KVM then
    // answers zeros, level type 0). An engine that lists one unindexed entry would otherwise
    // answer every sub-leaf alike, and Linux's detect_extended_topology would never end.
    const levels =
      e.function === 0xb || e.function === 0x1f
        ? e.index === 0
          ? [0, 1].map((index) => ({ ...e, index, flags: e.flags | KVM_CPUID_FLAG_SIGNIFCANT_INDEX }))
          : []
        : [e];
    for (const l of levels) {
      applyTopology(l, topology, apicId);
      l.eax >>>= 0;
      l.ebx >>>= 0;
      l.ecx >>>= 0;
      l.edx >>>= 0;
    }
    return levels;
  });
}
