/**
 * Where the generic vCPU meets the in-kernel irqchip (KVM 2007's `irq.c` and the irqchip parts of
 * `kvm_main.c`/`x86.c`): the local APIC made with the vCPU when the VM has an irqchip
 * (`irqchip_in_kernel`), the interrupt source the run loop asks (`kvm_cpu_has_interrupt` /
 * `kvm_cpu_get_interrupt`: the 8259 through LINT0 in ExtINT mode first, then the APIC), the
 * APIC timer against the guest's TSC, HLT inside the kernel, INIT/SIPI, and the devices the kernel
 * serves itself: the xAPIC page, the I/O APIC window and the 8259 ports.
 */
import { Errno, KvmError } from '../../api/errors.js';
import { newArchSegment } from '../arch-ops.js';
import {
  kvmIcountAuto,
  kvmIcountInstructionsUntil,
  kvmIcountNsUntil,
  kvmIcountShift,
  kvmIcountSkipLimit,
} from '../icount.js';
import { kvmTscFollowsHost, kvmTscNsUntil, kvmTscSkipped, kvmTscSync } from '../tsc-clock.js';
import { kvmReadTsc, kvmWriteTsc } from '../tsc-counter.js';
import type { SoftVcpu } from '../vcpu.js';
import { KvmIrqchip } from './irqchip.js';
import { APIC, KVM_APIC_INIT, KVM_APIC_SIPI, KvmLapic, type LapicHost } from './lapic.js';
import { picOwnsPort } from './pic.js';
import { hostNowNs } from './pit.js';

const csScratch = newArchSegment();

/** The guest's TSC as the backend keeps it (`kvm_read_l1_tsc`); its instructions without one. */
export function guestTsc(vcpu: SoftVcpu): number {
  const tsc = kvmReadTsc(vcpu);
  return tsc < 0 ? vcpu.instructions : tsc;
}

/** The VM's irqchip, or null without KVM_CREATE_IRQCHIP. */
export function vmIrqchip(vcpu: SoftVcpu): KvmIrqchip | null {
  return (vcpu.vm.irqchip as KvmIrqchip | null) ?? null;
}

/** KVM_CREATE_IRQCHIP's state for a VM. */
export function kvmCreateIrqchip(): KvmIrqchip {
  return new KvmIrqchip();
}

/** `kvm_create_lapic`: a vCPU made in a VM with an irqchip gets its local APIC. */
export function kvmCreateLapic(vcpu: SoftVcpu): void {
  const chip = vmIrqchip(vcpu);
  if (chip === null) return;
  const host: LapicHost = {
    now: () => guestTsc(vcpu),
    deliver: (irq, src) => chip.deliver(irq, src),
    eoi: (vector, level) => chip.eoi(vector, level),
    nmi: () => {
      vcpu.nmiQueued = true;
    },
  };
  const apic = new KvmLapic(vcpu.vcpuId, host);
  vcpu.apic = apic;
  vcpu.apicBase = apic.apicBase;
  chip.addApic(apic);
}

/** `kvm_free_lapic` */
export function kvmFreeLapic(vcpu: SoftVcpu): void {
  const apic = vcpu.apic;
  if (apic === null) return;
  vmIrqchip(vcpu)?.removeApic(apic);
  vcpu.apic = null;
}

/** `kvm_cpu_has_extint`: the 8259's INTR, if this vCPU's APIC passes it. */
function hasExtint(vcpu: SoftVcpu, apic: KvmLapic): boolean {
  const chip = vmIrqchip(vcpu);
  return chip?.pic.output === true && apic.acceptPicIntr();
}

/** `kvm_cpu_has_interrupt` */
export function kvmCpuHasInterrupt(vcpu: SoftVcpu): boolean {
  const apic = vcpu.apic;
  if (apic === null) return false;
  return hasExtint(vcpu, apic) || apic.hasInterrupt() >= 0;
}

/** `kvm_cpu_get_interrupt`: the INTA cycle (the 8259's vector first); -1 when none. */
export function kvmCpuGetInterrupt(vcpu: SoftVcpu): number {
  const apic = vcpu.apic;
  if (apic === null) return -1;
  const chip = vmIrqchip(vcpu);
  if (chip !== null && hasExtint(vcpu, apic)) return chip.pic.readIrq();
  return apic.getInterrupt();
}

/**
 * The timers, before each entry: the in-kernel PIT against its clock (the host's, as its hrtimer,
 * or an icount VM's virtual one), then the APIC timer if the guest's TSC has reached its target
 * (`kvm_inject_apic_timer_irqs`).
 */
