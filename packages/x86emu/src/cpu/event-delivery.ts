/**
 * Event delivery (SDM Vol. 3 6.12–6.15; 20.1.4 for real mode): exceptions, interrupts and
 * software interrupts through the IVT or the IDT, with the double- and triple-fault rules and the
 * exception hook of the virtualization intercepts.
 */
import { EventType, type ExitInfo, InterceptKind } from '../api/intercepts.js';
import { StopReason } from '../api/stop-reason.js';
import { Flag, Interruptibility } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { descBase, descLimit } from './descriptor.js';
import { deliverLong } from './event-delivery-long.js';
import { loadStackForPrivilege, pushSys, tssStack } from './stack-switch.js';
import { TaskSource, taskSwitch } from './task-switch.js';

/**
 * Delivers an event, handling faults during delivery (double fault, triple fault: SDM Vol. 3
 * 6.15 Table 6-5). `instrLen`: bytes to add to RIP for the pushed return address (software
 * interrupts and traps). Returns a StopReason or -1 to continue.
 */
export function deliverEvent(
  cpu: Cpu,
  type: number,
  vector: number,
  errorCode: number,
  hasError: boolean,
  instrLen: number,
  injected = false,
): number {
  // An event between REP iterations restarts the instruction: fetched again on return.
  cpu.repInsn = null;
  let t = type;
  let v = vector;
  let ec = errorCode;
  let he = hasError;
  let len = instrLen;
  const s = cpu.state;
  s.halted = false;
  /** The nested exception was already offered to the hook (before the double-fault rules). */
  let offered = false;
  // VM-entry injection delivers without the exception bitmap and leaves CR2 alone (SDM Vol. 3
  // 27.6.1): callers modelling it ask for that with `injectionBypassesExceptionHook`.
  let bypass = injected && cpu.intercepts?.injectionBypassesExceptionHook === true;
  // An injected #PF never writes CR2: whoever injects it sets CR2 (as KVM does before injecting).
  let fromInjection = injected;
  for (;;) {
    if (
      t === EventType.HardwareException ||
      t === EventType.SoftwareException ||
      t === EventType.PrivilegedSoftwareException
    ) {
      // The exception bitmap covers INT3/INTO/INT1 too (SDM Vol. 3 25.2); INT n is not an exception.
      cpu.stats.exceptions++;
      const i = cpu.intercepts;
      if (!offered && !bypass && i?.exception !== undefined && ((i.exceptionMask ?? 0) >>> v) & 1 && v < 32) {
        const x = cpu.exit;
        x.kind = -1;
        x.eventType = t;
        x.instructionLength = len;
        x.vector = v;
        x.errorCode = ec;
        x.hasErrorCode = he;
        x.faultAddress = v === C.PF ? cpu.faultAddress : v === C.DB ? s.dr[6] : 0;
        fillVectoring(cpu, x);
        if (i.exception(v, ec, he, x)) {
          cpu.deliveringVector = -1;
          return StopReason.Exception;
        }
      }
      if (v === C.PF && t === EventType.HardwareException && !fromInjection) {
        s.cr[2] = cpu.faultAddress;
        // A 48-bit linear address in IA-32e mode: CR2 holds it sign-extended (canonical).
        const hi = Math.floor(cpu.faultAddress / 4294967296);
        s.crHigh[2] = hi & 0x8000 ? (hi | 0xffff0000) >>> 0 : hi;
      }
    }
    bypass = false;
    fromInjection = false;
    cpu.deliveringType = t;
    cpu.deliveringVector = v;
    cpu.deliveringError = ec;
    cpu.deliveringHasError = he;
    try {
      // Entering the #DB handler clears DR7.GD so it can use the debug registers (SDM Vol. 3 17.2.4).
      if (v === C.DB && t !== EventType.ExternalInterrupt && t !== EventType.SoftwareInterrupt)
        s.dr[7] &= ~0x2000;
      deliverOnce(cpu, t, v, ec, he, len);
      // NMIs stay blocked until the next IRET (SDM Vol. 3 6.7.1).
      if (t === EventType.Nmi) s.interruptibility |= Interruptibility.NMI;
      cpu.deliveringVector = -1;
      cpu.deliveringType = -1;
      cpu.irqCheck = true;
      return -1;
    } catch (e) {
      if (e !== C.GUEST_FAULT) {
        cpu.deliveringVector = -1;
        if (e === C.GUEST_EXIT) {
          // A nested page fault (EPT violation) while delivering a software interrupt or
          // exception reports that instruction's length, so that the event can be injected again
          // (SDM Vol. 3C 28.2.4), as for an exception during delivery below.
          if (
            cpu.exit.kind === InterceptKind.NestedPageFault &&
            (t === EventType.SoftwareInterrupt ||
              t === EventType.SoftwareException ||
              t === EventType.PrivilegedSoftwareException)
          )
            cpu.exit.instructionLength = len;
          return cpu.stopRequested;
        }
        throw e;
      }
      const v2 = cpu.faultVector;
      // The nested exception is offered to the hook before the double-fault rules combine it
      // (as VMX checks it against the exception bitmap, with the first event in the
      // IDT-vectoring information: SDM Vol. 3 28.2.4). The vectoring fields still describe it.
      offered = false;
      const ic = cpu.intercepts;
      if (ic?.exception !== undefined && ((ic.exceptionMask ?? 0) >>> v2) & 1 && v2 < 32) {
        const x = cpu.exit;
        x.kind = -1;
        x.eventType = EventType.HardwareException;
        // During the delivery of a software interrupt or exception the exit reports that
        // instruction's length, so the event can be injected again (SDM Vol. 3 28.2.4).
        x.instructionLength =
          t === EventType.SoftwareInterrupt ||
          t === EventType.SoftwareException ||
          t === EventType.PrivilegedSoftwareException
            ? len
            : 0;
        x.vector = v2;
        x.errorCode = cpu.faultError;
        x.hasErrorCode = cpu.faultHasError;
        x.faultAddress = v2 === C.PF ? cpu.faultAddress : 0;
        fillVectoring(cpu, x);
        if (ic.exception(v2, cpu.faultError, cpu.faultHasError, x)) {
          cpu.deliveringVector = -1;
          return StopReason.Exception;
        }
        offered = true;
      }
      const firstIsException = t === EventType.HardwareException;
      if (firstIsException && v === C.DF && (isContributory(v2) || v2 === C.PF)) {
        // Triple fault (SDM Vol. 3 6.15 Interrupt 8): shutdown.
        cpu.deliveringVector = -1;
        if (cpu.interceptMask & (1 << InterceptKind.Shutdown)) {
          if (cpu.askIntercept(InterceptKind.Shutdown, 0)) return StopReason.Intercept;
        }
        return StopReason.Shutdown;
      }
      if (
        firstIsException &&
        ((isContributory(v) && isContributory(v2)) || (v === C.PF && (isContributory(v2) || v2 === C.PF)))
      ) {
        t = EventType.HardwareException;
        v = C.DF;
        ec = 0;
        he = true;
        offered = false;
      } else {
        t = EventType.HardwareException;
        v = v2;
        ec = cpu.faultError;
        he = cpu.faultHasError;
      }
      len = 0;
    }
  }
}

