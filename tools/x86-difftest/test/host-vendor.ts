/**
 * The host CPU's vendor. The cited mismatch lists (src/known-*.json, src/known-garbage64.ts) were
 * made against AMD hosts (an EPYC, Zen 5), where x86emu also does what AMD's CPUs do with what the
 * manuals leave undefined (SHLD/SHRD past the operand size, the flags of multiplies and bit scans,
 * x87 pointers and FOP, MXCSR_MASK, DPPS's NaNs, RCP/RSQRT). An Intel host differs in those
 * places; the comparisons that cite AMD's differences skip there with this reason (a skip, never a
 * pass) until an Intel host's differences are classified too.
 */
import { readFileSync } from 'node:fs';

function vendor(): string {
  try {
    return /vendor_id\s*:\s*(\S+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const HOST_VENDOR = vendor();
export const AMD_HOST = HOST_VENDOR === 'AuthenticAMD';
/** Why a comparison against the AMD-cited lists cannot hold here, or undefined on an AMD host. */
export const AMD_LISTS_REASON: string | undefined = AMD_HOST
  ? undefined
  : `the cited mismatches were found on AMD hosts, where x86emu follows AMD's undefined results; this host is ${HOST_VENDOR}`;
/** The title suffix of a test that skips for it ('' on an AMD host). */
export const AMD_LISTS_NOTE = AMD_LISTS_REASON ? ` (skipped: ${AMD_LISTS_REASON})` : '';
