import { describe, expect, it } from 'vitest';
import { Cpu, FlatPhysicalMemory, Reg, StopReason } from '../src/index.js';

describe('smoke', () => {
  it('runs the README example to HLT', () => {
    const mem = new FlatPhysicalMemory(1 << 20);
    mem.bytes.set([0xb8, 0x34, 0x12, 0x05, 0x11, 0x11, 0xf4], 0x7c00);
    const cpu = new Cpu({ memory: mem });
    cpu.state.segSel[1] = 0;
    cpu.state.segBase[1] = 0;
    cpu.state.rip[0] = 0x7c00;
    cpu.stateChanged();
    expect(cpu.run(1000)).toBe(StopReason.Hlt);
    expect(cpu.state.gpr[Reg.RAX]).toBe(0x2345);
  });
});
