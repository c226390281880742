/**
 * x86emu's side, through its public API only: a `Cpu` over a `FlatPhysicalMemory` the size of
 * the host VM's RAM (above it: open bus, as the host side answers MMIO), port I/O answered with
 * `ioValue`, default CPUID/MSRs. Reused for every case.
 */
import { Cpu, FlatPhysicalMemory, type PortIoOps, StopReason } from '@kvm/x86emu';
import { RAM_SIZE } from './layout.js';
import { fromCpuState, type MachineState, toCpuState } from './machine-state.js';
import type { Outcome } from './outcome.js';
import { IO_LOG_MAX, ioValue } from './outcome.js';

/** Instructions one case may retire before it counts as runaway. */
export const EMU_BUDGET = 200_000;

export class EmuSide {
  readonly memory = new FlatPhysicalMemory(RAM_SIZE);
  private readonly io: number[] = [];
  private readonly cpu: Cpu;

  constructor() {
    const log = this.io;
    const ports: PortIoOps = {
      portIn(port, size) {
        const value = ioValue(port, size, log.length >>> 2);
        if (log.length < IO_LOG_MAX) log.push(0, port, size, value);
        return value;
      },
      portOut(port, size, value) {
        if (log.length < IO_LOG_MAX) log.push(1, port, size, value >>> 0);
      },
    };
    this.cpu = new Cpu({ memory: this.memory, io: ports });
  }

  run(init: MachineState, image: Uint8Array): Outcome {
    this.memory.bytes.set(image);
    this.io.length = 0;
    let kind: Outcome['kind'];
    let detail: string | undefined;
    try {
      toCpuState(init, this.cpu.state);
      this.cpu.invalidateCode(0, RAM_SIZE);
      this.cpu.stateChanged();
      const why = this.cpu.run(EMU_BUDGET);
      kind =
        why === StopReason.Hlt
          ? 'hlt'
          : why === StopReason.Shutdown
            ? 'shutdown'
            : why === StopReason.Budget
              ? 'runaway'
              : 'crash';
      if (kind === 'crash') detail = `unexpected StopReason ${why}`;
    } catch (e) {
      kind = 'crash';
      detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    }
    return { kind, detail, state: fromCpuState(this.cpu.state), ram: this.memory.bytes, io: this.io };
  }
}
