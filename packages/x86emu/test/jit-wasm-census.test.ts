/**
 * The exit census of the wasm backend's 64-bit functions (src/jit/wasm/exit-census.ts,
 * `X86EMU_JIT_CENSUS=1`): a loop that calls a function on another page, which calls one on a third
 * page through a register and runs a MUL through its handler, counts one exit of each kind per
 * iteration, kinds it never takes none, and its handler calls by form; with the knob off there is
 * no census, and the same program ends in the same state either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Jit } from '../src/jit/jit.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { ExitKind } from '../src/jit/wasm/exit-census.js';
import { snapshot } from './jit-lockstep.js';
import { longMode } from './long.js';
import { inWasmMemory, type Machine, runTo } from './machine.js';

const ITERATIONS = 1000;
const PROGRAM = `
  mov ecx, ${ITERATIONS}
  xor eax, eax
  mov ebx, 3
  lea r8, [rip + f2]
top:
  call f1
  add rax, rdx
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  lea rdx, [rax + 3]
  call r8
  ret
.balign 4096
f2:
  mov eax, edx
  mul rbx
  ret
`;

function run(census: boolean): Machine {
  if (census) process.env.X86EMU_JIT_CENSUS = '1';
  const m = inWasmMemory(longMode(PROGRAM));
  m.cpu.jit = new Jit({ hot: 2, backend: 'wasm' });
  // The backend reads the knob when it is made: made here, before the run compiles anything.
  wasmBackend(m.cpu);
  delete process.env.X86EMU_JIT_CENSUS;
  runTo(m);
  return m;
}

describe('the exit census of 64-bit wasm functions', () => {
  afterEach(() => {
    delete process.env.X86EMU_JIT_CENSUS;
  });

  it('counts each exit by kind and each handler call by form, and changes nothing the guest sees', () => {
    const m = run(true);
    const census = wasmBackend(m.cpu).exitCensus();
    expect(census).not.toBeNull();
    const count = (k: number): number => census?.exits[k].count ?? -1;
    // Each iteration once compiled (the first few ran in the interpreter): CALL f1 (another page),
    // CALL r8, and the two RETs; the loop's JNZ jumps inside the function and is not an exit.
    const calls = count(ExitKind.CallOtherPage);
    expect(calls).toBeGreaterThan(ITERATIONS - 10);
    expect(calls).toBeLessThanOrEqual(ITERATIONS);
    expect(count(ExitKind.CallIndirect)).toBeGreaterThan(ITERATIONS - 10);
    expect(count(ExitKind.Ret)).toBeGreaterThan(2 * (ITERATIONS - 10));
    for (const k of [
      ExitKind.JccTakenSamePage,
      ExitKind.JmpOtherPage,
      ExitKind.CallSamePage,
      ExitKind.JmpIndirect,
    ])
      expect(count(k), `kind ${k}`).toBe(0);
    expect(census?.handlers.find((h) => h.form === 'MUL Ev')?.count).toBeGreaterThan(ITERATIONS - 10);

    const plain = run(false);
    expect(wasmBackend(plain.cpu).exitCensus()).toBeNull();
    expect(snapshot(m.cpu)).toEqual(snapshot(plain.cpu));
  });
});
