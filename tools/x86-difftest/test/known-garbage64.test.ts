/**
 * The long64 garbage classifier (known-garbage64.ts) against made-up mismatches: x86emu runs the
 * bytes for real (its trace), the host's end is written by hand, or is x86emu's own run changed
 * exactly where the class says the host differs (flags after one instruction, RDRAND's bits). A
 * class needs the case itself to prove it, so the same vectors on a case that does not (an aligned
 * operand, a form without an alignment rule, a rel8 branch), a flipped defined flag, or a register
 * or byte of RAM that RDRAND's value does not explain must stay unclassified: otherwise a real
 * x86emu bug there would be hidden.
 */
import { seededRandom } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import type { ExceptionFrame } from '../src/compare.js';
import { compareOutcomes } from '../src/compare.js';
import { garbageUndefinedFlags, type Mismatch, type SideEnd, sideEnd } from '../src/difftest.js';
import { EmuSide, type TraceOptions } from '../src/emu-side.js';
import { OF, SF, ZF } from '../src/flags.js';
import { caseImage, prefixCase, type TestCase } from '../src/generator.js';
import { generateGarbage64 } from '../src/generator64.js';
import { classifyGarbage64, effectiveAddress, isCanonical, traceCase } from '../src/known-garbage64.js';
import { CODE, DATA } from '../src/layout.js';
import { PAGE64_NOT_PRESENT, STUBS64 } from '../src/layout64.js';
import type { Outcome } from '../src/outcome.js';

/** The harness's LDMXCSR (8 bytes) that every garbage case starts with. */
const LDMXCSR_LENGTH = 8;
const AT = CODE + LDMXCSR_LENGTH;

/** A long64 garbage case running `bytes` after the harness's LDMXCSR, with RAX = `rax`. */
function garbageCase(bytes: number[], rax: number) {
  const c = generateGarbage64(1, 0);
  c.bytes = [...c.bytes.slice(0, LDMXCSR_LENGTH), ...bytes];
  c.insns = [c.insns[0], { length: bytes.length, form: 'garbage' }];
  c.init.gpr[0] = rax;
  (c.init.gprHigh as number[])[0] = 0;
  return c;
}

function end(vector: number, rip: number, error?: number): SideEnd {
  const frame: ExceptionFrame = {
    vector,
    ...(error !== undefined ? { error } : {}),
    rip,
    ripHigh: 0,
    cs: 0x33,
    rflags: 0x10202,
    rsp: 0x2fe00,
    rspHigh: 0,
    ss: 0x2b,
  };
  const state = { ...generateGarbage64(1, 0).init, eip: STUBS64 + vector + 1, ripHigh: 0 };
  return { kind: 'hlt', state, frame };
}

/** A mismatch where the host ended in `host` and x86emu in `emu` (both made up). */
function mismatch(c: ReturnType<typeof garbageCase>, host: SideEnd, emu: SideEnd, form: string): Mismatch {
  return {
    index: 0,
    testCase: c,
    signature: { mode: 'long64', form, categories: ['eip', 'gpr'] },
    differences: [
      {
        category: 'eip',
        field: 'rip',
        host: `0x${host.state.eip.toString(16)}`,
        emu: `0x${emu.state.eip.toString(16)}`,
      },
      { category: 'gpr', field: 'rsp', host: '0x33fd8', emu: '0x33fd0' },
    ],
    report: '',
    host,
    emu,
  };
}

const side = new EmuSide({ jit: false });

/**
 * How x86emu ends `c` when run with `options` (a flags edit, other RDRAND bits): a made-up "host"
 * that differs from x86emu exactly there, or, without options, x86emu's own end.
 */
function ranAs(c: TestCase, options: TraceOptions = {}): Outcome {
  const r = side.trace(c.init, caseImage(c), 4096, options);
  return { ...r.end, ram: r.end.ram.slice(), io: [...r.end.io] };
}

