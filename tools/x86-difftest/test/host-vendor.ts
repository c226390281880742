/**
 * The host CPU's vendor (`hostCpuVendor`, src/referee.ts), for the probes whose host fact is one
 * vendor's. The cited lists say per entry which vendors' hosts show it (`KnownMismatch.hosts`,
 * filtered by `knownForHost`), so the comparisons against them run on every vendor.
 */
import { hostCpuVendor } from '../src/referee.js';

const HOST_VENDOR = hostCpuVendor();
export const AMD_HOST = HOST_VENDOR === 'AuthenticAMD';
export const INTEL_HOST = HOST_VENDOR === 'GenuineIntel';
