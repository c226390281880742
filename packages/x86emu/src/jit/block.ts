import type { Cpu } from '../cpu/cpu.js';
import { Insn } from '../decoder/insn.js';

/**
 * What a compiled function returns when it left before an instruction whose inline code does not
 * cover the case at hand (emit-sse.ts: a misaligned or slow memory operand, a special float, SSE
 * unusable), RIP at that instruction and nothing of it done: `Jit.enter` then lets the
 * interpreter step it (a lookup would find the same block, or one starting there that leaves at
 * once).
 */
export const BAILED = new Insn();

/**
 * One compiled function: the basic block at the decoded instruction it hangs on (`Insn.jitBlock`),
 * straight-line guest code of one physical page up to and including its terminating branch, and
 * the blocks of the same page its direct branches reach (region.ts), which it jumps to itself.
 */
export class JitBlock {
  constructor(
    /** EIP of the first instruction (the decode is keyed by physical address; EIP must match too). */
    readonly eip: number,
    /** RIP[63:32] in 64-bit mode (0 elsewhere): must match too. */
    readonly ripHi: number,
    /** EIP just past the last instruction of any of its blocks: all must lie within the CS limit. */
    readonly endEip: number,
    /** Instructions in the entry block: the run budget must have room for all of them. */
    readonly length: number,
    /**
     * The compiled code: runs the block, counts what it retired in `cpu.runCount`; returns the
     * decode at the new RIP when it left by a direct branch (or fell through) within its page
     * (the run loop chains to the block there without a lookup), `BAILED` when it left before an
     * instruction for the interpreter, else undefined.
     */
    readonly run: (cpu: Cpu) => Insn | undefined,
    /** Size of the generated source (the code-cache memory figure). */
    readonly sourceBytes: number,
    /** Basic blocks in the function (observability). */
    readonly blocks = 1,
  ) {}
  /** Times entered (observability). */
  entries = 0;
}
