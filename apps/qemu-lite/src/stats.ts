/**
 * Exit statistics, kvm_stat style: how many exits of each reason, their share, and the time
 * userspace spent handling them (from KVM_RUN's return to the next KVM_RUN). Counting is two
 * typed-array increments per exit; the table is built once, at the end.
 */
import { exitReasonName } from '@kvm/core';
import { holdAsDoubles } from '@kvm/x86emu';

/** Slot for runs a kick interrupted (KVM_RUN failing with EINTR, no exit_reason). */
export const STAT_KICK = 63;
const SLOTS = 64;

/** Plain-data snapshot (structured-cloneable, what `runGuest` returns). */
export interface ExitStatsSnapshot {
  /** One row per exit reason seen, most frequent first. */
  rows: { reason: string; count: number; userspaceNs: number }[];
  totalExits: number;
  /** Wall time inside KVM_RUN, ns. */
  guestNs: number;
  /** Wall time between runs (exit handling, injection, waiting excluded), ns. */
  userspaceNs: number;
  /** Time spent halted, waiting for an interrupt, ns. */
  haltedNs: number;
  /**
   * Timer deadlines the vCPU loop published to the main thread's timer service (each one an
   * atomic notify that wakes it): at most one a turn of the loop.
   */
  deadlines: number;
}

export class ExitStats {
  readonly counts = new Float64Array(SLOTS);
  readonly userspaceNs = new Float64Array(SLOTS);
  guestNs = 0;
  haltedNs = 0;
  deadlines = 0;

  constructor() {
    // Host nanoseconds (x86emu's double-fields.ts).
    holdAsDoubles(this, ['guestNs', 'haltedNs']);
  }

  count(reason: number, userspaceNs: number): void {
    // Reasons past the table share the slot below the kick slot.
    const slot = reason === STAT_KICK || reason < STAT_KICK - 1 ? reason : STAT_KICK - 1;
    this.counts[slot]++;
    this.userspaceNs[slot] += userspaceNs;
  }

  snapshot(): ExitStatsSnapshot {
    const rows: ExitStatsSnapshot['rows'] = [];
    let total = 0;
    let user = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (this.counts[i] === 0) continue;
      const reason = i === STAT_KICK ? 'KICK (EINTR)' : exitReasonName(i).replace(/^KVM_EXIT_/, '');
      rows.push({ reason, count: this.counts[i], userspaceNs: this.userspaceNs[i] });
      total += this.counts[i];
      user += this.userspaceNs[i];
    }
    rows.sort((a, b) => b.count - a.count);
    return {
      rows,
      totalExits: total,
      guestNs: this.guestNs,
      userspaceNs: user,
      haltedNs: this.haltedNs,
      deadlines: this.deadlines,
    };
  }
}

/** The table `-d exits` prints (and the no-argument demo). */
export function formatExitStats(s: ExitStatsSnapshot): string {
  const lines: string[] = [];
  const pad = (text: string, n: number) => text.padStart(n);
  lines.push(
    ` ${'Exit reason'.padEnd(18)}${pad('Count', 12)}${pad('%Total', 9)}${pad('Userspace ms', 15)}${pad('µs/exit', 10)}`,
  );
  for (const r of s.rows) {
    const share = s.totalExits ? ((100 * r.count) / s.totalExits).toFixed(1) : '0.0';
    lines.push(
      ` ${r.reason.padEnd(18)}${pad(String(r.count), 12)}${pad(share, 9)}${pad((r.userspaceNs / 1e6).toFixed(3), 15)}${pad((r.userspaceNs / 1e3 / r.count).toFixed(2), 10)}`,
    );
  }
  lines.push(
    ` ${'Total'.padEnd(18)}${pad(String(s.totalExits), 12)}${pad('100.0', 9)}${pad((s.userspaceNs / 1e6).toFixed(3), 15)}`,
  );
  lines.push(
    ` time in guest ${(s.guestNs / 1e6).toFixed(1)} ms, handling exits ${(s.userspaceNs / 1e6).toFixed(1)} ms, halted ${(s.haltedNs / 1e6).toFixed(1)} ms, timer deadlines published ${s.deadlines}`,
  );
  return lines.join('\n');
}

/**
 * The engine's own counters (`Vm.getStats()`: the software engine's exits by VMX/SVM reason,
 * shadow-MMU work, halt wake-ups…), as `-d exits` prints them under its table: one
 * ` engine <name> <value>` line per non-zero counter, by name, except `instructions` (printed
 * last, on its own line, where the Linux bench reads it). Empty for an engine with no counters.
 */
export function formatEngineStats(stats: Record<string, number>): string {
  return Object.keys(stats)
    .filter((name) => name !== 'instructions' && typeof stats[name] === 'number' && stats[name] !== 0)
    .sort()
    .map((name) => ` engine ${name} ${stats[name]}`)
    .join('\n');
}
