/**
 * The block compiler's policy in the software engine (the vmx and svm silicon models' guest
 * CPU), apart from a bare `Cpu`'s. A guest kernel has a large code footprint that runs a few
 * thousand times and is then left: Debian's kernel on `-accel svm` with the bare default (compile
 * at 1000 visits) spent minutes in one initcall, `tracer_init_tracefs`' kworker creating the
 * tracefs directory of every trace event (about 2,000 events, each through the same dcache, inode
 * and slab paths a few times) while `init_kprobe_trace` waited on `event_mutex` for it: every
 * block of those paths reached 1000 visits, was compiled (1-5 ms each, plus V8's own tiering of
 * each new function, a quarter of the CPU time there) and then ran too few more times to pay
 * for that, at 0.7 M guest instructions per CPU second against the interpreter's ~15. The
 * hung-task detector reported init blocked for 10 minutes and more; the boot went on once the
 * kworker was done. A block pays for its compilation only after some 10^4 runs (a few ns saved
 * per instruction against milliseconds to compile), so the engine compiles at `ENGINE_HOT`.
 */
import type { JitTuning } from '../api/cpu-options.js';

/**
 * Visits of an instruction boundary before the engine's guest CPU compiles a block there. Loops
 * (checksums, decompressors, memset-like code) reach it in milliseconds; code run only a few
 * thousand times during boot stays interpreted. Measured on Debian's kernel, first 2×10^8
 * instructions on a bare `Cpu` (`tools/linux/bare-boot.mjs --max-insns`, CPU seconds):
 * interpreter 13.0, threshold 1000 20.9, 20,000 14.3.
 */
export const ENGINE_HOT = 20_000;

/**
 * The tuning the silicon models give their guest CPU's compiler: `ENGINE_HOT`, unless
 * `X86EMU_JIT_HOT` says otherwise (the tests make the compiler eager with it).
 */
export function engineJitTuning(env: string | undefined = envHot()): JitTuning {
  const n = Number(env);
  return { hot: n > 0 ? n : ENGINE_HOT };
}

function envHot(): string | undefined {
  return typeof process !== 'undefined' ? process.env?.X86EMU_JIT_HOT : undefined;
}
