/**
 * The local APIC timer (SDM Vol. 3 11.5.4; KVM's `lapic.c` timer part): one-shot and periodic
 * counts of TMICT bus cycles divided per TDCR, and TSC-deadline mode armed by IA32_TSC_DEADLINE.
 * It keeps only the time state; the registers (LVTT, TMICT, TDCR) stay in the APIC's page and are
 * passed in. Time is the guest's TSC (`clock.now()`), one bus cycle per tick.
 */
import { holdAsDoubles } from '@kvm/x86emu';

/** LVTT timer mode (bits 18:17): 00 one-shot, 01 periodic, 10 TSC-deadline. */
export const APIC_LVT_TIMER_PERIODIC = 1 << 17;
export const APIC_LVT_TIMER_TSCDEADLINE = 2 << 17;

export class LapicTimer {
  /** The TSC of the next expiry, -1 when not armed. */
  target = -1;
  /** The reload in TSC ticks (also the one-shot count, for TMCCT); 0 when not counting. */
  period = 0;
  /** IA32_TSC_DEADLINE as armed (0: disarmed, or fired). */
  tscDeadline = 0;
  divideCount = 2;
  /** The mode bits the timer runs in (`lapic_timer.timer_mode`). */
  mode = 0;
  /** LVTT mode bits the guest may set: TSC-deadline only with CPUID.1:ECX[24] (`timer_mode_mask`). */
  modeMask = APIC_LVT_TIMER_PERIODIC;

  constructor(private readonly clock: { now(): number }) {
    // TSC values and host-clock deadlines (x86emu's double-fields.ts).
    holdAsDoubles(this, ['target', 'tscDeadline']);
  }

  reset(): void {
    this.cancel();
    this.tscDeadline = 0;
    this.divideCount = 2;
    this.mode = 0;
  }

  modeOf(lvtt: number): number {
    return lvtt & this.modeMask;
  }

  cancel(): void {
    this.target = -1;
    this.period = 0;
  }

  /** `update_divide_count` (SDM Vol. 3 Figure 11-10): TDCR bits 3,1:0 → 2,4,8,16,32,64,128,1. */
  updateDivideCount(tdcr: number): void {
    const t = tdcr & 0xf;
    const t2 = ((t & 3) | ((t & 8) >> 1)) + 1;
    this.divideCount = 1 << (t2 & 7);
  }

  /** A TDCR write: what is left of a running count keeps its bus cycles at the new rate (`update_target_expiration`). */
  setDivide(tdcr: number, tmict: number): void {
    const old = this.divideCount;
    this.updateDivideCount(tdcr);
    if (this.divideCount === old || this.target < 0 || this.period === 0) return;
    const now = this.clock.now();
    const left = Math.max(0, this.target - now);
    this.period = tmict * this.divideCount;
    this.target = now + Math.floor((left * this.divideCount) / old);
  }

  /**
   * `apic_update_lvtt`: a change to or from TSC-deadline mode stops the timer; returns true when
   * the caller must then clear TMICT.
   */
  updateMode(lvtt: number): boolean {
    const mode = this.modeOf(lvtt);
    if (mode === this.mode) return false;
    const stop = (this.mode === APIC_LVT_TIMER_TSCDEADLINE) !== (mode === APIC_LVT_TIMER_TSCDEADLINE);
    if (stop) {
      this.cancel();
      this.tscDeadline = 0;
    }
    this.mode = mode;
    return stop;
  }

  /** `start_apic_timer` for one-shot and periodic: `count` bus cycles from now. */
  start(count: number): void {
    this.cancel();
    const ticks = count * this.divideCount;
    if (ticks === 0) return;
    this.period = ticks;
    this.target = this.clock.now() + ticks;
  }

  /** TMCCT: what is left of the count; 0 once a one-shot count ran out, and in TSC-deadline mode. */
  currentCount(lvtt: number, tmict: number): number {
    const mode = this.modeOf(lvtt);
    if (mode === APIC_LVT_TIMER_TSCDEADLINE || tmict === 0 || this.period === 0 || this.target < 0) return 0;
    let remaining = Math.max(0, this.target - this.clock.now());
    if (mode === APIC_LVT_TIMER_PERIODIC) remaining %= this.period;
    return Math.floor(remaining / this.divideCount) >>> 0;
  }

  /**
   * `apic_timer_expired`: true when the clock has reached the target (the caller raises LVTT);
   * then re-arm (periodic; missed periods coalesce, as one IRR bit would) or stop (one-shot,
   * TSC-deadline: the MSR reads 0 again).
   */
  expire(now: number, lvtt: number): boolean {
    if (this.target < 0 || now < this.target) return false;
    const mode = this.modeOf(lvtt);
    if (mode === APIC_LVT_TIMER_PERIODIC && this.period > 0) {
      this.target += (Math.floor((now - this.target) / this.period) + 1) * this.period;
    } else {
      if (mode === APIC_LVT_TIMER_TSCDEADLINE) this.tscDeadline = 0;
      this.target = -1;
    }
    return true;
  }

  /** IA32_TSC_DEADLINE write in TSC-deadline mode: arms (non-zero) or disarms. */
  setDeadline(value: number): void {
    this.cancel();
    this.tscDeadline = value;
    if (value !== 0) this.target = value;
  }

  /**
   * After KVM_SET_LAPIC (`kvm_apic_set_state`): mode and divide from the registers, and a count
   * restarted from the TMCCT userspace gave, its period still the whole TMICT.
   */
  restore(lvtt: number, tdcr: number, tmict: number, tmcct: number): void {
    this.cancel();
    this.tscDeadline = 0;
    this.mode = this.modeOf(lvtt);
    this.updateDivideCount(tdcr);
    if (this.mode === APIC_LVT_TIMER_TSCDEADLINE || tmict === 0 || tmcct === 0) return;
    this.start(tmcct);
    this.period = tmict * this.divideCount;
  }
}
