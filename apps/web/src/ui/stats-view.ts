/** The live figures: MIPS over the last interval and the run's, and qemu-lite's exit table. */
import { formatExitStats } from 'qemu-lite/portable';
import { type LiveStats, mipsBetween } from '../machine/protocol.js';

export class StatsView {
  private last: LiveStats | undefined;

  constructor(
    private readonly mips: HTMLElement,
    private readonly table: HTMLElement,
  ) {}

  reset(): void {
    this.last = undefined;
    this.mips.textContent = '–';
    this.table.textContent = '';
  }

  /** A periodic sample: MIPS since the previous one. */
  sample(s: LiveStats): void {
    const rate = this.last
      ? mipsBetween(this.last, s)
      : mipsBetween({ ...s, instructions: 0, elapsedMs: 0, pausedMs: 0 }, s);
    this.last = s;
    this.mips.textContent = rate.toFixed(1);
    this.render(s);
  }

  /** The final figures: the whole run's MIPS. */
  final(s: LiveStats): void {
    const whole = mipsBetween({ ...s, instructions: 0, elapsedMs: 0, pausedMs: 0 }, s);
    this.mips.textContent = `${whole.toFixed(1)} (run)`;
    this.render(s);
  }

  private render(s: LiveStats): void {
    const seconds = ((s.elapsedMs - s.pausedMs) / 1000).toFixed(1);
    this.table.textContent = `${formatExitStats(s.exits)}\n guest instructions ${s.instructions.toLocaleString('en')} in ${seconds} s`;
  }
}
