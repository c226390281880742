/** The IA-32e cases and machine, without /dev/kvm: encodings, edges, image, comparison of 64-bit states. */
import { DecodeStatus, decode, Insn } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { classOf, parseClasses } from '../src/classes.js';
import { compareOutcomes } from '../src/compare.js';
import { caseAt, garbageForm } from '../src/difftest.js';
import { AF, CF, OF, undefinedFlags } from '../src/flags.js';
import { caseImage, FORMS, formName, LEGACY_PREFIXES, straightLineDecodes } from '../src/generator.js';
import {
  FORMS64,
  formsLong64,
  generateCompat32,
  generateGarbage64,
  generateLong64,
  HARNESS_LDMXCSR,
  HARNESS_STMXCSR,
  MXCSR_IN,
} from '../src/generator64.js';
import { CODE, DATA, DATA_END } from '../src/layout.js';
import {
  baseState64,
  buildImage64,
  HARNESS_FRAME,
  KSTACK_TOP,
  PAGE64_NOT_PRESENT,
  PAGE64_READ_ONLY,
  PAGE64_SUPERVISOR,
  PT64,
  STUBS64,
} from '../src/layout64.js';
import type { Outcome } from '../src/outcome.js';
import { hostKvmFlavor } from '../src/referee.js';
import { LONG64 } from './budget.js';

const insn = new Insn();

function* instructions(seed: number, count: number) {
  for (let i = 0; i < count; i++) {
    const c = generateLong64(seed, i);
    let at = 0;
    for (const x of c.insns) {
      yield { c, at, bytes: c.bytes.slice(at, at + x.length), form: x.form };
      at += x.length;
    }
  }
}

