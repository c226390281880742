import { auditMmu } from './audit.js';
import type { MmuHostOps, MmuVmHostOps } from './host.js';
import {
  type KvmMmu,
  kvmMmuCreateVcpu,
  kvmMmuVmFree,
  mmuAuditIfOn,
  newMmuVmState,
  type ShadowPageInfo,
  shadowPagesOf,
} from './mmu.js';
import { kvmMmuZapAllPages } from './page-cache.js';
import type { MmuOptions } from './state.js';
import type { MmuStats } from './stats.js';
import type { MmuVmState } from './vm-state.js';

/**
 * The shadow MMU of one VM (KVM's `kvm->arch`: page cache, hash, rmaps, write protection,
 * counters), shared by its vCPUs. Each vCPU gets its own context ({@link KvmMmu}: paging mode,
 * roots, walker) from {@link KvmMmuVm.createVcpuMmu}. A guest page-table write seen by any vCPU
 * updates the shadow pages every vCPU uses; rights taken away from a shared spte flush the acting
 * vCPU's TLB at once and ask every other vCPU for a flush (`MmuVcpuHostOps.requestTlbFlush`); a
 * root zapped while vCPUs use it stays valid until each has reloaded (`requestMmuReload`).
 */
export class KvmMmuVm {
  /** @internal */
  readonly kvm: MmuVmState;

  /** @internal use kvmMmuCreateVm. */
  constructor(host: MmuVmHostOps, options: Partial<MmuOptions>) {
    this.kvm = newMmuVmState(host, options);
  }

  /**
   * A context for one more vCPU (`kvm_mmu_create`): `host` carries that vCPU's paging state and
   * TLB, and the same guest memory as the VM's host. Null when the host has no page for its PAE
   * root (ENOMEM). Call `kvmMmuSetup` on it once the vCPU's registers are known.
   */
  createVcpuMmu(host: MmuHostOps): KvmMmu | null {
    return kvmMmuCreateVcpu(this.kvm, host, false);
  }

  /** vCPU contexts alive. */
  get vcpuCount(): number {
    return this.kvm.vcpus.length;
  }

  /** The VM's counters (a plain object, live). */
  get stats(): MmuStats {
    return this.kvm.stats;
  }

  /** Violations audit mode has found so far (at most 200 kept). */
  get auditLog(): readonly string[] {
    return this.kvm.auditLog;
  }

  /**
   * Zaps every shadow page (a memory slot changed): every vCPU's TLB is flushed before it runs
   * again, and the vCPUs whose roots went reload them.
   */
  kvmMmuZapAll(): void {
    kvmMmuZapAllPages(this.kvm, 'all');
    this.kvm.flushPending(null);
    mmuAuditIfOn(this.kvm, 'zap all');
  }

  /** Checks every invariant now (every vCPU's roots and mappings included). */
  audit(): string[] {
    this.kvm.stats.auditRuns++;
    return auditMmu(this.kvm);
  }

  /** The live shadow pages, newest first. */
  shadowPages(): ShadowPageInfo[] {
    return shadowPagesOf(this.kvm);
  }

  /**
   * Frees the VM's shadow pages and caches back to the host (`kvm_mmu_destroy` of the last
   * vCPU, then the VM's). Every vCPU context must have been destroyed first.
   */
  kvmMmuDestroy(): void {
    kvmMmuVmFree(this.kvm);
  }
}

/**
 * Creates the shadow MMU of a VM. `host` is the VM's memory (guest RAM and host pages). Throws
 * RangeError only for nonsense options.
 */
export function kvmMmuCreateVm(host: MmuVmHostOps, options: Partial<MmuOptions> = {}): KvmMmuVm {
  return new KvmMmuVm(host, options);
}
