/** `info tlb`'s walk over the guest's tables: 32-bit, PAE and 4-level, large pages, permissions. */
import type { KvmSregs } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { type Mapping, walkMappings } from '../../src/monitor/page-walk.js';

const sregs = (cr0: bigint, cr3: bigint, cr4: bigint, efer: bigint) => ({ cr0, cr3, cr4, efer }) as KvmSregs;
const PG = 0x80000001n;

function walk(ram: Uint8Array, s: KvmSregs): { mode: string | null; maps: Mapping[] } {
  const maps: Mapping[] = [];
  const mode = walkMappings(ram, s, (m) => maps.push(m));
  return { mode, maps };
}

describe('the monitor page walk', () => {
  it('says paging is off when CR0.PG is clear', () => {
    expect(walk(new Uint8Array(4096), sregs(1n, 0n, 0n, 0n)).mode).toBeNull();
  });

  it('walks 32-bit tables: a 4 KiB user page and a 4 MiB supervisor read-only page', () => {
    const ram = new Uint8Array(0x4000);
    const dv = new DataView(ram.buffer);
    dv.setUint32(0x1000 + 0 * 4, 0x2000 | 0x7, true); // PDE 0 → PT at 0x2000, P|W|U
    dv.setUint32(0x2000 + 5 * 4, 0x00345000 | 0x7, true); // PTE 5: va 0x5000 → 0x345000
    dv.setUint32(0x1000 + 2 * 4, 0x00c00000 | 0x81, true); // PDE 2: 4 MiB at 0x800000 → 0xc00000, P|PS
    const { mode, maps } = walk(ram, sregs(PG, 0x1000n, 0x10n, 0n));
    expect(mode).toBe('32-bit');
    expect(maps).toEqual([
      { va: 0x5000n, pa: 0x345000, size: 4096, writable: true, user: true, nx: false },
      { va: 0x800000n, pa: 0xc00000, size: 0x400000, writable: false, user: false, nx: false },
    ]);
  });

  it('walks PAE tables: PDPTEs carry no permissions, NX comes from the leaf', () => {
    const ram = new Uint8Array(0x4000);
    const dv = new DataView(ram.buffer);
    dv.setBigUint64(0x1000 + 8, 0x2000n | 1n, true); // PDPTE 1 (va 1 GiB) → PD at 0x2000
    dv.setBigUint64(0x2000, 0x200000n | 0x83n | (1n << 63n), true); // 2 MiB, P|W|PS, NX
    const { mode, maps } = walk(ram, sregs(PG, 0x1000n, 0x20n, 0x800n));
    expect(mode).toBe('PAE');
    expect(maps).toEqual([
      { va: 0x40000000n, pa: 0x200000, size: 0x200000, writable: true, user: false, nx: true },
    ]);
  });

  it('walks 4-level tables and shows kernel-half addresses canonical', () => {
    const ram = new Uint8Array(0x5000);
    const dv = new DataView(ram.buffer);
    dv.setBigUint64(0x1000 + 511 * 8, 0x2000n | 3n, true); // PML4E 511
    dv.setBigUint64(0x2000 + 510 * 8, 0x3000n | 3n, true); // PDPTE 510
    dv.setBigUint64(0x3000, 0x4000n | 3n, true); // PDE 0 → PT
    dv.setBigUint64(0x4000 + 8, 0x1000000n | 1n, true); // PTE 1, read-only
    const { mode, maps } = walk(ram, sregs(PG, 0x1000n, 0x20n, 0x500n));
    expect(mode).toBe('4-level');
    expect(maps).toEqual([
      { va: 0xffffffff80001000n, pa: 0x1000000, size: 4096, writable: false, user: false, nx: false },
    ]);
  });
});