export function kvmApicTimerCheck(vcpu: SoftVcpu, hostNs = -1): void {
  const pit = vmIrqchip(vcpu)?.pit;
  // `hostNs`: the host clock the caller read just before (kvmTscSync), one clock read an entry.
  if (pit != null && pit.nextDeadline() >= 0) pit.check(hostNs >= 0 && pit.hostClock ? hostNs : pit.clock());
  const apic = vcpu.apic;
  if (apic === null || apic.nextTimerEvent() < 0) return;
  apic.checkTimer(guestTsc(vcpu));
}

/**
 * Instructions until the next timer expiry (Infinity when none is armed): bounds a guest entry so
 * that the timer fires at its instruction. The APIC timer counts the TSC; with icount the TSC is
 * the virtual clock in ns, which the PIT counts too, so its deadline bounds the entry as well, and
 * ticks become instructions at 2^shift ns each (-icount runs repeat exactly). On the host clock a
 * tick is a ns, at least one instruction's time, so the ticks bound the instructions.
 */
export function kvmApicTimerSlack(vcpu: SoftVcpu): number {
  const apic = vcpu.apic;
  const t = apic === null ? -1 : apic.nextTimerEvent();
  const tp = icountPitDeadlineTsc(vcpu);
  // No timer armed (the common case between exits): the TSC is not needed.
  if (t < 0 && tp < 0) return Number.POSITIVE_INFINITY;
  const now = guestTsc(vcpu);
  let slack = t < 0 ? Number.POSITIVE_INFINITY : Math.max(1, t - now);
  if (tp >= 0) slack = Math.min(slack, Math.max(1, tp - now));
  if (slack === Number.POSITIVE_INFINITY) return slack;
  // Whole instructions: the TSC read on the host clock has a fraction, and a fractional budget
  // reaching x86emu's `Cpu.run` deoptimized it at its entry ("lost precision"), each time sending
  // the run loop back to V8's interpreter until TurboFan compiled it again.
  if (kvmIcountShift(vcpu.vm) <= 0) return Math.max(1, Math.floor(slack));
  return kvmIcountInstructionsUntil(vcpu.vm, slack);
}

/** With icount, the in-kernel PIT's next expiry on the TSC (virtual ns, ceil); -1 otherwise or unarmed. */
function icountPitDeadlineTsc(vcpu: SoftVcpu): number {
  const d = kvmIcountShift(vcpu.vm) < 0 ? -1 : (vmIrqchip(vcpu)?.pit?.nextDeadline() ?? -1);
  return d < 0 ? -1 : Math.ceil(d);
}

/**
 * Host ns from `hostNs` (the host clock's reading) until the in-kernel PIT's next deadline when
 * the PIT runs on the host clock; +Infinity when it is unarmed, absent or on an icount clock.
 */
export function kvmPitNsUntil(vcpu: SoftVcpu, hostNs: number): number {
  const pit = vmIrqchip(vcpu)?.pit;
  if (pit == null || !pit.hostClock) return Number.POSITIVE_INFINITY;
  const d = pit.nextDeadline();
  return d < 0 ? Number.POSITIVE_INFINITY : Math.max(0, d - hostNs);
}

/**
 * The event injection step of `vcpu_enter_guest` with an in-kernel irqchip: when the guest can
 * take an interrupt, the highest pending one is injected; returns true if one is (still) pending
 * and the backend should ask for an interrupt window.
 */
export function kvmInjectPendingIrq(vcpu: SoftVcpu): boolean {
  if (!kvmCpuHasInterrupt(vcpu)) return false;
  if (vcpu.ops.interruptAllowed(vcpu)) {
    const vector = kvmCpuGetInterrupt(vcpu);
    if (vector >= 0) vcpu.ops.injectIrq(vcpu, vector);
    return kvmCpuHasInterrupt(vcpu);
  }
  return true;
}

/**
 * `update_cr8_intercept` (x86.c): the TPR and the priority class of the highest requested vector
 * (-1 if none) to the backend, which then lets CR8 writes run without exits until one could
 * unmask that vector.
 */
export function kvmUpdateCr8Intercept(vcpu: SoftVcpu): void {
  const apic = vcpu.apic;
  if (apic === null) return;
  const irr = apic.highestIrr();
  vcpu.ops.updateCr8Intercept?.(vcpu, (apic.reg(APIC.TASKPRI) >>> 4) & 15, irr < 0 ? -1 : irr >>> 4);
}

