/**
 * The x87/SSE state of issue 11's referee: set through KVM_SET_FPU (x87, XMM) and an LDMXCSR
 * prologue (MXCSR), read back through KVM_GET_FPU and an STMXCSR epilogue, on the host as on
 * x86emu. Skips visibly where /dev/kvm is missing.
 */
import { hostKvmAvailability } from '@kvm/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiffTester } from '../src/difftest.js';
import { caseImage } from '../src/generator.js';
import { generateLong64, MXCSR_OUT } from '../src/generator64.js';

const avail = hostKvmAvailability();
const skip = avail.available ? undefined : avail.reason;

describe.skipIf(skip !== undefined)(
  `the x87/SSE state through the harness${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let tester: DiffTester;
    beforeAll(() => {
      tester = new DiffTester(['long64']);
    });
    afterAll(() => tester?.close());

    it('MOVAPS XMM0, XMM1 and FLD ST(1) see the state that was set, and MXCSR comes back through memory', () => {
      for (let i = 0; i < 20; i++) {
        const c = generateLong64(11, i, ['sse']);
        const f = c.init.fpu;
        if (!f) throw new Error('no FPU state');
        // Every register valid but ST(7), so FLD ST(1) pushes a copy without a stack overflow.
        f.ftw = 0xff & ~(1 << (((f.fsw >>> 11) + 7) & 7));
        const body = [0x0f, 0x28, 0xc1, 0xd9, 0xc1]; // movaps xmm0, xmm1; fld st(1)
        c.bytes = [...c.bytes.slice(0, 8), ...body, ...c.bytes.slice(-8)];
        c.insns = [c.insns[0], { length: body.length, form: 'PROBE' }, c.insns[c.insns.length - 1]];
        const host = tester.host.run(c.init, caseImage(c));
        const hostMxcsr = host.ram[MXCSR_OUT] | (host.ram[MXCSR_OUT + 1] << 8);
        const hf = host.state.fpu;
        const emu = tester.emu.run(c.init, caseImage(c));
        const ef = emu.state.fpu;
        expect(hf?.xmm.slice(0, 16)).toEqual(f.xmm.slice(16, 32));
        // The pushed copy of the old ST(1) is the new ST(0).
        expect(hf?.st.slice(0, 10)).toEqual(f.st.slice(10, 20));
        expect(hostMxcsr).toBe(f.mxcsr & 0xffff);
        expect({ ...ef, mxcsr: 0 }).toEqual({ ...hf, mxcsr: 0 }); // KVM_GET_FPU has no MXCSR
        expect(emu.ram[MXCSR_OUT] | (emu.ram[MXCSR_OUT + 1] << 8)).toBe(hostMxcsr);
      }
    });
  },
);