describe('long64 cases', () => {
  it('are the same from the same seed and index', () => {
    expect(generateLong64(5, 77)).toEqual(generateLong64(5, 77));
    expect(generateLong64(6, 77).bytes).not.toEqual(generateLong64(5, 77).bytes);
  });

  it("garbage (--garbage): random bytes between the harness's LDMXCSR and STMXCSR, never reaching a host-dependent row or a VEX/EVEX/XOP encoding", () => {
    const hostDependent =
      /^(RDTSC|RDTSCP|CPUID|RDMSR|WRMSR|SYSCALL|SYSRET|SYSENTER|SYSEXIT|INT|SGDT|SIDT|SLDT|STR|SMSW|XGETBV|LAR|LSL|VERR|VERW|MOV_FROM_SEG|PUSH_SEG|FXSAVE|XSAVE|XSAVEOPT|SHLD|SHRD)$/;
    const forms = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const c = generateGarbage64(5, i);
      expect(c).toEqual(generateGarbage64(5, i));
      expect(c.garbage).toBe(true);
      expect(c.insns.map((x) => x.form)).toEqual([HARNESS_LDMXCSR, 'garbage', HARNESS_STMXCSR]);
      expect(c.init.fpu).toBeDefined();
      expect(c.patches).toEqual([[MXCSR_IN, expect.any(Array)]]);
      const g = c.bytes.slice(c.insns[0].length, c.insns[0].length + c.insns[1].length);
      expect(g.length).toBeGreaterThanOrEqual(1);
      expect(g.length).toBeLessThanOrEqual(15);
      for (const { at, mnemonic } of straightLineDecodes(g, 'long64')) {
        expect(mnemonic).not.toMatch(hostDependent);
        let o = at;
        while (LEGACY_PREFIXES.includes(g[o]) || (g[o] & 0xf0) === 0x40) o++;
        if (o < g.length) expect([0xc4, 0xc5, 0x62]).not.toContain(g[o]);
      }
      forms.add(garbageForm(c));
    }
    // Named by their own first instruction, not the harness's LDMXCSR; and varied.
    expect([...forms].some((f) => f.startsWith('garbage:LDMXCSR'))).toBe(false);
    expect(forms.size).toBeGreaterThan(50);
    expect(caseAt(5, 3, ['long64'], true)).toEqual(generateGarbage64(5, 3));
  });

  it('never use 40h–4Fh as INC/DEC: those bytes are REX prefixes in 64-bit mode', () => {
    expect(FORMS64.filter((r) => r.op >= 0x40 && r.op <= 0x4f)).toEqual([]);
  });

  it('never hold RDRAND or RDSEED, whose values are each CPU’s own (SDM: "a hardware generated random value")', () => {
    expect([...FORMS, ...FORMS64].filter((r) => r.mnemonic === 'RDRAND' || r.mnemonic === 'RDSEED')).toEqual(
      [],
    );
  });

  it("decode in 64-bit mode to the lengths the generator built (x86emu's decoder agrees)", () => {
    const wrong: string[] = [];
    for (const { bytes, form } of instructions(3, 3000)) {
      const st = decode({ fetchByte: (k: number) => bytes[k] ?? 0xf4 }, insn, true, true);
      if (st === DecodeStatus.Ok && insn.length !== bytes.length)
        wrong.push(`${form}: ${insn.length} != ${bytes.length}`);
    }
    expect(wrong).toEqual([]);
  });

  it('branch off their own bytes: relative targets outside the case, no JMP/CALL through RSP', () => {
    const inside: string[] = [];
    let rel = 0;
    for (const { c, at, bytes, form } of instructions(20261206, 20000)) {
      const st = decode({ fetchByte: (k: number) => bytes[k] ?? 0xf4 }, insn, true, true);
      if (st !== DecodeStatus.Ok) continue;
      if (/^(JMP_IND|CALL_IND) /.test(form) && insn.mod === 3 && insn.rm === 4)
        inside.push(`${form} through RSP: ${bytes.map((b) => b.toString(16))}`);
      if (!/^(JCC|JMP|CALL|LOOP|LOOPE|LOOPNE|JCXZ) J[bz]$/.test(form)) continue;
      rel++;
      const target = at + bytes.length + insn.imm;
      if (target >= 0 && target < c.bytes.length + 1) inside.push(`${form} at ${at} → ${target}`);
    }
    expect(rel).toBeGreaterThan(100);
    expect(inside).toEqual([]);
  });

  it('aim RIP-relative operands at the data area or an edge, from the end of their instruction', () => {
    let seen = 0;
    for (const { at, bytes } of instructions(4, 3000)) {
      const st = decode({ fetchByte: (k: number) => bytes[k] ?? 0xf4 }, insn, true, true);
      if (st !== DecodeStatus.Ok || !insn.ripRel) continue;
      seen++;
      const target = (CODE + at + bytes.length + insn.disp) >>> 0;
      const edge = [PAGE64_NOT_PRESENT, PAGE64_READ_ONLY, PAGE64_SUPERVISOR].some(
        (p) => target >= p && target < p + 0x1000,
      );
      expect(edge || (target >= DATA && target < DATA_END) || target >= 0x100000, target.toString(16)).toBe(
        true,
      );
    }
    expect(seen).toBeGreaterThan(50);
  });

  it('stress the edges: REX.W, 64-bit values with carries out of bit 31 and 63, non-canonical addresses', () => {
    let rexW = 0;
    let high = 0;
    let nonCanonical = 0;
    for (let i = 0; i < 2000; i++) {
      const c = generateLong64(9, i);
      if (c.bytes.some((b, k) => (b & 0xf8) === 0x48 && k < 5)) rexW++;
      const hi = c.init.gprHigh as number[];
      if (hi.some((h, r) => r !== 4 && h === 0x80000000)) high++;
      if (hi.some((h) => h >= 0x8000 && h < 0xffff8000)) nonCanonical++;
    }
    expect(rexW).toBeGreaterThan(400);
    expect(high).toBeGreaterThan(100);
    expect(nonCanonical).toBeGreaterThan(100);
  });

  it('enter CPL 3 through the frame in the image: RIP, CS 0x33, RFLAGS with IF, RSP, SS 0x2b', () => {
    const c = generateLong64(1, 10);
    const img = caseImage(c);
    const q = (i: number) => img[HARNESS_FRAME + i * 8] | (img[HARNESS_FRAME + i * 8 + 1] << 8);
    expect([q(0), q(1), q(2) & 0x200, q(4)]).toEqual([CODE, 0x33, 0x200, 0x2b]);
    expect(Array.from(img.subarray(CODE, CODE + c.bytes.length + 1))).toEqual([...c.bytes, 0xf4]);
    expect(c.init.gpr[4]).toBe(HARNESS_FRAME);
  });

  it('compat32 cases enter through the 32-bit user code segment 0x23', () => {
    const c = generateCompat32(1, 3);
    expect(c.entry?.mode).toBe('compat32');
    expect(caseImage(c)[HARNESS_FRAME + 8]).toBe(0x23);
  });
});

