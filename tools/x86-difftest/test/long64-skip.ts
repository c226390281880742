/**
 * Why the long64 comparisons against the CPU cannot run here (no usable /dev/kvm, a side that
 * cannot run long64, or an x86emu without long mode), or undefined: the x87/SSE and the garbage
 * tests skip with it, never pass.
 */
import { hostKvmAvailability } from '@kvm/host';
import { DiffTester } from '../src/difftest.js';
import { x86emuAdvertisesLongMode } from '../src/known-answers64.js';

export function long64SkipReason(): string | undefined {
  const avail = hostKvmAvailability();
  if (!avail.available) return avail.reason;
  const t = new DiffTester(['long64']);
  const reasons = [...t.unavailable.values(), ...t.emuUnavailable.values()];
  t.close();
  if (reasons.length) return reasons[0];
  if (!x86emuAdvertisesLongMode()) return 'x86emu does not advertise long mode (CPUID.80000001H:EDX.LM = 0)';
  return undefined;
}