/** `kvm_vcpu_has_events`: what wakes a halted vCPU. */
function hasEvents(vcpu: SoftVcpu, apic: KvmLapic): boolean {
  if (vcpu.nmiQueued || apic.pendingEvents !== 0) return true;
  return vcpu.ops.interruptAllowed(vcpu) && kvmCpuHasInterrupt(vcpu);
}

/** HLT with an in-kernel irqchip (`kvm_emulate_halt` → KVM_MP_STATE_HALTED): stays in the kernel. */
export function kvmHaltInKernel(vcpu: SoftVcpu): boolean {
  const apic = vcpu.apic;
  if (apic === null) return false;
  apic.halted = true;
  return true;
}

/**
 * `kvm_vcpu_block` for the software engine, called before each entry: a halted vCPU wakes on an
 * event; with none but an armed APIC timer, the guest's clock skips ahead to its expiry (the time
 * a real halt would have waited). Returns false if the vCPU must stay halted with nothing to
 * wait for here: KVM_RUN then returns EINTR, as when a signal interrupts kvm_vcpu_block, after
 * waiting for that signal (a kick) if the irqchip's `haltBlocks` says so.
 */
export function kvmVcpuBlock(vcpu: SoftVcpu): boolean {
  const chip = vmIrqchip(vcpu);
  const flag = vcpu.kickFlag;
  for (;;) {
    if (kvmVcpuCheckBlock(vcpu)) return true;
    if (chip === null || !mayBlock(vcpu)) return false;
    // Sleeps until `kick` stores 1 and notifies (a kick already there returns at once), or until
    // the next timer: the in-kernel PIT's tick, or the APIC timer's expiry when the TSC follows
    // the host clock. A timer may wake the vCPU (then it runs on, as after an hrtimer wake-up in
    // kvm_vcpu_block). A kick is consumed here: it is what ends this KVM_RUN.
    // An icount PIT's deadline is virtual: the skip above handles it, nothing to wait for here.
    const pitDeadline = kvmIcountShift(vcpu.vm) >= 0 ? -1 : (chip.pit?.nextDeadline() ?? -1);
    let timeoutMs =
      pitDeadline < 0 ? Number.POSITIVE_INFINITY : Math.max(0, (pitDeadline - hostNowNs()) / 1e6);
    const t = vcpu.apic?.nextTimerEvent() ?? -1;
    if (t >= 0 && kvmTscFollowsHost(vcpu)) timeoutMs = Math.min(timeoutMs, kvmTscNsUntil(vcpu, t) / 1e6);
    // icount auto (sleep=on): the skip stopped at real time; wait for real time to reach the timer.
    const tv = kvmIcountAuto(vcpu.vm) ? nextVirtualTimer(vcpu) : -1;
    if (tv >= 0) timeoutMs = Math.min(timeoutMs, kvmIcountNsUntil(vcpu.vm, tv) / 1e6);
    if (Atomics.wait(flag, 0, 0, timeoutMs) !== 'timed-out') {
      Atomics.store(flag, 0, 0);
      vcpu.vm.count('halt_wakeups');
      return false;
    }
    kvmTscSync(vcpu);
    kvmApicTimerCheck(vcpu);
  }
}

/** May KVM_RUN sleep in a halt: `haltBlocks`, and a kick flag another thread can notify. */
function mayBlock(vcpu: SoftVcpu): boolean {
  return vmIrqchip(vcpu)?.haltBlocks === true && vcpu.kickFlag.buffer instanceof SharedArrayBuffer;
}

