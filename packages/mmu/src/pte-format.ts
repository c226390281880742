/**
 * Page-table entry formats as data (the `paging_tmpl.h` idea without the template): one walker
 * serves 32-bit two-level paging, PAE and 4-level paging, reading its
 * geometry and reserved-bit rules from a {@link PteFormat}.
 *
 * 64-bit entries are handled as two 32-bit halves (`lo` = bits 31:0, `hi` = bits 63:32).
 * Intel SDM Vol. 3A chapter 4 (4.3 32-bit paging, 4.4 PAE paging, 4.5 4-level paging).
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

// Bits of a (guest or shadow) page-table entry, low half. SDM Vol. 3A tables 4-4 … 4-11.
export const PT_PRESENT_MASK = 1 << 0;
export const PT_WRITABLE_MASK = 1 << 1;
export const PT_USER_MASK = 1 << 2;
export const PT_PWT_MASK = 1 << 3;
export const PT_PCD_MASK = 1 << 4;
export const PT_ACCESSED_MASK = 1 << 5;
export const PT_DIRTY_MASK = 1 << 6;
/** PS in a directory entry; PAT in a 4 KiB pte. */
export const PT_PAGE_SIZE_MASK = 1 << 7;
export const PT_PAT_MASK = 1 << 7;
export const PT_GLOBAL_MASK = 1 << 8;
/** PAT bit of a large-page directory entry (bit 12). */
export const PT_DIR_PAT_MASK = 1 << 12;
/** XD/NX, bit 63, i.e. bit 31 of the high half. */
export const PT64_NX_HI_MASK = 0x80000000;

// Page-fault error code (SDM Vol. 3A 4.7).
export const PFERR_PRESENT_MASK = 1 << 0;
export const PFERR_WRITE_MASK = 1 << 1;
export const PFERR_USER_MASK = 1 << 2;
export const PFERR_RSVD_MASK = 1 << 3;
export const PFERR_FETCH_MASK = 1 << 4;

// Effective access rights, as KVM packs them: exec, write, user.
export const ACC_EXEC_MASK = 1;
export const ACC_WRITE_MASK = PT_WRITABLE_MASK;
export const ACC_USER_MASK = PT_USER_MASK;
export const ACC_ALL = ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK;

// Levels, named as in KVM's mmu.c.
export const PT_PAGE_TABLE_LEVEL = 1;
export const PT_DIRECTORY_LEVEL = 2;
export const PT32_ROOT_LEVEL = 2;
export const PT32E_ROOT_LEVEL = 3;
export const PT64_ROOT_LEVEL = 4;

/** Shadow tables are always 8-byte-entry tables: 512 entries, 9 index bits per level. */
export const PT64_ENT_PER_PAGE = 512;
export const PT64_LEVEL_BITS = 9;

/** Physical-address width of the guest (CPUID 80000008h EAX[7:0]); 36 as on 2007 hardware. */
export const DEFAULT_MAXPHYADDR = 36;

/** Reserved-bit masks are indexed by `level * 2 + ps`. */
const RSVD_SLOTS = 12;

export type PagingModeName = 'paging32' | 'paging32E' | 'paging64';

/** How one guest paging mode lays out its tables. Built by {@link makePteFormat}. */
export interface PteFormat {
  readonly name: PagingModeName;
  /** Guest paging levels: 2 (32-bit), 3 (PAE), 4 (4-level). */
  readonly rootLevel: number;
  /** Bytes per guest entry: 4 or 8. */
  readonly pteSize: 4 | 8;
  /** Index bits per level below the top: 10 (32-bit) or 9. */
  readonly bitsPerLevel: number;
  /** PAE: the top level is the four PDPTEs loaded at CR3 load, not a table in memory. */
  readonly rootFromPdptes: boolean;
  /** Bit L set: a PS=1 entry at level L maps a large page. */
  readonly largePageLevels: number;
  /** The XD bit is honoured (8-byte entries and EFER.NXE=1). */
  readonly nx: boolean;
  /** Address bits held in the high half: (1 << (MAXPHYADDR - 32)) - 1. */
  readonly addrHiMask: number;
  /** Reserved bits of the low / high half, indexed `level * 2 + ps`. */
  readonly rsvdLo: Uint32Array;
  readonly rsvdHi: Uint32Array;
}

/** Bits lo..hi (inclusive) of a 32-bit half. */
function bits(lo: number, hi: number): number {
  let m = 0;
  for (let b = lo; b <= hi; b++) m |= 1 << b;
  return m >>> 0;
}

