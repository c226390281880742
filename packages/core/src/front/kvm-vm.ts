/**
 * `KvmVm`: the typed VM over a VM fd. It remembers the vCPU mmap size it was created with, so it
 * needs nothing from the system fd afterwards: closing `/dev/kvm` early leaves it working (the
 * 2007 changelog's "oops on early close of /dev/kvm").
 */

import { KVM_EXIT_NAMES } from '../abi/exit-reasons.js';
import {
  kvmIrqchip,
  kvmIrqLevel,
  kvmMsi,
  kvmPitChannelState,
  kvmPitConfig,
  kvmPitState2,
  kvmUserspaceMemoryRegion,
} from '../abi/structs.js';
import { Errno, KvmError } from '../api/errors.js';
import type {
  KvmIrqchip,
  KvmMsi,
  KvmPitConfig,
  KvmPitState2,
  KvmUserspaceMemoryRegion,
} from '../api/structs.js';
import type { HostMemory, Vm } from '../api/types.js';
import type { KvmDevice } from './device.js';
import { asKvmError, DeviceFd, intArg } from './fd.js';
import { KvmVcpu, type VcpuOwner } from './kvm-vcpu.js';

const PAGE_SIZE = 4096;

/** Exit counters kept per VM: reasons 0..63, and one slot for anything beyond. */
const EXIT_SLOTS = 65;

export class KvmVm implements Vm, VcpuOwner {
  readonly exitCounts = new Float64Array(EXIT_SLOTS);
  private readonly handle: DeviceFd;
  private readonly vcpus = new Set<KvmVcpu>();

  /** Use `KvmSystem.createVm`. `vcpuMmapSize` is KVM_GET_VCPU_MMAP_SIZE. */
  constructor(
    device: KvmDevice,
    readonly fd: number,
    readonly vcpuMmapSize: number,
  ) {
    this.handle = new DeviceFd(device, fd);
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** The size is rounded up to whole pages, as mmap does; 0 or a non-integer is EINVAL. */
  allocateMemory(size: number): HostMemory {
    this.handle.check('allocateMemory');
    const bytes = intArg('allocateMemory', 'size', size);
    if (bytes === 0) throw new KvmError('allocateMemory', Errno.EINVAL, 'size 0');
    try {
      return this.handle.device.allocateMemory(Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE);
    } catch (e) {
      throw asKvmError('allocateMemory', e);
    }
  }

  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void {
    this.handle.check('KVM_SET_USER_MEMORY_REGION');
    this.handle.ioctl('KVM_SET_USER_MEMORY_REGION', kvmUserspaceMemoryRegion.encode(region));
  }

  createVcpu(id: number): KvmVcpu {
    this.handle.check('KVM_CREATE_VCPU');
    const vcpuFd = this.handle.ioctl('KVM_CREATE_VCPU', intArg('KVM_CREATE_VCPU', 'id', id, 0xffffffff));
    let run: ArrayBufferLike;
    try {
      run = this.handle.device.mmapRun(vcpuFd, this.vcpuMmapSize);
    } catch (e) {
      try {
        this.handle.device.close(vcpuFd);
      } catch {
        // The mmap error is the one to report.
      }
      throw asKvmError('mmap(kvm_run)', e);
    }
    const vcpu = new KvmVcpu(this.handle.device, vcpuFd, id, run, this);
    this.vcpus.add(vcpu);
    return vcpu;
  }

  setTssAddr(addr: number): void {
    this.handle.ioctl('KVM_SET_TSS_ADDR', intArg('KVM_SET_TSS_ADDR', 'addr', addr));
  }

  /** KVM_SET_IDENTITY_MAP_ADDR: the page KVM may use for the EPT identity map on Intel hosts. */
  setIdentityMapAddr(addr: bigint): void {
    this.handle.check('KVM_SET_IDENTITY_MAP_ADDR');
    if (typeof addr !== 'bigint' || addr < 0n || addr >= 1n << 64n) {
      throw new KvmError('KVM_SET_IDENTITY_MAP_ADDR', Errno.EINVAL, `${String(addr)} is not a u64`);
    }
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, addr, true);
    this.handle.ioctl('KVM_SET_IDENTITY_MAP_ADDR', buf);
  }

  /** KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM): the answer for this VM. */
  checkExtension(cap: number): number {
    if (!Number.isInteger(cap)) throw new KvmError('KVM_CHECK_EXTENSION', Errno.EINVAL, `cap ${cap}`);
    return this.handle.ioctl('KVM_CHECK_EXTENSION', cap);
  }

  createIrqchip(): void {
    this.handle.ioctl('KVM_CREATE_IRQCHIP', 0);
  }

  createPit2(config: KvmPitConfig): void {
    this.handle.check('KVM_CREATE_PIT2');
    this.handle.ioctl('KVM_CREATE_PIT2', kvmPitConfig.encode(config));
  }