function kvmVcpuCheckBlock(vcpu: SoftVcpu): boolean {
  const apic = vcpu.apic;
  if (apic === null) return true;
  if (apic.uninitialized) {
    // KVM_MP_STATE_UNINITIALIZED (an AP never started): KVM_RUN waits for INIT/SIPI, takes them,
    // and returns EAGAIN so userspace sees the new state before the AP runs.
    if (apic.pendingEvents === 0) return false;
    // A SIPI without INIT is dropped (SDM Vol. 3 9.4.4.1); INIT moves the AP on.
    if (apic.pendingEvents & KVM_APIC_INIT) apic.uninitialized = false;
    else apic.pendingEvents = 0;
    kvmAcceptApicEvents(vcpu, apic);
    throw new KvmError('KVM_RUN', Errno.EAGAIN, 'the AP took INIT/SIPI');
  }
  kvmAcceptApicEvents(vcpu, apic);
  if (!apic.halted && !apic.waitForSipi) return true;
  if (hasEvents(vcpu, apic) && !apic.waitForSipi) {
    apic.halted = false;
    return true;
  }
  const t = nextVirtualTimer(vcpu);
  if (t < 0) return false;
  const now = guestTsc(vcpu);
  if (t > now) {
    // A TSC on the host clock with a vCPU allowed to sleep: kvmVcpuBlock waits the time out.
    // With several vCPUs on the host clock, one that skipped ahead would run its TSC and timers
    // past the others' (Linux's idle CPUs took every tick at once): it waits too, returning EINTR
    // so the VMM runs the others and sleeps when all are idle.
    if (kvmTscFollowsHost(vcpu) && (mayBlock(vcpu) || vcpu.vm.vcpus.size > 1)) return false;
    // icount auto skips no further than real time (QEMU's sleep=on), then waits like the above.
    const limit = kvmIcountSkipLimit(vcpu.vm, t);
    if (limit < t) {
      if (limit > now) kvmWriteTsc(vcpu, limit);
      return false;
    }
    kvmWriteTsc(vcpu, t);
    kvmTscSkipped(vcpu, t - now);
  }
  kvmApicTimerCheck(vcpu);
  if (hasEvents(vcpu, apic) && !apic.waitForSipi) {
    apic.halted = false;
    vcpu.vm.count('halt_timer_skips');
    return true;
  }
  return false;
}

/** The next timer on the TSC: the APIC timer's expiry or, with icount, the PIT's; -1 if none. */
function nextVirtualTimer(vcpu: SoftVcpu): number {
  let t = vcpu.apic?.nextTimerEvent() ?? -1;
  // With icount the PIT's expiry is a point on the TSC too: the halt skips to whichever is first.
  const tp = icountPitDeadlineTsc(vcpu);
  if (tp >= 0 && (t < 0 || tp < t)) t = tp;
  return t;
}

/**
 * `kvm_apic_accept_events` as KVM_GET_MP_STATE calls it: an AP still UNINITIALIZED leaves that
 * state on INIT (a SIPI alone is dropped, SDM Vol. 3 9.4.4.1), then INIT/SIPI are taken.
 */
export function kvmApicAcceptEvents(vcpu: SoftVcpu): void {
  const apic = vcpu.apic;
  if (apic === null || apic.pendingEvents === 0) return;
  if (apic.uninitialized) {
    if ((apic.pendingEvents & KVM_APIC_INIT) === 0) {
      apic.pendingEvents = 0;
      return;
    }
    apic.uninitialized = false;
  }
  kvmAcceptApicEvents(vcpu, apic);
}

/**
 * `kvm_apic_accept_events`: INIT puts the vCPU back in its reset state (an AP then waits for a
 * SIPI); a SIPI starts a waiting AP at vector × 0x1000 in real mode (SDM Vol. 3 9.4.4).
 */
function kvmAcceptApicEvents(vcpu: SoftVcpu, apic: KvmLapic): void {
  const ev = apic.pendingEvents;
  if (ev === 0) return;
  apic.pendingEvents = 0;
  const ops = vcpu.ops;
  if (ev & KVM_APIC_INIT) {
    // The reset acts on the loaded vCPU (VMX: the current VMCS), and reading another vCPU's state
    // since this one was loaded (an icount VM's clock is vCPU 0's TSC) may have loaded that one.
    ops.vcpuLoad(vcpu);
    ops.vcpuSetup(vcpu);
    vcpu.vm.mmuResetContext(vcpu);
    apic.halted = false;
    apic.waitForSipi = vcpu.vcpuId !== 0;
  }
  if (ev & KVM_APIC_SIPI && apic.waitForSipi) {
    const seg = csScratch;
    ops.getSegment(vcpu, 1, seg);
    seg.selector = apic.sipiVector << 8;
    seg.base = apic.sipiVector << 12;
    seg.baseHigh = 0;
    ops.setSegment(vcpu, 1, seg);
    ops.cacheRegs(vcpu);
    vcpu.rip = 0;
    vcpu.ripHigh = 0;
    ops.decacheRegs(vcpu);
    apic.waitForSipi = false;
  }
}

/**
 * MMIO the kernel serves (`vcpu_mmio_read/write` over KVM_MMIO_BUS): the xAPIC page of this
 * vCPU's APIC and the I/O APIC window. True when handled.
 */
