/** The CI budget of the differential test: fixed seeds and counts (also used by --write-known). */
import { ALL_MODES, type Mode } from '../src/layout.js';

export const GENERATED = { seed: 1, count: 4000, modes: ALL_MODES as readonly Mode[] };
export const GARBAGE = { seed: 1, count: 240, modes: ['real', 'pm16', 'pm32'] as readonly Mode[] };
/** The IA-32e modes' CI budget (issue 10: `--mode long64,compat32 --count 20000` on a fixed seed). */
export const LONG64 = { seed: 1, count: 20000, modes: ['long64', 'compat32'] as readonly Mode[] };
/**
 * The x87/SSE classes' CI budget (issue 11's referee): long64 at CPL 3, the seed the known list's
 * x87/SSE entries were triaged on, about a minute on two cores.
 */
export const FPU64 = {
  seed: 20261208,
  count: 12000,
  modes: ['long64'] as readonly Mode[],
  classes: ['x87', 'sse'] as const,
};
/**
 * Long64 garbage (random bytes at CPL 3, refereed by the CPU): every mismatch must be placed by
 * the per-case classifier (`classifyGarbage64`, known-garbage64.ts). About 30 s here.
 */
export const GARBAGE64 = { seed: 20261209, count: 8000, modes: ['long64'] as readonly Mode[] };
