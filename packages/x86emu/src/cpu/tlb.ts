/**
 * The software TLB: direct-mapped by linear page number, one entry per 4 KiB page with its frame,
 * host view and permissions precomputed (the v86/Bochs design). A miss walks the guest's tables
 * (`paging/walker.ts`, which sets A/D bits as the CPU does) and raises #PF; flushes follow SDM
 * Vol. 3 4.10.4. The arrays live on `Cpu` (its memory accessors probe them inline).
 */
import { PFERR, WalkCtl, walkAddr } from '../paging/walker.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { invalidateCodePage } from './fetch.js';
import { tlbWalkNested } from './tlb-nested.js';

/**
 * Linear page number of `lin`. Linear addresses are plain numbers: below 2^32 outside 64-bit
 * mode, and in 64-bit mode the canonical address folded to 48 bits (bits 63:48 dropped once
 * checked), so page numbers reach 2^36 and need a division, not a shift.
 */
export function lpnOf(lin: number): number {
  return lin <= 0xffffffff ? lin >>> 12 : Math.floor(lin / 4096);
}

/**
 * TLB tag of linear `lin`: the page-number bits above the 12 that index the direct-mapped TLB
 * (8 bits for a 32-bit address, 24 for a 48-bit one), so tags stay small integers and 32-bit code
 * computes them with one shift.
 */
export function tlbTagOf(lin: number): number {
  return lin <= 0xffffffff ? lin >>> 24 : Math.floor(lin / 16777216);
}

/** The TP_* right an access of kind `access` (PFERR bits) needs. */
export function accessPerm(access: number): number {
  const user = (access & PFERR.USER) !== 0;
  if (access & PFERR.WRITE) return user ? C.TP_UW : C.TP_SW;
  if (access & PFERR.FETCH) return user ? C.TP_UX : C.TP_SX;
  return user ? C.TP_UR : C.TP_SR;
}

/** Clears the listed entries `used[0..n)` (tag, and the wasm side's tags). */
function tlbKillListed(cpu: Cpu, used: Uint16Array, n: number): void {
  const tag = cpu.tlbTag;
  for (let i = 0; i < n; i++) tag[used[i]] = -1;
  const w = cpu.tlbWasm;
  if (w !== null) for (let i = 0; i < n; i++) tlbWasmKill(w, used[i]);
}

/** Drops every TLB entry: the ones filled since the last flush, or all when they are many. */
export function tlbFlush(cpu: Cpu): void {
  const n = cpu.tlbUsedCount;
  const ng = cpu.tlbUsedGlobalCount;
  if (n <= C.TLB_USED_MAX && ng <= C.TLB_USED_MAX) {
    tlbKillListed(cpu, cpu.tlbUsed, n);
    tlbKillListed(cpu, cpu.tlbUsedGlobal, ng);
  } else {
    cpu.tlbTag.fill(-1);
    cpu.tlbWasm?.fill(-1);
  }
  cpu.tlbUsedCount = 0;
  cpu.tlbUsedGlobalCount = 0;
  cpu.tlbHas1G = false;
  // Only when something is there: V8's Set.clear() allocates a new table every time, and a guest
  // switching address spaces flushes at every CR3 load (2 % of bench-ctxsw32 under a hypervisor).
  if (cpu.tlbLargeSpans.size !== 0) cpu.tlbLargeSpans.clear();
  cpu.codeLpn = -1;
  cpu.stats.tlbFlushes++;
  cpu.chainOps?.flushAll();
}

/**
 * Drops non-global TLB entries (a MOV to CR3 with CR4.PGE = 1: SDM Vol. 3 4.10.4.1): the ones
 * listed as filled non-global since the last flush (an entry refilled global since is skipped:
 * it is on the global list too), or every non-global one when they are many. The global entries
 * are not looked at: Debian's kernel keeps thousands cached (its text and its direct map's 2 MiB
 * pages, 4 KiB at a time), and one list for both classes overflowed for good, so that every CR3
 * load scanned all 4096 entries: 40 µs each, 16,700 loads in the boot's first 4x10^8
 * instructions.
 */
