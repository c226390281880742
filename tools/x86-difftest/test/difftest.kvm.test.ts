/**
 * x86emu against the real CPU (the host's /dev/kvm), with a fixed seed and a CI-sized budget:
 * no mismatch outside the reviewed list (known-mismatches.json, KNOWN-MISMATCHES.md; its entries
 * for this host's CPU vendor), every listed one still reproduces, and on random bytes x86emu never throws and ends as the host
 * does. Skips visibly where /dev/kvm or the addon is missing.
 */
import { hostKvmAvailability } from '@kvm/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caseAt,
  DiffTester,
  type Mismatch,
  matchesKnown,
  runDifferential,
  signatureOf,
} from '../src/difftest.js';
import { FORMS, formName } from '../src/generator.js';
import { knownForHost, loadKnownMismatches } from '../src/known.js';
import { ALL_MODES, baseState, buildImage, CODE } from '../src/layout.js';
import { GARBAGE, GENERATED } from './budget.js';

const avail = hostKvmAvailability();
const skip = avail.available ? undefined : avail.reason;
if (skip) console.warn(`[x86-difftest] skipped: ${skip}`);

// The entries cited for this host's CPU vendor (`hosts`).
const known = knownForHost(loadKnownMismatches());

function describeNew(found: Mismatch[]): string {
  return found
    .filter((m) => !m.known)
    .slice(0, 5)
    .map((m) => m.report)
    .join('\n\n');
}

describe.skipIf(skip !== undefined)(`x86emu against the host CPU${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let tester: DiffTester;
  beforeAll(() => {
    tester = new DiffTester(ALL_MODES);
    for (const [m, why] of tester.unavailable) console.warn(`[x86-difftest] mode ${m} skipped: ${why}`);
  });
  afterAll(() => tester?.close());

  it('the budget covers every generated form in every mode', () => {
    const all = new Set(FORMS.map(formName));
    for (const mode of GENERATED.modes) {
      const seen = new Set<string>();
      for (let i = 0; i < GENERATED.count; i++) {
        const c = caseAt(GENERATED.seed, i, GENERATED.modes, false);
        if (c.mode === mode) seen.add(c.insns[0].form);
      }
      expect(
        [...all].filter((f) => !seen.has(f)),
        `forms never generated in ${mode}`,
      ).toEqual([]);
    }
  });

  it('the harness is right on both sides: ADD ends as the SDM says', () => {
    for (const mode of ['real', 'pm16', 'pm32'] as const) {
      if (tester.unavailable.has(mode)) continue;
      // add eax, ebx: 0x7fffffff + 1 = 0x80000000 with OF, SF, AF and PF set (SDM ADD).
      const init = baseState(mode);
      init.gpr[0] = 0x7fffffff;
      init.gpr[3] = 1;
      const image = buildImage();
      image.set([0x66, 0x01, 0xd8, 0xf4].slice(mode === 'pm32' ? 1 : 0), CODE);
      for (const o of [tester.host.run(init, image), tester.emu.run(init, image)]) {
        expect(o.kind).toBe('hlt');
        expect(o.state.gpr[0]).toBe(0x80000000);
        expect(o.state.eflags & 0x8d5).toBe(0x894);
      }
    }
  });

  it(`generated cases (seed ${GENERATED.seed}, ${GENERATED.count} cases): only known mismatches`, () => {
    const r = runDifferential(tester, { ...GENERATED, garbage: false, known });
    const fresh = r.mismatches.filter((m) => !m.known);
    console.log(
      `[x86-difftest] generated: ${r.passed} passed, ${r.failed} failed (${r.failed - fresh.length} known), ${r.skipped} skipped`,
    );
    expect(r.passed).toBeGreaterThan(GENERATED.count / 3);
    expect(r.mismatches.filter((m) => m.signature.categories.includes('crash'))).toEqual([]);
    expect(fresh.length, describeNew(r.mismatches)).toBe(0);
  });

  it(`random bytes (seed ${GARBAGE.seed}, ${GARBAGE.count} cases): x86emu never throws, ends as the host does or as listed`, () => {
    const r = runDifferential(tester, { ...GARBAGE, garbage: true, known });
    const fresh = r.mismatches.filter((m) => !m.known);
    console.log(
      `[x86-difftest] garbage: ${r.passed} passed, ${r.failed} failed (${r.failed - fresh.length} known), ${r.skipped} skipped`,
    );
    expect(r.mismatches.filter((m) => m.signature.categories.includes('crash')).map((m) => m.report)).toEqual(
      [],
    );
    expect(fresh.length, describeNew(r.mismatches)).toBe(0);
  });

  it('every known mismatch still reproduces (shrink the list when x86emu is fixed)', () => {
    const gone: string[] = [];
    for (const k of known) {
      // IA-32e entries are re-run by difftest64.kvm.test.ts.
      if (!ALL_MODES.includes(k.reproducer.mode) || tester.unavailable.has(k.reproducer.mode)) continue;
      const v = tester.runCase(k.reproducer);
      if (v.kind !== 'fail' || !matchesKnown(signatureOf(v), k)) gone.push(`${k.id}: ${v.kind}`);
    }
    expect(gone).toEqual([]);
  });
});
