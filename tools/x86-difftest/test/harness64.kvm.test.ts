/**
 * The IA-32e harness, proven on its own: instruction sequences whose outcome the SDM fixes run at
 * CPL 3 behind the CPL-0 harness on the host (on kvm-pvm: the real CPU), and the exact registers,
 * flags, exception, error code and CR2 come back. Then the same on a bare x86emu `Cpu`, skipped
 * with the reason while x86emu lacks long mode. Skips visibly where /dev/kvm is missing.
 */
import { hostKvmAvailability } from '@kvm/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareOutcomes, stubFrame } from '../src/compare.js';
import { caseAt, DiffTester } from '../src/difftest.js';
import { caseImage } from '../src/generator.js';
import { checkKnownAnswer, KNOWN_ANSWERS, knownAnswerCase } from '../src/known-answers64.js';
import type { Outcome } from '../src/outcome.js';
import { hostKvmFlavor, probeCompatNative } from '../src/referee.js';
import { LONG64 } from './budget.js';

/** Cases the host-only check runs twice (the full CI budget runs in difftest64.kvm.test.ts). */
const HOST_ONLY_COUNT = 2000;

const avail = hostKvmAvailability();
const skip = avail.available ? undefined : avail.reason;
if (skip) console.warn(`[x86-difftest] IA-32e harness skipped: ${skip}`);

describe.skipIf(skip !== undefined)(
  `the CPL-3 harness on the host${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let tester: DiffTester;
    beforeAll(() => {
      tester = new DiffTester(['long64', 'compat32']);
    });
    afterAll(() => tester?.close());

    it('runs both IA-32e modes (the probes pass)', () => {
      expect([...tester.unavailable]).toEqual([]);
    });

    for (const k of KNOWN_ANSWERS) {
      it(`host: ${k.name}`, () => {
        const { init, image } = knownAnswerCase(k);
        expect(checkKnownAnswer(k, tester.host.run(init, image))).toEqual([]);
      });
    }

    it(`says whether compatibility mode runs natively (${hostKvmFlavor()}: ${hostKvmFlavor() === 'kvm-pvm' ? 'it does not' : 'it does'})`, () => {
      const probe = probeCompatNative(tester.host);
      // Measured on kvm-pvm (6.18 "-fc"): POPCNT in compatibility mode is #UD (KVM's emulator has
      // no POPCNT) and a loop runs about 100 times slower than in 64-bit mode.
      expect(probe.native, probe.detail).toBe(hostKvmFlavor() !== 'kvm-pvm');
      expect(tester.referee.get('compat32')).toContain(
        probe.native ? 'the real CPU' : "KVM's instruction emulator",
      );
      expect(tester.referee.get('long64')).toContain('the real CPU');
    });

    it(`generated long64/compat32 cases (seed ${LONG64.seed}, ${HOST_ONLY_COUNT}): the host never shuts down or refuses one, and gives the same outcome again`, () => {
      const modes = LONG64.modes;
      const first: Outcome[] = [];
      const ends = new Map<string, number>();
      for (let i = 0; i < HOST_ONLY_COUNT; i++) {
        const c = caseAt(LONG64.seed, i, modes, false);
        const o = tester.host.run(c.init, caseImage(c));
        first.push({ ...o, ram: o.ram.slice(), io: [...o.io] });
        const f = stubFrame(o);
        const end = f ? `vector ${f.vector}` : o.kind;
        ends.set(end, (ends.get(end) ?? 0) + 1);
      }
      console.log(
        `[x86-difftest] long64/compat32 on the host: ${[...ends].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      );
      // User code cannot reach the harness's tables (supervisor pages): every case ends in the
      // IDT (or runs away), none in a triple fault or a KVM internal error.
      expect(ends.get('shutdown') ?? 0).toBe(0);
      expect(ends.get('unsupported') ?? 0).toBe(0);
      // The terminator's #GP(0) is the common end; the edges make #PF, #UD, #SS happen too.
      for (const v of [13, 14, 6, 12]) expect(ends.get(`vector ${v}`) ?? 0).toBeGreaterThan(0);
      // Again in reverse order: nothing a case leaves behind (in the vCPU or the host CPU) may
      // change another's outcome. This is what caught kvm-pvm's leftover FS/GS selectors.
      const unstable: string[] = [];
      for (let i = HOST_ONLY_COUNT - 1; i >= 0; i--) {
        const c = caseAt(LONG64.seed, i, modes, false);
        const d = compareOutcomes(first[i], tester.host.run(c.init, caseImage(c)), 0);
        if (d.length)
          unstable.push(
            `case ${i} ${c.mode} ${c.insns[0].form}: ${d.map((x) => `${x.field} ${x.host}|${x.emu}`).join(', ')}`,
          );
      }
      expect(unstable).toEqual([]);
    });
  },
);

const lacking = (() => {
  if (skip) return skip;
  const t = new DiffTester(['long64']);
  const why = t.emuUnavailable.get('long64');
  t.close();
  return why;
})();

describe.skipIf(lacking !== undefined)(
  `x86emu gives the same known answers${lacking ? ` (skipped: ${lacking})` : ''}`,
  () => {
    let tester: DiffTester;
    beforeAll(() => {
      tester = new DiffTester(['long64', 'compat32']);
    });
    afterAll(() => tester?.close());
    // The completeness answers gate the CI comparison instead (difftest64.kvm.test.ts).
    for (const k of KNOWN_ANSWERS.filter((x) => !x.completeness)) {
      it(`x86emu: ${k.name}`, () => {
        const { init, image } = knownAnswerCase(k);
        expect(checkKnownAnswer(k, tester.emu.run(init, image))).toEqual([]);
      });
    }
  },
);
