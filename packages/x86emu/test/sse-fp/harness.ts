/**
 * Runs the same cases as sse-fp-referee.c on x86emu: the instruction bytes (one instruction or a
 * short sequence) at L.CODE followed by HLT, in 64-bit mode at CPL 0 with CR4.OSFXSR and
 * OSXMMEXCPT set, through the decoder and `Cpu.run`; returns the same output words. RDI points
 * at a copy of the referee's context block (XMM0–XMM2 at +0/+16/+32, MXCSR at +48, RAX at +56,
 * 16-byte aligned), so `[rdi+32]` is a memory operand holding XMM2's value in both.
 */
import { L, longMode } from '../long.js';
import type { SseCase } from './referee.js';

/** Where the context block lives (identity-mapped, 16-byte aligned). */
export const CTX = 0x200000;

export function makeRunner(): (name: string, c: SseCase) => number[] {
  const m = longMode('hlt', { captureExceptions: true });
  const cpu = m.cpu;
  const s = cpu.state;
  s.cr[4] |= 0x600; // OSFXSR | OSXMMEXCPT, as Linux runs user code
  cpu.stateChanged();
  const x = new Uint32Array(s.xmm.buffer, s.xmm.byteOffset, 64);
  return (_name, c) => {
    for (let k = 0; k < 4; k++) {
      x[k] = c.x0[k];
      x[4 + k] = c.x1[k];
      x[8 + k] = c.x2[k];
    }
    s.mxcsr[0] = c.mxcsr;
    s.gpr[0] = c.raxLo;
    s.gprHigh[0] = c.raxHi;
    cpu.setFlags(0x202, 0x3f7fd7);
    const mem = m.mem;
    for (let k = 0; k < 4; k++) {
      mem.write32(CTX + 4 * k, c.x0[k]);
      mem.write32(CTX + 16 + 4 * k, c.x1[k]);
      mem.write32(CTX + 32 + 4 * k, c.x2[k]);
    }
    mem.write32(CTX + 48, c.mxcsr);
    mem.write32(CTX + 52, 0);
    mem.write32(CTX + 56, c.raxLo);
    mem.write32(CTX + 60, c.raxHi);
    mem.write32(CTX + 64, 0);
    mem.write32(CTX + 68, 0);
    s.gpr[7] = CTX;
    s.gprHigh[7] = 0;
    s.gpr[4] = 0x7ff8; // RSP 8 modulo 16, as in the referee
    s.gprHigh[4] = 0;
    m.mem.bytes.set([...c.bytes, 0xf4], L.CODE);
    cpu.invalidateCode(L.CODE, c.bytes.length + 1);
    s.rip[0] = L.CODE;
    s.rip[1] = 0;
    s.halted = false;
    m.exceptions.length = 0;
    cpu.run(16);
    const fault = m.exceptions.length ? m.exceptions[0].vector : 0;
    const fl = fault ? 0 : cpu.getFlags() & 0x8d5;
    return [x[4], x[5], x[6], x[7], x[0], x[1], x[2], x[3], s.gpr[0], s.gprHigh[0], s.mxcsr[0], fl, fault];
  };
}
