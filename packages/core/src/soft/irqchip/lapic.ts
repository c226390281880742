/**
 * The in-kernel local APIC (KVM's `lapic.c`; SDM Vol. 3 ch. 11): the register page (xAPIC MMIO at
 * the APIC base, x2APIC MSRs 0x800–0x8ff), interrupt acceptance into IRR, delivery through ISR
 * and PPR, EOI (broadcast to the I/O APIC for level-triggered vectors), IPIs through the ICR, the
 * LVTs and the timer in one-shot, periodic and TSC-deadline modes.
 *
 * Registers live in `regs` exactly as KVM's register page does, so KVM_GET/SET_LAPIC are a copy
 * of its first KiB (plus TMCCT computed, as `kvm_apic_get_state`).
 *
 * Time: the timer counts the guest's TSC (`LapicHost.now`), one APIC bus cycle per TSC tick, and
 * the divide configuration divides that. Today the software engine's TSC counts retired
 * instructions, so "one bus cycle" is one instruction; KVM's bus runs at 1 GHz.
 */
import { APIC_DEST, APIC_DM, type LapicIrq, newLapicIrq } from './apic-irq.js';
import { APIC_LVT_TIMER_TSCDEADLINE, LapicTimer } from './lapic-timer.js';

/** Register offsets in the APIC page (SDM Vol. 3 Table 11-1). */
export const APIC = {
  ID: 0x20,
  LVR: 0x30,
  TASKPRI: 0x80,
  ARBPRI: 0x90,
  PROCPRI: 0xa0,
  EOI: 0xb0,
  RRR: 0xc0,
  LDR: 0xd0,
  DFR: 0xe0,
  SPIV: 0xf0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  LVTCMCI: 0x2f0,
  ICR: 0x300,
  ICR2: 0x310,
  LVTT: 0x320,
  LVTTHMR: 0x330,
  LVTPC: 0x340,
  LVT0: 0x350,
  LVT1: 0x360,
  LVTERR: 0x370,
  TMICT: 0x380,
  TMCCT: 0x390,
  TDCR: 0x3e0,
  SELF_IPI: 0x3f0,
} as const;

/** IA32_APIC_BASE bits (SDM Vol. 3 11.4.4). */
export const MSR_IA32_APICBASE_BSP = 1 << 8;
export const X2APIC_ENABLE = 1 << 10;
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;
export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;
/** The page the xAPIC decodes (`LAPIC_MMIO_LENGTH`). */
export const LAPIC_MMIO_LENGTH = 0x1000;
/** First x2APIC MSR (`APIC_BASE_MSR`): MSR = 0x800 + (offset >> 4). */
export const APIC_BASE_MSR = 0x800;

/** Version 0x14 (integrated APIC), 6 LVT entries: max LVT index 5 in bits 23:16 (`kvm_apic_set_version`). */
const APIC_VERSION = 0x14 | ((6 - 1) << 16);
const APIC_SPIV_APIC_ENABLED = 1 << 8;
const APIC_LVT_MASKED = 1 << 16;
const APIC_VECTOR_MASK = 0xff;
const APIC_MODE_MASK = 0x700;
const APIC_ICR_BUSY = 1 << 12;
/** `LVT_MASK`: vector, delivery status, mask. */
const LVT_MASK = APIC_LVT_MASKED | APIC_ICR_BUSY | APIC_VECTOR_MASK;
/** `LINT_MASK`: + delivery mode, polarity, remote IRR, trigger mode. */
const LINT_MASK = LVT_MASK | APIC_MODE_MASK | 0x2000 | 0x4000 | 0x8000;
/** Bits an x2APIC ICR write may not set (KVM's X2APIC_ICR_RESERVED_BITS). */
const X2APIC_ICR_RESERVED_LO = 0xfff00000 | (3 << 16) | (1 << 13);

/** `apic_lvt_mask[]` by LVT index (timer, thermal, PMC, LINT0, LINT1, error). */
const LVT_WRITE_MASK = [
  LVT_MASK,
  LVT_MASK | APIC_MODE_MASK,
  LVT_MASK | APIC_MODE_MASK,
  LINT_MASK,
  LINT_MASK,
  LVT_MASK,
];