describe('the IA-32e image', () => {
  const img = buildImage64();
  const pte = (gpa: number) => {
    const at = PT64 + (gpa >>> 12) * 8;
    return [img[at] | (img[at + 1] << 8), img[at + 7]];
  };
  it('maps the special pages with the bits their faults need (SDM Vol. 3 4.5)', () => {
    expect(pte(PAGE64_NOT_PRESENT)[0] & 1).toBe(0);
    expect(pte(PAGE64_READ_ONLY)[0] & 0x7).toBe(0x5);
    expect(pte(PAGE64_SUPERVISOR)[0] & 0x7).toBe(0x3);
    expect(pte(0x1d000)[1]).toBe(0x80); // XD
    expect(pte(DATA)[0] & 0x67).toBe(0x67); // user, writable, A and D preset
    expect(pte(KSTACK_TOP - 0x1000)[0] & 0x4).toBe(0); // the kernel stack is supervisor
    expect(img[STUBS64 + 13]).toBe(0xf4);
  });
});

describe('undefined flags of 64-bit shifts', () => {
  it('mask the count to 6 bits for 64-bit operands (SDM SAL/SAR/SHL/SHR)', () => {
    expect(undefinedFlags('SHL', 64, 33)).toBe(AF | OF);
    expect(undefinedFlags('SHL', 64, 64)).toBe(0); // masked to 0
    expect(undefinedFlags('SHL', 32, 33)).toBe(AF); // masked to 1
    expect(undefinedFlags('SHR', 64, 63)).toBe(AF | OF);
    expect(undefinedFlags('SHL', 16, 17)).toBe(AF | OF | CF);
  });
});

describe('comparing IA-32e outcomes', () => {
  const outcome = (patch?: (o: Outcome) => void): Outcome => {
    const state = baseState64();
    state.eip = STUBS64 + 14 + 1;
    state.gpr[4] = KSTACK_TOP - 48;
    const o: Outcome = { kind: 'hlt', state, ram: buildImage64(), io: [] };
    patch?.(o);
    return o;
  };
  it('reports the high half of a register, RIP and CR2', () => {
    const d = compareOutcomes(
      outcome((o) => {
        (o.state.gprHigh as number[])[9] = 1;
        o.state.cr2High = 0xffff8000;
      }),
      outcome(),
      0,
    );
    expect(d.map((x) => `${x.category}:${x.field}`)).toEqual(['gpr:r9', 'cr2:cr2[63:32]']);
    expect(d[0].host).toBe('0x100000000');
  });
  it('masks undefined flags in the RFLAGS slot of a 64-bit frame (error code, RIP, CS, then RFLAGS)', () => {
    const slot = KSTACK_TOP - 48 + 8 + 16;
    const host = outcome((o) => (o.ram[slot] |= AF));
    expect(compareOutcomes(host, outcome(), AF)).toEqual([]);
    expect(compareOutcomes(host, outcome(), 0).map((x) => x.category)).toEqual(['frame.eflags']);
  });
});

