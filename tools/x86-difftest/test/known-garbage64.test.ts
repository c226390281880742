/**
 * The long64 garbage classifier (known-garbage64.ts) against made-up mismatches: x86emu runs the
 * bytes for real (its trace), the host's end is written by hand. A class needs the case itself to
 * prove it, so the same vectors on a case that does not (an aligned operand, a form without an
 * alignment rule, a rel8 branch) must stay unclassified: otherwise a real x86emu bug with those
 * vectors would be hidden.
 */
import { describe, expect, it } from 'vitest';
import type { ExceptionFrame } from '../src/compare.js';
import { exceptionFrame } from '../src/compare.js';
import type { Mismatch, SideEnd } from '../src/difftest.js';
import { EmuSide } from '../src/emu-side.js';
import { caseImage } from '../src/generator.js';
import { generateGarbage64 } from '../src/generator64.js';
import { classifyGarbage64, effectiveAddress, isCanonical, traceCase } from '../src/known-garbage64.js';
import { CODE, DATA } from '../src/layout.js';
import { PAGE64_NOT_PRESENT, STUBS64 } from '../src/layout64.js';

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

  it('places a near JMP with 66h (AMD: rel16), but not a 66h rel8 JMP whose target is the same on both vendors', () => {
    const rel16 = garbageCase([0x66, 0xe9, 0x02, 0x00, 0x00, 0x00], DATA);
    expect(
      classifyGarbage64(mismatch(rel16, end(13, AT + 6, 0), end(14, AT + 8, 4), 'garbage:JMP'))?.id,
    ).toBe('branch-66');
    const rel8 = garbageCase([0x66, 0xeb, 0x02, 0x90, 0x90], DATA);
    expect(
      classifyGarbage64(mismatch(rel8, end(13, AT + 5, 0), end(6, AT + 3), 'garbage:JMP')),
    ).toBeUndefined();
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
    const side = new EmuSide({ jit: false });
    const ranAs = (mask: number) => {
      const flags = traceCase(c).steps[1].rflags;
      const r = side.trace(c.init, caseImage(c), 100, { afterStep: 1, mask, value: ~flags });
      const host: SideEnd = { kind: r.end.kind, state: r.end.state, frame: exceptionFrame(r.end) };
      return host;
    };
    const emu = ranAs(0);
    const flipped = (mask: number) => {
      const host = ranAs(mask);
      expect(host.state.gpr[0]).not.toBe(emu.state.gpr[0]); // AH (from LAHF) differs
      const m = mismatch(c, host, emu, 'garbage:MUL');
      m.signature.categories = ['gpr'];
      m.differences = [
        {
          category: 'gpr',
          field: 'rax',
          host: host.state.gpr[0].toString(16),
          emu: emu.state.gpr[0].toString(16),
        },
      ];
      return classifyGarbage64(m);
    };
    expect(flipped((1 << 6) | (1 << 7))?.id).toBe('undefined-flags');
    expect(flipped(1 << 0)).toBeUndefined();
  });
});
