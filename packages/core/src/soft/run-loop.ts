/**
 * KVM_RUN for the software engine (`kvm_vcpu_ioctl_run` → `vcpu_run` → `vcpu_enter_guest`):
 *
 *   1. `immediate_exit` or a pending kick: EINTR at once (KVM_EXIT_INTR), as a signal would.
 *   2. Complete what userspace finished (the data of an IN), skip the I/O instruction.
 *   3. Loop: serve requests (TLB flush, MMU reload), inject the queued interrupt, ask for an
 *      interrupt window if userspace wants one, enter the guest, handle the exit in the kernel
 *      where KVM does; return to userspace when a handler filled kvm_run.
 *   4. Between exits: the interrupt window userspace asked for is open → KVM_EXIT_IRQ_WINDOW_OPEN;
 *      a kick or the instruction budget used up → EINTR with KVM_EXIT_INTR (the budget is this
 *      engine's stand-in for a signal, so a VMM loop never waits long for KVM_RUN).
 *
 * On every return kvm_run's if_flag, cr8, apic_base and ready_for_interrupt_injection are
 * refreshed (`post_kvm_run_save`).
 */
import { KVM_EXIT } from '../abi/exit-reasons.js';
import { KVM_RUN_SOFT_NO_USER_WRITES } from '../abi/run.js';
import { Errno, KvmError } from '../api/errors.js';
import { EntryResult, ExitResult } from './arch-ops.js';
import type { VcpuEmulator } from './emulate.js';
import { DR6_ACTIVE_LOW, DR6_BS, kvmSingleStepping } from './guest-debug.js';
import {
  kvmApicTimerCheck,
  kvmApicTimerSlack,
  kvmInjectPendingIrq,
  kvmPitNsUntil,
  kvmUpdateCr8Intercept,
  kvmVcpuBlock,
} from './irqchip/vcpu-irq.js';
import { kvmEntryNeedsLongMode } from './long-mode.js';
import { kvmTscSync } from './tsc-clock.js';
import { KvmRequest, type SoftVcpu } from './vcpu.js';
import { completeStringPio, kvmGetLinearRip, kvmRipAdd } from './x86.js';

/** RFLAGS.IF */
const X86_EFLAGS_IF = 1 << 9;

/** Default instructions per KVM_RUN before it returns EINTR (a few ms of guest time). */
export const DEFAULT_RUN_BUDGET = 2_000_000;

/**
 * Host time a KVM_RUN of a VM's only vCPU lasts at least before its budget ends it, where the host
 * clock drives the VM: the budget's EINTR stands for a signal, and a VMM needs one only now and
 * then (its devices kick the vCPU at their deadlines and on input; QEMU's vCPU thread leaves
 * KVM_RUN for nothing else). Compiled code at 2,000 MIPS used up 2 M instructions 1,000 times a
 * second, and each EINTR cost a KVM_RUN's return, prologue and code revalidation, and a turn of
 * the VMM's loop: 4-8 % of bench-int32 under vmx (tools/guests README). Under -icount, with the
 * deterministic TSC, or when vCPUs take turns on one thread, the budget alone ends the run, as
 * before: their userspace timers are polled at those returns.
 */
export const RUN_NS = 10_000_000;

/**
 * Userspace exits in one turn of a vCPU taking turns with others (several KVM_RUNs) before KVM_RUN
 * returns EINTR so the turn passes: about a console line of UART port I/O, or a few ms of exits.
 */
export const TURN_USERSPACE_EXITS = 512;

/**
 * Instructions per entry at least (the silicon's "host timer tick", bounding one VM entry), and
 * all of it where the VM's clock is virtual (-icount: entries then end at the same instructions
 * in every run).
 */
export const ENTRY_SLICE = 200_000;

/** At most, per entry: the budget bounds it too. */
export const ENTRY_SLICE_MAX = 4_000_000;

/**
 * Host time an entry lasts at most once it is longer than ENTRY_SLICE: a 1,000 Hz host tick, the
 * preemption a real vCPU thread sees. Each entry costs an exit, the run loop's timer and event
 * checks and a host clock read, about 10 us in all; at 200,000 instructions an entry, compiled
 * code at 1,000 MIPS paid that 5,000 times a second (2-3 % of bench-int32's time, tools/guests
 * README).
 */
const ENTRY_NS = 1_000_000;

