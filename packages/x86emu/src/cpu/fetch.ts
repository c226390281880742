/**
 * Instruction fetch and the decode cache: decoded instructions kept per physical page (by page
 * offset) and reused while the code page, the mode and the fetch privilege stay the same. A write
 * to a frame with decoded code drops its decodes (the TLB keeps no write rights to such frames,
 * so every write to them takes the slow path: see tlb.ts). Writes from outside the CPU (a
 * hypervisor's userspace, device DMA, a debugger planting INT3) cannot be seen that way: after
 * `Cpu.revalidateCode()` each page's bytes are compared, on its next use, with what they were
 * when it was decoded, as a real CPU's instruction fetch is coherent with every writer. The code
 * page's limit and canonical checks follow SDM Vol. 3 5.3 and 3.3.7.1.
 */
import { DecodeStatus, decode } from '../decoder/decoder.js';
import { Insn } from '../decoder/insn.js';
import { holdAsDoubles } from '../double-fields.js';
import { DISPATCH } from '../exec/dispatch.js';
import { dispatch64 } from '../exec/dispatch64.js';
import { ROW_KIND } from '../jit/rows.js';
import { PFERR } from '../paging/walker.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { lpnOf, tlbFill, tlbTagOf, tlbWasmKillWrite } from './tlb.js';

const TWO47 = 140737488355328;

/**
 * Node's `Buffer`, where there is one (not in a browser): its `compare` is a memcmp, about five
 * times faster than `unchanged`'s word loop on a 4 KiB page (0.2 µs against 0.9–1.4 on this
 * machine). The software engine compares every code page it runs again after each KVM_RUN
 * (`revalidateCode`): 42,900 KVM_RUNs in Debian's boot on vmx-ept, most of them a console byte.
 */
const HOST_BUFFER =
  (
    globalThis as {
      Buffer?: {
        from(b: ArrayBufferLike, offset: number, length: number): Uint8Array;
        compare(a: Uint8Array, b: Uint8Array): number;
      };
    }
  ).Buffer ?? null;

/** The decoded instructions of one physical page, by page offset. */
export class PageCode {
  readonly insns: (Insn | undefined)[] = new Array(4096);
  /** The page's bytes when its first instruction was decoded. */
  readonly bytes = new Uint8Array(4096);
  /** `bytes` as 1024 words, for `unchanged`; as a Node `Buffer` where there is one (`HOST_BUFFER`). */
  readonly words = new Int32Array(this.bytes.buffer);
  readonly buf = HOST_BUFFER !== null ? HOST_BUFFER.from(this.bytes.buffer, 0, 4096) : null;
  /** The `Cpu.codeEpoch` at which `bytes` last matched memory. */
  epoch = 0;
  /** The frame these decodes are of (for `crossFrom`). */
  pfn = -1;
  /**
   * Where decodes of this page run into the next page (an instruction straddling the page end,
   * kept: `decodeAt`): the frame the next linear page mapped to then, and its decodes, which must
   * both still be those for these to be used (`crossFetchOk`, `crossPageOk`); -1 and null else.
   */
  crossPfn = -1;
  crossTo: PageCode | null = null;
  /** The pages whose straddling decodes run into this one: their decodes go when this page's do. */
  crossFrom: PageCode[] | null = null;
  /**
   * The 64-bit jump cache's entries (jit/wasm/chain.ts) filled for functions compiled from these
   * decodes since its full flush `jcGen` (word indices, a superset: an entry since refilled for
   * another page's function stays listed): the ones this page's invalidation voids
   * (`CodeChainOps.dropPage`), where it voided the whole cache.
   */
  readonly jcIdx: number[] = [];
  jcGen = 0;

  constructor() {
    // Frame numbers of the nested (EPT/NPT) path come as doubles (double-fields.ts).
    holdAsDoubles(this, ['pfn', 'crossPfn']);
  }
}

/**
 * Whether the page in memory still holds the bytes its decodes were made from: a word at a time
 * where the page's view is 4-byte aligned in its buffer (every `PhysicalMemory` here gives page
 * views at page offsets), 4× fewer compares than bytes. Every KVM_RUN of the software engine
 * (`revalidateCode`) pays this once per code page the guest then runs.
 */
