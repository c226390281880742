/**
 * The guest suite on the software engine with the block compiler's WebAssembly backend
 * (`-accel vmx,jit=wasm`): guest RAM in the engine's wasm arena, compiled code reaching it inline
 * through the TLB. Each 32- and 64-bit test guest of tools/guests must end the same way and print
 * the same checks as with the interpreter (`jit=off`), on vmx and on svm. Wasm is the engines'
 * default code generator since 2026-12-06 (`defaultJitBackend`; `jit=js` selects the JS one).
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { defaultJitBackend } from '../src/engines.js';
import { type GuestResult, runGuest } from '../src/index.js';
import { guestImage, guestsBuilt, notBuilt, reportChecks, TEST_GUESTS } from './test-guests.js';

// Blocks compile at the second visit, to put as much of each guest as possible through the
// compiler; the CPUs read it when they are made (worker threads inherit it).
process.env.X86EMU_JIT_HOT ??= '2';

const run = (name: string, accel: string, wasm: boolean): Promise<GuestResult> =>
  runGuest({
    kernel: guestImage(name),
    accel,
    jit: wasm,
    jitBackend: wasm ? 'wasm' : undefined,
    memory: '64M',
    timeoutMs: 90_000,
    noReboot: true,
  });

describe.each(['vmx', 'svm'])('the guests on -accel %s with jit=wasm and jit=off', (accel) => {
  for (const [name, ending] of TEST_GUESTS) {
    it.skipIf(!guestsBuilt)(
      `${name}: jit=wasm and jit=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 240_000 },
      async () => {
        const results: GuestResult[] = [];
        for (const wasm of [true, false]) {
          const r = await run(name, accel, wasm);
          expect(r.exitReason.kind, `wasm=${wasm}\n${r.serial}`).toBe(ending);
          expect(
            reportChecks(r.serial).filter((c) => c.startsWith('FAIL ')),
            `wasm=${wasm}`,
          ).toEqual([]);
          results.push(r);
        }
        expect(reportChecks(results[0].serial)).toEqual(reportChecks(results[1].serial));
      },
    );
  }
});

describe('-accel …,jit=wasm|js', () => {
  it('turns the compiler on with that code generator', () => {
    expect(parseArgs(['-accel', 'vmx,jit=wasm']).options).toMatchObject({ jit: true, jitBackend: 'wasm' });
    expect(parseArgs(['-accel', 'svm,jit=js']).options).toMatchObject({ jit: true, jitBackend: 'js' });
    expect(parseArgs(['-accel', 'svm,jit=on']).options.jitBackend).toBeUndefined();
    expect(() => parseArgs(['-accel', 'vmx,jit=wat'])).toThrow(/on, off, js or wasm/);
  });

  it('defaults to wasm where WebAssembly exists; X86EMU_JIT_BACKEND=js or wasm chooses instead', () => {
    const saved = process.env.X86EMU_JIT_BACKEND;
    try {
      delete process.env.X86EMU_JIT_BACKEND;
      expect(defaultJitBackend()).toBe('wasm');
      process.env.X86EMU_JIT_BACKEND = 'js';
      expect(defaultJitBackend()).toBe('js');
      process.env.X86EMU_JIT_BACKEND = 'wasm';
      expect(defaultJitBackend()).toBe('wasm');
      process.env.X86EMU_JIT_BACKEND = 'asmjs';
      expect(defaultJitBackend()).toBe('wasm');
    } finally {
      if (saved === undefined) delete process.env.X86EMU_JIT_BACKEND;
      else process.env.X86EMU_JIT_BACKEND = saved;
    }
  });

  it('is refused on the host engine and with the compiler off', async () => {
    await expect(runGuest({ kernel: guestImage('long'), accel: 'kvm', jitBackend: 'wasm' })).rejects.toThrow(
      /code generator of the software engine's compiler/,
    );
    await expect(
      runGuest({ kernel: guestImage('long'), accel: 'vmx', jit: false, jitBackend: 'wasm' }),
    ).rejects.toThrow(/code generator/);
    await expect(
      runGuest({ kernel: guestImage('long'), accel: 'vmx', jitBackend: 'wat' as unknown as 'wasm' }),
    ).rejects.toThrow(TypeError);
  });
});
