/**
 * Random bytes at CPL 3 in long64 against the CPU (`--mode long64 --garbage`): every mismatch
 * must be one `classifyGarbage64` places, case by case, in a cited class (a host deviation a
 * probe measures, a vendor difference (only on that vendor's hosts: `GarbageClass.hosts`), an SDM
 * "undefined", x86emu's instruction budget); none may
 * be a crash. A garbage signature is too coarse for the known list (it names only the first
 * instruction), so nothing here matches by signature. Skipped, with the reason, where /dev/kvm or
 * x86emu's long mode is missing — never passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiffTester, runDifferential } from '../src/difftest.js';
import { classifyGarbage64, describeGarbage64, garbage64Id } from '../src/known-garbage64.js';
import { GARBAGE64 } from './budget.js';
import { long64SkipReason } from './long64-skip.js';

const why = long64SkipReason();
if (why) console.warn(`[x86-difftest] long64 garbage comparison skipped: ${why}`);

describe.skipIf(why !== undefined)(
  `random bytes at CPL 3 in long64 against the CPU${why ? ` (skipped: ${why})` : ''}`,
  () => {
    let tester: DiffTester;
    beforeAll(() => {
      tester = new DiffTester(['long64']);
    });
    afterAll(() => tester?.close());

    it(`garbage (seed ${GARBAGE64.seed}, ${GARBAGE64.count} cases): every mismatch placed in a cited class`, () => {
      const r = runDifferential(tester, {
        ...GARBAGE64,
        garbage: true,
        known: [],
        classify: (m) => garbage64Id(classifyGarbage64(m)),
      });
      const fresh = r.mismatches.filter((m) => !m.known);
      const byClass = [...r.knownSeen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`);
      console.log(
        `[x86-difftest] long64 garbage: ${r.passed} passed, ${r.failed} failed (${r.failed - fresh.length} classified), ${r.skipped} skipped; ${byClass.join(', ')}`,
      );
      expect(r.passed).toBeGreaterThan(GARBAGE64.count * 0.9);
      expect(r.mismatches.filter((m) => m.signature.categories.includes('crash'))).toEqual([]);
      expect(
        fresh.length,
        fresh
          .slice(0, 5)
          .map((m) => `${m.report}\n  triage: ${describeGarbage64(m)}`)
          .join('\n\n'),
      ).toBe(0);
    });
  },
);
