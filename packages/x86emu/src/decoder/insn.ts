import type { Handler } from '../cpu/handler.js';
import type { JitBlock } from '../jit/block.js';

/** Placeholder handler until the decoder binds the row's. */
const unbound: Handler = () => {};

/** A decoded instruction. The CPU keeps these in its decode cache; nothing here depends on register values. */
export class Insn {
  // V8 lays class fields out in the order they are initialised (node without pointer compression:
  // 8 bytes each after a 24-byte header; 17 fields, 160 bytes). What a straight run reads of every
  // instruction (`exec`, `straight`, `next`, `jitBlock`) and what its handler reads (`pfx`, `mrm`,
  // `disp`, `imm`) come first, next to the map word that every load checks: 96 bytes, two cache
  // lines, where they spread over 152 (three, or four) with the handler's fields last. Cold
  // kernel code touches each decode once between long absences (jit/README.md, "fourth round"),
  // so the lines a decode spans are the interpreter's misses.
  /** The row's handler from the dispatch table (bound by the CPU after decoding). */
  exec: Handler = unbound;
  /**
   * What a straight run (cpu/straight-run.ts) needs of this decode, in one small integer set when
   * it is bound (cpu/fetch.ts `decodeInto`): 0 where a run must stop before it (a row that is
   * neither straight-line nor a near branch, a REP/REPNE prefix, or bytes running past its page's
   * end: all fixed for a decode kept at one page offset), else `(length << 2) | ROW_KIND[row]`
   * (1 straight-line, 2 near branch). One load and one test per instruction where the run tested
   * `ROW_KIND[row]` (a second, dependent load), `rep` and the page-end sum.
   */
  straight = 0;
  /**
   * The decode of the instruction after this one in the same page, once a straight run
   * (cpu/straight-run.ts) went from this one to it: both are the same page's decodes, so the link
   * lives and dies with them.
   */
  next: Insn | null = null;
  /**
   * The block compiler's state for a block starting here (src/jit): the compiled block (and
   * `jitHits`, how often the run loop came here). It lives and dies with this decode.
   */
  jitBlock: JitBlock | null = null;
  /**
   * The decode's small fields, packed (`pfx`: opcode, sizes, segment override, REX, LOCK; `mrm`:
   * the ModRM and SIB parts, the default segment), read and written through the accessors below:
   * a decode of 16 fields (152 bytes; 17 and 160 with `jitSince`) instead of 30 (264 bytes; 27 and 240 before the branch
   * link), so that cold kernel code misses fewer lines (jit/README.md, "ninth round"). Both stay
   * small integers (Smis).
   */
  pfx = 0x11000;
  mrm = 0x18000000;
  /** Displacement of the memory operand. */
  disp = 0;
  /** First and second immediates (Jb/Jz/IbS sign-extended; Ap: offset in imm, selector in imm2). */
  imm = 0;
  /** Decode key (default size and mode) this was decoded under; the cache re-decodes on change. */
  modeKey = 0;
  /**
   * The decode a straight run last went to from this near branch in the same page, and its page
   * offset (-1: none): a loop's head, a Jcc's target, a return into the same page. Like `next`,
   * it is the same page's decode and lives and dies with the page's decodes; the offset is
   * compared with RIP's, so a branch whose target changes (RET, JMP r/m) just looks it up again.
   */
  taken: Insn | null = null;
  takenOff = -1;
  /** Dispatch index: the row number in `OPCODE_TABLE`, or -1 for #UD. */
  row = -1;
  /** Length in bytes, prefixes included. */
  length = 0;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  /** How often the run loop came here, for the block compiler (negative: never compile). */
  jitHits = 0;
  /** The second immediate (see `imm`). */
  imm2 = 0;
  /**
   * The CPU's instruction count (`instructionsRetired + runCount`) at the first visit counted in
   * `jitHits`, for the block compiler's rate test (`Jit.early`); NaN before (a double field from
   * the start: counts pass 2^31, ../double-fields.ts).
   */
  jitSince = Number.NaN;

