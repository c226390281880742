/**
 * A device for the block compiler's interrupt tests: an MMIO page at 0x300000 (no page view, so
 * compiled code takes its slow path there) where a 4-byte write raises IRQ vector 0x20.
 */
import { Cpu, FlatPhysicalMemory, type InterruptControllerOps } from '../src/index.js';
import type { Machine } from './machine.js';
import { setGate } from './pm.js';

/**
 * `m` (protected mode) on a new CPU with the compiler off (the lockstep gives it one) over that
 * device; vector 0x20's handler is the code `handler` at 0x30000 (it ends with IRET), IF set.
 * `irqs()` counts the interrupts taken.
 */
export function withMmioIrq(m: Machine, handler: number[]): Machine & { irqs: () => number } {
  let pending = false;
  let taken = 0;
  const base = m.mem;
  const memory = Object.assign(Object.create(FlatPhysicalMemory.prototype), base, {
    pageView: (pfn: number) => (pfn === 0x300 ? null : base.pageView(pfn)),
    write32: (pa: number, v: number) => {
      if (pa >>> 12 === 0x300) pending = true;
      else base.write32(pa, v);
    },
    read32: (pa: number) => (pa >>> 12 === 0x300 ? 0 : base.read32(pa)),
  });
  const interrupts: InterruptControllerOps = {
    hasInterrupt: () => pending,
    acknowledge: () => {
      pending = false;
      taken++;
      return 0x20;
    },
  };
  const cpu = new Cpu({ memory, interrupts, state: m.cpu.state, jit: false });
  setGate(m.mem, 0x20, 0x30000);
  m.mem.bytes.set(handler, 0x30000);
  m.cpu.state.rflags[0] |= 0x200;
  cpu.stateChanged();
  return { ...m, cpu, irqs: () => taken };
}
