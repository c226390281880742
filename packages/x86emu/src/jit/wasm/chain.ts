/**
 * Chaining of 64-bit functions in wasm: QEMU's `tb_jmp_cache` and its TB chaining. Every 64-bit
 * region's function is put in one `WebAssembly.Table` (a slot each), and the wrapper (compile64.ts
 * `runWasm64`) calls a dispatch loop in wasm instead of the function: the loop calls the function
 * in the slot (`call_indirect`), and when it left normally at RIP X with no exit request, looks X up
 * in the jump cache (arena.ts JC: RIP[31:0], RIP[63:32], tag, slot and entry-block length, hashed
 * by RIP[31:0]) and calls the function there, until a miss, a fault, an exit request or a budget
 * too short for the next entry block; then it returns to JavaScript, which goes on as after one
 * function (`Jit.enter`'s link or lookup). 76 % of the kernel's straight runs end at a branch into
 * another page (calls, returns through `__x86_return_thunk`, the retpoline thunks), so chaining
 * within a page alone would not do.
 *
 * What makes an entry valid, and how each is kept:
 * - RIP maps to the code the function was compiled from: an entry is filled by the wrapper for the
 *   function it is about to run at RIP (what `Jit.enter` found through the TLB and the decode
 *   cache), tagged with a generation: `ST_GEN` where the code page's TLB entry is global, else
 *   `ST_GENNG`. Every TLB flush and `revalidateCode` bumps both, a CR3 load that keeps global
 *   entries (`tlbFlushNonGlobal`) the second only (the kernel's text is global: its entries
 *   outlive a context switch), INVLPG voids the entries in the 2 MiB around its address, and the
 *   decodes of a code frame dropped (a write to it: fetch.ts `invalidateCodePage`) void the
 *   entries filled for functions made from them (`dropPage`, by the page's list
 *   `PageCode.jcIdx`) (`Cpu.chainOps`, `CodeChainOps`); each also asks the running function to
 *   leave (exit request 2), so a chain never runs past one;
 * - the privilege class of the fetch: the tag's bit 0 (CPL 3), as the decode cache's `codeUser`;
 * - what `Jit.mayRun` and `link` check, and what the wrapper passes (segment masks, TLB class,
 *   SSE_OK): `chainSig` at the chain's start; after every handler the function calls (the only
 *   code that can change them) it is computed again, and a change, or a new `runLimit`, ends the
 *   function and the chain (handler64Import); the budget is tested at each hop against the entry
 *   block's length, the function itself tests its inner jumps (emit.ts goTo); a REP string's
 *   iterations beyond the first are budget too, not retired instructions (`Cpu.chargeIterations`):
 *   the room is less by ST_REPX, which the REP's call site adds to (compile64.ts);
 * - the lazy flags: a 64-bit function's prologue loads the flag record from the exchange area, where
 *   the previous one stored it, so the record goes from function to function exactly as from block
 *   to block inside one; the wrapper clears it (flags in the CPU) before the first;
 * - precise exceptions: the loop returns the last function's slot (ST_CUR) and keeps the
 *   instructions the chain retired before it (ST_NTOT, stored before each call, where a handler
 *   reads it), from which the wrapper sets `startEip`/`startRipHi`
 *   and `runCount` as for that function alone; a handler's `runCount` and RIP[63:32] likewise.
 */
import { TLB_MASK, TP_GLOBAL } from '../../cpu/consts.js';
import type { CodeChainOps, Cpu } from '../../cpu/cpu.js';
import type { PageCode } from '../../cpu/fetch.js';
import { holdAsDoubles } from '../../double-fields.js';
import { Flag } from '../../state.js';
import { isSharedMemory, WA, type WasmMemory, type WasmTable } from './api.js';
import {
  JC,
  JC_ENTRIES,
  ST_CUR,
  ST_EXITREQ,
  ST_GEN,
  ST_GENNG,
  ST_HOPS,
  ST_N,
  ST_NEXT,
  ST_NEXTHI,
  ST_NTOT,
  ST_REPX,
} from './arena.js';
import { buildTableModule, FuncWriter, I32, Op } from './encode.js';

