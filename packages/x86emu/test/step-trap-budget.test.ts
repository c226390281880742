/**
 * A single-step trap pending when the run's budget ends is taken before `run` returns (SDM Vol. 3A
 * 6.9: traps of the last instruction before interrupts), so a run of one instruction at a time —
 * the software engine under gdb's `stepi` (KVM_GUESTDBG_SINGLESTEP) — delivers every one of the
 * guest's own TF traps, as one long run does. It was left pending and lost at the next run's
 * VM entry, which starts with no pending event.
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { type Machine, realMode } from './machine.js';

/** Real mode: IVT[1] is a handler counting #DBs at 0x3000; TF on for three NOPs, then off. */
const SOURCE = `
  mov word ptr [4], offset handler
  mov word ptr [6], 0
  mov word ptr [0x3000], 0
  pushf
  pop ax
  or ax, 0x100
  push ax
  popf
  nop
  nop
  nop
  pushf
  pop ax
  and ax, 0xfeff
  push ax
  popf
  hlt
handler:
  inc word ptr [0x3000]
  iret
`;

const traps = (m: Machine) => m.mem.bytes[0x3000] | (m.mem.bytes[0x3001] << 8);

describe('the single-step trap at the end of a run', () => {
  it('is delivered when the budget ends right after the instruction, as in one long run', () => {
    const long = realMode(SOURCE);
    expect(long.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    const stepped = realMode(SOURCE);
    let r: StopReason = StopReason.Budget;
    for (let i = 0; i < 1000 && r === StopReason.Budget; i++) {
      // What a VM entry does: no event carried into the next run.
      stepped.cpu.state.pendingType = -1;
      r = stepped.cpu.run(1);
    }
    expect(r).toBe(StopReason.Hlt);
    // A trap after each instruction that began with TF = 1: nop ×3, pushf, pop, and, push, popf.
    expect(traps(long)).toBe(8);
    expect(traps(stepped)).toBe(traps(long));
  });
});
