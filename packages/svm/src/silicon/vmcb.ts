/** Reads and writes a VMCB page in host-physical memory by the offsets of `vmcb-layout.ts`. */
import type { HostPhysicalMemory } from '@kvm/core';
import { VMCB, VMCB_CLEAN_BY_QWORD } from './vmcb-layout.js';

export class Vmcb {
  private dv: DataView | null = null;
  /** The page view `dv` was made over: the same view object is the same memory. */
  private view: Uint8Array | null = null;
  hpa = -1;
  /**
   * The hypervisor's view: each write clears the VMCB clean bit of its field's area
   * (`VMCB_CLEAN_BY_QWORD`, KVM's `vmcb_mark_dirty`), so VMRUN loads what the hypervisor changed.
   * The silicon's own view (the #VMEXIT's stores) leaves the bits alone.
   */
  tracksClean = false;

  constructor(private readonly memory: HostPhysicalMemory) {}

  /** Points at the VMCB at `hpa` (4 KiB aligned); false when no memory backs it. */
  bind(hpa: number): boolean {
    const v = hpa % 4096 === 0 ? this.memory.pageView(hpa / 4096) : null;
    if (v === null) {
      this.dv = null;
      this.view = null;
      this.hpa = -1;
      return false;
    }
    // VMRUN, VMLOAD and VMSAVE bind the same page on every entry: no new DataView for it. (The
    // view object is compared, not the DataView's buffer and offset: those are getters, three
    // bindings an exit.)
    if (v !== this.view) {
      const dv = this.dv;
      if (dv === null || dv.buffer !== v.buffer || dv.byteOffset !== v.byteOffset)
        this.dv = new DataView(v.buffer, v.byteOffset, 4096);
      this.view = v;
    }
    this.hpa = hpa;
    return true;
  }

  u8(off: number): number {
    return this.dv!.getUint8(off);
  }
  u16(off: number): number {
    return this.dv!.getUint16(off, true);
  }
  u32(off: number): number {
    return this.dv!.getUint32(off, true);
  }
  /** High half of a 64-bit field. */
  hi(off: number): number {
    return this.dv!.getUint32(off + 4, true);
  }
  setU8(off: number, v: number): void {
    this.dv!.setUint8(off, v);
    if (this.tracksClean) this.dirty(off);
  }
  setU16(off: number, v: number): void {
    this.dv!.setUint16(off, v, true);
    if (this.tracksClean) this.dirty(off);
  }
  setU32(off: number, v: number): void {
    this.dv!.setUint32(off, v >>> 0, true);
    if (this.tracksClean) this.dirty(off);
  }
  /** A 64-bit field from two halves. */
  set64(off: number, lo: number, hi: number): void {
    this.dv!.setUint32(off, lo >>> 0, true);
    this.dv!.setUint32(off + 4, hi >>> 0, true);
    if (this.tracksClean) this.dirty(off);
  }

  /** Clears the clean bit of the area `off` is in (none for most fields). */
  private dirty(off: number): void {
    const bit = VMCB_CLEAN_BY_QWORD[off >>> 3];
    if (bit !== 0)
      this.dv!.setUint32(VMCB.VMCB_CLEAN, this.dv!.getUint32(VMCB.VMCB_CLEAN, true) & ~bit, true);
  }
}