/** Options that change how entries are interpreted. */
export interface PteFormatOptions {
  /** EFER.NXE. */
  nxe: boolean;
  /** CR4.PSE (32-bit paging only: PAE and 4-level always honour PS in directories). */
  pse: boolean;
  /** Guest MAXPHYADDR, 32…52. */
  maxPhyAddr: number;
  /** 4-level only: CPUID Page1GB, PS=1 in a PDPTE maps 1 GiB (default true). */
  gbPages?: boolean;
}

/**
 * Builds the descriptor for one mode. The reserved-bit rules come from SDM Vol. 3A tables 4-4
 * (32-bit, PSE-36 form for 4 MiB pages), 4-8 … 4-11 (PAE) and 4-14 … 4-20 (4-level).
 */
export function makePteFormat(name: PagingModeName, opts: PteFormatOptions): PteFormat {
  const rsvdLo = new Uint32Array(RSVD_SLOTS);
  const rsvdHi = new Uint32Array(RSVD_SLOTS);
  const m = opts.maxPhyAddr;
  if (name === 'paging32') {
    // A 4 MiB PDE keeps address bits 39:32 in bits 20:13 (PSE-36); those above MAXPHYADDR and bit 21 are reserved.
    if (opts.pse) rsvdLo[2 * 2 + 1] = bits(Math.min(13 + Math.max(m - 32, 0), 21), 21);
    return {
      name,
      rootLevel: PT32_ROOT_LEVEL,
      pteSize: 4,
      bitsPerLevel: 10,
      rootFromPdptes: false,
      largePageLevels: opts.pse ? 1 << 2 : 0,
      nx: false,
      addrHiMask: 0,
      rsvdLo,
      rsvdHi,
    };
  }
  const addrHiMask = (1 << (Math.min(m, 52) - 32)) - 1;
  const nxRsvd = opts.nxe ? 0 : PT64_NX_HI_MASK;
  // A large-page directory entry: bits 20:13 must be zero (2 MiB alignment of the frame).
  rsvdLo[2 * 2 + 1] = bits(13, 20);
  if (name === 'paging32E') {
    // PAE: bits 62:MAXPHYADDR are reserved at every level (SDM tables 4-9 … 4-11), XD without NXE.
    const hiAbove = m >= 52 ? bits(20, 30) : bits(m - 32, 30);
    for (let i = 0; i < RSVD_SLOTS; i++) rsvdHi[i] = (hiAbove | nxRsvd) >>> 0;
    // PDPTEs: bits 2:1 and 8:5 reserved, and XD is reserved whatever NXE says (SDM table 4-8).
    rsvdLo[3 * 2 + 0] = rsvdLo[3 * 2 + 1] = 0x1e6;
    rsvdHi[3 * 2 + 0] = rsvdHi[3 * 2 + 1] = (hiAbove | PT64_NX_HI_MASK) >>> 0;
    return {
      name,
      rootLevel: PT32E_ROOT_LEVEL,
      pteSize: 8,
      bitsPerLevel: 9,
      rootFromPdptes: true,
      largePageLevels: 1 << 2,
      nx: opts.nxe,
      addrHiMask,
      rsvdLo,
      rsvdHi,
    };
  }
  // 4-level: only bits 51:MAXPHYADDR are reserved; bits 62:52 are ignored (protection keys
  // aside), unlike PAE (SDM tables 4-14 … 4-20). XD is reserved without NXE.
  const hiAbove = m >= 52 ? 0 : bits(m - 32, 19);
  for (let i = 0; i < RSVD_SLOTS; i++) rsvdHi[i] = (hiAbove | nxRsvd) >>> 0;
  // PS is reserved in a PML4E (table 4-15); in a PDPTE it maps 1 GiB with Page1GB (bits 29:13
  // reserved, table 4-16), and is reserved without it (KVM: `rsvd_bits(7, 7)` unless GBPAGES).
  const gbPages = opts.gbPages !== false;
  rsvdLo[4 * 2 + 0] = rsvdLo[4 * 2 + 1] = PT_PAGE_SIZE_MASK;
  if (gbPages) rsvdLo[3 * 2 + 1] = bits(13, 29);
  else rsvdLo[3 * 2 + 0] = rsvdLo[3 * 2 + 1] = PT_PAGE_SIZE_MASK;
  return {
    name,
    rootLevel: PT64_ROOT_LEVEL,
    pteSize: 8,
    bitsPerLevel: 9,
    rootFromPdptes: false,
    largePageLevels: (1 << 2) | (gbPages ? 1 << 3 : 0),
    nx: opts.nxe,
    addrHiMask,
    rsvdLo,
    rsvdHi,
  };
}