/** Table slots before they are reused (from 0, the jump cache voided): twice the blocks `Jit` keeps. */
export const MAX_SLOTS = 8192;
/** Bits of a jump cache entry's last word below the entry block's length: the slot. */
const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/**
 * Entries a code page lists (`PageCode.jcIdx`) before its own are voided and the list restarts: a
 * bound on a list that keeps an index each time another page's function took it in between.
 */
export const MAX_PAGE_ENTRIES = 1024;

/** The multiplier and shift of `jcIndex` (JC_ENTRIES a power of two). */
const JC_MUL = 0x9e3779b1 | 0;
const JC_SHIFT = 32 - Math.log2(JC_ENTRIES);

/**
 * The jump cache index of RIP[31:0] `lo` (the dispatch loop computes the same): the top bits of
 * `lo` times 2^32/φ (Knuth's multiplicative hashing). The fold `lo ^ lo >>> 12` it replaces mapped
 * whole families of RIPs to one index whatever the cache's size: Debian's `memcpy` (…81a3dc00)
 * and `insn_init` (…819edfd0) share their low 16 bits of it, and took each other's entry 105 k
 * times to the shell, every time a return to JavaScript (README, "The JavaScript around compiled
 * code").
 */
export function jcIndex(lo: number): number {
  return Math.imul(lo, JC_MUL) >>> JC_SHIFT;
}

/**
 * What a chain of 64-bit functions must keep from its start: the segments reachable inline for
 * reads (bits 0–5) and writes (6–11), as the wrapper passes them (none with #AC checks on); CPL 3
 * (12); SSE usable (13: CR0.EM and TS clear, CR4.OSFXSR set); 64-bit mode (14); and bit 15 when
 * anything `Jit.mayRun` refuses is on (TF, RF, an interrupt shadow, debug registers, a REP half
 * done).
 */
export function chainSig(cpu: Cpu): number {
  const s = cpu.state;
  let m = cpu.acEnabled ? 0 : cpu.segInline;
  if (s.cpl === 3) m |= 1 << 12;
  if ((s.cr[0] & 12) === 0 && (s.cr[4] & 512) !== 0) m |= 1 << 13;
  if (cpu.long64) m |= 1 << 14;
  if (
    (s.rflags[0] & (Flag.TF | Flag.RF)) !== 0 ||
    (s.interruptibility & 3) !== 0 ||
    (cpu.dbgExec | cpu.dbgData) !== 0 ||
    cpu.repInsn !== null
  )
    m |= 1 << 15;
  return m;
}

/** The dispatch loop's export: (slot, room, srm, swm, cls, tagG, tagNG) → the last function's result. */
type ChainFn = (
  slot: number,
  room: number,
  srm: number,
  swm: number,
  cls: number,
  tagG: number,
  tagNG: number,
) => number;

const FN_TYPE = { params: [I32, I32, I32, I32, I32, I32], results: [I32] };
const LOOP_TYPE = { params: [I32, I32, I32, I32, I32, I32, I32], results: [I32] };

/**
 * The dispatch loop (parameters: slot, room, srm, swm, cls, tagG, tagNG): calls the function in
 * `slot` with the room left, the masks and the class (its CS-limit parameter 0, as in 64-bit mode),
 * and goes on at the jump cache's entry for where it left while that entry's tag is `tagG` or
 * `tagNG` and its entry block fits the room.
 */