export function tlbFlushNonGlobal(cpu: Cpu): void {
  const n = cpu.tlbUsedCount;
  const tag = cpu.tlbTag;
  const perm = cpu.tlbPerm;
  const w = cpu.tlbWasm;
  if (n <= C.TLB_USED_MAX) {
    const used = cpu.tlbUsed;
    for (let i = 0; i < n; i++) {
      const idx = used[i];
      if (tag[idx] < 0 || perm[idx] & C.TP_GLOBAL) continue;
      tag[idx] = -1;
      if (w !== null) tlbWasmKill(w, idx);
    }
  } else {
    for (let i = 0; i < C.TLB_SIZE; i++)
      if (tag[i] >= 0 && !(perm[i] & C.TP_GLOBAL)) {
        tag[i] = -1;
        if (w !== null) tlbWasmKill(w, i);
      }
  }
  cpu.tlbUsedCount = 0;
  cpu.codeLpn = -1;
  cpu.stats.tlbFlushes++;
  cpu.chainOps?.flushNonGlobal();
}

/** The 2/4 MiB span of linear page `lpn` (`Cpu.tlbLargeSpans`): 1024 pages with 32-bit paging, else 512. */
function largeSpanOf(cpu: Cpu, lpn: number): number {
  return Math.floor(lpn / (cpu.pagingMode === 1 ? 1024 : 512));
}

/** INVLPG: drops the translation of linear `gva` (any size page holding it). */
export function tlbInvlpg(cpu: Cpu, gva: number): void {
  const lpn = lpnOf(gva);
  // A large page fills TLB entries per 4 KiB page; drop every entry of the same frame range by tag.
  const idx = lpn & C.TLB_MASK;
  const w = cpu.tlbWasm;
  if (cpu.tlbTag[idx] === tlbTagOf(gva)) {
    cpu.tlbTag[idx] = -1;
    if (w !== null) tlbWasmKill(w, idx);
  }
  if (cpu.tlbHas1G) {
    // A 1 GiB page's 4 KiB parts are cached under 262144 page numbers: drop everything.
    tlbFlush(cpu);
  } else if (cpu.tlbLargeSpans.size !== 0 && cpu.tlbLargeSpans.delete(largeSpanOf(cpu, lpn))) {
    // The entry may belong to a 2/4 MiB page whose other 4 KiB parts are cached too: scanned
    // only where a large page was cached since the last full flush (`tlbLargeSpans`), so a
    // kernel's INVLPG of a 4 KiB page costs one entry, not a scan of 512 or 1024. (Linux maps
    // itself with global 2 MiB pages, which a CR3 load keeps: a flag for "some large page" made
    // all 70,000 INVLPGs of Debian's first 4x10^8 instructions scan.)
    const span = cpu.pagingMode === 1 ? 1024 : 512;
    const first = lpn - (lpn % span);
    // One tag for the whole span: a 2/4 MiB page's 512/1024 page numbers share their bits above
    // the TLB index (TLB_SIZE is a multiple of the span), so no division per entry.
    const tag = Math.floor(first / C.TLB_SIZE);
    const i0 = first & C.TLB_MASK;
    const tags = cpu.tlbTag;
    const large = cpu.tlbLarge;
    for (let i = i0; i < i0 + span; i++)
      if (tags[i] === tag && large[i]) {
        tags[i] = -1;
        if (w !== null) tlbWasmKill(w, i);
      }
  }
  cpu.codeLpn = -1;
  cpu.chainOps?.invlpg(gva);
}

/**
 * Fills the TLB entry for linear `lin` with an access of kind `access` (PFERR bits). On a failed
 * walk returns false with the #PF recorded (`Cpu.recordPageFault`: CR2 value and error code),
 * nothing thrown: the caller unwinds (`tlbTranslate` throws, the status accessors return).
 */
