/**
 * The host facts that `classifyFpuSse` (src/known-fpu.ts) cites for x87/SSE mismatches in
 * long64, measured again on every run: a few bytes at CPL 3 behind the harness (an `sse`-class
 * case's initial state: CR4.OSFXSR set, CR4.OSXSAVE clear), with the vector the host ends in
 * beside x86emu's. They describe kvm-pvm; elsewhere they skip with that reason, and a host where
 * one changes must re-triage the list.
 */
import { hostKvmAvailability } from '@kvm/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stubFrame } from '../src/compare.js';
import { DiffTester } from '../src/difftest.js';
import { caseImage } from '../src/generator.js';
import { generateLong64 } from '../src/generator64.js';
import { DATA } from '../src/layout.js';
import { hostKvmFlavor } from '../src/referee.js';

const avail = hostKvmAvailability();
const skip = !avail.available
  ? avail.reason
  : hostKvmFlavor() !== 'kvm-pvm'
    ? 'the probes describe kvm-pvm (CPL-3 code on the CPU, faults it intercepts through KVM’s emulator)'
    : undefined;
if (skip) console.warn(`[x86-difftest] x87/SSE host probes skipped: ${skip}`);

const NON_CANONICAL: [number, number] = [0, 0x8000];
const GP = 13;
const UD = 6;

describe.skipIf(skip !== undefined)(
  `kvm-pvm and CPL-3 x87/SSE code${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let tester: DiffTester;
    beforeAll(() => {
      tester = new DiffTester(['long64']);
    });
    afterAll(() => tester?.close());

    /** The vectors host and x86emu end in for `bytes` (RAX = `rax`, ECX = 0, x87 exceptions masked). */
    function probe(bytes: number[], rax: [number, number] = [DATA, 0]): [number, number] {
      const c = generateLong64(1, 0, ['sse']);
      if (!c.init.fpu) throw new Error('an sse-class case has an FPU state');
      c.init.fpu.fcw = 0x37f;
      c.init.fpu.ftw = 0;
      c.bytes = bytes;
      c.insns = [{ length: bytes.length, form: 'PROBE' }];
      c.init.gpr[0] = rax[0];
      (c.init.gprHigh as number[])[0] = rax[1];
      c.init.gpr[1] = 0;
      (c.init.gprHigh as number[])[1] = 0;
      c.patches = [];
      const host = stubFrame(tester.host.run(c.init, caseImage(c)))?.vector ?? -1;
      const emu = stubFrame(tester.emu.run(c.init, caseImage(c)))?.vector ?? -1;
      return [host, emu];
    }

    it('a misaligned or non-canonical operand of an x87/SSE instruction KVM’s emulator lacks is #UD on the host', () => {
      const pand = [0x66, 0x0f, 0xdb, 0x00]; // pand xmm0, [rax]
      const movdqa = [0x66, 0x0f, 0x6f, 0x00]; // movdqa xmm0, [rax]
      const fld = [0xdd, 0x00]; // fld qword [rax]
      expect(probe(pand)).toEqual([GP, GP]); // runs natively, then the terminator's #GP(0)
      expect(probe(pand, [DATA + 8, 0])).toEqual([UD, GP]);
      expect(probe(pand, NON_CANONICAL)).toEqual([UD, GP]);
      // The emulator implements MOVDQA (with its alignment check): the host's #GP(0) as the SDM.
      expect(probe(movdqa, [DATA + 8, 0])).toEqual([GP, GP]);
      expect(probe(fld)).toEqual([GP, GP]);
      expect(probe(fld, NON_CANONICAL)).toEqual([UD, GP]);
    });

    it('XGETBV runs at CPL 3 although the guest’s CR4.OSXSAVE is 0 (the host’s CR4 rules)', () => {
      expect(probe([0x0f, 0x01, 0xd0])).toEqual([GP, UD]); // host: XCR0 read, then the terminator
    });
  },
);
