/**
 * LDT references follow LDTR's hidden validity, not its selector (difftest pm16 case 6151 of
 * seed 1431047875: an LDS of an LDT selector under the power-on LDTR, selector 0 but present).
 */
import { describe, expect, it } from 'vitest';
import { Reg, SegAttr, StopReason } from '../src/index.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

const LDT_BASE = 0x6000;

/** An LDT at 0x6000 whose entry 0 (selector 04H) is a data segment based at 0x7000. */
function withLdtEntry(src: string) {
  const m = protectedMode(src, { captureExceptions: true });
  m.mem.write32(LDT_BASE, (0x7000 << 16) | 0xffff);
  m.mem.write32(LDT_BASE + 4, 0x00009200);
  m.mem.write32(0x7010, 0xcafef00d);
  return m;
}

describe('LDTR: a null selector with a present hidden descriptor', () => {
  it('a load of an LDT selector reads the LDT that LDTR caches (as after power-on)', () => {
    const m = withLdtEntry('mov ax, 0x04; mov es, ax; mov eax, es:[0x10]; hlt');
    const s = m.cpu.state;
    s.segSel[6] = 0;
    s.segBase[6] = LDT_BASE;
    s.segLimit[6] = 0xf;
    s.segAttr[6] = SegAttr.P | 2;
    m.cpu.stateChanged();
    runTo(m);
    expect(m.exceptions).toEqual([]);
    expect(s.segSel[0]).toBe(0x04);
    expect(s.gpr[Reg.RAX]).toBe(0xcafef00d);
  });

  it('after LLDT of a null selector the same load is #GP(selector)', () => {
    const m = withLdtEntry('xor ax, ax; lldt ax; mov ax, 0x04; mov es, ax; hlt');
    const s = m.cpu.state;
    s.segBase[6] = LDT_BASE;
    s.segLimit[6] = 0xf;
    s.segAttr[6] = SegAttr.P | 2;
    m.cpu.stateChanged();
    runTo(m, StopReason.Exception);
    expect(m.exceptions.map((e) => [e.vector, e.errorCode])).toEqual([[13, 0x04]]);
  });
});