export function tlbFill(cpu: Cpu, lin: number, access: number): boolean {
  cpu.stats.tlbMisses++;
  const lpn = lpnOf(lin);
  const idx = lpn & C.TLB_MASK;
  let pfn: number;
  let perm: number;
  let large = 0;
  if (cpu.nested !== null) {
    // Nested paging: both dimensions walked, the combined translation cached (tlb-nested.ts).
    perm = tlbWalkNested(cpu, lin, access);
    if (perm < 0) return false;
    pfn = cpu.walk.pfn;
    large = cpu.walk.pageSize > 4096 ? 1 : 0;
  } else if (cpu.pagingMode === 0) {
    pfn = lpn;
    perm = C.TP_SR | C.TP_SW | C.TP_UR | C.TP_UW | C.TP_SX | C.TP_UX;
  } else {
    const w = cpu.walk;
    if (
      !walkAddr(
        cpu.memory,
        cpu.pagingMode,
        cpu.pagingRoot,
        lin,
        access,
        cpu.walkCtl,
        w,
        cpu.pagingMode === 2 ? cpu.pdptes : null,
      )
    ) {
      cpu.recordPageFault(lin, w.errorCode);
      return false;
    }
    // The walk's accessed/dirty writes are writes to memory: a page table may share a frame
    // with decoded code (a page table recycled into code, or the reverse).
    if (cpu.codePages.size !== 0) {
      if (w.written0 >= 0) invalidateCodePage(cpu, Math.floor(w.written0 / 4096));
      if (w.written1 >= 0) invalidateCodePage(cpu, Math.floor(w.written1 / 4096));
      if (w.written2 >= 0) invalidateCodePage(cpu, Math.floor(w.written2 / 4096));
      if (w.written3 >= 0) invalidateCodePage(cpu, Math.floor(w.written3 / 4096));
    }
    pfn = w.pfn;
    large = w.pageSize > 4096 ? 1 : 0;
    if (w.pageSize === 0x40000000) cpu.tlbHas1G = true;
    perm = C.TP_SR | C.TP_SX;
    // Write rights are cached only once the dirty bit is set, so the first write walks and sets it.
    const wp = (cpu.walkCtl & WalkCtl.WP) !== 0;
    if (w.dirty) {
      if (w.writable || !wp) perm |= C.TP_SW;
      if (w.writable && w.user) perm |= C.TP_UW;
    }
    if (w.user) perm |= C.TP_UR | C.TP_UX;
    if (w.nx) perm &= ~(C.TP_SX | C.TP_UX);
    if (w.global) perm |= C.TP_GLOBAL;
  }
  const view = cpu.memory.pageView(pfn);
  // Frames with decoded code keep no write rights: writes take the slow path and invalidate.
  if (cpu.codePages.has(pfn)) perm &= ~(C.TP_SW | C.TP_UW);
  // Listed for the next flush, on the list of its class (global or not), unless it is there
  // already: a filled entry of the same class is (or that list has overflowed), so a refill in
  // place (another page of the same index, write rights after the dirty bit) adds nothing. One
  // emptied by INVLPG or a write's refill is listed again: harmless.
  const global = perm & C.TP_GLOBAL;
  if (cpu.tlbTag[idx] < 0 || (cpu.tlbPerm[idx] & C.TP_GLOBAL) !== global) {
    if (global !== 0) {
      if (cpu.tlbUsedGlobalCount < C.TLB_USED_MAX) cpu.tlbUsedGlobal[cpu.tlbUsedGlobalCount] = idx;
      cpu.tlbUsedGlobalCount++;
    } else {
      if (cpu.tlbUsedCount < C.TLB_USED_MAX) cpu.tlbUsed[cpu.tlbUsedCount] = idx;
      cpu.tlbUsedCount++;
    }
  }
  if (large !== 0) cpu.tlbLargeSpans.add(largeSpanOf(cpu, lpn));
  cpu.tlbTag[idx] = tlbTagOf(lin);
  cpu.tlbPerm[idx] = perm;
  cpu.tlbPfn[idx] = pfn;
  cpu.tlbView[idx] = view;
  cpu.tlbLarge[idx] = large;
  cpu.tlbCode[idx] = null;
  if (cpu.tlbWasm !== null) tlbWasmFill(cpu, cpu.tlbWasm, idx, lpn, perm, pfn, view);
  return true;
}

/** Translates linear → physical for `access` (PFERR bits), through the TLB; throws the #PF. */
export function tlbTranslate(cpu: Cpu, lin: number, access: number): number {
  const pa = tlbTranslateStatus(cpu, lin, access);
  if (pa < 0) throw C.GUEST_FAULT;
  return pa;
}

/**
 * tlbTranslate without the throw: -1 when the walk faulted (the #PF recorded on the CPU, as
 * `tlbFill` leaves it), else the physical address.
 */
export function tlbTranslateStatus(cpu: Cpu, lin: number, access: number): number {
  const tag = tlbTagOf(lin);
  const idx = (lin >>> 12) & C.TLB_MASK;
  const need = accessPerm(access);
  if (cpu.tlbTag[idx] !== tag || (cpu.tlbPerm[idx] & need) !== need) {
    if (access & PFERR.WRITE && cpu.tlbTag[idx] === tag) {
      cpu.tlbTag[idx] = -1;
      if (cpu.tlbWasm !== null) tlbWasmKill(cpu.tlbWasm, idx);
    }
    if (!tlbFill(cpu, lin, access)) return -1;
    // A write to a frame holding decoded code: invalidate, then allow it.
    if (access & PFERR.WRITE && cpu.codePages.has(cpu.tlbPfn[idx])) invalidateCodePage(cpu, cpu.tlbPfn[idx]);
  }
  return cpu.tlbPfn[idx] * 4096 + (lin & 0xfff);
}

