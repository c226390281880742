/**
 * Runs the same cases as sse-fp-referee.c on x86emu, in 64-bit mode at CPL 0 with CR4.OSFXSR
 * and OSXMMEXCPT set, and returns the same output words. An instruction whose opcode-table row
 * exists runs through the decoder and `Cpu.run`; until the decoder's SSE rows land, the others
 * run their handler directly on an `Insn` built from the bytes (prefixes, REX, 0F [38|3A] op,
 * ModRM with mod = 3, imm8).
 */
import { GUEST_FAULT } from '../../src/cpu/consts.js';
import { Insn } from '../../src/decoder/insn.js';
import { OPCODE_TABLE } from '../../src/decoder/opcode-table.js';
import { SSE_FP_HANDLERS } from '../../src/exec/sse-fp/index.js';
import { L, longMode } from '../long.js';
import type { SseCase } from './referee.js';

const HAS_ROW = new Set(OPCODE_TABLE.map((r) => r.mnemonic));

/** An Insn for a register-form encoding (see the file comment). */
export function insnOf(bytes: number[]): Insn {
  const i = new Insn();
  let p = 0;
  while (bytes[p] === 0x66 || bytes[p] === 0xf2 || bytes[p] === 0xf3) p++;
  if ((bytes[p] & 0xf0) === 0x40) i.rex = bytes[p++];
  if (bytes[p++] !== 0x0f) throw new Error('not a 0F opcode');
  let map = 1;
  if (bytes[p] === 0x38 || bytes[p] === 0x3a) map = bytes[p++] === 0x38 ? 2 : 3;
  const op = bytes[p++];
  const m = bytes[p++];
  i.mod = m >> 6;
  if (i.mod !== 3) throw new Error('register forms only');
  i.ext = (m >> 3) & 7;
  i.reg = i.ext | ((i.rex & 4) << 1);
  i.rm = (m & 7) | ((i.rex & 1) << 3);
  i.hasModrm = true;
  if (map === 3 || (map === 1 && op === 0xc2)) i.imm = bytes[p++];
  i.length = p;
  i.opSize = i.rex & 8 ? 8 : 4;
  i.adSize = 8;
  return i;
}

export function makeRunner(): (name: string, c: SseCase) => number[] {
  const m = longMode('hlt', { captureExceptions: true });
  const cpu = m.cpu;
  const s = cpu.state;
  s.cr[4] |= 0x600; // OSFXSR | OSXMMEXCPT, as Linux runs user code
  cpu.stateChanged();
  const x = new Uint32Array(s.xmm.buffer, s.xmm.byteOffset, 64);
  return (name, c) => {
    for (let k = 0; k < 4; k++) {
      x[k] = c.x0[k];
      x[4 + k] = c.x1[k];
      x[8 + k] = c.x2[k];
    }
    s.mxcsr[0] = c.mxcsr;
    s.gpr[0] = c.raxLo;
    s.gprHigh[0] = c.raxHi;
    cpu.setFlags(0x202, 0x3f7fd7);
    let fault = 0;
    if (HAS_ROW.has(name)) {
      m.mem.bytes.set([...c.bytes, 0xf4], L.CODE);
      cpu.invalidateCode(L.CODE, 16);
      s.rip[0] = L.CODE;
      s.rip[1] = 0;
      m.exceptions.length = 0;
      cpu.run(1);
      if (m.exceptions.length) fault = m.exceptions[0].vector;
    } else {
      try {
        SSE_FP_HANDLERS[name](cpu, insnOf(c.bytes));
      } catch (e) {
        if (e !== GUEST_FAULT) throw e;
        fault = cpu.faultVector;
      }
    }
    const fl = fault ? 0 : cpu.getFlags() & 0x8d5;
    return [x[4], x[5], x[6], x[7], x[0], x[1], x[2], x[3], s.gpr[0], s.gprHigh[0], s.mxcsr[0], fl, fault];
  };
}
