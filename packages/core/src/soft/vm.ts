/**
 * `SoftVm`: one virtual machine (`struct kvm`): its memory slots, its vCPUs, the host-physical
 * space its guest RAM and shadow pages live in, and the VM-wide counters.
 */
import { Errno, KvmError } from '../api/errors.js';
import type { KvmUserspaceMemoryRegion } from '../api/structs.js';
import type { ArchOps } from './arch-ops.js';
import type { HostPhysicalMemory } from './host-physical.js';
import type { HvaSpace } from './hva-space.js';
import type { KvmIrqchip } from './irqchip/irqchip.js';
import { kvmCreateLapic, kvmFreeLapic } from './irqchip/vcpu-irq.js';
import { MemorySlots } from './memslots.js';
import { KvmRequest, SoftVcpu } from './vcpu.js';

/** CR0.PG */
const X86_CR0_PG = 0x80000000;

/** KVM_MAX_VCPU_IDS of the host kernel (KVM_CAP_MAX_VCPU_ID): ids must be below it. */
export const KVM_MAX_VCPU_IDS = 4096;
/** KVM_MAX_VCPUS of the host kernel (KVM_CAP_MAX_VCPUS). */
export const KVM_MAX_VCPUS = 1024;
/** KVM_SOFT_MAX_VCPUS (KVM_CAP_NR_VCPUS): the recommended number. */
export const KVM_SOFT_MAX_VCPUS = 2;

/**
 * The MMU as the generic part drives it (`kvm_mmu_*`). Installed by the engine when the shadow
 * MMU is wired; every member acts on one vCPU.
 */
export interface VcpuMmuOps {
  /** `kvm_mmu_create`: allocations that need no vCPU state. May throw KvmError(ENOMEM). */
  create(vcpu: SoftVcpu): void;
  /** `kvm_mmu_setup`: pick the paging mode from the vCPU's registers and load roots. */
  setup(vcpu: SoftVcpu): void;
  /** `kvm_mmu_reset_context`: the guest's paging mode changed. */
  resetContext(vcpu: SoftVcpu): void;
  /** `kvm_mmu_destroy` */
  destroy(vcpu: SoftVcpu): void;
  /** Drop every shadow page (slot change). */
  zapAll(vm: SoftVm): void;
  /** Adds the VM's MMU counters to `into` (`mmu_` + name). */
  stats?(vm: SoftVm, into: Record<string, number>): void;
  /**
   * One shadow MMU for the whole VM, as KVM's (shared shadow pages, rmaps and write protection
   * seen by every vCPU, remote TLB flushes). Until an MMU says so, KVM_RUN refuses to let two
   * vCPUs of one VM run while either has paging on (`kvmCheckSmpMmu`): a guest page-table write
   * on one vCPU would leave the other's shadow stale.
   */
  readonly perVm?: boolean;
}

export class SoftVm {
  readonly hpm: HostPhysicalMemory;
  readonly slots: MemorySlots;
  readonly vcpus = new Map<number, SoftVcpu>();
  /** VM-wide counters (exits by reason, MMU events), by name. */
  readonly stats: Record<string, number> = Object.create(null);
  /**
   * Counters bumped on every exit of a CR3 switch, kept as plain fields (a dictionary-mode
   * increment was 1 % of bench-ctxsw32): entries on the run loop's fast path (`exits_fastpath`)
   * and shadow #PFs the MMU fixed (`pf_fixed`), folded into `getStats()`.
   */
  exitsFastpath = 0;
  pfFixed = 0;
  tssAddr = -1;
  /** The in-kernel PIC, I/O APIC and GSI routing after KVM_CREATE_IRQCHIP (`irqchip_in_kernel`). */
  irqchip: KvmIrqchip | null = null;
  /** The VM's shadow MMU (`kvm->arch`'s page cache, rmaps, write protection), owned by the MMU glue. */
  mmuVm: unknown = null;
  /** The host-clock TSC's carry state, owned by `tsc-clock.ts` (a field: read before every entry); null otherwise. */
  tscSync: unknown = null;
  /** QEMU's -icount clock state, owned by `icount.ts` (a field: read before every entry); null without it. */
  icount: unknown = null;
  /** A memory slot was set at least once (sizes the shadow MMU's page budget, as in KVM). */
  everHadMemory = false;
  closed = false;

  constructor(
    readonly ops: ArchOps,
    readonly hva: HvaSpace,
    readonly mmapSize: number,
    readonly mmu: VcpuMmuOps | null,
  ) {
    this.hpm = ops.memory;
    this.slots = new MemorySlots(hva, this.hpm);
  }

  count(name: string, n = 1): void {
    this.stats[name] = (this.stats[name] ?? 0) + n;
  }