// ---- the wasm side (jit/wasm/arena.ts): Int32 indices into `Cpu.tlbWasm`, which starts at the
// READ tags. Entry `idx` of class `cls` (0 supervisor, W_USER user): READ tag's low half at
// idx * 2 + cls, high half one above; WRITE tag W_WRITE further; ADDEND W_ADDEND further.
const W_USER = 2 * C.TLB_SIZE;
const W_WRITE = 4 * C.TLB_SIZE;
const W_ADDEND = 8 * C.TLB_SIZE;
/** Int32 elements the wasm side spans (arena.ts: JC - TLB_READ = 192 KiB, the jump cache after it). */
export const TLB_WASM_WORDS = 12 * C.TLB_SIZE;

/**
 * Kills entry `idx` of the wasm side: its four tags' low halves to -1, whose low 12 bits no page
 * address has, so the probe misses (the high halves and the addend are left: never read then).
 */
export function tlbWasmKill(w: Int32Array, idx: number): void {
  const i = idx * 2;
  w[i] = -1;
  w[i + W_USER] = -1;
  w[i + W_WRITE] = -1;
  w[i + W_WRITE + W_USER] = -1;
}

/** Drops entry `idx`'s write rights on the wasm side (its frame now holds decoded code: fetch.ts). */
export function tlbWasmKillWrite(w: Int32Array, idx: number): void {
  const i = idx * 2 + W_WRITE;
  w[i] = -1;
  w[i + W_USER] = -1;
}

/**
 * Fills entry `idx` of the wasm side from the interpreter's entry just made for linear page `lpn`
 * (`lpnOf`), rights `perm` (TP_*), frame `pfn` with host view `view`: a tag per access and class
 * where the interpreter's fast path would take it (the right, and a view: `Cpu.read`/`write`), and
 * only for frames of RAM in the wasm memory; the addend so that `lin + addend` is the byte in it.
 */
function tlbWasmFill(
  cpu: Cpu,
  w: Int32Array,
  idx: number,
  lpn: number,
  perm: number,
  pfn: number,
  view: Uint8Array | null,
): void {
  const i = idx * 2;
  if (view === null || pfn >= cpu.tlbWasmFrames) {
    tlbWasmKill(w, idx);
    return;
  }
  // The page address as the probe computes it: 32-bit addresses zero-extended, 64-bit mode's
  // 48-bit fold sign-extended back to the canonical address (bits 63:48 copies of bit 47).
  const lo = (lpn << 12) | 0;
  let hi = lpn >= 0x100000 ? Math.floor(lpn / 0x100000) : 0;
  if (hi >= 0x8000) hi |= 0xffff0000;
  w[i] = perm & C.TP_SR ? lo : -1;
  w[i + 1] = hi;
  w[i + W_USER] = perm & C.TP_UR ? lo : -1;
  w[i + W_USER + 1] = hi;
  w[i + W_WRITE] = perm & C.TP_SW ? lo : -1;
  w[i + W_WRITE + 1] = hi;
  w[i + W_WRITE + W_USER] = perm & C.TP_UW ? lo : -1;
  w[i + W_WRITE + W_USER + 1] = hi;
  const addend = (cpu.tlbWasmRam + pfn * 4096 - (lo >>> 0)) | 0;
  w[i + W_ADDEND] = addend;
  w[i + W_ADDEND + W_USER] = addend;
}

/**
 * Gives `cpu`'s TLB the wasm side `w` (`TLB_WASM_WORDS` Int32s: jit/wasm/arena.ts `moveTlb`) for
 * `frames` frames of RAM at byte `ram` of its memory, filled from the entries the TLB holds now
 * (each one's linear page rebuilt from its tag and index), every other entry killed.
 */
export function tlbWasmAttach(cpu: Cpu, w: Int32Array, frames: number, ram: number): void {
  if (w.length !== TLB_WASM_WORDS) throw new RangeError(`TLB wasm side of ${w.length} words`);
  cpu.tlbWasm = w;
  cpu.tlbWasmFrames = frames;
  cpu.tlbWasmRam = ram;
  w.fill(-1);
  for (let idx = 0; idx < C.TLB_SIZE; idx++) {
    const tag = cpu.tlbTag[idx];
    if (tag < 0) continue;
    tlbWasmFill(cpu, w, idx, tag * C.TLB_SIZE + idx, cpu.tlbPerm[idx], cpu.tlbPfn[idx], cpu.tlbView[idx]);
  }
}
