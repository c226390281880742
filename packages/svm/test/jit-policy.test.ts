/**
 * The guest CPU's block compiler (`SvmSiliconConfig.jit`) compiles at the engine's threshold
 * (x86emu's engine-policy.ts), not a bare Cpu's: Debian's kernel spent minutes in one initcall
 * compiling code that then ran too few times to pay for it.
 */
import { engineJitTuning } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { SvmSilicon } from '../src/index.js';

describe('SVM guest mode: block compiler policy', () => {
  it("compiles at the engine's threshold with jit on, and not at all with jit off", () => {
    expect(new SvmSilicon({ jit: true }).guest.cpu.jit?.hot).toBe(engineJitTuning().hot);
    expect(new SvmSilicon({ jit: true, jitBackend: 'wasm' }).guest.cpu.jit?.hot).toBe(
      engineJitTuning('wasm').hot,
    );
    expect(new SvmSilicon({ jit: true, jitBackend: 'js' }).guest.cpu.jit?.hot).toBe(
      engineJitTuning('js').hot,
    );
    expect(new SvmSilicon({ jit: false }).guest.cpu.jit).toBeNull();
  });

  it('compiles by default (x86emu engineJitDefault), unless X86EMU_JIT=0 asks for the interpreter', () => {
    const compiled = process.env.X86EMU_JIT !== '0';
    expect(new SvmSilicon({}).guest.cpu.jit !== null).toBe(compiled);
  });
});
