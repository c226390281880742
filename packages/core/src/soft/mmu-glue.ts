/**
 * The shadow MMU (@kvm/mmu) wired to the generic part, as KVM splits it: the VM has one
 * `KvmMmuVm` (`kvm->arch`: shadow page cache, rmaps, write protection, counters) over its memory
 * slots and the machine's host-physical pages, made with its first vCPU; each vCPU gets a
 * `KvmMmu` context over it (paging mode, roots, walker) with its own paging state, the
 * backend's TLB flush, and KVM_REQ_TLB_FLUSH / KVM_REQ_MMU_RELOAD request bits for what another
 * vCPU's MMU operation asks of it. The vCPU's MMU is made in two phases (changelog: "set up the
 * MMU state in two phases: kvm_mmu_create() and kvm_mmu_setup()"): `create` allocates what needs
 * no vCPU state, `setup` runs once the backend has put the vCPU in its reset state.
 */
import {
  type KvmMmu,
  type KvmMmuVm,
  kvmMmuCreateVm,
  type MmuHostOps,
  type MmuOptions,
  type MmuVmHostOps,
  type PagingState,
} from '@kvm/mmu';
import { holdAsDoubles } from '@kvm/x86emu';
import { Errno, KvmError } from '../api/errors.js';
import { PAGE_SIZE } from './hva-space.js';
import { KvmRequest, type SoftVcpu } from './vcpu.js';
import type { SoftVm, VcpuMmuOps } from './vm.js';

/** Per-vCPU MMU state the glue keeps. */
export interface VcpuMmu {
  readonly mmu: KvmMmu;
  /** The guest paging state the MMU reads (kept current from the vCPU before each MMU call). */
  readonly paging: PagingState;
}

/** The vCPU's MMU (after `create`). */
export function vcpuMmu(vcpu: SoftVcpu): VcpuMmu {
  return vcpu.mmu as VcpuMmu;
}

/** Copies the guest's CR0/CR3/CR4/EFER (LMA and NXE included) into the state the MMU reads. */
export function syncPaging(vcpu: SoftVcpu): void {
  const p = vcpuMmu(vcpu).paging;
  p.cr0 = vcpu.cr0;
  // The whole CR3 (a PML4 may sit above 4 GiB in long mode; the high half is 0 otherwise).
  p.cr3 = vcpu.cr3 + vcpu.cr3High * 4294967296;
  p.cr4 = vcpu.cr4;
  p.efer = vcpu.efer;
}

/** The VM's shadow MMU, or null before its first vCPU. */
export function vmMmu(vm: SoftVm): KvmMmuVm | null {
  return vm.mmuVm as KvmMmuVm | null;
}

/** The VM's memory as the MMU sees it: guest RAM through the slots, host pages from the machine. */
function vmHostOps(vm: SoftVm): MmuVmHostOps {
  const hpm = vm.hpm;
  const frame = (gpa: number): Uint8Array | null => {
    const hpfn = vm.slots.gfnToHpfn(Math.floor(gpa / PAGE_SIZE));
    return hpfn < 0 ? null : hpm.pageView(hpfn);
  };
  return {
    readGuest(gpa, dst) {
      const f = frame(gpa);
      if (f === null) return false;
      // The MMU reads one gpte (4 or 8 bytes) or the four PDPTEs per call, several per fault: a
      // byte loop, not a `subarray` allocated per read. A read never crosses its page (gptes
      // are naturally aligned, the PDPTEs 32-byte aligned).
      const off = gpa % PAGE_SIZE;
      const n = Math.min(dst.length, PAGE_SIZE - off);
      for (let i = 0; i < n; i++) dst[i] = f[off + i];
      return true;
    },
    cmpxchgGuest32(gpa, expected, desired) {
      const f = frame(gpa);
      if (f === null) return false;
      // Little-endian by bytes: no DataView per accessed/dirty-bit update.
      const off = gpa % PAGE_SIZE;
      const old = (f[off] | (f[off + 1] << 8) | (f[off + 2] << 16) | (f[off + 3] << 24)) >>> 0;
      if (old !== expected >>> 0) return false;
      f[off] = desired;
      f[off + 1] = desired >>> 8;
      f[off + 2] = desired >>> 16;
      f[off + 3] = desired >>> 24;
      vm.slots.markDirty(Math.floor(gpa / PAGE_SIZE));
      return true;
    },
    gfnToHpfn(gfn) {
      const h = vm.slots.gfnToHpfn(gfn);
      return h < 0 ? -1 : h;
    },
    allocPage() {
      try {
        return hpm.allocPage();
      } catch {
        return -1;
      }
    },
    freePage(hpfn) {
      hpm.freePage(hpfn);
    },
    pageView(hpfn) {
      return hpm.pageView(hpfn)!;
    },
  };
}