/** The mismatch of two ends of `c`, with the differences and categories the comparison finds. */
function compared(c: TestCase, host: Outcome, emu: Outcome): Mismatch {
  const differences = compareOutcomes(host, emu, garbageUndefinedFlags(c.bytes, c.mode));
  return {
    index: 0,
    testCase: c,
    signature: {
      mode: 'long64',
      form: 'garbage',
      categories: [...new Set(differences.map((d) => d.category))].sort(),
    },
    differences,
    report: '',
    host: sideEnd(host, caseImage(c)),
    emu: sideEnd(emu, caseImage(c)),
  };
}

describe('classifyGarbage64', () => {
  const movaps = [0x0f, 0x28, 0x00]; // MOVAPS xmm0, [rax]
  const movups = [0x0f, 0x10, 0x00]; // MOVUPS xmm0, [rax]

  it("places host #UD / x86emu #GP(0) at a MOVAPS whose operand is not 16-byte aligned (kvm-pvm's emulator)", () => {
    const c = garbageCase(movaps, DATA + 8);
    const m = mismatch(c, end(6, AT), end(13, AT, 0), 'garbage:MOVAPS');
    expect(classifyGarbage64(m)?.id).toBe('fpu-sse-operand');
  });

  it('refuses the same vectors at a MOVAPS whose operand is aligned (x86emu raising #GP there would be its bug)', () => {
    const c = garbageCase(movaps, DATA);
    const m = mismatch(c, end(6, AT), end(13, AT, 0), 'garbage:MOVAPS');
    expect(classifyGarbage64(m)).toBeUndefined();
  });

  it('refuses the same vectors at a misaligned MOVUPS (no alignment rule: #GP there would be x86emu’s bug)', () => {
    const c = garbageCase(movups, DATA + 8);
    const m = mismatch(c, end(6, AT), end(13, AT, 0), 'garbage:MOVUPS');
    expect(classifyGarbage64(m)).toBeUndefined();
  });

  it('decides on the effective address: x86emu faulting at MOVAPS on a not-present page, aligned or not', () => {
    // x86emu really faults at the MOVAPS here (#PF), so only the address tells the cases apart.
    const aligned = garbageCase(movaps, PAGE64_NOT_PRESENT);
    expect(
      classifyGarbage64(mismatch(aligned, end(6, AT), end(13, AT, 0), 'garbage:MOVAPS')),
    ).toBeUndefined();
    const misaligned = garbageCase(movaps, PAGE64_NOT_PRESENT + 4);
    expect(classifyGarbage64(mismatch(misaligned, end(6, AT), end(13, AT, 0), 'garbage:MOVAPS'))?.id).toBe(
      'fpu-sse-operand',
    );
  });

  it('places a near JMP with 66h (AMD: rel16) on an AMD host only, and not a 66h rel8 JMP whose target is the same on both vendors', () => {
    const rel16 = garbageCase([0x66, 0xe9, 0x02, 0x00, 0x00, 0x00], DATA);
    const m = mismatch(rel16, end(13, AT + 6, 0), end(14, AT + 8, 4), 'garbage:JMP');
    expect(classifyGarbage64(m, 'AuthenticAMD')?.id).toBe('branch-66');
    // An Intel CPU ignores 66h there, as x86emu does: the same end is x86emu's on an Intel host.
    expect(classifyGarbage64(m, 'GenuineIntel')).toBeUndefined();
    const rel8 = garbageCase([0x66, 0xeb, 0x02, 0x90, 0x90], DATA);
    expect(
      classifyGarbage64(mismatch(rel8, end(13, AT + 5, 0), end(6, AT + 3), 'garbage:JMP'), 'AuthenticAMD'),
    ).toBeUndefined();
  });

  it('places a CALL to a non-canonical target whose return address the host wrote below RSP, on an Intel host only', () => {
    // call rax with RAX non-canonical: #GP(0) at the CALL on both sides (SDM CALL), RSP unchanged.
    const c = garbageCase([0xff, 0xd0], 0);
    (c.init.gprHigh as number[])[0] = 0x8000;
    const emu = ranAs(c);
    const rsp = traceCase(c).steps[1].gpr[4];
    const pushed = (next: number): Outcome => {
      const host = ranAs(c);
      host.ram.set([next & 0xff, (next >> 8) & 0xff, next >>> 16, 0, 0, 0, 0, 0], rsp - 8);
      return host;
    };
    const m = compared(c, pushed(AT + 2), emu);
    expect(m.signature.categories).toEqual(['memory']);
    expect(classifyGarbage64(m, 'GenuineIntel')?.id).toBe('call-push-before-gp');
    expect(classifyGarbage64(m, 'AuthenticAMD')).toBeUndefined();
    // Other bytes there are not the return address: not the class.
    expect(classifyGarbage64(compared(c, pushed(AT + 3), emu), 'GenuineIntel')).toBeUndefined();
  });

  it('places RCX[63:32] cleared by a REP string with a 32-bit address size (Intel), but not another RCX', () => {
    // rep stosb under 67h with ECX = 0: no iteration; x86emu leaves RCX = 1_0000_0000h.
    const c = garbageCase([0x67, 0xf3, 0xaa], DATA);
    c.init.gpr[1] = 0;
    (c.init.gprHigh as number[])[1] = 1;
    const emu = ranAs(c);
    const cleared = ranAs(c);
    (cleared.state.gprHigh as number[])[1] = 0;
    expect(classifyGarbage64(compared(c, cleared, emu), 'GenuineIntel')?.id).toBe('rep-a32-upper');
    const other = ranAs(c);
    (other.state.gprHigh as number[])[1] = 0;
    other.state.gpr[1] = 1;
    expect(classifyGarbage64(compared(c, other, emu), 'GenuineIntel')).toBeUndefined();
  });

  it('traces what x86emu executed and the effective address its fault saw', () => {
    const c = garbageCase(movaps, DATA + 8);
    const { steps, trace } = traceCase(c);
    expect(steps.map((s) => s.row?.mnemonic)).toEqual(['LDMXCSR', 'MOVAPS']);
    expect(effectiveAddress(steps[1], trace.lastGpr, trace.lastGprHigh)).toBe(BigInt(DATA + 8));
    expect(isCanonical(0x00007fffffffffffn)).toBe(true);
    expect(isCanonical(0x0000800000000000n)).toBe(false);
    expect(isCanonical(0xffff800000000000n)).toBe(true);
  });

  it('places a flag MUL leaves undefined, read by LAHF, only when a value of it makes x86emu end as the host', () => {
    // mul byte [rax]; lahf; then the terminator. The "host" is x86emu run with ZF and SF flipped
    // after the MUL (undefined there: SDM MUL), or with CF flipped (defined: not a class).
    const c = garbageCase([0xf6, 0x20, 0x9f], DATA);
    const flags = traceCase(c).steps[1].rflags;
    const emu = ranAs(c);
    const flipped = (mask: number) => {
      const host = ranAs(c, { flags: { afterStep: 1, mask, value: ~flags } });
      expect(host.state.gpr[0]).not.toBe(emu.state.gpr[0]); // AH (from LAHF) differs
      return classifyGarbage64(compared(c, host, emu));
    };
    expect(flipped(ZF | SF)?.id).toBe('undefined-flags');
    expect(flipped(1 << 0)).toBeUndefined();
  });

  it('places a loop the host leaves at its first turn while x86emu runs away (seed 42, case 4640), but not a flipped defined flag', () => {
    // jl far; imul edi, [rdx], -44; jg back to the JL: IMUL leaves SF ZF AF PF undefined (SDM
    // IMUL), and x86emu's values keep JG taken forever. The "host" is x86emu with ZF = 1 after the
    // first IMUL (JG falls through to the HLT: #GP(0)), or with OF flipped there (defined: CF and
    // OF are the product's overflow), which also falls through but cannot be placed.
    const c = prefixCase(generateGarbage64(42, 4640), 2);
    expect(
      traceCase(c)
        .steps.slice(1, 4)
        .map((t) => t.row?.mnemonic),
    ).toEqual(['JCC', 'IMUL3', 'JCC']);
    const emu = ranAs(c);
    expect(emu.kind).toBe('runaway');
    const zf = ranAs(c, { flags: { afterStep: 2, mask: ZF, value: ZF } });
    expect(zf.kind).toBe('hlt');
    const m = compared(c, zf, emu);
    expect(m.signature.categories).toEqual(['stop']);
    expect(classifyGarbage64(m)?.id).toBe('undefined-flags');
    const own = traceCase(c).steps[3].rflags;
    const of = ranAs(c, { flags: { afterStep: 2, mask: OF, value: ~own } });
    expect(of.kind).toBe('hlt');
    expect(classifyGarbage64(compared(c, of, emu))).toBeUndefined();
  });

  it('places RDRAND/RDSEED when x86emu, replayed with the host’s values, ends exactly as the host', () => {
    for (const bytes of [
      [0x0f, 0xc7, 0xf0], // rdrand eax
      [0x66, 0x0f, 0xc7, 0xf9], // rdseed cx
      [0x48, 0x0f, 0xc7, 0xf3, 0x48, 0x89, 0xd8, 0x31, 0xdb], // rdrand rbx; mov rax, rbx; xor ebx, ebx
      [0x0f, 0xc7, 0xf0, 0x89, 0x03], // rdrand eax; mov [rbx], eax (the value in RAM too)
      [0x0f, 0xc7, 0xf0, 0x49, 0x0f, 0xc7, 0xfa], // rdrand eax; rdseed r10
    ]) {
      const c = garbageCase(bytes, DATA);
      c.init.gpr[3] = DATA + 0x40;
      const m = compared(c, ranAs(c, { random: seededRandom(7) }), ranAs(c));
      expect(m.differences.length).toBeGreaterThan(0);
      expect(classifyGarbage64(m)?.id).toBe('random-value');
    }
  });

  it('refuses an RDRAND case where a register other than its destination, or RAM it did not write, differs', () => {
    // rdrand eax; inc ecx: the "host" got its own random EAX and, as if x86emu's INC were wrong,
    // another ECX. No value of RDRAND's explains ECX.
    const c = garbageCase([0x0f, 0xc7, 0xf0, 0xff, 0xc1], DATA);
    const emu = ranAs(c);
    const host = ranAs(c, { random: seededRandom(7) });
    expect(classifyGarbage64(compared(c, host, emu))?.id).toBe('random-value');
    const ecx = ranAs(c, { random: seededRandom(7) });
    ecx.state.gpr[1] = (ecx.state.gpr[1] + 1) >>> 0;
    expect(classifyGarbage64(compared(c, ecx, emu))).toBeUndefined();
    const ram = ranAs(c, { random: seededRandom(7) });
    ram.ram[DATA + 0x100] ^= 1;
    expect(classifyGarbage64(compared(c, ram, emu))).toBeUndefined();
  });

  it('places LOCK RDRAND (the host runs it) as lock-rdrand; F3 0F C7 /7 is RDPID (cpuid-absent), not RDSEED', () => {
    const lock = garbageCase([0xf0, 0x0f, 0xc7, 0xf0], DATA);
    expect(classifyGarbage64(mismatch(lock, end(13, AT + 4, 0), end(6, AT), 'garbage:RDRAND'))?.id).toBe(
      'lock-rdrand',
    );
    const rdpid = garbageCase([0xf3, 0x0f, 0xc7, 0xf8], DATA);
    expect(classifyGarbage64(mismatch(rdpid, end(13, AT + 4, 0), end(6, AT), 'garbage:RDSEED'))?.id).toBe(
      'cpuid-absent',
    );
  });
});
