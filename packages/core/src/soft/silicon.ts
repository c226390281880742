/**
 * What the two silicon models (`@kvm/vmx`'s VMX non-root operation, `@kvm/svm`'s guest mode)
 * do identically because the x86 architecture, not the vendor, decides it: how a guest runs on
 * the hypervisor's shadow page tables, and the CPUID vendor leaf. Vendor rules (controls,
 * intercepts, exit encodings) stay in their packages.
 */
import {
  CPUID1_EDX,
  type Cpu,
  type CpuState,
  holdAsDoubles,
  PagingMode,
  type PagingOverride,
} from '@kvm/x86emu';

const X86_CR4_PAE = 1 << 5;
const EFER_LMA = 1 << 10;
const EFER_NX = 1 << 11;

/** A paging override to fill with `loadShadowPagingOverride` (one per silicon, reused). */
export function newShadowPagingOverride(): PagingOverride {
  return { mode: PagingMode.Pae, root: 0, wp: true, pse: false, nxe: false, pge: false };
}

/**
 * Shadow paging: every linear address goes through the hypervisor's shadow root (the CR3 the
 * entry loaded): in 4-level format while the guest is in IA-32e mode (EFER.LMA: the root is a
 * shadow PML4, as KVM's `shadow_root_level` of 4 for a long-mode guest), else in PAE format when
 * CR4.PAE is set, else 2-level. The shadow tables themselves
 * carry the guest's permissions, so WP is always on (the MMU folds CR0.WP into the sptes),
 * PSE and PGE are off (shadow tables use 4 KiB pages only and are flushed per CR3), and NX
 * follows EFER.NXE.
 */
export function loadShadowPagingOverride(o: PagingOverride, s: CpuState): PagingOverride {
  const lma = (s.efer[0] & EFER_LMA) !== 0;
  o.mode = lma ? PagingMode.FourLevel : s.cr[4] & X86_CR4_PAE ? PagingMode.Pae : PagingMode.Legacy;
  // A PML4 may sit above 4 GiB (CR3 bits up to MAXPHYADDR); the PAE/2-level roots never do.
  o.root = lma ? s.cr[3] + s.crHigh[3] * 4294967296 : s.cr[3];
  o.wp = true;
  o.pse = false;
  // A 4-level shadow walks with NXE = 1 (KVM sets it in the hardware EFER under shadow paging:
  // sptes carry XD only where the guest's rights lack execute, none when the guest's NXE is 0).
  o.nxe = lma || (s.efer[0] & EFER_NX) !== 0;
  o.pge = false;
  return o;
}

/**
 * What lets a VM entry keep x86emu's TLB (a VPID- or ASID-tagged TLB: SDM Vol. 3 28.3.3.3, APM
 * 15.16). Its entries translate through the shadow tables, so they stay right across an exit and
 * entry as long as the entry loads the same shadow regime (format, root, NXE) and nothing filled
 * the TLB while the guest was out (a host running on the same Cpu); whatever the hypervisor changes
 * in the shadow tables it flushes itself (`kvm_flush_remote_tlbs` → `ArchOps.flushTlb`), as KVM
 * does with VPIDs. Entries are only cached from present translations, and a permission miss walks
 * again, so a shadow entry that gained rights needs no flush. Allocation-free.
 */
export class ShadowTlbRegime {
  private mode = -1;
  private root = -1;
  private nxe = false;
  private tag = -1;
  /** TLB fills counted at the last exit: a fill since then is not the guest's. */
  private missesAtExit = -1;

  /**
   * At VM entry: true when the TLB may be kept for `o` under `tag` (another context, e.g. the
   * current VMCS or the ASID, must flush); records the regime either way.
   */
  keep(o: PagingOverride, tag: number, tlbMisses: number): boolean {
    const same =
      this.mode === o.mode &&
      this.root === o.root &&
      this.nxe === o.nxe &&
      this.tag === tag &&
      this.missesAtExit === tlbMisses;
    this.mode = o.mode;
    this.root = o.root;
    this.nxe = o.nxe;
    this.tag = tag;
    return same;
  }

  /** At VM exit: the guest's TLB fills end here. */
  exited(tlbMisses: number): void {
    this.missesAtExit = tlbMisses;
  }

  /** Forget the regime: the next entry flushes. */
  reset(): void {
    this.mode = -1;
    this.missesAtExit = -1;
  }
}