/**
 * Fast-path entries in a row at most (`ExitResult.ReenterFast`) before the loop's per-entry work
 * runs again. A slice is counted in instructions at the rate of the last host tick; a guest that
 * turns exit-bound runs it far slower, and the APIC timer, the PIT and the TSC carry are read from
 * the host clock only on the full path (real hardware's timer interrupt forces that exit). About
 * 50-100 µs of exits; bench-ctxsw32's four a switch pay the full path once every eight switches.
 */
export const FASTPATH_MAX = 32;

/**
 * The instructions the next entry may run, where the host clock drives the VM (`hostNs`, this
 * entry's reading): the vCPU's rate over the last tick or more (exits, halts and userspace
 * included: a rate that reads low only shortens entries) times ENTRY_NS, or up to the in-kernel
 * PIT's next deadline when that comes sooner; never fewer than ENTRY_SLICE, as before the rate was
 * measured, and the APIC timer and the budget bound it after.
 */
export function kvmEntrySlice(vcpu: SoftVcpu, hostNs: number): number {
  if (hostNs < 0) return ENTRY_SLICE;
  const ns = hostNs - vcpu.sliceHostNs;
  if (vcpu.sliceHostNs < 0 || ns < 0) {
    vcpu.sliceHostNs = hostNs;
    vcpu.sliceInstructions = vcpu.instructions;
    vcpu.entrySlice = ENTRY_SLICE;
  } else if (ns >= ENTRY_NS) {
    const perNs = (vcpu.instructions - vcpu.sliceInstructions) / ns;
    vcpu.sliceHostNs = hostNs;
    vcpu.sliceInstructions = vcpu.instructions;
    vcpu.entrySlice = Math.max(ENTRY_SLICE, Math.min(ENTRY_SLICE_MAX, Math.floor(perNs * ENTRY_NS)));
  }
  const slice = vcpu.entrySlice;
  if (slice === ENTRY_SLICE) return slice;
  const pitNs = kvmPitNsUntil(vcpu, hostNs);
  if (pitNs >= ENTRY_NS) return slice;
  return Math.max(ENTRY_SLICE, Math.floor((slice * pitNs) / ENTRY_NS));
}

function postRunSave(vcpu: SoftVcpu): void {
  // The TSC carried up to now, so that KVM_GET_MSRS and the VMM's clocks on it (an -icount PM
  // timer read in this exit) see what the guest's instructions so far made of it.
  kvmTscSync(vcpu);
  const run = vcpu.run;
  const rflags = vcpu.ops.getRflags(vcpu);
  run.ifFlag = rflags & X86_EFLAGS_IF ? 1 : 0;
  run.cr8 = BigInt(vcpu.apic !== null ? (vcpu.apic.reg(0x80) >>> 4) & 15 : vcpu.cr8);
  run.apicBase = BigInt(vcpu.apicBase >>> 0);
  // With the PIC in the kernel userspace never injects, and KVM always says ready.
  run.readyForInterruptInjection = vcpu.vm.irqchip !== null || readyForInjection(vcpu) ? 1 : 0;
}

/** `kvm_vcpu_ready_for_interrupt_injection`: interrupts allowed and nothing queued already. */
function readyForInjection(vcpu: SoftVcpu): boolean {
  return vcpu.interruptQueued < 0 && vcpu.ops.interruptAllowed(vcpu);
}

function interrupted(vcpu: SoftVcpu, why: string): never {
  vcpu.turnStart = -1;
  vcpu.run.exitReason = KVM_EXIT.INTR;
  postRunSave(vcpu);
  throw eintr(why);
}

/**
 * KVM_RUN's EINTR: the run budget ends a KVM_RUN this way every few ms of guest time (the engine's
 * stand-in for a signal), the normal path of a VMM's loop, not a failure to trace. Made without a
 * stack trace: capturing one cost about 5 µs of the 6 a budget's EINTR took.
 */
function eintr(why: string): KvmError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new KvmError('KVM_RUN', Errno.EINTR, why);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Completes an IN/OUT userspace has handled: EAX for an IN, then RIP past the instruction. */
function completePio(vcpu: SoftVcpu): void {
  const pio = vcpu.pio;
  if (!pio.active) return;
  pio.active = false;
  if (pio.isString) {
    completeStringPio(vcpu, vcpu.run);
    return;
  }
  const ops = vcpu.ops;
  ops.cacheRegs(vcpu);
  // KVM's complete_fast_pio_in/out: if userspace moved RIP (KVM_SET_REGS/SREGS, e.g. to reset
  // the vCPU from an I/O exit), the instruction is abandoned, not completed at the new RIP.
  if (kvmGetLinearRip(vcpu) !== pio.cuiLinearRip || vcpu.ripHigh !== pio.cuiRipHigh) return;
  if (pio.isIn) {
    const v = pio.inValue(vcpu.run);
    const r = vcpu.regs;
    if (pio.size === 1) r[0] = (r[0] & ~0xff) | v;
    else if (pio.size === 2) r[0] = (r[0] & ~0xffff) | v;
    else {
      r[0] = v;
      vcpu.regsHigh[0] = 0;
    }
  }
  kvmRipAdd(vcpu, pio.instructionLength);
  ops.decacheRegs(vcpu);
}

