/** The tester's own parts, without /dev/kvm: generator determinism, flag masks, comparison, matching. */
import { describe, expect, it } from 'vitest';
import { compareOutcomes } from '../src/compare.js';
import { matchesKnown, signatureOf } from '../src/difftest.js';
import { AF, CF, OF, PF, SF, undefinedFlags, ZF } from '../src/flags.js';
import { caseImage, generateCase, generateGarbage } from '../src/generator.js';
import { generateLong64 } from '../src/generator64.js';
import { knownForHost, knownFromMismatches } from '../src/known.js';
import { baseState, buildImage, STUBS } from '../src/layout.js';
import { cloneState } from '../src/machine-state.js';
import type { Outcome } from '../src/outcome.js';

describe('the generator', () => {
  it('makes the same case from the same seed and index, another from another seed', () => {
    const a = generateCase(7, 123, 'pm32');
    expect(generateCase(7, 123, 'pm32')).toEqual(a);
    expect(generateCase(8, 123, 'pm32').bytes).not.toEqual(a.bytes);
    expect(Buffer.from(caseImage(a)).equals(Buffer.from(caseImage(generateCase(7, 123, 'pm32'))))).toBe(true);
    expect(generateGarbage(7, 5, 'real')).toEqual(generateGarbage(7, 5, 'real'));
  });

  it('puts the terminator HLT right after the case bytes', () => {
    const c = generateCase(1, 0, 'real');
    const img = caseImage(c);
    expect(Array.from(img.subarray(0x9000, 0x9000 + c.bytes.length))).toEqual(c.bytes);
    expect(img[0x9000 + c.bytes.length]).toBe(0xf4);
  });
});

describe('undefined flags (SDM "Flags Affected")', () => {
  it('depend on the shift count for shifts and rotates', () => {
    expect(undefinedFlags('SHL', 32, 0)).toBe(0);
    expect(undefinedFlags('SHL', 32, 1)).toBe(AF);
    expect(undefinedFlags('SHR', 32, 5)).toBe(AF | OF);
    expect(undefinedFlags('SHL', 8, 9)).toBe(AF | OF | CF);
    expect(undefinedFlags('ROL', 16, 1)).toBe(0);
    expect(undefinedFlags('RCR', 16, 3)).toBe(OF);
    expect(undefinedFlags('ROL', 32, 32)).toBe(0); // count masked to 0: nothing changes
  });

  it('are fixed for MUL, BSF and the logic operations', () => {
    expect(undefinedFlags('MUL', 32, 0)).toBe(SF | ZF | AF | PF);
    expect(undefinedFlags('BSF', 16, 0)).toBe(CF | OF | SF | AF | PF);
    expect(undefinedFlags('XOR', 8, 0)).toBe(AF);
    expect(undefinedFlags('ADD', 32, 0)).toBe(0);
  });
});

function outcome(patch?: (o: Outcome) => void): Outcome {
  const state = cloneState(baseState('pm32'));
  // Halted in the #GP stub: EIP after its HLT, frame at ESP: error code, EIP, CS, EFLAGS.
  state.eip = STUBS + 13 + 1;
  state.gpr[4] = 0x2fe00;
  const o: Outcome = { kind: 'hlt', state, ram: buildImage(), io: [] };
  o.ram.set([0, 0, 0, 0, 0, 0x90, 0, 0, 8, 0, 0, 0, 0x02, 0x08, 0, 0], 0x2fe00);
  patch?.(o);
  return o;
}

describe('comparing outcomes', () => {
  it('finds nothing between identical outcomes', () => {
    expect(compareOutcomes(outcome(), outcome(), 0)).toEqual([]);
  });

  it('puts an exception frame differing only in EFLAGS.RF in its own category', () => {
    const d = compareOutcomes(
      outcome((o) => (o.ram[0x2fe0e] = 1)),
      outcome(),
      0,
    );
    expect(d.map((x) => x.category)).toEqual(['frame.rf']);
  });

  it('masks undefined flags in EFLAGS and in the frame, and reports other flags', () => {
    const host = outcome((o) => {
      o.state.eflags |= AF;
      o.ram[0x2fe0c] |= AF;
    });
    expect(compareOutcomes(host, outcome(), AF)).toEqual([]);
    expect(compareOutcomes(host, outcome(), 0).map((x) => x.category)).toEqual(['eflags', 'frame.eflags']);
  });

  it('reports registers, memory bytes, stop kinds and x86emu exceptions', () => {
    expect(
      compareOutcomes(
        outcome((o) => (o.state.gpr[3] = 5)),
        outcome(),
        0,
      )[0].field,
    ).toBe('ebx');
    expect(
      compareOutcomes(
        outcome((o) => (o.ram[0x12345] ^= 1)),
        outcome(),
        0,
      )[0].category,
    ).toBe('memory');
    expect(
      compareOutcomes(
        outcome((o) => (o.kind = 'shutdown')),
        outcome(),
        0,
      )[0].category,
    ).toBe('stop');
    expect(
      compareOutcomes(
        outcome(),
        outcome((o) => (o.kind = 'crash')),
        0,
      )[0].category,
    ).toBe('crash');
  });
});