/** Pending INIT / SIPI (`apic->pending_events`). */
export const KVM_APIC_INIT = 1;
export const KVM_APIC_SIPI = 2;

/** What a local APIC asks of the machine around it. */
export interface LapicHost {
  /** The guest's TSC now (the timer's clock). */
  now(): number;
  /** `kvm_irq_delivery_to_apic` for an IPI sent by `src`: -1 no destination, else how many took it. */
  deliver(irq: LapicIrq, src: KvmLapic): number;
  /** `kvm_ioapic_send_eoi`: the I/O APIC hears of an EOI of `vector` (level: its TMR bit was set). */
  eoi(vector: number, level: boolean): void;
  /** `kvm_inject_nmi` on this APIC's vCPU. */
  nmi(): void;
}

export class KvmLapic {
  /** The first KiB of the register page (`kvm_lapic_state.regs`). */
  readonly bytes = new Uint8Array(1024);
  private readonly regs = new Uint32Array(this.bytes.buffer);
  /** IA32_APIC_BASE, low half (the high half is always 0 here: 32-bit physical addresses). */
  apicBase: number;
  /** INIT / SIPI waiting for the vCPU (`pending_events`), and the SIPI's vector. */
  pendingEvents = 0;
  sipiVector = 0;
  /** The vCPU executed HLT and waits for an event (KVM_MP_STATE_HALTED). */
  halted = false;
  /** An AP after INIT, waiting for its SIPI (KVM_MP_STATE_INIT_RECEIVED). */
  waitForSipi = false;
  /** An AP that has not been started yet (KVM_MP_STATE_UNINITIALIZED): only vCPU 0 runs at once. */
  uninitialized: boolean;
  private readonly timer: LapicTimer;
  private readonly ipi = newLapicIrq();

  constructor(
    readonly vcpuId: number,
    private readonly host: LapicHost,
  ) {
    this.timer = new LapicTimer(host);
    this.uninitialized = vcpuId !== 0;
    this.apicBase =
      APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE | (vcpuId === 0 ? MSR_IA32_APICBASE_BSP : 0);
    this.reset();
  }

  reg(off: number): number {
    return this.regs[off >> 2];
  }

  private set(off: number, v: number): void {
    this.regs[off >> 2] = v;
  }

  /** `kvm_lapic_reset`: the power-on register values (SDM Vol. 3 11.4.7.1). */
  reset(): void {
    this.regs.fill(0);
    this.timer.reset();
    this.set(APIC.ID, (this.vcpuId << 24) >>> 0);
    this.set(APIC.LVR, APIC_VERSION);
    for (let i = 0; i < 6; i++) this.set(APIC.LVTT + 16 * i, APIC_LVT_MASKED);
    // The BSP's LINT0 is wired to the 8259's INTR in ExtINT mode, as a BIOS leaves it (KVM does
    // this so a guest that never touches its APIC still gets PIC interrupts).
    if (this.apicBase & MSR_IA32_APICBASE_BSP) this.set(APIC.LVT0, APIC_DM.EXTINT << 8);
    this.set(APIC.DFR, 0xffffffff);
    this.set(APIC.SPIV, 0xff);
    this.pendingEvents = 0;
    if (this.x2apicMode) this.setX2apicId();
  }

  get hwEnabled(): boolean {
    return (this.apicBase & MSR_IA32_APICBASE_ENABLE) !== 0;
  }

  get swEnabled(): boolean {
    return (this.reg(APIC.SPIV) & APIC_SPIV_APIC_ENABLED) !== 0;
  }

  /** `apic_enabled`: both enables on; only then are fixed interrupts accepted. */
  get enabled(): boolean {
    return this.hwEnabled && this.swEnabled;
  }

  get x2apicMode(): boolean {
    return (
      (this.apicBase & (X2APIC_ENABLE | MSR_IA32_APICBASE_ENABLE)) ===
      (X2APIC_ENABLE | MSR_IA32_APICBASE_ENABLE)
    );
  }

