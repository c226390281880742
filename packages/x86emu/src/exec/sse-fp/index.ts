/**
 * The SSE/SSE2/SSE3/SSE4.1 floating-point instructions by mnemonic, for the dispatch table
 * (exec/dispatch.ts). Each handler starts with `checkSse` (CR0.EM, CR4.OSFXSR, CR0.TS) and ends
 * with the MXCSR update of common.ts; the arithmetic is src/fpu's.
 */
import type { Handler } from '../../cpu/handler.js';
import { APPROX_HANDLERS } from './approx.js';
import { ARITH_HANDLERS } from './arith.js';
import { COMPARE_HANDLERS } from './compare.js';
import { CONVERT_HANDLERS } from './convert.js';
import { CONVERT_MMX_HANDLERS } from './convert-mmx.js';
import { CONVERT_PACKED_HANDLERS } from './convert-packed.js';
import { DOT_HANDLERS } from './dot.js';
import { SSE3_HANDLERS } from './sse3.js';
import { SSE41_HANDLERS } from './sse41.js';

export const SSE_FP_HANDLERS: Record<string, Handler> = {
  ...ARITH_HANDLERS,
  ...COMPARE_HANDLERS,
  ...CONVERT_HANDLERS,
  ...CONVERT_PACKED_HANDLERS,
  ...CONVERT_MMX_HANDLERS,
  ...APPROX_HANDLERS,
  ...SSE3_HANDLERS,
  ...SSE41_HANDLERS,
  ...DOT_HANDLERS,
};