function dispatchLoop(): FuncWriter {
  const f = new FuncWriter(7);
  const [slot, room, srm, swm, cls, tagG, tagNG] = [0, 1, 2, 3, 4, 5, 6];
  const ntot = f.local();
  const kind = f.local();
  const lo = f.local();
  const e = f.local();
  const v = f.local();
  const r = f.local();
  const hops = f.local();
  // The room left: less what the chain retired and what its REP strings' extra iterations used.
  const left = (): void => {
    f.get(room).get(ntot).op(Op.i32Sub);
    f.i32(0).mem(Op.i32Load, ST_REPX).op(Op.i32Sub);
  };
  left();
  f.set(r);
  f.open(Op.block, 'out');
  f.open(Op.loop, 'top');
  // What a handler the function calls reads (compile64.ts handler64Import); the running slot
  // (ST_CUR) is the loop's own until it returns, stored once below.
  f.i32(0).get(ntot).mem(Op.i32Store, ST_NTOT);
  f.get(r).get(srm).get(swm).get(cls).get(cls).i32(0);
  f.get(slot).callIndirect(0);
  f.tee(kind).brIf('out');
  f.i32(0).mem(Op.i32Load, ST_EXITREQ).brIf('out');
  // The entry for RIP: jcIndex.
  f.i32(0).mem(Op.i32Load, ST_NEXT).tee(lo);
  f.i32(JC_MUL).op(Op.i32Mul).i32(JC_SHIFT).op(Op.i32ShrU);
  f.i32(4).op(Op.i32Shl).tee(e);
  f.mem(Op.i32Load, JC).get(lo).op(Op.i32Ne).brIf('out');
  f.get(e).mem(Op.i32Load, JC + 4);
  f.i32(0).mem(Op.i32Load, ST_NEXTHI).op(Op.i32Ne).brIf('out');
  f.get(e)
    .mem(Op.i32Load, JC + 8)
    .tee(v)
    .get(tagG)
    .op(Op.i32Ne);
  f.get(v).get(tagNG).op(Op.i32Ne).op(Op.i32And).brIf('out');
  // Retired so far; the next entry block must fit what is left (the next call's room).
  f.get(ntot).i32(0).mem(Op.i32Load, ST_N).op(Op.i32Add).set(ntot);
  f.get(e)
    .mem(Op.i32Load, JC + 12)
    .set(v);
  left();
  f.tee(r);
  f.get(v).i32(SLOT_BITS).op(Op.i32ShrU).op(Op.i32LtS).brIf('out');
  f.get(v)
    .i32((1 << SLOT_BITS) - 1)
    .op(Op.i32And)
    .set(slot);
  f.get(hops).i32(1).op(Op.i32Add).set(hops);
  f.br('top');
  f.end();
  f.end();
  f.i32(0).get(slot).mem(Op.i32Store, ST_CUR);
  f.i32(0).i32(0).mem(Op.i32Load, ST_HOPS).get(hops).op(Op.i32Add).mem(Op.i32Store, ST_HOPS);
  f.get(kind);
  return f;
}

/** One CPU's table of 64-bit functions, its jump cache and its dispatch loop. */
export class Chain<R extends { slot: number; readonly page: PageCode }> implements CodeChainOps {
  readonly table: WasmTable;
  readonly run: ChainFn;
  /** The region whose function is in each slot. */
  readonly regions: (R | null)[] = [];
  /** The jump cache (arena.ts JC), as Int32 words. */
  private readonly jc: Int32Array;
  private readonly u32: Uint32Array;
  private nextSlot = 0;
  /**
   * The 2 MiB spans (RIP[47:32] * 2048 + RIP[31:21]) entries were filled in since the last
   * `flushAll` (a superset: entries since voided stay counted), so that INVLPG scans the cache only
   * where code was: the kernel's INVLPGs are of data pages, and a scan of every entry at each of
   * them cost as much as the CR3 loads' and INVLPGs' voided entries did.
   */
  private readonly spans = new Set<number>();
  private lastSpan = -1;
  /** `chainSig` and `runLimit` at the running chain's start (the handlers' test). */
  sig = 0;
  limit = 0;
  /** `calls`: handlers the chained functions called (compile64.ts handler64Import). */
  readonly stats = { slots: 0, fills: 0, wraps: 0, calls: 0 };

  constructor(
    private readonly cpu: Cpu,
    memory: WasmMemory,
  ) {
    this.table = new WA.Table({ initial: 64, element: 'anyfunc' });
    const bytes = buildTableModule(FN_TYPE, LOOP_TYPE, dispatchLoop(), isSharedMemory(memory));
    const inst = new WA.Instance(new WA.Module(bytes), { env: { m: memory, t: this.table } });
    this.run = inst.exports.c as ChainFn;
    this.jc = new Int32Array(memory.buffer, JC, JC_ENTRIES * 4);
    this.u32 = new Uint32Array(memory.buffer, 0, (ST_GENNG >> 2) + 1);
    this.jc.fill(0);
    // Entries tagged 0 never match: the generations start at 1.
    this.u32[ST_GEN >> 2] = 1;
    this.u32[ST_GENNG >> 2] = 1;
    cpu.chainOps = this;
    // The chain's signature has bit 31; the run's limit may be a fraction (../../double-fields.ts).
    holdAsDoubles(this, ['sig', 'limit']);
  }