describe.skipIf(hostKvmFlavor() !== 'kvm-pvm')('comparing IA-32e outcomes on kvm-pvm', () => {
  it('leaves out the data segment selectors (the host does not keep them) but not their bases', () => {
    const o = (sel: number, base: number): Outcome => {
      const state = baseState64();
      state.seg[4] = { sel, base, limit: 0xffffffff, attr: 0xc0f3 };
      return { kind: 'hlt', state, ram: buildImage64(), io: [] };
    };
    expect(compareOutcomes(o(0, 0), o(0x2b, 0), 0)).toEqual([]);
    expect(compareOutcomes(o(0, 0), o(0x2b, 0x1000), 0).map((x) => x.field)).toEqual(['fs.base']);
  });
});

describe('the IA-32e CI budget', () => {
  it('covers every 64-bit form in long64', () => {
    const seen = new Set<string>();
    for (let i = 0; i < LONG64.count; i++) {
      const c = caseAt(LONG64.seed, i, LONG64.modes, false);
      if (c.mode === 'long64') seen.add(c.insns[0].form);
    }
    expect(
      formsLong64(['gp'])
        .map(formName)
        .filter((f) => !seen.has(f)),
    ).toEqual([]);
  });
});

describe('instruction classes (--class)', () => {
  it('split the long64 rows: gp, x87 (D8–DF and the FPU state forms), sse (SIMD operands, prefixes, 0F 38/3A)', () => {
    const gp = formsLong64(['gp']);
    const x87 = formsLong64(['x87']);
    const sse = formsLong64(['sse']);
    expect(gp.length + x87.length + sse.length).toBe(FORMS64.length);
    expect(formsLong64(['gp', 'x87', 'sse']).length).toBe(FORMS64.length);
    expect(x87.every((r) => (r.op >= 0xd8 && r.op <= 0xdf) || classOf(r) === 'x87')).toBe(true);
    expect(gp.some((r) => (r.op >= 0xd8 && r.op <= 0xdf) || r.pfx !== undefined || r.op >= 0x200)).toBe(
      false,
    );
    expect(sse.map(formName)).toContain('MOVDQA Vdq,Wdq');
    expect(() => parseClasses('gp,avx')).toThrow(/unknown instruction class "avx"/);
    expect(parseClasses('all')).toEqual(['gp', 'x87', 'sse']);
  });
  it('generate cases of the chosen classes only, with the x87/SSE state and the MXCSR prologue/epilogue', () => {
    const wrong: string[] = [];
    for (let i = 0; i < 400; i++) {
      const c = generateLong64(9, i, ['sse', 'x87']);
      const [pro, first] = c.insns;
      const last = c.insns[c.insns.length - 1];
      if (pro.form !== HARNESS_LDMXCSR || last.form !== HARNESS_STMXCSR)
        wrong.push(`${i}: no prologue/epilogue`);
      if (!formsLong64(['sse', 'x87']).map(formName).includes(first.form)) wrong.push(`${i}: ${first.form}`);
      if (!c.init.fpu || (c.init.cr4 & 0x600) !== 0x600) wrong.push(`${i}: no FPU state or CR4.OSFXSR`);
      if (!c.patches.some(([a, b]) => a === MXCSR_IN && b.length === 4)) wrong.push(`${i}: no MXCSR_IN`);
      // Each piece decodes to the length the generator built (mandatory prefixes, 0F 38/3A maps).
      let at = 0;
      for (const x of c.insns) {
        const bytes = c.bytes.slice(at, at + x.length);
        at += x.length;
        if (decode({ fetchByte: (k: number) => bytes[k] ?? 0xf4 }, insn, true, true) === DecodeStatus.Ok)
          if (insn.length !== x.length)
            wrong.push(`${i}: ${x.form} decodes to ${insn.length} of ${x.length}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(generateLong64(9, 0, ['gp']).init.fpu).toBeUndefined();
  });
});