/** RIP as a linear address, all 64 bits (kvm_get_linear_rip). */
function linearRip(vcpu: SoftVcpu): bigint {
  vcpu.ops.cacheRegs(vcpu);
  return (BigInt(vcpu.ripHigh >>> 0) << 32n) + BigInt(kvmGetLinearRip(vcpu));
}

/**
 * `kvm_vcpu_do_singlestep`: KVM_EXIT_DEBUG once the stepped instruction is done, with #DB,
 * DR6 = DR6_ACTIVE_LOW | DR6_BS and the next linear RIP (DR7 is left as it was, as KVM leaves it).
 */
function singleStepExit(vcpu: SoftVcpu): number {
  const run = vcpu.run;
  run.exitReason = KVM_EXIT.DEBUG;
  run.debug.exception = 1;
  run.debug.pc = linearRip(vcpu);
  run.debug.dr6 = BigInt((DR6_ACTIVE_LOW | DR6_BS) >>> 0);
  postRunSave(vcpu);
  return 0;
}

/** KVM_RUN. Returns 0 with kvm_run filled, or throws KvmError (EINTR, EFAULT, …). */
export function kvmVcpuRun(vcpu: SoftVcpu, budget = DEFAULT_RUN_BUDGET): number {
  const run = vcpu.run;
  const ops = vcpu.ops;
  // KVM_CAP_SOFT_NO_USER_WRITES_HINT: read and cleared first, so that a hint never outlives the run
  // it was given for (not even one that ends at once in EINTR).
  const softFlags = run.softRunFlags;
  if (softFlags !== 0) run.softRunFlags = 0;
  if (run.immediateExit) interrupted(vcpu, 'immediate_exit');
  if (Atomics.exchange(vcpu.kickFlag, 0, 0) !== 0) interrupted(vcpu, 'kicked');
  // The shadow MMU's page budget is sized from the memory slots (kvm_mmu_calculate_default_
  // mmu_pages); a VM that never had one cannot load a root: make_mmu_pages_available → ENOSPC.
  if (vcpu.vm.mmu !== null && !vcpu.vm.everHadMemory) {
    throw new KvmError('KVM_RUN', Errno.ENOSPC, 'no memory slot was ever set: the shadow MMU has no pages');
  }
  ops.vcpuLoad(vcpu);
  // Userspace may have written guest memory through its mapping since the last KVM_RUN (a loader,
  // a device's DMA, a debugger's INT3): the decoded and compiled code is checked against memory
  // before its next use. Unless userspace says it wrote nothing, and this vCPU is the VM's only
  // one (with several, this is also where a vCPU sees code another vCPU's KVM_RUN wrote), no
  // memory slot changed (MMU_RELOAD: a slot's memory may have been written while it was out) and
  // no other vCPU ioctl came since the last KVM_RUN (`SoftVcpu.userIoctls`). A
  // console byte's exit otherwise cost Debian's boot on vmx-ept 6 code-page compares and 10 more
  // re-entries into compiled code from JavaScript (the jump cache voided) per KVM_RUN, ~1.5 % of
  // the boot.
  if (
    (softFlags & KVM_RUN_SOFT_NO_USER_WRITES) === 0 ||
    vcpu.vm.vcpus.size !== 1 ||
    (vcpu.requests & KvmRequest.MMU_RELOAD) !== 0 ||
    vcpu.userIoctls
  ) {
    if (ops.revalidateCode !== undefined) {
      ops.revalidateCode(vcpu);
      vcpu.vm.count('code_revalidations');
    }
  } else vcpu.vm.count('code_revalidations_skipped');
  vcpu.userIoctls = false;
  try {
    const stepping = kvmSingleStepping(vcpu);
    // Completing an I/O or MMIO instruction is not a step of its own: the host's KVM (kvm-pvm)
    // reports the step after the next instruction, and so does this engine.
    completePio(vcpu);
    const emu = vcpu.emulator as VcpuEmulator | null;
    if ((emu?.pendingRead || emu?.pendingWrites) && emu.complete(run) === ExitResult.Userspace) {
      postRunSave(vcpu);
      return 0;
    }
    // The budget is the turn's when the VM's vCPUs take turns on one thread: a vCPU whose
    // KVM_RUNs end at userspace exits (a console's port I/O, byte by byte) keeps its turn for
    // them, as QEMU's round-robin TCG keeps a vCPU through its I/O until its time slice ends,
    // but no longer. (A budget per KVM_RUN let the VMM pass the turn on at every exit, so such a
    // vCPU ran one exit's worth a round while the others ran whole budgets: Debian's kernel at
    // -smp 4 printed a line a second with interrupts off, and RCU saw stalls.)
    // The turn also ends after TURN_USERSPACE_EXITS exits (each costs the VMM a round trip, far
    // more than an instruction: a vCPU polling a device in a loop would hold the thread for tens of
    // thousands of them), and its PAUSE count (spin.ts) is the turn's too, so a pause loop that
    // also exits to userspace still yields.
    if (vcpu.vm.vcpus.size === 1) {
      vcpu.turnStart = vcpu.instructions;
      vcpu.spinPauses = 0;
    } else if (vcpu.turnStart < 0) {
      vcpu.turnStart = vcpu.instructions;
      vcpu.turnExits = 0;
      vcpu.spinPauses = 0;
    } else if (++vcpu.turnExits >= TURN_USERSPACE_EXITS) {
      vcpu.vm.count('turn_exit_limits');
      interrupted(vcpu, 'turn ended: userspace exits');
    }
    const start = vcpu.turnStart;
    vcpu.spinYield = false;
    // RUN_NS: the host time this KVM_RUN began (the first entry's reading), or -1 where the
    // budget alone ends it.
    let runStartNs = -1;
    const lone = vcpu.vm.vcpus.size === 1;
    for (;;) {
      if (vcpu.requests !== 0) {
        const req = vcpu.requests;
        vcpu.requests = 0;
        if (req & KvmRequest.MMU_RELOAD) vcpu.vm.mmuResetContext(vcpu);
        if (req & KvmRequest.TLB_FLUSH) ops.flushTlb(vcpu);
        if (req & KvmRequest.TRIPLE_FAULT) {
          // kvm_multiple_exception met a pending #DF: the processor shuts down.
          run.exitReason = KVM_EXIT.SHUTDOWN;
          vcpu.vm.count('shutdown_exits');
          postRunSave(vcpu);
          return 0;
        }
      }
      // The guest TSC carried forward to the host clock, where the VM's TSC follows it.
      const hostNs = kvmTscSync(vcpu);
      if (runStartNs < 0 && lone) runStartNs = hostNs;
      if (vcpu.apic !== null) {
        // The in-kernel irqchip: APIC timer, then a halted vCPU waits here (kvm_vcpu_block).
        kvmApicTimerCheck(vcpu, hostNs);
        if (!kvmVcpuBlock(vcpu)) interrupted(vcpu, 'halted with nothing to wake it');
        // The timers may have read another vCPU (an icount VM's clock is vCPU 0's TSC), which
        // loads that one on a VMX backend: this vCPU is the one to inject into and enter.
        if (vcpu.vm.vcpus.size > 1) ops.vcpuLoad(vcpu);
      }
      // One event per entry; an NMI goes first (SDM 6.9: NMI before maskable interrupts).
      if (vcpu.nmiQueued && ops.injectNmi !== undefined && (ops.nmiAllowed?.(vcpu) ?? true)) {
        ops.injectNmi(vcpu);
        vcpu.nmiQueued = false;
      } else if (vcpu.interruptQueued >= 0 && (ops.pendingException?.(vcpu) ?? -1) < 0) {
        // An exception waiting for injection goes first; the interrupt stays queued
        // (inject_pending_event), else a fault in the interrupt's delivery would be lost for ever.
        // Userspace injects only when ready_for_interrupt_injection said so; like KVM we trust it.
        ops.injectIrq(vcpu, vcpu.interruptQueued);
        vcpu.interruptQueued = -1;
      }
      // kvm_cpu_get_interrupt → inject, or an interrupt window until the guest can take it.
      const irqWindow = vcpu.apic !== null && kvmInjectPendingIrq(vcpu);
      ops.setIrqWindow(vcpu, run.requestInterruptWindow !== 0 || irqWindow);
      // An NMI that could not go in asks for the NMI window (kvm_check_and_inject_events); after
      // the interrupt window, which VMX falls back to under STI blocking (vmx_enable_nmi_window).
      if (vcpu.nmiQueued) ops.enableNmiWindow?.(vcpu);
      if (vcpu.apic !== null && ops.updateCr8Intercept !== undefined) kvmUpdateCr8Intercept(vcpu);
      const used = vcpu.instructions - start;
      // The entry ends no later than the APIC timer's expiry, so it fires on time.
      const timer = vcpu.apic !== null ? kvmApicTimerSlack(vcpu) : ENTRY_SLICE;
      // Under RUN_NS the budget bounds no entry (the host tick does): it ends the run at the end
      // of the first entry past both.
      const left = runStartNs < 0 ? budget - used : ENTRY_SLICE_MAX;
      let slice = stepping ? 1 : Math.max(1, Math.min(kvmEntrySlice(vcpu, hostNs), left, timer));
      if (kvmEntryNeedsLongMode(vcpu)) {
        postRunSave(vcpu);
        return 0;
      }
      // -smp: refuse what a per-vCPU shadow MMU would get wrong (SoftVm.kvmCheckSmpMmu).
      if (vcpu.vm.vcpus.size > 1) vcpu.vm.kvmCheckSmpMmu(vcpu);
      // The entries of this slice: one, and one more after each exit handled on the fast path
      // (`ExitResult.ReenterFast`) for the slice's instructions left, as if the entry had gone on
      // without exiting, so the slice still ends where the timers and the budget said.
      for (let fast = 0; ; fast++) {
        const retired = vcpu.instructions;
        const ripBefore = stepping ? linearRip(vcpu) : 0n;
        if (ops.run(vcpu, slice) === EntryResult.FailEntry) {
          postRunSave(vcpu);
          return 0;
        }
        const exit = ops.handleExit(vcpu, run);
        if (exit === ExitResult.Userspace) {
          postRunSave(vcpu);
          return 0;
        }
        // One instruction retired and RIP moved on: the step is done. (An entry may count an
        // instruction without moving, as SVM's does; an instruction an exit handler completes, such
        // as CPUID, is counted with the next one; a REP string instruction is one step.)
        if (stepping && vcpu.instructions !== retired && linearRip(vcpu) !== ripBefore)
          return singleStepExit(vcpu);
        if (run.requestInterruptWindow && readyForInjection(vcpu)) {
          run.exitReason = KVM_EXIT.IRQ_WINDOW_OPEN;
          vcpu.vm.count('request_irq_exits');
          postRunSave(vcpu);
          return 0;
        }
        // A load first: the exchange is a locked read-modify-write (a full barrier on a shared
        // flag) at every exit, and the flag is almost always clear. A kick that lands between the
        // two is taken at the next exit, as one a moment later would be.
        if (Atomics.load(vcpu.kickFlag, 0) !== 0 && Atomics.exchange(vcpu.kickFlag, 0, 0) !== 0)
          interrupted(vcpu, 'kicked');
        if (vcpu.spinYield) {
          // A pause loop (spin.ts): end the turn, so the vCPU it waits for runs.
          vcpu.vm.count('spin_yields');
          interrupted(vcpu, 'yielded: spinning on PAUSE');
        }
        if (vcpu.instructions - start >= budget && (runStartNs < 0 || hostNs - runStartNs >= RUN_NS)) {
          vcpu.vm.count('budget_exits');
          interrupted(vcpu, 'run budget used up');
        }
        if (exit !== ExitResult.ReenterFast || stepping) break;
        slice -= vcpu.instructions - retired;
        // KVM's vcpu_enter_guest leaves its fastpath loop for a pending request
        // (kvm_vcpu_exit_request); this one also for an event to inject, the full path's work, and
        // after FASTPATH_MAX fast entries, so the host-clock timers are looked at.
        if (
          slice < 1 ||
          fast === FASTPATH_MAX ||
          vcpu.requests !== 0 ||
          vcpu.interruptQueued >= 0 ||
          vcpu.nmiQueued
        )
          break;
        vcpu.vm.exitsFastpath++;
      }
    }
  } catch (error) {
    // EAGAIN (an AP took INIT/SIPI) or any other error: the turn ends here.
    vcpu.turnStart = -1;
    throw error;
  } finally {
    ops.vcpuPut?.(vcpu);
  }
}