/**
 * How the MMU writes its own entries (KVM's `shadow_*_mask`, which `kvm_mmu_set_ept_masks`
 * switches to the EPT format): the x86 format of shadow pages and of AMD's NPT map, or Intel's
 * EPT format (SDM Vol. 3C 29.3.2) for the TDP map under EPT. Bit 0 is "present" in both (P; R,
 * which every EPT spte here grants) and bit 1 "writable" in both (R/W; W), so the presence and
 * write-protection tests read either format; the rest is here.
 */
export interface SpteFormat {
  readonly name: 'x86' | 'ept';
  /** Low-half bits of a directory (non-leaf) spte: every right, the leaf restricts. */
  readonly dirLo: number;
  /** Low-half bits of every leaf (x86: P, A; EPT: R, memory type WB, ignore PAT). */
  readonly leafLo: number;
  /** Low-half bits of a writable leaf (x86: R/W with D set; EPT: W). */
  readonly writableLo: number;
  /** Low-half bit of a user-accessible leaf (x86 U/S); EPT has none. */
  readonly userLo: number;
  /** Low-half bit of an executable leaf (EPT X); x86 has none (NX instead). */
  readonly execLo: number;
  /** High-half bit of a non-executable leaf (x86 XD, bit 63); EPT has none. */
  readonly nxHi: number;
}

export const X86_SPTE_FORMAT: SpteFormat = {
  name: 'x86',
  dirLo: PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK,
  leafLo: PT_PRESENT_MASK | PT_ACCESSED_MASK,
  writableLo: PT_WRITABLE_MASK | PT_DIRTY_MASK,
  userLo: PT_USER_MASK,
  execLo: 0,
  nxHi: PT64_NX_HI_MASK,
};

/** EPT entry bits (SDM Vol. 3C Tables 29-1 … 29-6). */
export const VMX_EPT_READABLE_MASK = 1 << 0;
export const VMX_EPT_WRITABLE_MASK = 1 << 1;
export const VMX_EPT_EXECUTABLE_MASK = 1 << 2;
/** Memory type write-back in bits 5:3, and ignore-PAT (bit 6): KVM's `vmx_get_mt_mask` without non-coherent DMA. */
export const VMX_EPT_MT_WB = 6 << 3;
export const VMX_EPT_IPAT_BIT = 1 << 6;

export const EPT_SPTE_FORMAT: SpteFormat = {
  name: 'ept',
  dirLo: VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK | VMX_EPT_EXECUTABLE_MASK,
  leafLo: VMX_EPT_READABLE_MASK | VMX_EPT_MT_WB | VMX_EPT_IPAT_BIT,
  writableLo: VMX_EPT_WRITABLE_MASK,
  userLo: 0,
  execLo: VMX_EPT_EXECUTABLE_MASK,
  nxHi: 0,
};

/**
 * The index of `gva` in a table whose entries each map 2^shift bytes; `gvaHi` holds bits 63:32.
 * For shift < 32 the bits shifted in from the high half land above any index mask we use.
 */
export function pteIndex(gvaLo: number, gvaHi: number, shift: number, mask: number): number {
  if (shift >= 32) return (gvaHi >>> (shift - 32)) & mask;
  return ((gvaLo >>> shift) | (gvaHi << (32 - shift))) & mask;
}

/** gfn held in an 8-byte entry (low half bits 31:12, high half bits up to MAXPHYADDR). */
export function pte64Gfn(lo: number, hi: number, addrHiMask: number): number {
  return (hi & addrHiMask) * 0x100000 + (lo >>> PAGE_SHIFT);
}

/** gfn of the 4 MiB frame in a 32-bit PSE directory entry: bits 31:22, plus bits 39:32 from 20:13 (PSE-36). */
export function pse36Gfn(lo: number): number {
  return ((lo >>> PAGE_SHIFT) & 0xffc00) + ((lo >>> 13) & 0xff) * 0x100000;
}

/** The two halves of a host page frame's address, for an spte (hpa = hpfn * 4096). */
export function hpfnLo(hpfn: number): number {
  return (hpfn << PAGE_SHIFT) >>> 0;
}
export function hpfnHi(hpfn: number): number {
  return Math.floor(hpfn / 0x100000);
}
/** The host page frame an spte (or PAE root entry) points at. */
export function spteHpfn(lo: number, hi: number): number {
  return (hi & 0xfffff) * 0x100000 + (lo >>> PAGE_SHIFT);
}