function fillVectoring(cpu: Cpu, x: ExitInfo): void {
  if (cpu.deliveringVector >= 0) {
    x.vectoringValid = true;
    x.vectoringType = cpu.deliveringType;
    x.vectoringVector = cpu.deliveringVector;
    x.vectoringErrorCode = cpu.deliveringError;
    x.vectoringHasErrorCode = cpu.deliveringHasError;
  } else {
    x.vectoringValid = false;
  }
}

/** EXT bit of error codes for faults during delivery of an external event (SDM Vol. 3 6.13). */
function extBit(type: number): number {
  return type === EventType.ExternalInterrupt ||
    type === EventType.Nmi ||
    type === EventType.HardwareException
    ? 1
    : 0;
}

function deliverOnce(
  cpu: Cpu,
  type: number,
  vector: number,
  ec: number,
  hasError: boolean,
  instrLen: number,
): void {
  const s = cpu.state;
  cpu.materializeFlags();
  const retEip = (s.rip[0] + instrLen) >>> 0;
  // The EFLAGS image of a fault-class exception has RF = 1, so IRET restarts the instruction
  // without re-triggering a code breakpoint (SDM Vol. 3 17.3.1.1); other events push RF as is.
  const flags =
    type === EventType.HardwareException && FAULT_VECTORS & (1 << vector)
      ? s.rflags[0] | Flag.RF
      : s.rflags[0];
  if (!cpu.prot) {
    // Real mode: IVT entry of 4 bytes; push FLAGS, CS, IP (SDM Vol. 3 20.1.4).
    if (vector * 4 + 3 > s.dtLimit[1]) cpu.gp0();
    const ent = cpu.linRead((s.dtBase[1] + vector * 4) >>> 0, 4, 0);
    let sp = s.gpr[4];
    sp = cpu.pushAt(sp, flags & 0xffff, 2);
    sp = cpu.pushAt(sp, s.segSel[1], 2);
    sp = cpu.pushAt(sp, retEip & 0xffff, 2);
    cpu.setSp(sp);
    cpu.loadSegReal(1, ent >>> 16);
    s.rip[0] = ent & 0xffff;
    s.rflags[0] = flags & ~(Flag.IF | Flag.TF | Flag.AC | Flag.RF);
    cpu.acEnabled = false;
    cpu.irqCheck = true;
    return;
  }
  const ext = extBit(type);
  if (cpu.lma) {
    // IA-32e mode, from 64-bit or compatibility mode: 16-byte gates, 64-bit handlers (SDM 6.14).
    deliverLong(cpu, type, vector, ec, hasError, instrLen, flags, ext);
    return;
  }
  // Protected mode: the IDT gate (SDM Vol. 3 6.12.1).
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > s.dtLimit[1]) cpu.raise(C.GP, gateErr, true);
  const gAddr = (s.dtBase[1] + vector * 8) >>> 0;
  const gLo = cpu.linRead(gAddr, 4, 0);
  const gHi = cpu.linRead(gAddr + 4, 4, 0);
  const gType = (gHi >>> 8) & 0x1f;
  const gDpl = (gHi >>> 13) & 3;
  if (gType !== 0x05 && gType !== 0x06 && gType !== 0x07 && gType !== 0x0e && gType !== 0x0f) {
    cpu.raise(C.GP, gateErr, true);
  }
  // INT n / INT3 / INTO check the gate DPL against CPL (SDM Vol. 3 6.12.1.1); INT1 does not.
  if (
    (type === EventType.SoftwareInterrupt || type === EventType.SoftwareException) &&
    gDpl < cpu.cplOrV86()
  ) {
    cpu.raise(C.GP, vector * 8 + 2, true);
  }
  if (!(gHi & 0x8000)) cpu.raise(C.NP, gateErr, true);
  if (gType === 0x05) {
    // Task gate: a task switch (SDM Vol. 3 7.3); a hypervisor intercepts it (VMX exits on every
    // task switch, SDM Vol. 3 25.4.2).
    if (cpu.wantsIntercept(InterceptKind.TaskSwitch)) {
      const x = cpu.exit;
      x.kind = InterceptKind.TaskSwitch;
      x.taskSwitchSelector = gLo >>> 16;
      x.taskSwitchSource = TaskSource.Gate;
      // The exit comes during the event's delivery: the event is in the IDT-vectoring
      // information (its error code for the new task's stack), with a software interrupt's
      // length (SDM Vol. 3 28.2.4, 28.2.5).
      x.instructionLength = instrLen;
      fillVectoring(cpu, x);
      if (cpu.intercepts?.instruction?.(InterceptKind.TaskSwitch, x)) {
        cpu.stats.intercepts++;
        cpu.stopRequested = StopReason.Intercept;
        throw C.GUEST_EXIT;
      }
    }
    taskSwitch(cpu, gLo >>> 16, TaskSource.Gate, retEip, ext, hasError, ec);
    cpu.irqCheck = true;
    return;
  }
  const gate32 = (gType & 8) !== 0;
  const sel = gLo >>> 16;
  const offset = gate32 ? ((gHi & 0xffff0000) | (gLo & 0xffff)) >>> 0 : gLo & 0xffff;
  if ((sel & 0xfffc) === 0) cpu.raise(C.GP, ext, true);
  const dLo = cpu.readDescriptorLo(sel, ext);
  const dHi = cpu.descHi;
  const dType = (dHi >>> 8) & 0x1f;
  const dDpl = (dHi >>> 13) & 3;
  const cpl = cpu.cplOrV86();
  if ((dType & 0x18) !== 0x18 || dDpl > cpl) cpu.raise(C.GP, (sel & 0xfffc) | ext, true);
  if (!(dHi & 0x8000)) cpu.raise(C.NP, (sel & 0xfffc) | ext, true);
  const conforming = (dType & 4) !== 0;
  const size = gate32 ? 4 : 2;
  let newCpl = cpl;
  if (!conforming && dDpl < cpl) {
    // Inter-privilege: new stack from the TSS (SDM Vol. 3 6.12.1, Figure 6-4).
    if (cpu.v86 && dDpl !== 0) cpu.raise(C.GP, (sel & 0xfffc) | ext, true);
    newCpl = dDpl;
    tssStack(cpu, newCpl, ext);
    const ssSel = cpu.tssSs;
    const esp = cpu.tssEsp;
    const ssLo = loadStackForPrivilege(cpu, ssSel, newCpl, ext);
    const ssHi = cpu.descHi;
    const ssBig = (ssHi & 0x400000) !== 0;
    const ssBase = descBase(ssLo, ssHi);
    const ssLimit = descLimit(ssLo, ssHi);
    let sp = esp;
    const n = (cpu.v86 ? 9 : 5) + (hasError ? 1 : 0);
    // Check the whole frame against the new SS limit first (#SS(new SS) is a fault with nothing changed).
    const mask = ssBig ? 0xffffffff : 0xffff;
    const lowest = (sp - n * size) & mask;
    if ((ssHi >>> 8) & 4) {
      /* expand-down stack segments: checked per push below */
    } else if (lowest > ssLimit || ((sp - 1) & mask) > ssLimit) {
      cpu.raise(C.SS, (ssSel & 0xfffc) | ext, true);
    }
    if (cpu.v86) {
      sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[5], newCpl);
      sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[4], newCpl);
      sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[3], newCpl);
      sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[0], newCpl);
    }
    sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[2], newCpl);
    sp = pushSys(cpu, ssBase, sp, mask, size, s.gpr[4], newCpl);
    sp = pushSys(cpu, ssBase, sp, mask, size, flags, newCpl);
    sp = pushSys(cpu, ssBase, sp, mask, size, s.segSel[1], newCpl);
    sp = pushSys(cpu, ssBase, sp, mask, size, retEip, newCpl);
    if (hasError) sp = pushSys(cpu, ssBase, sp, mask, size, ec, newCpl);
    // Commit. Leaving virtual-8086 mode nulls the data segment registers (SDM Vol. 3 20.3.1.1).
    if (cpu.v86) {
      cpu.loadNull(0);
      cpu.loadNull(3);
      cpu.loadNull(4);
      cpu.loadNull(5);
    }
    cpu.setDescAccessed(ssSel, ssHi);
    cpu.setSegFromDesc(2, (ssSel & 0xfffc) | newCpl, ssLo, ssHi);
    if (ssBig) s.gpr[4] = sp;
    else s.gpr[4] = (s.gpr[4] & 0xffff0000) | sp;
  } else {
    if (cpu.v86) cpu.raise(C.GP, (sel & 0xfffc) | ext, true);
    let sp = s.gpr[4];
    sp = cpu.pushAt(sp, flags, size);
    sp = cpu.pushAt(sp, s.segSel[1], size);
    sp = cpu.pushAt(sp, retEip, size);
    if (hasError) sp = cpu.pushAt(sp, ec, size);
    cpu.setSp(sp);
  }
  cpu.setDescAccessed(sel, dHi);
  cpu.setSegFromDesc(1, (sel & 0xfffc) | newCpl, dLo, dHi);
  s.rip[0] = offset;
  let nf = flags & ~(Flag.TF | Flag.NT | Flag.RF | Flag.VM);
  if (!(gType & 1)) nf &= ~Flag.IF; // interrupt gate clears IF; trap gate does not
  s.rflags[0] = nf;
  cpu.updateMode();
  // After leaving virtual-8086 mode (updateMode forces CPL 3 while VM is set).
  s.cpl = newCpl;
  for (let r = 0; r < 6; r++) cpu.updateSegFlags(r);
}

/** Fault-class exception vectors: #DE, #BR, #UD, #NM, #TS, #NP, #SS, #GP, #PF, #MF, #AC, #XM, #VE. */
const FAULT_VECTORS =
  (1 << 0) |
  (1 << 5) |
  (1 << 6) |
  (1 << 7) |
  (1 << 10) |
  (1 << 11) |
  (1 << 12) |
  (1 << 13) |
  (1 << 14) |
  (1 << 16) |
  (1 << 17) |
  (1 << 19) |
  (1 << 20);

function isContributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}
