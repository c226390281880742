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

describe('testing helpers', () => {
  it('setFlatProtectedMode gives a runnable flat CPL-0 machine', async () => {
    const { setFlatProtectedMode } = await import('../src/testing.js');
    const mem = new FlatPhysicalMemory(1 << 20);
    mem.bytes.set([0xb8, 0x78, 0x56, 0x34, 0x12, 0xa3, 0, 0x20, 0, 0, 0xf4], 0x1000); // mov eax, imm32; mov [0x2000], eax; hlt
    const cpu = new Cpu({ memory: mem });
    setFlatProtectedMode(cpu.state, 0x1000, 0x8000);
    cpu.stateChanged();
    expect(cpu.run(10)).toBe(StopReason.Hlt);
    expect(mem.read32(0x2000)).toBe(0x12345678);
  });
});