function unchanged(pc: PageCode, view: Uint8Array): boolean {
  if (HOST_BUFFER !== null && pc.buf !== null)
    return HOST_BUFFER.compare(pc.buf, HOST_BUFFER.from(view.buffer, view.byteOffset, 4096)) === 0;
  if ((view.byteOffset & 3) === 0) {
    const w = pc.words;
    const v = new Int32Array(view.buffer, view.byteOffset, 1024);
    for (let i = 0; i < 1024; i++) if (w[i] !== v[i]) return false;
    return true;
  }
  const b = pc.bytes;
  for (let i = 0; i < 4096; i++) if (b[i] !== view[i]) return false;
  return true;
}

/**
 * The instruction at CS:EIP outside 64-bit mode: from the decode cache, or decoded now. EIP is read
 * here, not passed: a number at or above 2^31 (a kernel's EIP) crossing a call that V8 does not
 * inline is boxed, a heap allocation per instruction.
 */
export function fetchDecode32(cpu: Cpu): Insn {
  const s = cpu.state;
  const eip = s.rip[0];
  const lin = (s.segBase[1] + eip) >>> 0;
  const lpn = lin >>> 12;
  const off = lin & 0xfff;
  const modeKey = cpu.modeKey;
  // The cached code page was checked for the privilege it was fetched at: a CPL change between
  // user and supervisor (RETF/IRET/SYSEXIT to the same page) must look at the TLB rights again.
  if (
    lpn === cpu.codeLpn &&
    cpu.codePage !== null &&
    cpu.linearOps === null &&
    cpu.codeUser === (s.cpl === 3)
  ) {
    const cached = cpu.codePage.insns[off];
    if (
      cached !== undefined &&
      cached.modeKey === modeKey &&
      (off + cached.length <= 4096 || crossFetchOk(cpu))
    ) {
      // The limit check of SDM Vol. 3 5.3 still applies to every fetch.
      if (eip + cached.length - 1 > s.segLimit[1]) cpu.gp0();
      return cached;
    }
  } else if (cpu.linearOps === null) {
    setCodePage(cpu, lin);
    // The new code page's decodes are as good as the old one's: a call, a return or the first
    // fetch after a TLB flush (every MOV to CR3, INVLPG) need not decode again.
    const pc = cpu.codePage as PageCode | null;
    if (pc !== null && cpu.codeLpn === lpn) {
      const cached = pc.insns[off];
      if (
        cached !== undefined &&
        cached.modeKey === modeKey &&
        (off + cached.length <= 4096 || crossFetchOk(cpu))
      ) {
        if (eip + cached.length - 1 > s.segLimit[1]) cpu.gp0();
        return cached;
      }
    }
  }
  return decodeAt(cpu, lin, eip);
}

/** fetchDecode32 in 64-bit mode: RIP's canonical linear address, no CS limit. */
export function fetchDecode64(cpu: Cpu): Insn {
  const s = cpu.state;
  const eip = s.rip[0];
  // RIP's page against the code page's as RIP would hold it: two compares, no linear address
  // (a kernel runs at 0xFFFFFFFF8xxxxxxx, where folding RIP to 48 bits takes a multiply and
  // lpnOf a division). codeRipHi is canonical, so a match also means RIP is (SDM Vol. 3 3.3.7.1).
  if (
    eip >>> 12 === cpu.codeEipPage &&
    s.rip[1] === cpu.codeRipHi &&
    cpu.codeLpn !== -1 &&
    cpu.codePage !== null &&
    cpu.linearOps === null &&
    cpu.codeUser === (s.cpl === 3)
  ) {
    const cached = cpu.codePage.insns[eip & 0xfff];
    if (
      cached !== undefined &&
      cached.modeKey === cpu.modeKey &&
      ((eip & 0xfff) + cached.length <= 4096 || crossFetchOk(cpu))
    )
      return cached;
    return decodeAt(cpu, s.rip[1] === 0 ? eip : cpu.ripLinear(), eip);
  }
  // Another page the TLB grants and a fetch used before (a call or a return): its halves suffice.
  if (cpu.linearOps === null && switchCodePage64(cpu)) {
    const cached = (cpu.codePage as PageCode).insns[eip & 0xfff];
    if (
      cached !== undefined &&
      cached.modeKey === cpu.modeKey &&
      ((eip & 0xfff) + cached.length <= 4096 || crossFetchOk(cpu))
    )
      return cached;
  }
  // Code below 4 GiB (RIP[63:32] = 0, canonical by definition) takes the 32-bit path's arithmetic.
  const lin = s.rip[1] === 0 ? eip : cpu.ripLinear();
  if (cpu.linearOps === null) {
    setCodePage(cpu, lin);
    const pc = cpu.codePage as PageCode | null;
    if (pc !== null) {
      const cached = pc.insns[lin & 0xfff];
      if (
        cached !== undefined &&
        cached.modeKey === cpu.modeKey &&
        ((lin & 0xfff) + cached.length <= 4096 || crossFetchOk(cpu))
      )
        return cached;
    }
  }
  return decodeAt(cpu, lin, eip);
}