  /** Opcode in the map numbering of `OpcodeRow.op` (0x000–0x3FF: one-byte, 0F, 0F 38, 0F 3A maps). */
  get op(): number {
    return this.pfx & 0x3ff;
  }
  set op(v: number) {
    this.pfx = (this.pfx & ~0x3ff) | (v & 0x3ff);
  }
  /** Operand size in bytes (2, 4 or 8). */
  get opSize(): number {
    return (this.pfx >>> 10) & 0xf;
  }
  set opSize(v: number) {
    this.pfx = (this.pfx & ~0x3c00) | ((v & 0xf) << 10);
  }
  /** Address size in bytes (2, 4 or 8). */
  get adSize(): number {
    return (this.pfx >>> 14) & 0xf;
  }
  set adSize(v: number) {
    this.pfx = (this.pfx & ~0x3c000) | ((v & 0xf) << 14);
  }
  /** Segment override 0–5, or -1. */
  get seg(): number {
    return ((this.pfx >>> 18) & 0xf) - 1;
  }
  set seg(v: number) {
    this.pfx = (this.pfx & ~0x3c0000) | (((v + 1) & 0xf) << 18);
  }
  /** REX byte (0x40–0x4F) or 0. */
  get rex(): number {
    return (this.pfx >>> 22) & 0xff;
  }
  set rex(v: number) {
    this.pfx = (this.pfx & ~0x3fc00000) | ((v & 0xff) << 22);
  }
  /** LOCK prefix. */
  get lock(): boolean {
    return (this.pfx & 0x40000000) !== 0;
  }
  set lock(v: boolean) {
    this.pfx = v ? this.pfx | 0x40000000 : this.pfx & ~0x40000000;
  }
  /** ModRM.mod (3: register form; also for opcodes without ModRM). */
  get mod(): number {
    return this.mrm & 0x3;
  }
  set mod(v: number) {
    this.mrm = (this.mrm & ~0x3) | (v & 0x3);
  }
  /** ModRM.reg extended by REX.R. */
  get reg(): number {
    return (this.mrm >>> 2) & 0xf;
  }
  set reg(v: number) {
    this.mrm = (this.mrm & ~0x3c) | ((v & 0xf) << 2);
  }
  /** The raw 3-bit ModRM.reg field (group selector). */
  get ext(): number {
    return (this.mrm >>> 6) & 0x7;
  }
  set ext(v: number) {
    this.mrm = (this.mrm & ~0x1c0) | ((v & 0x7) << 6);
  }
  /** ModRM.rm extended by REX.B (register form), or the opcode's low 3 bits + REX.B for Z operands. */
  get rm(): number {
    return (this.mrm >>> 9) & 0xf;
  }
  set rm(v: number) {
    this.mrm = (this.mrm & ~0x1e00) | ((v & 0xf) << 9);
  }
  /** Memory operand (mod != 3): base register number, or -1. */
  get base(): number {
    return ((this.mrm >>> 13) & 0x1f) - 1;
  }
  set base(v: number) {
    this.mrm = (this.mrm & ~0x3e000) | (((v + 1) & 0x1f) << 13);
  }
  /** Memory operand: index register number, or -1. */
  get index(): number {
    return ((this.mrm >>> 18) & 0x1f) - 1;
  }
  set index(v: number) {
    this.mrm = (this.mrm & ~0x7c0000) | (((v + 1) & 0x1f) << 18);
  }
  /** Memory operand: the index's scale shift (0–3). */
  get scale(): number {
    return (this.mrm >>> 23) & 0x3;
  }
  set scale(v: number) {
    this.mrm = (this.mrm & ~0x1800000) | ((v & 0x3) << 23);
  }
  /** The opcode takes a ModRM byte. */
  get hasModrm(): boolean {
    return (this.mrm & 0x2000000) !== 0;
  }
  set hasModrm(v: boolean) {
    this.mrm = v ? this.mrm | 0x2000000 : this.mrm & ~0x2000000;
  }
  /** RIP-relative (64-bit mode, mod = 0, rm = 5). */
  get ripRel(): boolean {
    return (this.mrm & 0x4000000) !== 0;
  }
  set ripRel(v: boolean) {
    this.mrm = v ? this.mrm | 0x4000000 : this.mrm & ~0x4000000;
  }
  /** Default segment of the memory operand: SS when the base is (E)BP/(E)SP, else DS. */
  get defSeg(): number {
    return (this.mrm >>> 27) & 0x7;
  }
  set defSeg(v: number) {
    this.mrm = (this.mrm & ~0x38000000) | ((v & 0x7) << 27);
  }

  /** Segment register of the memory operand: the override if any, else the default. */
  get memSeg(): number {
    return this.seg >= 0 ? this.seg : this.defSeg;
  }
}