describe('known-mismatch matching', () => {
  const k = {
    id: 'x',
    mode: '*' as const,
    form: 'garbage:*',
    categories: ['eflags', 'memory'],
    summary: '',
    reproducer: generateGarbage(1, 1, 'real'),
  };
  it('matches by mode, form prefix and a subset of the categories', () => {
    expect(matchesKnown({ mode: 'pm16', form: 'garbage:AAM', categories: ['eflags'] }, k)).toBe(true);
    expect(matchesKnown({ mode: 'pm16', form: 'garbage:AAM', categories: ['eflags', 'gpr'] }, k)).toBe(false);
    expect(matchesKnown({ mode: 'pm16', form: 'AAM Ib', categories: ['eflags'] }, k)).toBe(false);
  });
  it('an entry whose host answer varies matches any categories of its mode and form, and only those', () => {
    const v = {
      ...k,
      mode: 'real' as const,
      form: 'garbage:SYSRET',
      categories: ['stop'],
      hostVaries: 'why',
    };
    expect(matchesKnown({ mode: 'real', form: 'garbage:SYSRET', categories: ['gpr', 'seg'] }, v)).toBe(true);
    expect(matchesKnown({ mode: 'pm16', form: 'garbage:SYSRET', categories: ['stop'] }, v)).toBe(false);
    expect(matchesKnown({ mode: 'real', form: 'garbage:SYSCALL', categories: ['stop'] }, v)).toBe(false);
  });
  it('an entry scoped to prefixes matches only a blamed instruction that carries one of them', () => {
    const lock = {
      ...k,
      mode: 'long64' as const,
      form: 'FXSAVE M',
      categories: ['eip', 'gpr', 'memory'],
      prefixes: [0xf0],
    };
    const sig = (prefixes: number[]) => ({
      mode: 'long64' as const,
      form: 'FXSAVE M',
      categories: ['eip'],
      prefixes,
    });
    expect(matchesKnown(sig([0xf0]), lock)).toBe(true);
    expect(matchesKnown(sig([0x66, 0xf0]), lock)).toBe(true);
    // The two 66 FXSAVE cases of seed 20261209 that the LOCK entry had taken in.
    expect(matchesKnown(sig([0x66]), lock)).toBe(false);
    expect(matchesKnown(sig([]), lock)).toBe(false);
    expect(matchesKnown(sig([0x66]), { ...lock, prefixes: undefined })).toBe(true);
  });
  it("an entry cited for some vendors' hosts is known on those hosts only; one without hosts on every host", () => {
    const amd = { ...k, id: 'amd', hosts: ['AuthenticAMD'] };
    const intel = { ...k, id: 'intel', hosts: ['GenuineIntel'] };
    const ids = (vendor: string) => knownForHost([k, amd, intel], vendor).map((e) => e.id);
    expect(ids('AuthenticAMD')).toEqual(['x', 'amd']);
    expect(ids('GenuineIntel')).toEqual(['x', 'intel']);
    expect(ids('HygonGenuine')).toEqual(['x']);
  });
  it("--write-known cites a new entry for the host's vendor, even where another vendor's entry has the signature", () => {
    const c = generateGarbage(1, 1, 'real');
    const m = (form: string) => ({
      index: 0,
      testCase: c,
      signature: { mode: 'real' as const, form, categories: ['eflags'] },
      differences: [],
      report: '',
    });
    const amd = {
      ...k,
      id: 'real/garbage:AAM/eflags',
      mode: 'real' as const,
      form: 'garbage:AAM',
      hosts: ['AuthenticAMD'],
    };
    const out = knownFromMismatches(
      [m('garbage:AAM'), m('garbage:AAD')],
      [amd],
      () => 'why',
      undefined,
      'GenuineIntel',
    );
    expect(out.map((e) => [e.id, e.hosts])).toEqual([
      ['real/garbage:AAM/eflags', ['AuthenticAMD']],
      ['real/garbage:AAM/eflags@GenuineIntel', ['GenuineIntel']],
      ['real/garbage:AAD/eflags', ['GenuineIntel']],
    ]);
    // On the vendor the entry is cited for, the signature is listed already.
    expect(
      knownFromMismatches([m('garbage:AAM')], [amd], () => 'why', undefined, 'AuthenticAMD'),
    ).toHaveLength(1);
  });
});

describe('signatures', () => {
  it("list the blamed instruction's LOCK/66/F2/F3 prefixes, past segment, 67 and REX bytes", () => {
    const c = generateLong64(20261209, 6351, ['x87', 'sse']);
    c.bytes = [0x0f, 0xae, 0x14, 0x25, 0x40, 0xff, 0x02, 0x00, 0x2e, 0x66, 0x48, 0x0f, 0xae, 0x04, 0xca];
    c.insns = [
      { length: 8, form: 'LDMXCSR Md' },
      { length: 7, form: 'FXSAVE M' },
    ];
    const fail = { kind: 'fail' as const, blamed: 1, differences: [], testCase: c } as unknown as Parameters<
      typeof signatureOf
    >[0];
    expect(signatureOf(fail).prefixes).toEqual([0x66]);
    c.bytes[8] = 0xf0;
    expect(signatureOf(fail).prefixes).toEqual([0xf0, 0x66]);
  });
});