/**
 * setCodePage for the 64-bit RIP whose page the TLB grants
 * for a fetch and whose decodes that TLB entry remembers (`tlbCode`): the TLB index, tag and page
 * number come from the halves with integer operations, where the folded linear address
 * (`ripLinear`) is a number above 2^32 that costs a multiply, divisions and, across calls, a heap
 * allocation. Kernel code changes code page about once in ten instructions (calls and returns
 * between functions on different pages). Returns false, changing nothing, for anything else
 * (non-canonical RIP, TLB miss, a page not fetched from since its entry was filled): the caller
 * takes setCodePage's path.
 */
export function switchCodePage64(cpu: Cpu): boolean {
  const eip = cpu.state.rip[0];
  const hi = cpu.state.rip[1];
  const h = hi | 0;
  // Canonical: bits 63:47 all equal (SDM Vol. 3 3.3.7.1), i.e. RIP[63:32] within ±2^15.
  if (h >= 0x8000 || h < -0x8000) return false;
  const idx = (eip >>> 12) & C.TLB_MASK;
  // tlbTagOf of the folded address: its bits 47:24.
  const hi16 = h & 0xffff;
  if (cpu.tlbTag[idx] !== ((hi16 << 8) | (eip >>> 24))) return false;
  const user = cpu.state.cpl === 3;
  if (!(cpu.tlbPerm[idx] & (user ? C.TP_UX : C.TP_SX))) return false;
  const pc = cpu.tlbCode[idx];
  if (pc === null || pc.epoch !== cpu.codeEpoch) return false;
  const view = cpu.tlbView[idx];
  if (view === null) return false;
  cpu.codeLpn = hi16 * 1048576 + (eip >>> 12);
  cpu.codeRipHi = hi;
  cpu.codeEipPage = eip >>> 12;
  cpu.codeUser = user;
  cpu.codePage = pc;
  cpu.codeView = view;
  cpu.codePfn = cpu.tlbPfn[idx];
  return true;
}

/** Decodes the instruction at linear `lin` (EIP `eip`) and caches it when its page allows. */
function decodeAt(cpu: Cpu, lin: number, eip: number): Insn {
  const off = lin & 0xfff;
  cpu.fetchLin = lin;
  cpu.fetchEip = eip;
  let insn = cpu.scratchInsn;
  // A decode is kept only where all its bytes are the code page's: a write to the next page, or a
  // change of its mapping, would not drop it. Within 15 bytes of the page's end (the longest
  // instruction) that is known only after decoding: the scratch decode first, then a kept one.
  const inPage = cpu.codePage !== null && cpu.linearOps === null;
  let cacheable = inPage && off <= 4096 - 15;
  if (cacheable) insn = new Insn();
  // The scratch decode is another instruction each time: no successor or branch target of an
  // earlier one.
  else {
    insn.next = null;
    insn.taken = null;
    insn.takenOff = -1;
  }
  cpu.stats.decodes++;
  decodeInto(cpu, insn);
  if (!cacheable && inPage && off + insn.length <= 4096) {
    // Debian's kernel ran 0.26 % of its boot's instructions from page tails, each decoded anew
    // every time (775,000 decodes of the first 3x10^8 instructions, 78 % of them all), and no
    // block could start at them. Decoded again into its own object: once per such instruction.
    insn = new Insn();
    decodeInto(cpu, insn);
    cacheable = true;
  } else if (!cacheable && inPage && crossKeep(cpu)) {
    // An instruction straddling the page end, kept too, the next page's frame and decodes
    // noted (QEMU registers such a TB on both pages): Debian's module signature check ran
    // `mov r13, [rdi]` across the end of mpihelp_submul_1's first page 1.2 M times, each decoded
    // anew and stepped alone between two blocks.
    insn = new Insn();
    decodeInto(cpu, insn);
    cacheable = true;
  }
  if (cacheable && cpu.codePage !== null) cpu.codePage.insns[off] = insn;
  return insn;
}

