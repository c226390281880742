/**
 * Bad 64-bit guests never take the host down (issue 12, "Bad guests"): random code, random
 * entries written into every level of the page tables (reserved bits, self-references, pointers
 * beyond RAM), a CR3 beyond RAM and non-canonical RIPs, each run for a bounded number of KVM_RUNs.
 * KVM_RUN must return an exit reason or throw a KvmError (EINTR when the budget runs out); any
 * other exception, or a run that does not come back, fails. Deterministic (a fixed xorshift seed).
 */
import { describe, expect, it } from 'vitest';
import { KvmError } from '../api/errors.js';
import type { Kvm } from '../api/types.js';
import { LONG_MODE_PML4, longModeGuest } from './guests.js';

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Registers the robustness cases for engine `name` (skipped without long mode). */
export function defineLongModeRobustnessSuite(name: string, open: () => Kvm, cases = 24): void {
  describe(`${name} engine: bad 64-bit guests never take the host down`, () => {
    it(`survives ${cases} random guests (random code, page tables, CR3, RIP)`, () => {
      const exits = new Map<number, number>();
      for (let c = 0; c < cases; c++) {
        const rnd = xorshift(0x9e3779b9 ^ (c * 0x85ebca6b));
        const code = Array.from({ length: 64 }, () => rnd() & 0xff);
        const { vcpu, ram } = longModeGuest(open(), code);
        const dv = new DataView(ram.buffer, ram.byteOffset);
        // A few entries anywhere in the three table pages: any bits at all (reserved ones,
        // PS where it is illegal, a table pointing at itself or beyond RAM).
        for (let i = 0; i < 6; i++) {
          const at = LONG_MODE_PML4 + (rnd() % (3 * 512)) * 8;
          dv.setUint32(at, rnd(), true);
          dv.setUint32(at + 4, rnd() & (c & 1 ? 0xffffffff : 0x000fffff), true);
        }
        if (c % 4 === 1) dv.setUint32(LONG_MODE_PML4 + 8 * (rnd() & 511), LONG_MODE_PML4 | 3, true);
        const s = vcpu.getSregs();
        if (c % 6 === 2) vcpu.setSregs({ ...s, cr3: BigInt(0x40000000 + (rnd() & 0xfff000)) });
        if (c % 6 === 3) vcpu.setRegs({ ...vcpu.getRegs(), rip: (BigInt(rnd()) << 32n) | BigInt(rnd()) });
        for (let r = 0; r < 6; r++) {
          let reason = -1;
          try {
            reason = vcpu.run();
          } catch (e) {
            expect(e).toBeInstanceOf(KvmError);
            break;
          }
          exits.set(reason, (exits.get(reason) ?? 0) + 1);
          // Shutdown, internal error, failed entry: the guest is done.
          if (reason === 8 || reason === 17 || reason === 9) break;
        }
      }
      expect([...exits.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }, 120_000);
  });
}
