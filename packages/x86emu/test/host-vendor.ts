/**
 * The host CPU's vendor, for the tests that compare x86emu with the host CPU (the referees): where
 * the two vendors' processors differ in what the SDM and the APM leave to the implementation (the
 * RCP/RSQRT tables, DPPS's sum order, the x87 transcendentals' last bits, when the x87 pointers
 * and FOP are stored), x86emu does what AMD's do, and those comparisons are made on AMD hosts only.
 */
import { readFileSync } from 'node:fs';

function vendor(): string {
  try {
    return /vendor_id\s*:\s*(\S+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `vendor_id` of /proc/cpuinfo: AuthenticAMD, GenuineIntel, … ('unknown' without it). */
export const HOST_VENDOR = vendor();
export const AMD_HOST = HOST_VENDOR === 'AuthenticAMD';

// Said once per test file that asks: what the referees leave out here is not silent.
if (!AMD_HOST)
  console.warn(
    `[x86emu referees] host ${HOST_VENDOR}: the comparisons where x86emu follows AMD (RCP/RSQRT, DPPS/DPPD with a NaN, FSIN/FSINCOS/FPTAN of a denormal, FCS/FDS) are left out (test/host-vendor.ts)`,
  );