/**
 * The linear page after the code page (`Cpu.codeLpn`), or -1: none known, or none past the
 * address space's end (4 GiB outside 64-bit mode wraps to 0; 64-bit mode's folded addresses
 * end at 2^48, and run from the lower canonical half into the upper one, not into the hole).
 */
function nextCodeLpn(cpu: Cpu): number {
  const lpn = cpu.codeLpn;
  if (lpn < 0) return -1;
  const next = lpn + 1;
  if (!cpu.long64) return next & 0xfffff;
  return next === 0x800000000 || next >= 0x1000000000 ? -1 : next;
}

/** The TLB entry of `nextCodeLpn`, or -1: none cached (or no such page). */
function nextPageIdx(cpu: Cpu): number {
  const next = nextCodeLpn(cpu);
  if (next < 0) return -1;
  const idx = next & C.TLB_MASK;
  return cpu.tlbTag[idx] === Math.floor(next / C.TLB_SIZE) ? idx : -1;
}

/**
 * After the scratch decode of an instruction running past the code page's end (its bytes
 * fetched, so the next page's TLB entry is filled): whether to keep it in the code page, the
 * next page's frame and decodes noted in it. Only where that page is RAM the fetch may run
 * from, and the code page's other straddling decodes (if any) ran into the same frame.
 */
function crossKeep(cpu: Cpu): boolean {
  const a = cpu.codePage;
  if (a === null) return false;
  const idx = nextPageIdx(cpu);
  if (idx < 0 || !(cpu.tlbPerm[idx] & (cpu.codeUser ? C.TP_UX : C.TP_SX))) return false;
  const view = cpu.tlbView[idx];
  const pfn = cpu.tlbPfn[idx];
  if (view === null || pfn === cpu.codePfn) return false;
  if (a.crossPfn >= 0 && a.crossPfn !== pfn) {
    // The next page maps another frame now: this page's decodes go (its straddling ones, and the
    // blocks that end with them, were made for the old one), to be made again for the new one.
    invalidateCodePage(cpu, cpu.codePfn);
    return false;
  }
  const b = codePageOf(cpu, pfn, view);
  if (a.crossTo !== b) {
    a.crossPfn = pfn;
    a.crossTo = b;
    if (b.crossFrom === null) b.crossFrom = [a];
    else b.crossFrom.push(a);
  }
  return true;
}

/**
 * Whether the code page's straddling decodes (`PageCode.crossTo`) are still good for the page
 * after it: it maps to the same frame, with fetch rights, and that frame's decodes are the ones
 * noted, checked against memory after `revalidateCode`. May walk (and raise #PF for) the next
 * page, as the instruction's fetch would. False: decode it again (`decodeAt`).
 */
export function crossFetchOk(cpu: Cpu): boolean {
  const a = cpu.codePage;
  if (a === null || a.crossTo === null) return false;
  let idx = nextPageIdx(cpu);
  const need = cpu.codeUser ? C.TP_UX : C.TP_SX;
  if (idx < 0 || !(cpu.tlbPerm[idx] & need)) {
    const next = nextCodeLpn(cpu);
    if (next < 0) return false;
    const lin = next * 4096;
    if (!tlbFill(cpu, lin, cpu.codeUser ? PFERR.USER | PFERR.FETCH : PFERR.FETCH)) throw C.GUEST_FAULT;
    idx = next & C.TLB_MASK;
    if (!(cpu.tlbPerm[idx] & need)) return false;
  }
  const pfn = cpu.tlbPfn[idx];
  const b = a.crossTo;
  if (pfn !== a.crossPfn || cpu.codePages.get(pfn) !== b) return false;
  if (b.epoch !== cpu.codeEpoch) {
    const view = cpu.tlbView[idx];
    if (view !== null && unchanged(b, view)) b.epoch = cpu.codeEpoch;
    else {
      invalidateCodePage(cpu, pfn);
      return false;
    }
  }
  return true;
}