  /** KVM_SET_USER_MEMORY_REGION; on a change, shadow pages are zapped and every TLB flushed. */
  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void {
    const changed = this.slots.set(region);
    if (changed) {
      this.everHadMemory = true;
      this.mmu?.zapAll(this);
      for (const v of this.vcpus.values()) v.requests |= KvmRequest.MMU_RELOAD | KvmRequest.TLB_FLUSH;
    }
  }

  /**
   * KVM_CREATE_VCPU: EINVAL for an id ≥ KVM_MAX_VCPU_IDS or past KVM_MAX_VCPUS vCPUs, EEXIST for
   * an id in use. The vCPU is made in KVM's order — arch create (control structure and MSR
   * area), MMU create, arch setup (reset state), MMU setup — and a failure at any step undoes the
   * earlier ones (changelog: MMU set up in two phases; MSR set-up in vcpu_create).
   */
  createVcpu(id: number): SoftVcpu {
    const op = 'KVM_CREATE_VCPU';
    if (id >= KVM_MAX_VCPU_IDS) throw new KvmError(op, Errno.EINVAL, `id ${id} ≥ ${KVM_MAX_VCPU_IDS}`);
    if (this.vcpus.size >= KVM_MAX_VCPUS)
      throw new KvmError(op, Errno.EINVAL, `already ${KVM_MAX_VCPUS} vCPUs`);
    if (this.vcpus.has(id)) throw new KvmError(op, Errno.EEXIST, `vCPU ${id} exists`);
    const vcpu = new SoftVcpu(id, this, this.ops, this.mmapSize);
    let archMade = false;
    let mmuMade = false;
    try {
      this.ops.vcpuCreate(vcpu);
      archMade = true;
      this.mmu?.create(vcpu);
      mmuMade = true;
      this.ops.vcpuLoad(vcpu);
      this.ops.vcpuSetup(vcpu);
      this.mmu?.setup(vcpu);
      this.ops.vcpuPut?.(vcpu);
    } catch (e) {
      if (mmuMade) this.mmu?.destroy(vcpu);
      if (archMade) this.ops.vcpuFree(vcpu);
      throw e;
    }
    kvmCreateLapic(vcpu);
    this.vcpus.set(id, vcpu);
    return vcpu;
  }

  /** Frees a vCPU: MMU first (its roots), then the control structure. */
  destroyVcpu(vcpu: SoftVcpu): void {
    if (!this.vcpus.delete(vcpu.vcpuId)) return;
    kvmFreeLapic(vcpu);
    this.mmu?.destroy(vcpu);
    this.ops.vcpuFree(vcpu);
  }

  /**
   * Before an entry of `vcpu` when the VM has several: EOPNOTSUPP if the shadow MMU is per vCPU
   * (not `perVm`) and two vCPUs have been started while one of them has CR0.PG set. A vCPU
   * waiting for INIT/SIPI has run nothing, and unpaged guests use no guest page tables, so
   * neither can be left with a stale shadow.
   */
  kvmCheckSmpMmu(vcpu: SoftVcpu): void {
    const mmu = this.mmu;
    if (mmu === null || mmu.perVm === true) return;
    let started = 0;
    let paging = false;
    for (const v of this.vcpus.values()) {
      const apic = v.apic;
      if (apic !== null && (apic.uninitialized || apic.waitForSipi)) continue;
      started++;
      if (v.cr0 & X86_CR0_PG) paging = true;
    }
    if (started > 1 && paging) {
      throw new KvmError(
        'KVM_RUN',
        Errno.EOPNOTSUPP,
        `vCPU ${vcpu.vcpuId}: ${started} vCPUs running with paging, but this engine's shadow MMU is per vCPU: a page-table write on one would leave another's shadow stale (one MMU per VM is not wired yet)`,
      );
    }
  }

  /** `kvm_mmu_reset_context` for one vCPU, or nothing when no MMU is wired. */
  mmuResetContext(vcpu: SoftVcpu): void {
    this.mmu?.resetContext(vcpu);
  }

  /** The VM's counters with the backend's per-vCPU ones folded in. */
  getStats(): Record<string, number> {
    const out: Record<string, number> = { ...this.stats };
    if (this.exitsFastpath !== 0) out.exits_fastpath = this.exitsFastpath;
    if (this.pfFixed !== 0) out.pf_fixed = this.pfFixed;
    let instructions = 0;
    for (const v of this.vcpus.values()) {
      instructions += v.instructions;
      this.ops.stats?.(v, out);
    }
    this.mmu?.stats?.(this, out);
    out.instructions = instructions;
    out.hypervisor_pages = this.hpm.allocatedPages;
    // Engine-wide, like hypervisor_pages: guest memory the VMM got from allocateMemory (mmap).
    out.mmap_bytes = this.hva.mappedBytes;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const v of [...this.vcpus.values()]) this.destroyVcpu(v);
    this.slots.clear();
  }
}