  /**
   * Whether the dispatch loop is running (`runWasm64`): only then must a function leave at a flush
   * (`leave`); a 32-bit function, never chained, goes on as before (bench-ctxsw32 lost 10-15 % to a
   * return to JavaScript after every CR3 load).
   */
  running = false;

  /** A function the loop runs now leaves after the instruction (unless a fault's exit request is there). */
  private leave(): void {
    const u = this.u32;
    if (this.running && u[ST_EXITREQ >> 2] === 0) u[ST_EXITREQ >> 2] = 2;
  }

  flushAll(): void {
    // Only when something is there: V8's Set.clear() allocates a new table every time.
    if (this.spans.size !== 0) this.spans.clear();
    this.lastSpan = -1;
    this.u32[ST_GEN >> 2]++;
    this.u32[ST_GENNG >> 2]++;
    this.leave();
  }

  /**
   * The decodes of `page` are gone: the entries filled for its functions since the last full
   * flush are voided (`PageCode.jcIdx`; an index since refilled for another page's function is
   * left alone), and the running function leaves.
   */
  dropPage(page: PageCode): void {
    this.leave();
    if (page.jcGen === this.u32[ST_GEN >> 2]) this.voidPage(page);
  }

  /** Voids the entries `page` lists that still hold one of its functions, and empties the list. */
  private voidPage(page: PageCode): void {
    const jc = this.jc;
    const regions = this.regions;
    const l = page.jcIdx;
    for (let n = 0; n < l.length; n++) {
      const i = l[n];
      const r = regions[jc[i + 3] & SLOT_MASK];
      if (r !== undefined && r !== null && r.page === page) jc[i + 2] = 0;
    }
    l.length = 0;
  }

  flushNonGlobal(): void {
    this.u32[ST_GENNG >> 2]++;
    this.leave();
  }

  /**
   * INVLPG of linear `gva` (a non-negative number below 2^48): the entries whose RIP lies in the
   * same 2 MiB go (a large page's, or more than the 4 KiB page: never less). A 1 GiB page's INVLPG
   * flushes the whole TLB (tlb.ts), and so `flushAll`.
   */
  invlpg(gva: number): void {
    const span = (gva % 4294967296) >>> 21;
    const hi16 = Math.floor(gva / 4294967296) & 0xffff;
    this.leave();
    if (!this.spans.has(hi16 * 2048 + span)) return;
    const jc = this.jc;
    for (let i = 0; i < jc.length; i += 4)
      if (jc[i] >>> 21 === span && (jc[i + 1] & 0xffff) === hi16) jc[i + 2] = 0;
  }

  /** Hops from one function to the next so far (ST_HOPS, wrapping at 2^32). */
  get hops(): number {
    return this.u32[ST_HOPS >> 2];
  }

  /** Slots before they are reused (MAX_SLOTS; a test lowers it to make the wrap happen). */
  maxSlots = MAX_SLOTS;

  /**
   * The slot of `r`, whose function is `fn`: its own while no other took it, else the next one.
   * At `maxSlots` the slots are reused from 0, the jump cache voided and every region's slot
   * dropped: a region that kept its slot across the wrap would get entries of the new generation
   * to a slot the count hands to another region later, and they would call that region's
   * function at its RIP (Debian oopsed with a code cache of 16,384 blocks: G, 2026-12-06).
   */
  slotOf(r: R, fn: unknown): number {
    if (this.regions[r.slot] === r) return r.slot;
    if (this.nextSlot === this.maxSlots) {
      this.nextSlot = 0;
      for (const o of this.regions) if (o !== null) o.slot = -1;
      this.regions.fill(null);
      this.u32[ST_GEN >> 2]++;
      this.u32[ST_GENNG >> 2]++;
      this.stats.wraps++;
    }
    const slot = this.nextSlot++;
    if (slot >= this.table.length)
      this.table.grow(Math.min(this.table.length, this.maxSlots - this.table.length));
    const old = this.regions[slot];
    if (old !== undefined && old !== null) old.slot = -1;
    this.table.set(slot, fn);
    this.regions[slot] = r;
    r.slot = slot;
    this.stats.slots++;
    return slot;
  }