/**
 * `crossFetchOk` for a compiled block about to run from the code page (jit.ts, `JitBlock.crosses`):
 * no walk, no fault, no check against memory; false leaves the block to the interpreter.
 */
export function crossPageOk(cpu: Cpu): boolean {
  const a = cpu.codePage;
  if (a === null || a.crossTo === null) return false;
  const idx = nextPageIdx(cpu);
  if (idx < 0 || !(cpu.tlbPerm[idx] & (cpu.codeUser ? C.TP_UX : C.TP_SX))) return false;
  const pfn = cpu.tlbPfn[idx];
  return pfn === a.crossPfn && a.crossTo.epoch === cpu.codeEpoch && cpu.codePages.get(pfn) === a.crossTo;
}

/** Decodes the instruction at `cpu.fetchLin` into `insn` and binds its handler; raises #GP/#UD. */
function decodeInto(cpu: Cpu, insn: Insn): void {
  const st = decode(cpu, insn, cpu.def32, cpu.long64);
  if (st !== DecodeStatus.Ok) {
    if (st === DecodeStatus.TooLong) cpu.gp0();
    cpu.raise(C.UD, 0, false);
  }
  insn.exec = cpu.long64 ? dispatch64(insn) : DISPATCH[insn.row];
  // The straight runs' one test per decode (Insn.straight): this decode is kept at this page
  // offset, so whether its bytes run past the page's end is decided here, once.
  const kind = ROW_KIND[insn.row];
  insn.straight =
    kind === 0 || insn.rep !== 0 || (cpu.fetchLin & 0xfff) + insn.length > 4096
      ? 0
      : (insn.length << 2) | kind;
}

/** Looks up (or creates) the decode cache of the physical page holding linear `lin`. */
function setCodePage(cpu: Cpu, lin: number): void {
  cpu.codeLpn = -1;
  cpu.codePage = null;
  cpu.codeView = null;
  const idx = (lin >>> 12) & C.TLB_MASK;
  const lpn = lpnOf(lin);
  const user = cpu.state.cpl === 3;
  const need = user ? C.TP_UX : C.TP_SX;
  // A fetch at CPL 3 is a user access (SDM Vol. 3 4.6): the walk must check U/S at every level
  // and a fault reports U = 1. An entry filled by a supervisor access lacks TP_UX unless the
  // walk found the page user-accessible, so it is walked again here.
  if (cpu.tlbTag[idx] !== tlbTagOf(lin) || !(cpu.tlbPerm[idx] & need))
    if (!tlbFill(cpu, lin, user ? PFERR.USER | PFERR.FETCH : PFERR.FETCH)) throw C.GUEST_FAULT;
  adoptCodePage(cpu, lin, idx, lpn, user);
}

/**
 * setCodePage for the block compiler's lookup (jit.ts), which runs between instructions and must
 * not fault: switches the code page to the one holding linear `lin` only when the TLB already
 * grants the fetch (the entry the interpreter's last fetch there filled); a miss, or rights that
 * need a walk, are left to the interpreter's fetch, which walks and raises #PF itself. Returns
 * whether `cpu.codePage` is now that page (false also for a page with no host view: MMIO).
 */
export function switchCodePage(cpu: Cpu, lin: number): boolean {
  const idx = (lin >>> 12) & C.TLB_MASK;
  const user = cpu.state.cpl === 3;
  if (cpu.tlbTag[idx] !== tlbTagOf(lin) || !(cpu.tlbPerm[idx] & (user ? C.TP_UX : C.TP_SX))) return false;
  cpu.codeLpn = -1;
  cpu.codePage = null;
  cpu.codeView = null;
  adoptCodePage(cpu, lin, idx, lpnOf(lin), user);
  return cpu.codePage !== null;
}