  irqLine(irq: number, level: number): void {
    this.handle.check('KVM_IRQ_LINE');
    this.handle.ioctl('KVM_IRQ_LINE', kvmIrqLevel.encode({ irq, level }));
  }

  /** KVM_SIGNAL_MSI: the ioctl's return value is how many APICs took the message. */
  signalMsi(msi: KvmMsi): number {
    this.handle.check('KVM_SIGNAL_MSI');
    const u32 = (field: string, v: number) => intArg('KVM_SIGNAL_MSI', field, v, 0xffffffff);
    const buf = kvmMsi.encode({
      addressLo: u32('addressLo', msi.addressLo),
      addressHi: u32('addressHi', msi.addressHi),
      data: u32('data', msi.data),
      flags: u32('flags', msi.flags),
      devid: u32('devid', msi.devid),
    });
    return this.handle.ioctl('KVM_SIGNAL_MSI', buf);
  }

  getIrqchip(chipId: number): KvmIrqchip {
    this.handle.check('KVM_GET_IRQCHIP');
    const buf = kvmIrqchip.encode({
      chipId: intArg('KVM_GET_IRQCHIP', 'chipId', chipId, 0xffffffff),
      chip: new Uint8Array(512),
    });
    this.handle.ioctl('KVM_GET_IRQCHIP', buf);
    return kvmIrqchip.decode(buf);
  }

  setIrqchip(chip: KvmIrqchip): void {
    this.handle.check('KVM_SET_IRQCHIP');
    if (!(chip.chip instanceof Uint8Array) || chip.chip.length > 512) {
      throw new KvmError('KVM_SET_IRQCHIP', Errno.EINVAL, 'chip must be at most 512 bytes');
    }
    const padded = new Uint8Array(512);
    padded.set(chip.chip);
    const chipId = intArg('KVM_SET_IRQCHIP', 'chipId', chip.chipId, 0xffffffff);
    this.handle.ioctl('KVM_SET_IRQCHIP', kvmIrqchip.encode({ chipId, chip: padded }));
  }

  getPit2(): KvmPitState2 {
    const buf = new Uint8Array(kvmPitState2.size);
    this.handle.ioctl('KVM_GET_PIT2', buf);
    const raw = kvmPitState2.decode(buf);
    const size = kvmPitChannelState.size;
    const channels = [0, 1, 2].map((i) =>
      kvmPitChannelState.decode(raw.channels.subarray(i * size, (i + 1) * size)),
    );
    return { channels, flags: raw.flags };
  }

  setPit2(state: KvmPitState2): void {
    this.handle.check('KVM_SET_PIT2');
    if (state.channels.length !== 3) {
      throw new KvmError('KVM_SET_PIT2', Errno.EINVAL, 'kvm_pit_state2 has 3 channels');
    }
    const size = kvmPitChannelState.size;
    const channels = new Uint8Array(3 * size);
    state.channels.forEach((c, i) => {
      kvmPitChannelState.encodeInto(c, channels.subarray(i * size, (i + 1) * size));
    });
    this.handle.ioctl('KVM_SET_PIT2', kvmPitState2.encode({ channels, flags: state.flags }));
  }

  /**
   * `exits` (total KVM_RUN returns seen by the front end) and `exits_<reason>` per exit reason
   * (`exits_io`, `exits_hlt`, …), merged with the engine's own counters (which win on a name clash).
   */
  getStats(): Record<string, number> {
    this.handle.check('getStats');
    const stats: Record<string, number> = {};
    let total = 0;
    for (let r = 0; r < EXIT_SLOTS; r++) {
      const n = this.exitCounts[r];
      if (n === 0) continue;
      total += n;
      const name = r < EXIT_SLOTS - 1 ? (KVM_EXIT_NAMES[r] ?? String(r)).toLowerCase() : 'other';
      stats[`exits_${name}`] = n;
    }
    stats.exits = total;
    const device = this.handle.device;
    if (device.getStats) {
      try {
        Object.assign(stats, device.getStats(this.fd));
      } catch (e) {
        throw asKvmError('getStats', e);
      }
    }
    return stats;
  }

  /**
   * Closes every vCPU still open, then the VM fd, even if one of those closes fails (the first
   * failure is thrown afterwards). A second call does nothing.
   */
  close(): void {
    if (this.handle.closed) return;
    let first: unknown = null;
    for (const vcpu of [...this.vcpus]) {
      try {
        vcpu.close();
      } catch (e) {
        first ??= e;
      }
    }
    try {
      this.handle.close();
    } catch (e) {
      first ??= e;
    }
    if (first !== null) throw first;
  }

  /** @internal A vCPU closing itself. */
  forgetVcpu(vcpu: KvmVcpu): void {
    this.vcpus.delete(vcpu);
  }
}