  /**
   * The jump cache's tag now at CPL 3 if `user`, for code whose translation is global (`global`:
   * ST_GEN, bit 1 set) or not (ST_GENNG): generation << 2 | global << 1 | user.
   */
  tag(global: boolean, user: boolean): number {
    const gen = this.u32[(global ? ST_GEN : ST_GENNG) >> 2];
    return (gen << 2) | (global ? 2 : 0) | (user ? 1 : 0) | 0;
  }

  /** Whether the TLB entry that maps the page of RIP `lo`/`hi` now is global (its tag as switchCodePage64 computes it). */
  private globalAt(lo: number, hi: number): boolean {
    const cpu = this.cpu;
    const idx = (lo >>> 12) & TLB_MASK;
    return cpu.tlbTag[idx] === (((hi & 0xffff) << 8) | (lo >>> 24)) && (cpu.tlbPerm[idx] & TP_GLOBAL) !== 0;
  }

  /**
   * Fills the entry for RIP `lo`/`hi`, which the CPU is about to run at CPL 3 if `user`: the
   * function in `slot`, made from the decodes `page`, entry block of `len` instructions; global
   * when the TLB entry that maps RIP's page now is global (the entry may have been replaced since
   * the fetch: then not). The entry is listed on `page` (`dropPage`); one already there as it
   * would be written (a function entered from JavaScript again and again) is left as it is.
   *
   * A function whose code runs into the next page (`crosses`: an instruction straddling the page
   * end, region.ts) is valid only while that page maps the frame it was compiled from, which
   * `Jit` checked before this call (fetch.ts crossPageOk). What could change that voids the entry
   * as it voids any: a TLB flush and `revalidateCode` void all entries, a write into either code
   * frame this page's (the next page's drop drops this one: fetch.ts `crossFrom`); a CR3 load the non-global ones (the entry is global only when both pages' TLB
   * entries are); an INVLPG the entries whose RIP lies in its 2 MiB, so the entry is filled only
   * when the next page lies in the same 2 MiB as RIP (else no entry: every entry goes through
   * `Jit`). Before, no crossing function had an entry: Debian's RSA loop (mpihelp_submul_1, whose
   * body straddles a page end) came back to JavaScript at every iteration, 1.16 M times a boot.
   */
  fill(
    lo: number,
    hi: number,
    user: boolean,
    slot: number,
    len: number,
    crosses: boolean,
    page: PageCode,
  ): void {
    let global = this.globalAt(lo, hi);
    if (crosses) {
      const next = ((lo >>> 12) + 1) << 12;
      if (next >>> 21 !== lo >>> 21) return;
      global &&= this.globalAt(next, hi);
    }
    const i = jcIndex(lo) << 2;
    const jc = this.jc;
    const tag = this.tag(global, user);
    const v = slot | (len << SLOT_BITS);
    // Filled since the last full flush (its generation in the tag), and so listed on `page` and
    // its span noted: nothing to do.
    if (jc[i] === (lo | 0) && jc[i + 1] === (hi | 0) && jc[i + 2] === tag && jc[i + 3] === v) return;
    const span = (hi & 0xffff) * 2048 + (lo >>> 21);
    if (span !== this.lastSpan) {
      this.spans.add(span);
      this.lastSpan = span;
    }
    const gen = this.u32[ST_GEN >> 2];
    if (page.jcGen !== gen) {
      page.jcGen = gen;
      page.jcIdx.length = 0;
    } else if (page.jcIdx.length >= MAX_PAGE_ENTRIES) this.voidPage(page);
    page.jcIdx.push(i);
    jc[i] = lo;
    jc[i + 1] = hi;
    jc[i + 2] = tag;
    jc[i + 3] = v;
    this.stats.fills++;
  }
}