/**
 * The code page becomes the decode cache of the frame TLB entry `idx` maps (for linear `lin`,
 * fetched at CPL 3 if `user`): the one that entry remembers, else by frame, else a new one whose
 * frame loses its write rights in the TLB (so writes to it invalidate).
 */
function adoptCodePage(cpu: Cpu, lin: number, idx: number, lpn: number, user: boolean): void {
  const view = cpu.tlbView[idx];
  if (view === null) return;
  const pfn = cpu.tlbPfn[idx];
  const known = cpu.tlbCode[idx];
  let pc = known !== null ? known : cpu.codePages.get(pfn);
  if (pc !== undefined && pc.epoch !== cpu.codeEpoch) {
    // Memory may have been written from outside since this page was decoded (revalidateCode).
    if (unchanged(pc, view)) pc.epoch = cpu.codeEpoch;
    else {
      invalidateCodePage(cpu, pfn);
      pc = undefined;
    }
  }
  if (pc === undefined) pc = newCodePage(cpu, pfn, view);
  cpu.tlbCode[idx] = pc;
  cpu.codeLpn = lpn;
  // RIP[63:32] of this page in 64-bit mode: bits 47:32 of the folded address, sign-extended.
  const hi16 = lin <= 0xffffffff ? 0 : Math.floor(lin / 4294967296);
  cpu.codeRipHi = hi16 >= 0x8000 ? (hi16 + 0xffff0000) >>> 0 : hi16;
  cpu.codeEipPage = lin >>> 12;
  cpu.codeUser = user;
  cpu.codePage = pc;
  cpu.codeView = view;
  cpu.codePfn = pfn;
}

/**
 * The decodes of frame `pfn` (host view `view`), current (checked against memory after
 * `revalidateCode`), made now if there are none: for the page a straddling decode runs into.
 */
function codePageOf(cpu: Cpu, pfn: number, view: Uint8Array): PageCode {
  const pc = cpu.codePages.get(pfn);
  if (pc !== undefined) {
    if (pc.epoch === cpu.codeEpoch) return pc;
    if (unchanged(pc, view)) {
      pc.epoch = cpu.codeEpoch;
      return pc;
    }
    invalidateCodePage(cpu, pfn);
  }
  return newCodePage(cpu, pfn, view);
}

/** Empty decodes for frame `pfn` (bytes from `view`), registered; the frame loses its write rights. */
function newCodePage(cpu: Cpu, pfn: number, view: Uint8Array): PageCode {
  let pc = cpu.codePool.pop();
  if (pc === undefined) pc = new PageCode();
  else {
    pc.insns.fill(undefined);
    pc.crossPfn = -1;
    pc.crossTo = null;
    pc.crossFrom = null;
    pc.jcIdx.length = 0;
    pc.jcGen = 0;
  }
  pc.pfn = pfn;
  pc.bytes.set(view);
  pc.epoch = cpu.codeEpoch;
  cpu.codePages.set(pfn, pc);
  // Writes to this frame must now go the slow way (to invalidate): drop cached write rights.
  // Without paging only the identity entry can map the frame; with paging any entry can, and
  // so can any under nested paging (the frame is host-physical, the index guest-physical).
  // The wasm side's write tags go with them (tlb.ts tlbWasmKillWrite).
  const w = cpu.tlbWasm;
  if (cpu.pagingMode === 0 && cpu.nested === null) {
    const i = pfn & C.TLB_MASK;
    if (cpu.tlbPfn[i] === pfn) {
      cpu.tlbPerm[i] &= ~(C.TP_SW | C.TP_UW);
      if (w !== null) tlbWasmKillWrite(w, i);
    }
  } else {
    for (let i = 0; i < C.TLB_SIZE; i++) {
      if (cpu.tlbTag[i] >= 0 && cpu.tlbPfn[i] === pfn) {
        cpu.tlbPerm[i] &= ~(C.TP_SW | C.TP_UW);
        if (w !== null) tlbWasmKillWrite(w, i);
      }
    }
  }
  return pc;
}