  /** The xAPIC MMIO page's base address. */
  get baseAddress(): number {
    return (this.apicBase & 0xfffff000) >>> 0;
  }

  /** The APIC ID as destinations match it: 8 bits in xAPIC mode, the whole register in x2APIC. */
  get apicId(): number {
    return this.x2apicMode ? this.reg(APIC.ID) : this.reg(APIC.ID) >>> 24;
  }

  private setX2apicId(): void {
    const id = this.vcpuId;
    this.set(APIC.ID, id);
    // In x2APIC mode the LDR is derived from the ID: cluster in 31:16, one bit of 16 in 15:0.
    this.set(APIC.LDR, (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0);
  }

  /**
   * `kvm_apic_set_base` for a guest WRMSR (`host` false) or userspace (`host` true). False when
   * refused (#GP): reserved bits (7:0, 9, x2APIC without the CPUID bit), x2APIC without enable,
   * and for the guest x2APIC → xAPIC or disabled → x2APIC (SDM Vol. 3 Figure 11-27).
   */
  setBase(lo: number, hi: number, host: boolean, x2apicAllowed: boolean): boolean {
    lo >>>= 0;
    const reserved = 0x2ff | (x2apicAllowed ? 0 : X2APIC_ENABLE);
    if (hi !== 0 || lo & reserved) return false;
    if ((lo & (X2APIC_ENABLE | MSR_IA32_APICBASE_ENABLE)) === X2APIC_ENABLE) return false;
    const old = this.apicBase;
    if (old === lo) return true;
    const oldX2 = this.x2apicMode;
    const oldOn = this.hwEnabled;
    if (!host) {
      const newX2 = (lo & X2APIC_ENABLE) !== 0;
      const newOn = (lo & MSR_IA32_APICBASE_ENABLE) !== 0;
      if (oldX2 && newOn && !newX2) return false;
      if (!oldOn && newX2) return false;
    }
    this.apicBase = lo;
    if ((old ^ lo) & MSR_IA32_APICBASE_ENABLE && lo & MSR_IA32_APICBASE_ENABLE) {
      this.set(APIC.ID, (this.vcpuId << 24) >>> 0);
    }
    if ((old ^ lo) & X2APIC_ENABLE) {
      if (lo & X2APIC_ENABLE) this.setX2apicId();
      else if (lo & MSR_IA32_APICBASE_ENABLE) this.set(APIC.ID, (this.vcpuId << 24) >>> 0);
    }
    return true;
  }

  // ---- IRR / ISR / PPR ---------------------------------------------------------------------

  private testVector(base: number, v: number): boolean {
    return (this.regs[(base >> 2) + ((v >>> 5) << 2)] & (1 << (v & 31))) !== 0;
  }

  private setVector(base: number, v: number): void {
    this.regs[(base >> 2) + ((v >>> 5) << 2)] |= 1 << (v & 31);
  }

  private clearVector(base: number, v: number): void {
    this.regs[(base >> 2) + ((v >>> 5) << 2)] &= ~(1 << (v & 31));
  }

  /** The highest vector set in the 256-bit register at `base`, or -1. */
  private findHighest(base: number): number {
    for (let w = 7; w >= 0; w--) {
      const x = this.regs[(base >> 2) + (w << 2)];
      if (x !== 0) return w * 32 + 31 - Math.clz32(x);
    }
    return -1;
  }

  /** `kvm_lapic_find_highest_irr`: the highest requested vector, or -1. */
  highestIrr(): number {
    return this.findHighest(APIC.IRR);
  }

  /** `apic_update_ppr` (SDM Vol. 3 11.8.3.1): PPR = TPR if TPR[7:4] ≥ ISRV[7:4], else ISRV[7:4]:0. */
  updatePpr(): number {
    const tpr = this.reg(APIC.TASKPRI);
    const isr = this.findHighest(APIC.ISR);
    const isrv = Math.max(isr, 0);
    const ppr = (tpr & 0xf0) >= (isrv & 0xf0) ? tpr & 0xff : isrv & 0xf0;
    this.set(APIC.PROCPRI, ppr);
    return ppr;
  }

  /** `kvm_apic_has_interrupt`: the vector the APIC would present now, or -1. */
  hasInterrupt(): number {
    if (!this.hwEnabled) return -1;
    const ppr = this.updatePpr();
    const irr = this.findHighest(APIC.IRR);
    if (irr < 0 || (irr & 0xf0) <= ppr) return -1;
    return irr;
  }

  /** `kvm_get_apic_interrupt`: the INTA cycle: IRR → ISR, PPR raised. -1 when none. */
  getInterrupt(): number {
    const v = this.hasInterrupt();
    if (v < 0) return -1;
    this.clearVector(APIC.IRR, v);
    this.setVector(APIC.ISR, v);
    this.updatePpr();
    return v;
  }

  /** `kvm_apic_accept_pic_intr`: does this APIC pass the 8259's INTR (LINT0 ExtINT, or APIC off)? */
  acceptPicIntr(): boolean {
    if (!this.hwEnabled) return true;
    const lvt0 = this.reg(APIC.LVT0);
    return (lvt0 & APIC_LVT_MASKED) === 0 && ((lvt0 >>> 8) & 7) === APIC_DM.EXTINT;
  }

  /** `apic_set_eoi`: retire the highest in-service vector; level-triggered ones reach the I/O APIC. */
  private setEoi(): void {
    const v = this.findHighest(APIC.ISR);
    // An EOI with nothing in service is harmless (Linux's timer check does it).
    if (v < 0) return;
    this.clearVector(APIC.ISR, v);
    this.updatePpr();
    this.host.eoi(v, this.testVector(APIC.TMR, v));
  }

  /**
   * `__apic_accept_irq`: one message arriving at this APIC. Returns 1 if accepted, 0 if not
   * (APIC software-disabled for a fixed interrupt, SMI, ExtINT, a level de-assert).
   */
  acceptIrq(deliveryMode: number, vector: number, level: number, trigMode: number): number {
    switch (deliveryMode) {
      case APIC_DM.LOWEST:
      case APIC_DM.FIXED:
        if (trigMode && !level) return 0;
        if (!this.enabled) return 0;
        if (trigMode) this.setVector(APIC.TMR, vector);
        else this.clearVector(APIC.TMR, vector);
        this.setVector(APIC.IRR, vector);
        return 1;
      case APIC_DM.NMI:
        this.host.nmi();
        return 1;
      case APIC_DM.INIT:
        if (!trigMode || level) {
          this.pendingEvents = KVM_APIC_INIT;
          return 1;
        }
        return 0;
      case APIC_DM.STARTUP:
        this.sipiVector = vector;
        this.pendingEvents |= KVM_APIC_SIPI;
        return 1;
      case APIC_DM.REMRD:
        return 1;
      default:
        // SMI (no SMM here) and ExtINT (taken through acceptPicIntr) are not accepted.
        return 0;
    }
  }

  /** `kvm_apic_match_dest`: is this APIC a destination of a message from `src`? */
  matchDest(src: KvmLapic | null, shorthand: number, dest: number, destMode: number): boolean {
    switch (shorthand) {
      case APIC_DEST.NOSHORT:
        return destMode === 0 ? this.matchPhysical(dest) : this.matchLogical(dest);
      case APIC_DEST.SELF:
        return src === this;
      case APIC_DEST.ALLINC:
        return true;
      default:
        return src !== this;
    }
  }

  private matchPhysical(dest: number): boolean {
    if (this.x2apicMode) return dest === 0xffffffff || dest >>> 0 === this.reg(APIC.ID);
    return dest === 0xff || dest === this.reg(APIC.ID) >>> 24;
  }

  /** Logical destination (SDM Vol. 3 11.6.2.2): flat model ANDs 8 bits, cluster model 4+4. */
  private matchLogical(dest: number): boolean {
    const ldr = this.reg(APIC.LDR);
    if (this.x2apicMode) return ldr >>> 16 === dest >>> 16 && (ldr & dest & 0xffff) !== 0;
    const id = ldr >>> 24;
    if (dest === 0xff) return true;
    const dfr = this.reg(APIC.DFR);
    if (dfr === 0xffffffff) return (id & dest) !== 0;
    if (dfr === 0x0fffffff) return id >>> 4 === dest >>> 4 && (id & dest & 0xf) !== 0;
    return false;
  }

  // ---- LVTs and the timer -------------------------------------------------------------------

  /** `kvm_apic_local_deliver`: raise the interrupt an LVT entry describes, unless masked. */
  private localDeliver(off: number): void {
    const r = this.reg(off);
    if (!this.hwEnabled || r & APIC_LVT_MASKED) return;
    this.acceptIrq((r >>> 8) & 7, r & APIC_VECTOR_MASK, 1, (r >>> 15) & 1);
  }

  /** LVTT timer mode bits the guest may set: TSC-deadline only with CPUID.1:ECX[24]. */
  get timerModeMask(): number {
    return this.timer.modeMask;
  }

  set timerModeMask(mask: number) {
    this.timer.modeMask = mask;
  }

  private get lvttMode(): number {
    return this.timer.modeOf(this.reg(APIC.LVTT));
  }

  /** `apic_update_lvtt` */
  private updateLvtt(): void {
    if (this.timer.updateMode(this.reg(APIC.LVTT))) this.set(APIC.TMICT, 0);
  }

  /** The TSC at which the timer next fires, or -1 (the run loop bounds guest entries by it). */
  nextTimerEvent(): number {
    return this.timer.target;
  }

  /** The clock reached `now`: on expiry the LVTT interrupt, unless masked. */
  checkTimer(now: number): void {
    if (this.timer.expire(now, this.reg(APIC.LVTT))) this.localDeliver(APIC.LVTT);
  }

  /** IA32_TSC_DEADLINE (MSR 0x6e0) read: the armed deadline, 0 outside TSC-deadline mode. */
  getTscDeadline(): number {
    return this.hwEnabled && this.lvttMode === APIC_LVT_TIMER_TSCDEADLINE ? this.timer.tscDeadline : 0;
  }

  /** IA32_TSC_DEADLINE write: arms (non-zero) or disarms the timer; ignored outside that mode. */
  setTscDeadline(value: number): void {
    if (!this.hwEnabled || this.lvttMode !== APIC_LVT_TIMER_TSCDEADLINE) return;
    this.timer.setDeadline(value);
  }

  // ---- register access -----------------------------------------------------------------------

  /** Is `off` readable (`kvm_lapic_readable_reg_mask`)? ARBPRI, DFR and ICR2 only in xAPIC mode. */
  private readable(off: number): boolean {
    switch (off) {
      case APIC.ID:
      case APIC.LVR:
      case APIC.TASKPRI:
      case APIC.PROCPRI:
      case APIC.LDR:
      case APIC.SPIV:
      case APIC.ESR:
      case APIC.ICR:
      case APIC.LVTT:
      case APIC.LVTTHMR:
      case APIC.LVTPC:
      case APIC.LVT0:
      case APIC.LVT1:
      case APIC.LVTERR:
      case APIC.TMICT:
      case APIC.TMCCT:
      case APIC.TDCR:
        return true;
      case APIC.ARBPRI:
      case APIC.DFR:
      case APIC.ICR2:
        return !this.x2apicMode;
      default:
        return off >= APIC.ISR && off < APIC.ESR;
    }
  }

  /** `kvm_lapic_reg_read` of an aligned register; null if it is not readable. */
  readReg(off: number): number | null {
    if (off > 0x3f0 || (off & 0xf) !== 0 || !this.readable(off)) return null;
    switch (off) {
      case APIC.ARBPRI:
        return 0;
      case APIC.TMCCT:
        return this.timer.currentCount(this.reg(APIC.LVTT), this.reg(APIC.TMICT));
      case APIC.PROCPRI:
        return this.updatePpr();
      default:
        return this.reg(off);
    }
  }

  /** `kvm_lapic_reg_write`: false when the write is refused (an x2APIC WRMSR then #GPs). */
  writeReg(off: number, val: number): boolean {
    val >>>= 0;
    const x2 = this.x2apicMode;
    switch (off) {
      case APIC.ID:
        if (x2) return false;
        this.set(APIC.ID, val & 0xff000000);
        return true;
      case APIC.TASKPRI:
        this.set(APIC.TASKPRI, val & 0xff);
        this.updatePpr();
        return true;
      case APIC.EOI:
        this.setEoi();
        return true;
      case APIC.LDR:
        if (x2) return false;
        this.set(APIC.LDR, val & 0xff000000);
        return true;
      case APIC.DFR:
        if (x2) return false;
        this.set(APIC.DFR, (val | 0x0fffffff) >>> 0);
        return true;
      case APIC.SPIV:
        this.set(APIC.SPIV, val & 0x3ff);
        if (!(val & APIC_SPIV_APIC_ENABLED)) {
          // Software disable masks every LVT (SDM Vol. 3 11.4.7.2).
          for (let i = 0; i < 6; i++)
            this.set(APIC.LVTT + 16 * i, (this.reg(APIC.LVTT + 16 * i) | APIC_LVT_MASKED) >>> 0);
          this.updateLvtt();
        }
        return true;
      case APIC.ICR:
        if (x2) return false;
        val &= ~APIC_ICR_BUSY;
        this.set(APIC.ICR, val >>> 0);
        this.sendIpi(val >>> 0, this.reg(APIC.ICR2));
        return true;
      case APIC.ICR2:
        if (x2) return false;
        this.set(APIC.ICR2, val & 0xff000000);
        return true;
      case APIC.LVTT:
        if (!this.swEnabled) val |= APIC_LVT_MASKED;
        this.set(APIC.LVTT, (val & (LVT_MASK | this.timerModeMask)) >>> 0);
        this.updateLvtt();
        return true;
      case APIC.LVTTHMR:
      case APIC.LVTPC:
      case APIC.LVT0:
      case APIC.LVT1:
      case APIC.LVTERR: {
        if (!this.swEnabled) val |= APIC_LVT_MASKED;
        this.set(off, (val & LVT_WRITE_MASK[(off - APIC.LVTT) >> 4]) >>> 0);
        return true;
      }
      case APIC.TMICT:
        if (this.lvttMode === APIC_LVT_TIMER_TSCDEADLINE) return true;
        this.set(APIC.TMICT, val);
        this.timer.start(val);
        return true;
      case APIC.TDCR:
        this.set(APIC.TDCR, val & 0xb);
        this.timer.setDivide(val & 0xb, this.reg(APIC.TMICT));
        return true;
      case APIC.ESR:
        return !(x2 && val !== 0);
      case APIC.SELF_IPI:
        if (!x2) return false;
        this.sendIpi((APIC_DEST.SELF << 18) | (val & APIC_VECTOR_MASK), 0);
        return true;
      default:
        return false;
    }
  }

  /** `kvm_apic_send_ipi`: ICR low and high halves → a message on the bus. */
  private sendIpi(icrLow: number, icrHigh: number): void {
    const irq = this.ipi;
    irq.vector = icrLow & APIC_VECTOR_MASK;
    irq.deliveryMode = (icrLow >>> 8) & 7;
    irq.destMode = (icrLow >>> 11) & 1;
    irq.level = (icrLow >>> 14) & 1;
    irq.trigMode = (icrLow >>> 15) & 1;
    irq.shorthand = (icrLow >>> 18) & 3;
    irq.destId = this.x2apicMode ? icrHigh >>> 0 : icrHigh >>> 24;
    this.host.deliver(irq, this);
  }

  /** x2APIC WRMSR 0x800–0x8ff (`kvm_x2apic_msr_write`); false → #GP. */
  x2apicMsrWrite(msr: number, lo: number, hi: number): boolean {
    if (!this.x2apicMode) return false;
    const off = (msr - APIC_BASE_MSR) << 4;
    if (off === APIC.ICR) {
      // ICR is one 64-bit register in x2APIC mode; the destination is the high half.
      if (lo & X2APIC_ICR_RESERVED_LO) return false;
      lo = (lo & ~APIC_ICR_BUSY) >>> 0;
      this.set(APIC.ICR, lo);
      this.set(APIC.ICR2, hi >>> 0);
      this.sendIpi(lo, hi >>> 0);
      return true;
    }
    if (hi !== 0) return false;
    return this.writeReg(off, lo);
  }

  /** x2APIC RDMSR (`kvm_x2apic_msr_read`) into `out`; false → #GP. */
  x2apicMsrRead(msr: number, out: Uint32Array): boolean {
    if (!this.x2apicMode) return false;
    const off = (msr - APIC_BASE_MSR) << 4;
    if (off === APIC.ICR) {
      out[0] = this.reg(APIC.ICR);
      out[1] = this.reg(APIC.ICR2);
      return true;
    }
    const v = this.readReg(off);
    if (v === null) return false;
    out[0] = v;
    out[1] = 0;
    return true;
  }

  /** Does the xAPIC page decode `gpa` (`apic_mmio_in_range`)? */
  mmioInRange(gpa: number): boolean {
    const base = this.baseAddress;
    return gpa >= base && gpa < base + LAPIC_MMIO_LENGTH;
  }

  /**
   * `apic_mmio_read`: `data.length` bytes at `gpa`. With the APIC disabled or in x2APIC mode the
   * page reads all ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE, on by default); an access that is not
   * within one register, or of a register that is not readable, reads 0.
   */
  mmioRead(gpa: number, data: Uint8Array): void {
    if (!this.hwEnabled || this.x2apicMode) {
      data.fill(0xff);
      return;
    }
    data.fill(0);
    const off = gpa - this.baseAddress;
    const align = off & 0xf;
    if (align + data.length > 4) return;
    const v = this.readReg(off - align);
    if (v === null) return;
    for (let i = 0; i < data.length; i++) data[i] = (v >>> (8 * (align + i))) & 0xff;
  }

  /** `apic_mmio_write`: only aligned 4-byte writes reach a register; others are dropped. */
  mmioWrite(gpa: number, data: Uint8Array): void {
    if (!this.hwEnabled || this.x2apicMode) return;
    const off = gpa - this.baseAddress;
    if (data.length !== 4 || off & 0xf) return;
    const val = (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>> 0;
    this.writeReg(off, val);
  }

  // ---- KVM_GET/SET_LAPIC -------------------------------------------------------------------

  /** `kvm_apic_get_state`: the register page with TMCCT computed now (x2APIC ID shifted as KVM does). */
  getState(out: Uint8Array): void {
    out.set(this.bytes);
    const dv = new DataView(out.buffer, out.byteOffset, 1024);
    dv.setUint32(APIC.TMCCT, this.timer.currentCount(this.reg(APIC.LVTT), this.reg(APIC.TMICT)), true);
    if (this.x2apicMode) dv.setUint32(APIC.ID, (this.reg(APIC.ID) << 24) >>> 0, true);
  }

  /**
   * `kvm_apic_set_state`: the register page from userspace, then what KVM recomputes: the
   * version, PPR, the timer mode, and a timer restarted from the TMCCT given (TMCCT itself is
   * stored as 0).
   */
  setState(b: Uint8Array): void {
    this.bytes.set(b.subarray(0, 1024));
    if (this.x2apicMode) {
      const id = this.reg(APIC.ID) >>> 24;
      this.set(APIC.ID, id);
      this.set(APIC.LDR, (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0);
    }
    this.set(APIC.LVR, APIC_VERSION);
    this.updatePpr();
    this.timer.restore(this.reg(APIC.LVTT), this.reg(APIC.TDCR), this.reg(APIC.TMICT), this.reg(APIC.TMCCT));
    this.set(APIC.TMCCT, 0);
  }
}
