/**
 * The guest CPU with the block compiler's wasm backend (`jitBackend: 'wasm'`): the silicon's
 * host-physical memory gets a wasm arena, the VMM's RAM is allocated in it, and compiled code
 * reaches guest RAM inline through the TLB (which maps guest-linear to HOST frames) — exactly as
 * the interpreter does. RAM outside the arena takes the imports, with the same results.
 */
import { KVM_EXIT } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing';
import { wasmBackend } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { createVmxKvm, VmxSilicon } from '../src/index.js';

const ITER = 100_000;
// biome-ignore format: the machine code, an instruction a line
const CODE = [
  0xb9, ITER & 0xff, (ITER >>> 8) & 0xff, ITER >>> 16, 0, // mov ecx, ITER
  0xbe, 0, 0, 2, 0, //                                        mov esi, 0x20000
  0x31, 0xc0, //                                              xor eax, eax
  0x03, 0x06, //                                              l: add eax, [esi]
  0x01, 0x46, 0x04, //                                        add [esi+4], eax
  0x83, 0xc6, 0x08, //                                        add esi, 8
  0x81, 0xe6, 0xf8, 0x0f, 0, 0, //                            and esi, 0xff8
  0x81, 0xce, 0, 0, 2, 0, //                                  or esi, 0x20000
  0x49, //                                                    dec ecx
  0x75, 0xe9, //                                              jnz l
  0xf4, //                                                    hlt
];

function run(jit: boolean, wasmRamBytes?: number) {
  const silicon = new VmxSilicon({ jit, jitBackend: jit ? 'wasm' : undefined, wasmRamBytes });
  const kvm = createVmxKvm({ silicon });
  const g = protectedModeGuest(kvm, CODE);
  for (let i = 0; i < 4096; i++) g.ram[0x20000 + i] = (i * 37) & 0xff;
  let exit = g.vcpu.run();
  // The run budget may end a KVM_RUN before the HLT (an EINTR-free return to userspace).
  for (let n = 0; exit !== KVM_EXIT.HLT && n < 1000; n++) exit = g.vcpu.run();
  const r = g.vcpu.getRegs();
  return {
    exit,
    regs: [r.rax, r.rcx, r.rsi, r.rip],
    data: g.ram.slice(0x20000, 0x21000),
    silicon,
    inArena: silicon.memory.wasm !== undefined && g.ram.buffer === silicon.memory.wasm.buffer,
  };
}

describe('VMX non-root operation on the wasm backend', () => {
  it('reaches guest RAM in the wasm arena inline, with the interpreter’s registers and memory', () => {
    const ref = run(false);
    const w = run(true, 1 << 20);
    expect(w.inArena).toBe(true);
    expect(ref.exit).toBe(KVM_EXIT.HLT);
    expect(w.exit).toBe(ref.exit);
    expect(w.regs).toEqual(ref.regs);
    expect(w.data).toEqual(ref.data);
    const be = wasmBackend(w.silicon.nonRoot.cpu);
    expect(be.ramPages).toBe(w.silicon.memory.wasmFrames);
    expect(be.stats.compiled).toBeGreaterThan(0);
    // The load of each iteration is an inline form (the read-modify-write ADD a handler call):
    // once compiled (at the engine's threshold, 20,000 visits) none goes through the imports.
    expect(be.stats.slowAccesses).toBeLessThan(ITER / 10);
  });

  it('takes the imports for RAM the arena has no room for, with the same results', () => {
    const ref = run(false);
    const w = run(true, 64 * 1024);
    expect(w.inArena).toBe(false);
    expect(w.regs).toEqual(ref.regs);
    expect(w.data).toEqual(ref.data);
    const be = wasmBackend(w.silicon.nonRoot.cpu);
    expect(be.stats.compiled).toBeGreaterThan(0);
    expect(be.stats.slowAccesses).toBeGreaterThan(ITER / 2);
  });
});