/**
 * What lets a VM entry keep x86emu's TLB under nested paging (Intel EPT with a VPID, SDM Vol. 3
 * 28.3.3.3; AMD NPT with an ASID, APM 15.16 and 15.25.9). Its entries are combined guest-linear →
 * host-physical translations, so they stay valid across an exit and an entry with the same tags
 * (the vendor's: the VMCS, EPTP and VPID; N_CR3 and the ASID) and the guest paging state (CR0,
 * CR3, CR4, EFER) the exit left — a guest CR3/CR0/CR4 write that did not exit flushed the TLB
 * itself, so the state it ran on last is what counts — when no host code filled the TLB
 * meanwhile. The hypervisor flushes itself when it changes the nested tables. Allocation-free.
 */
export class NestedTlbRegime {
  private tag0 = -1;
  private tag1 = -1;
  private tag2 = -1;
  private cr0 = -1;
  private cr3 = -1;
  private cr4 = -1;
  private efer = -1;
  /** TLB fills counted at the last exit: a fill since then is not the guest's. */
  private missesAtExit = -1;

  constructor() {
    // The nested root's tag, CR0 with PG set, CR3 (x86emu's double-fields.ts).
    holdAsDoubles(this, ['tag1', 'cr0', 'cr3']);
  }

  /** At a VM entry with nested paging: true when the TLB may stay; records the regime either way. */
  keep(cpu: Cpu, tag0: number, tag1: number, tag2: number): boolean {
    const s = cpu.state;
    const cr3 = s.cr[3] + s.crHigh[3] * 4294967296;
    const same =
      this.tag0 === tag0 &&
      this.tag1 === tag1 &&
      this.tag2 === tag2 &&
      this.cr0 === s.cr[0] &&
      this.cr3 === cr3 &&
      this.cr4 === s.cr[4] &&
      this.efer === s.efer[0] &&
      this.missesAtExit === cpu.stats.tlbMisses;
    this.tag0 = tag0;
    this.tag1 = tag1;
    this.tag2 = tag2;
    return same;
  }

  /** At the VM exit: the paging state the guest ran on last, and the TLB fills so far. */
  exited(cpu: Cpu): void {
    const s = cpu.state;
    this.missesAtExit = cpu.stats.tlbMisses;
    this.cr0 = s.cr[0];
    this.cr3 = s.cr[3] + s.crHigh[3] * 4294967296;
    this.cr4 = s.cr[4];
    this.efer = s.efer[0];
  }

  /** Forget the regime: the next entry flushes. */
  reset(): void {
    this.tag0 = -1;
    this.missesAtExit = -1;
  }
}

/**
 * CPUID.1:EDX of the software engine's parts: the modelled part's platform bits (VME, DE, MCE,
 * MTRR, MCA, PAT, PSE-36 …: what the drivers' MSRs and x86emu provide) with x86emu's instruction
 * set (x87, MMX, FXSR, SSE, SSE2, CLFSH), and no APIC of the silicon's own: KVM's in-kernel irqchip
 * supplies that bit (KVM_GET_SUPPORTED_CPUID).
 */
export function siliconCpuid1Edx(): number {
  return ((PART_CPUID_1_EDX | CPUID1_EDX) & ~CPUID_1_EDX_APIC) >>> 0;
}
/** The Core Duo / K8 platform bits the parts always reported (FPU…PSE-36, MMX, FXSR). */
const PART_CPUID_1_EDX = 0x0183fbff;
const CPUID_1_EDX_APIC = 1 << 9;

/** CPUID leaf 0: the highest basic leaf in EAX, the 12-byte vendor string in EBX, EDX, ECX. */
export function cpuidVendorLeaf(vendor: string, maxLeaf: number, out: Uint32Array): void {
  const v = vendor.padEnd(12, ' ');
  const word = (i: number): number =>
    (v.charCodeAt(i) |
      (v.charCodeAt(i + 1) << 8) |
      (v.charCodeAt(i + 2) << 16) |
      (v.charCodeAt(i + 3) << 24)) >>>
    0;
  out[0] = maxLeaf;
  out[1] = word(0);
  out[3] = word(4);
  out[2] = word(8);
}

/**
 * The silicon's own CPU counters folded into `Vm.getStats()` (qemu-lite's `-d exits`): x86emu's
 * (`cpu_tlbMisses`, `cpu_tlbFlushes`, `cpu_decodes`, ...) and its block compiler's (`jit_compiled`,
 * `jit_flushes`, ...), what the engine's boot costs beside its exits. Numbers only.
 */
export function siliconCpuStats(cpu: Cpu, into: Record<string, number>): void {
  addCounters('cpu_', cpu.stats, into);
  if (cpu.jit !== null) addCounters('jit_', cpu.jit.stats, into);
}

function addCounters(prefix: string, from: object, into: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) {
    if (typeof v !== 'number') continue;
    const key = prefix + k;
    into[key] = (into[key] ?? 0) + Math.round(v);
  }
}