/** One vCPU's side: its paging state, its TLB, and the request bits other vCPUs' MMU work sets. */
function vcpuHostOps(vcpu: SoftVcpu, mem: MmuVmHostOps, paging: PagingState): MmuHostOps {
  return {
    readGuest: mem.readGuest,
    cmpxchgGuest32: mem.cmpxchgGuest32,
    gfnToHpfn: mem.gfnToHpfn,
    allocPage: mem.allocPage,
    freePage: mem.freePage,
    pageView: mem.pageView,
    flushTlb() {
      vcpu.ops.flushTlb(vcpu);
    },
    flushTlbGva(gva) {
      // An INVLPG exit drops one translation, not the whole TLB (KVM: `kvm_x86_ops.flush_tlb_gva`).
      if (vcpu.ops.flushTlbGva !== undefined) vcpu.ops.flushTlbGva(vcpu, gva);
      else vcpu.ops.flushTlb(vcpu);
    },
    requestTlbFlush() {
      // kvm_flush_remote_tlbs: served by the run loop before this vCPU's next entry.
      vcpu.requests |= KvmRequest.TLB_FLUSH;
    },
    requestMmuReload() {
      // kvm_reload_remote_mmus: a root this vCPU uses was zapped; it loads new ones (and the
      // backend the new root as CR3) before its next entry.
      vcpu.requests |= KvmRequest.MMU_RELOAD;
    },
    paging,
  };
}

/** The `VcpuMmuOps` SoftKvmDevice installs by default. */
export function shadowMmuOps(options: Partial<MmuOptions> = {}): VcpuMmuOps {
  /** Frees the VM's MMU with its last vCPU (a later vCPU makes a new one). */
  const releaseIfUnused = (vm: SoftVm) => {
    const kvm = vmMmu(vm);
    if (kvm === null || kvm.vcpuCount > 0) return;
    kvm.kvmMmuDestroy();
    vm.mmuVm = null;
  };
  return {
    // One KvmMmuVm per VM: vCPUs share shadow pages, rmaps and write protection.
    perVm: true,
    create(vcpu) {
      const vm = vcpu.vm;
      let kvm = vmMmu(vm);
      const mem = vmHostOps(vm);
      if (kvm === null) {
        kvm = kvmMmuCreateVm(mem, options);
        vm.mmuVm = kvm;
      }
      const paging: PagingState = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
      // CR0 with PG set and CR3 (x86emu's double-fields.ts).
      holdAsDoubles(paging, ['cr0', 'cr3']);
      const mmu = kvm.createVcpuMmu(vcpuHostOps(vcpu, mem, paging));
      if (mmu === null) {
        releaseIfUnused(vm);
        throw new KvmError('kvm_mmu_create', Errno.ENOMEM, 'no page for the PAE root');
      }
      vcpu.mmu = { mmu, paging } satisfies VcpuMmu;
    },
    setup(vcpu) {
      syncPaging(vcpu);
      const m = vcpuMmu(vcpu).mmu;
      if (!m.kvmMmuSetup()) throw new KvmError('kvm_mmu_setup', Errno.ENOMEM, 'no pages for shadow roots');
      vcpu.ops.setCr3(vcpu, m.rootHpa);
    },
    resetContext(vcpu) {
      syncPaging(vcpu);
      const m = vcpuMmu(vcpu).mmu;
      if (!m.kvmMmuReset())
        throw new KvmError('kvm_mmu_reset_context', Errno.ENOMEM, 'no pages for shadow roots');
      vcpu.ops.setCr3(vcpu, m.rootHpa);
    },
    destroy(vcpu) {
      if (vcpu.mmu !== null) vcpuMmu(vcpu).mmu.kvmMmuDestroy();
      vcpu.mmu = null;
      releaseIfUnused(vcpu.vm);
    },
    stats(vm, into) {
      const kvm = vmMmu(vm);
      if (kvm === null) return;
      const st = kvm.stats as unknown as Record<string, number>;
      for (const k of Object.keys(st)) {
        const v = st[k];
        if (typeof v === 'number') into[`mmu_${k}`] = (into[`mmu_${k}`] ?? 0) + v;
      }
    },
    zapAll(vm: SoftVm) {
      vmMmu(vm)?.kvmMmuZapAll();
    },
  };
}
