import type { Handler } from '../cpu/handler.js';
import type { JitBlock } from '../jit/block.js';

/** Placeholder handler until the decoder binds the row's. */
const unbound: Handler = () => {};

/** A decoded instruction. The CPU keeps these in its decode cache; nothing here depends on register values. */
export class Insn {
  // The fields the run loop, the fetch, the straight runs and the block compiler's lookup read at
  // every instruction come first: V8 lays class fields out in the order they are initialised, and
  // a decode is 240 bytes (27 fields of 8 bytes, node without pointer compression), four cache
  // lines, mostly cold when kernel code comes back to it (the engine's straight runs spent their
  // samples on the first touch of each decode: jit/README.md, "fourth round").
  /** The row's handler from the dispatch table (bound by the CPU after decoding). */
  exec: Handler = unbound;
  /** Dispatch index: the row number in `OPCODE_TABLE`, or -1 for #UD. */
  row = -1;
  /** Length in bytes, prefixes included. */
  length = 0;
  /** Decode key (default size and mode) this was decoded under; the cache re-decodes on change. */
  modeKey = 0;
  /**
   * The decode of the instruction after this one in the same page, once a straight run
   * (cpu/straight-run.ts) went from this one to it: both are the same page's decodes, so the link
   * lives and dies with them.
   */
  next: Insn | null = null;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  /**
   * The block compiler's state for a block starting here (src/jit): how often the run loop came
   * here (negative: never compile), and the compiled block. It lives and dies with this decode.
   */
  jitBlock: JitBlock | null = null;
  jitHits = 0;

  /** Opcode in the map numbering of `OpcodeRow.op` (0x000–0x3FF: one-byte, 0F, 0F 38, 0F 3A maps). */
  op = 0;
  /** Operand size in bytes (2, 4 or 8) and address size (2, 4 or 8). */
  opSize = 4;
  adSize = 4;
  /** Segment override 0–5, or -1. */
  seg = -1;
  lock = false;
  /** REX byte (0x40–0x4F) or 0. */
  rex = 0;

  hasModrm = false;
  mod = 0;
  /** ModRM.reg extended by REX.R; `ext` is the raw 3-bit reg field (group selector). */
  reg = 0;
  ext = 0;
  /** ModRM.rm extended by REX.B (register form), or the opcode's low 3 bits + REX.B for Z operands. */
  rm = 0;

  /** Memory operand (mod != 3): base and index register numbers or -1, scale shift, displacement. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Default segment of the memory operand: SS when the base is (E)BP/(E)SP, else DS. */
  defSeg = 3;
  /** RIP-relative (64-bit mode, mod = 0, rm = 5). */
  ripRel = false;

  /** First and second immediates (Jb/Jz/IbS sign-extended; Ap: offset in imm, selector in imm2). */
  imm = 0;
  imm2 = 0;

  /** Segment register of the memory operand: the override if any, else the default. */
  get memSeg(): number {
    return this.seg >= 0 ? this.seg : this.defSeg;
  }
}
