/**
 * The guest CPU's block compiler (`VmxSiliconConfig.jit`) compiles at the engine's threshold
 * (x86emu's engine-policy.ts), not a bare Cpu's: Debian's kernel spent minutes in one initcall
 * compiling code that then ran too few times to pay for it.
 */
import { engineJitTuning } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { VmxSilicon } from '../src/index.js';

describe('VMX non-root operation: block compiler policy', () => {
  it("compiles at the engine's threshold with jit on, and not at all with jit off", () => {
    expect(new VmxSilicon({ jit: true }).nonRoot.cpu.jit?.hot).toBe(engineJitTuning().hot);
    expect(new VmxSilicon({ jit: true, jitBackend: 'wasm' }).nonRoot.cpu.jit?.hot).toBe(
      engineJitTuning('wasm').hot,
    );
    expect(new VmxSilicon({ jit: true, jitBackend: 'js' }).nonRoot.cpu.jit?.hot).toBe(
      engineJitTuning('js').hot,
    );
    expect(new VmxSilicon({ jit: false }).nonRoot.cpu.jit).toBeNull();
  });

  it('compiles by default (x86emu engineJitDefault), unless X86EMU_JIT=0 asks for the interpreter', () => {
    const compiled = process.env.X86EMU_JIT !== '0';
    expect(new VmxSilicon({}).nonRoot.cpu.jit !== null).toBe(compiled);
  });
});
