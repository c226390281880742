/**
 * The guest's virtual → physical mappings for the monitor's `info tlb` / `info mem`: a walk of
 * the page tables KVM_GET_SREGS' CR3 names, in guest RAM, for the paging mode CR0/CR4/EFER say
 * (SDM Vol. 3A 4.3 32-bit, 4.4 PAE, 4.5 4-level). One pass over the tables, visiting each
 * present leaf in address order; non-RAM table addresses end that branch.
 */
import type { KvmSregs } from '@kvm/core';

export interface Mapping {
  /** Virtual address (canonical, as a bigint: kernel halves exceed 2^53). */
  va: bigint;
  pa: number;
  size: number;
  /** Effective permissions along the walk: writable, user, no-execute. */
  writable: boolean;
  user: boolean;
  nx: boolean;
}

const PTE_P = 1n;
const PTE_W = 2n;
const PTE_U = 4n;
const PTE_PS = 0x80n;
const PTE_NX = 1n << 63n;
const ADDR_MASK = 0x000ffffffffff000n;

function canonical(va: bigint): bigint {
  return va & (1n << 47n) ? va | 0xffff000000000000n : va;
}

/** Calls `visit` for each present leaf mapping; returns the paging mode's name, or null when paging is off. */
export function walkMappings(ram: Uint8Array, sregs: KvmSregs, visit: (m: Mapping) => void): string | null {
  if (!(sregs.cr0 & 0x80000000n)) return null;
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const pae = (sregs.cr4 & 0x20n) !== 0n;
  const long = (sregs.efer & 0x400n) !== 0n;
  const read = (gpa: bigint, wide: boolean): bigint | null => {
    const at = Number(gpa);
    if (at + (wide ? 8 : 4) > ram.length) return null;
    return wide ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true));
  };
  // levels: [shift of each level], entry width, whether the top level is the 4-entry PDPT of PAE.
  const shifts = long ? [39, 30, 21, 12] : pae ? [30, 21, 12] : [22, 12];
  const wide = long || pae;
  const walk = (table: bigint, level: number, va: bigint, w: boolean, u: boolean, nx: boolean): void => {
    const entries = pae && !long && level === 0 ? 4 : wide ? 512 : 1024;
    for (let i = 0; i < entries; i++) {
      const pte = read(table + BigInt(i * (wide ? 8 : 4)), wide);
      if (pte === null) return;
      if (!(pte & PTE_P)) continue;
      const shift = shifts[level];
      const at = va | (BigInt(i) << BigInt(shift));
      // PAE's PDPTEs carry no R/W, U/S or NX (SDM Vol. 3A 4.4.1).
      const pdpte = pae && !long && level === 0;
      const ww = pdpte ? w : w && (pte & PTE_W) !== 0n;
      const uu = pdpte ? u : u && (pte & PTE_U) !== 0n;
      const nn = nx || (wide && (pte & PTE_NX) !== 0n);
      const last = level === shifts.length - 1;
      // PS makes a leaf in a PDE (4 MiB with CR4.PSE, 2 MiB with PAE) or a 4-level PDPTE (1 GiB);
      // a PML4E's and a PAE PDPTE's bit 7 is reserved.
      const psLevel = long
        ? level === 1 || level === 2
        : pae
          ? level === 1
          : level === 0 && (sregs.cr4 & 0x10n) !== 0n;
      if (last || (psLevel && pte & PTE_PS)) {
        const size = 2 ** shift;
        // 32-bit 4 MiB pages keep bits 39:32 of the address in bits 20:13 (PSE-36); ignored here.
        const pa = Number(pte & (wide ? ADDR_MASK : 0xfffff000n) & ~BigInt(size - 1));
        visit({ va: long ? canonical(at) : at, pa, size, writable: ww, user: uu, nx: nn });
      } else {
        walk(pte & (wide ? ADDR_MASK : 0xfffff000n), level + 1, at, ww, uu, nn);
      }
    }
  };
  const root = long ? sregs.cr3 & ADDR_MASK : pae ? sregs.cr3 & 0xffffffe0n : sregs.cr3 & 0xfffff000n;
  walk(root, 0, 0n, true, true, false);
  return long ? '4-level' : pae ? 'PAE' : '32-bit';
}
