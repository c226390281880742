/**
 * The VMCS region in host-physical memory. Its format is implementation-specific (SDM Vol. 3
 * 25.2); ours is:
 *
 *   bytes 0–3    VMCS revision identifier (bits 30:0), shadow-VMCS indicator (bit 31)
 *   bytes 4–7    VMX-abort indicator
 *   byte  8      launch state: 0 clear, 1 launched
 *   bytes 12–15  the VMXON epoch the VMCS was launched in (detects VMRESUME after VMXOFF)
 *   bytes 16…    one 8-byte slot per field (low half, then high half), in `VMCS_FIELDS` order
 *
 * The processor works on the region directly, but for the cold guest-state groups it keeps in
 * x86emu's `Cpu` across an exit (`guest-cache.ts`), which VMCLEAR writes back before it marks
 * the region clear.
 */
import type { HostPhysicalMemory } from '@kvm/core';
import { VMCS_FIELD_COUNT } from './vmcs-fields.js';

export const VMCS_REVISION_OFFSET = 0;
export const VMCS_ABORT_OFFSET = 4;
export const VMCS_LAUNCH_STATE_OFFSET = 8;
export const VMCS_EPOCH_OFFSET = 12;
export const VMCS_FIELDS_OFFSET = 16;

/** Our VMCS fits in one 4 KiB page, which IA32_VMX_BASIC reports as the region size. */
export const VMCS_REGION_SIZE = 4096;
if (VMCS_FIELDS_OFFSET + 8 * VMCS_FIELD_COUNT > VMCS_REGION_SIZE) {
  throw new Error('VMCS field table does not fit the region');
}

export const LaunchState = { Clear: 0, Launched: 1 } as const;

/** Reads and writes one region; `hpa` is its 4 KiB-aligned host-physical address. */
export class VmcsRegion {
  private u32: Uint32Array | null = null;
  private hpa = -1;

  constructor(private readonly memory: HostPhysicalMemory) {}

  /** Points at the region at `hpa`; false when no RAM backs it. */
  bind(hpa: number): boolean {
    const view = this.memory.pageView(Math.floor(hpa / 4096));
    if (view === null) {
      this.u32 = null;
      this.hpa = -1;
      return false;
    }
    this.u32 = new Uint32Array(view.buffer, view.byteOffset, 1024);
    this.hpa = hpa;
    return true;
  }

  get boundHpa(): number {
    return this.hpa;
  }

  get revision(): number {
    return this.u32![0] & 0x7fffffff;
  }
  get launchState(): number {
    return this.u32![VMCS_LAUNCH_STATE_OFFSET >>> 2] & 0xff;
  }
  set launchState(v: number) {
    this.u32![VMCS_LAUNCH_STATE_OFFSET >>> 2] = v;
  }
  get epoch(): number {
    return this.u32![VMCS_EPOCH_OFFSET >>> 2];
  }
  set epoch(v: number) {
    this.u32![VMCS_EPOCH_OFFSET >>> 2] = v;
  }

  /** Low half of field slot `slot`. */
  lo(slot: number): number {
    return this.u32![(VMCS_FIELDS_OFFSET >>> 2) + 2 * slot];
  }
  hi(slot: number): number {
    return this.u32![(VMCS_FIELDS_OFFSET >>> 2) + 2 * slot + 1];
  }
  setLo(slot: number, v: number): void {
    this.u32![(VMCS_FIELDS_OFFSET >>> 2) + 2 * slot] = v;
  }
  setHi(slot: number, v: number): void {
    this.u32![(VMCS_FIELDS_OFFSET >>> 2) + 2 * slot + 1] = v;
  }
}