/** Byte `i` of the instruction at CS:fetchEip, with limit and page checks (the decoder's ByteSource). */
export function fetchCodeByte(cpu: Cpu, i: number): number {
  const eip = cpu.fetchEip + i;
  // A 4 GiB code segment wraps past the top, as data accesses do (see segAddr).
  const lim = cpu.state.segLimit[1];
  if (eip > lim && lim !== 0xffffffff && !cpu.long64) cpu.gp0();
  let lin: number;
  if (cpu.long64) {
    // An instruction running from canonical into non-canonical space: #GP(0).
    lin = cpu.linNext(cpu.fetchLin, i);
    if (lin >= TWO47 && cpu.fetchLin < TWO47) cpu.gp0();
  } else lin = (cpu.fetchLin + i) >>> 0;
  if (cpu.linearOps !== null) return cpu.linearOps.fetch(lin);
  if (lpnOf(lin) === cpu.codeLpn && cpu.codeView !== null && cpu.codeUser === (cpu.state.cpl === 3))
    return cpu.codeView[lin & 0xfff];
  return cpu.linRead(lin, 1, cpu.state.cpl === 3 ? PFERR.USER | PFERR.FETCH : PFERR.FETCH);
}

/** Drops the decodes of physical frame `pfn` (written by the guest or by someone else). */
export function invalidateCodePage(cpu: Cpu, pfn: number): void {
  const pc = cpu.codePages.get(pfn);
  if (pc !== undefined) {
    cpu.codePages.delete(pfn);
    // The TLB entries that found it by index forget it (setCodePage); rare: a write to code.
    const tc = cpu.tlbCode;
    for (let i = 0; i < C.TLB_SIZE; i++) if (tc[i] === pc) tc[i] = null;
    // Recycle the page's slot array (32 KiB) instead of leaving it to the GC.
    if (cpu.codePool.length < 16) cpu.codePool.push(pc);
    cpu.stats.codeInvalidations++;
    // The jump cache's entries for functions made from these decodes (a write to any code frame
    // voided all of them: 2,046 times in Debian's boot to the shell on vmx-ept, each then costing
    // ~100 re-entries into compiled code from JavaScript, 240 k in all).
    cpu.chainOps?.dropPage(pc);
    if (cpu.codePfn === pfn) {
      cpu.codeLpn = -1;
      cpu.codePage = null;
      cpu.codeView = null;
    }
    // The pages whose straddling decodes ran into this one lose theirs (all their decodes).
    const from = pc.crossFrom;
    if (from !== null) {
      pc.crossFrom = null;
      for (const a of from) if (cpu.codePages.get(a.pfn) === a) invalidateCodePage(cpu, a.pfn);
    }
  }
}

/** `Cpu`'s methods over the decode cache (installed by cpu.ts). */
export class CpuCodeCache {
  /** ByteSource for the decoder: byte `i` of the instruction at CS:fetchEip (fetch.ts). */
  fetchByte(this: Cpu, i: number): number {
    return fetchCodeByte(this, i);
  }

  /**
   * Tells the CPU that memory in [pa, pa+length) was written by someone else (DMA, the
   * hypervisor): cached decodes of those pages are dropped.
   */
  invalidateCode(this: Cpu, pa: number, length: number): void {
    const first = Math.floor(pa / 4096);
    const last = Math.floor((pa + Math.max(length, 1) - 1) / 4096);
    for (let p = first; p <= last; p++) invalidateCodePage(this, p);
  }

  /**
   * Memory may have been written by someone other than this CPU (a VMM's userspace between two
   * KVM_RUNs, device DMA, a debugger's breakpoint), at addresses nobody can name: each page's
   * decoded instructions and compiled blocks are checked against its bytes before their next use
   * (fetch.ts), instead of being dropped. Cheap when nothing changed: one compare per code page
   * the guest runs next.
   */
  revalidateCode(this: Cpu): void {
    this.codeEpoch++;
    this.chainOps?.flushAll();
    this.codeLpn = -1;
    this.codePage = null;
    this.codeView = null;
  }

  /**
   * Drops every decoded instruction and every TLB entry: for callers that cannot say which
   * memory changed (a memory-slot change, a bulk load of guest RAM).
   */
  flushCodeCache(this: Cpu): void {
    this.codePages.clear();
    this.tlbCode.fill(null);
    this.codeLpn = -1;
    this.codePage = null;
    this.codeView = null;
    this.flushTlb();
  }
}