export function kvmIrqchipMmio(vcpu: SoftVcpu, gpa: number, data: Uint8Array, write: boolean): boolean {
  const apic = vcpu.apic;
  if (apic === null) return false;
  if (apic.mmioInRange(gpa)) {
    if (write) apic.mmioWrite(gpa, data);
    else apic.mmioRead(gpa, data);
    return true;
  }
  const chip = vmIrqchip(vcpu);
  if (chip?.ioapic.inRange(gpa)) {
    if (write) chip.ioapic.mmioWrite(gpa, data);
    else chip.ioapic.mmioRead(gpa, data);
    return true;
  }
  return false;
}

/**
 * Port I/O the kernel serves (KVM_PIO_BUS: the 8259 pair and its ELCR, the PIT). For an IN, the value read;
 * for an OUT, 0; -1 when the port is not the kernel's.
 */
export function kvmIrqchipPio(
  vcpu: SoftVcpu,
  isIn: boolean,
  size: number,
  port: number,
  value: number,
): number {
  const chip = vmIrqchip(vcpu);
  if (chip === null) return -1;
  if (picOwnsPort(port)) {
    if (isIn) return chip.pic.read(port, size);
    chip.pic.write(port, size, value);
    return 0;
  }
  // The PIT at 0x40–0x43 (KVM_PIO_BUS, registered by KVM_CREATE_PIT2): byte registers.
  const pit = chip.pit;
  if (pit === null) return -1;
  // KVM_PIT_SPEAKER_DUMMY's `speaker_dev`: accesses at 0x61 itself (others are EOPNOTSUPP there).
  if (port === 0x61 && pit.speaker) {
    if (isIn) return size >= 4 ? pit.speakerRead() : pit.speakerRead() & (size === 2 ? 0xffff : 0xff);
    pit.speakerWrite(value);
    return 0;
  }
  if (port < 0x40 || port > 0x43) return -1;
  if (isIn) return pit.read(port);
  pit.write(port, value);
  return 0;
}

const MSR_IA32_APICBASE = 0x1b;
const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** CPUID.1:ECX: x2APIC (bit 21), TSC-deadline timer (bit 24). */
const CPUID_1_ECX_X2APIC = 1 << 21;
const CPUID_1_ECX_TSC_DEADLINE = 1 << 24;

function cpuid1Ecx(vcpu: SoftVcpu): number {
  const e = vcpu.cpuidEntries.find((x) => x.function === 1);
  return e === undefined ? 0 : e.ecx;
}

/** After KVM_SET_CPUID2 (`kvm_apic_set_version`, `timer_mode_mask`): TSC-deadline mode needs its bit. */
export function kvmLapicUpdateCpuid(vcpu: SoftVcpu): void {
  const apic = vcpu.apic;
  if (apic === null) return;
  apic.timerModeMask = cpuid1Ecx(vcpu) & CPUID_1_ECX_TSC_DEADLINE ? 3 << 17 : 1 << 17;
}

/**
 * The MSRs an in-kernel APIC owns: IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800–0x8ff. -1 not
 * an APIC MSR, 0 #GP, 1 read into `out`.
 */
export function kvmLapicGetMsr(vcpu: SoftVcpu, index: number, out: Uint32Array): number {
  const apic = vcpu.apic;
  if (apic === null) return -1;
  if (index === MSR_IA32_APICBASE) {
    out[0] = apic.apicBase;
    out[1] = 0;
    return 1;
  }
  if (index === MSR_IA32_TSC_DEADLINE) {
    const d = apic.getTscDeadline();
    out[0] = d >>> 0;
    out[1] = Math.floor(d / 0x100000000) >>> 0;
    return 1;
  }
  if (index >= 0x800 && index <= 0x8ff) return apic.x2apicMsrRead(index, out) ? 1 : 0;
  return -1;
}

/** WRMSR / KVM_SET_MSRS (`host`) of an APIC MSR: -1 not one, 0 #GP, 1 done. */
export function kvmLapicSetMsr(vcpu: SoftVcpu, index: number, lo: number, hi: number, host: boolean): number {
  const apic = vcpu.apic;
  if (apic === null) return -1;
  if (index === MSR_IA32_APICBASE) {
    if (!apic.setBase(lo, hi, host, (cpuid1Ecx(vcpu) & CPUID_1_ECX_X2APIC) !== 0)) return 0;
    vcpu.apicBase = apic.apicBase;
    return 1;
  }
  if (index === MSR_IA32_TSC_DEADLINE) {
    apic.setTscDeadline((lo >>> 0) + (hi >>> 0) * 0x100000000);
    return 1;
  }
  if (index >= 0x800 && index <= 0x8ff) return apic.x2apicMsrWrite(index, lo >>> 0, hi >>> 0) ? 1 : 0;
  return -1;
}
