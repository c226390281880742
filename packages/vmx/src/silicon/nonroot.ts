/**
 * VMX non-root operation: the guest runs on x86emu's `Cpu`, and the VMCS controls decide which
 * instructions and events cause VM exits (SDM Vol. 3 Chapter 26). `enterGuest` loads the guest-
 * state area into the CPU (27.3.2), injects the VM-entry event (27.6), runs, and on a VM exit
 * saves the guest state (28.3) and records the exit reason, qualification and information
 * fields as the SDM encodes them (28.2).
 *
 * Shadow paging: linear addresses are translated through the page tables at the guest-state
 * CR3 field (the hypervisor's shadow root), in PAE format when the CR4 field has PAE, with
 * x86emu's paging override; the guest's own CR0/CR4 (through the read shadows) and CR3 (which
 * only CR3-load/store exits reveal) stay its own. With "unrestricted guest" that holds even
 * while the guest's CR0.PE/PG are 0 (see vmx-capabilities.ts for why that departs from real
 * silicon).
 *
 * EPT (`ept.ts`): with "enable EPT" the guest's own CR0/CR3/CR4 page over guest-physical
 * memory and x86emu's nested walk translates every guest-physical address through the EPT
 * paging structures at the EPTP; a failed translation is an EPT violation or misconfiguration
 * exit with the qualification, guest-physical and guest linear addresses of 28.2.1.
 *
 * The "host timer": real hardware leaves the guest on a host interrupt (an external-interrupt
 * exit). Here the host timer fires after `hostTick` guest instructions, or when `requestStop`
 * is called from another thread's kick, with the same exit.
 */

import {
  loadShadowPagingOverride,
  NestedTlbRegime,
  newShadowPagingOverride,
  ShadowTlbRegime,
} from '@kvm/core';
import {
  Cpu,
  type ExitInfo,
  engineJitTuning,
  holdAsDoubles,
  InterceptKind,
  type Intercepts,
  type MsrOps,
  NestedFormat,
  NestedPaging,
  PFERR,
  SegAttr,
  StopReason,
  seededRandom,
} from '@kvm/x86emu';
import { Eptp, EptQual } from './ept.js';
import { loadColdGroups } from './guest-cache.js';
import { VMCS, VMCS_SLOT_BY_ENCODING } from './vmcs-fields.js';
import {
  ActivityState,
  CpuBased,
  CrQual,
  ExitReason,
  GuestIntrState,
  IntrInfo,
  IntrType,
  IoQual,
  PinBased,
  SecondaryExec,
  VmEntryCtl,
  VmExitCtl,
} from './vmx-arch.js';
import type { VmxSilicon } from './vmx-silicon.js';

const X86_CR0_TS = 1 << 3;
const X86_CR0_PG = 0x80000000;
const PF_VECTOR = 14;
const DB_VECTOR = 1;
/** DR6's B0–B3, BD and BS: a #DB's exit qualification (SDM Vol. 3C 27.2.1, Table 27-1). */
const DR6_EXIT_QUAL_BITS = 0x600f;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** RFLAGS.VM: virtual-8086 mode. */
const X86_EFLAGS_VM = 1 << 17;
const TWO32 = 4294967296;

/**
 * A linear address as x86emu reports it (in IA-32e mode the canonical address folded to 48 bits,
 * or a signed number for an effective address) → the high half of its 64-bit canonical form.
 */
function linearHigh(a: number): number {
  if (a < 0) return Math.floor(a / TWO32) >>> 0;
  const hi = Math.floor(a / TWO32);
  return (hi & 0x8000 ? hi | 0xffff0000 : hi) >>> 0;
}

/**
 * VMCS slots of the fields the entry and exit move (the region indexed directly, as the segment
 * slots above: the processor's own accesses, once per field per entry/exit, with no table lookup).
 */
const S_CPU_BASED_VM_EXEC_CONTROL = VMCS_SLOT_BY_ENCODING[VMCS.CPU_BASED_VM_EXEC_CONTROL >>> 1];
const S_CR0_GUEST_HOST_MASK = VMCS_SLOT_BY_ENCODING[VMCS.CR0_GUEST_HOST_MASK >>> 1];
const S_CR0_READ_SHADOW = VMCS_SLOT_BY_ENCODING[VMCS.CR0_READ_SHADOW >>> 1];
const S_CR3_TARGET_COUNT = VMCS_SLOT_BY_ENCODING[VMCS.CR3_TARGET_COUNT >>> 1];
const S_CR4_GUEST_HOST_MASK = VMCS_SLOT_BY_ENCODING[VMCS.CR4_GUEST_HOST_MASK >>> 1];
const S_CR4_READ_SHADOW = VMCS_SLOT_BY_ENCODING[VMCS.CR4_READ_SHADOW >>> 1];
const S_EXCEPTION_BITMAP = VMCS_SLOT_BY_ENCODING[VMCS.EXCEPTION_BITMAP >>> 1];
const S_EPT_POINTER = VMCS_SLOT_BY_ENCODING[VMCS.EPT_POINTER >>> 1];
const S_GUEST_PDPTR0 = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_PDPTR0 >>> 1];
const S_GUEST_PDPTR1 = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_PDPTR1 >>> 1];
const S_GUEST_PDPTR2 = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_PDPTR2 >>> 1];
const S_GUEST_PDPTR3 = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_PDPTR3 >>> 1];
const S_VIRTUAL_PROCESSOR_ID = VMCS_SLOT_BY_ENCODING[VMCS.VIRTUAL_PROCESSOR_ID >>> 1];
const S_EXIT_QUALIFICATION = VMCS_SLOT_BY_ENCODING[VMCS.EXIT_QUALIFICATION >>> 1];
const S_GUEST_ACTIVITY_STATE = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_ACTIVITY_STATE >>> 1];
const S_GUEST_DR7 = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_DR7 >>> 1];
const S_GUEST_IA32_EFER = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_IA32_EFER >>> 1];
const S_GUEST_INTERRUPTIBILITY_INFO = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_INTERRUPTIBILITY_INFO >>> 1];
const S_GUEST_RFLAGS = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_RFLAGS >>> 1];
const S_GUEST_RIP = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_RIP >>> 1];
const S_GUEST_RSP = VMCS_SLOT_BY_ENCODING[VMCS.GUEST_RSP >>> 1];
const S_HOST_RSP = VMCS_SLOT_BY_ENCODING[VMCS.HOST_RSP >>> 1];
const S_IDT_VECTORING_ERROR_CODE = VMCS_SLOT_BY_ENCODING[VMCS.IDT_VECTORING_ERROR_CODE >>> 1];
const S_IDT_VECTORING_INFO_FIELD = VMCS_SLOT_BY_ENCODING[VMCS.IDT_VECTORING_INFO_FIELD >>> 1];
const S_IO_BITMAP_A = VMCS_SLOT_BY_ENCODING[VMCS.IO_BITMAP_A >>> 1];
const S_IO_BITMAP_B = VMCS_SLOT_BY_ENCODING[VMCS.IO_BITMAP_B >>> 1];
const S_MSR_BITMAP = VMCS_SLOT_BY_ENCODING[VMCS.MSR_BITMAP >>> 1];
const S_PAGE_FAULT_ERROR_CODE_MASK = VMCS_SLOT_BY_ENCODING[VMCS.PAGE_FAULT_ERROR_CODE_MASK >>> 1];
const S_PAGE_FAULT_ERROR_CODE_MATCH = VMCS_SLOT_BY_ENCODING[VMCS.PAGE_FAULT_ERROR_CODE_MATCH >>> 1];
const S_PLE_GAP = VMCS_SLOT_BY_ENCODING[VMCS.PLE_GAP >>> 1];
const S_PLE_WINDOW = VMCS_SLOT_BY_ENCODING[VMCS.PLE_WINDOW >>> 1];
const S_PIN_BASED_VM_EXEC_CONTROL = VMCS_SLOT_BY_ENCODING[VMCS.PIN_BASED_VM_EXEC_CONTROL >>> 1];
const S_SECONDARY_VM_EXEC_CONTROL = VMCS_SLOT_BY_ENCODING[VMCS.SECONDARY_VM_EXEC_CONTROL >>> 1];
const S_TPR_THRESHOLD = VMCS_SLOT_BY_ENCODING[VMCS.TPR_THRESHOLD >>> 1];
const S_VIRTUAL_APIC_PAGE_ADDR = VMCS_SLOT_BY_ENCODING[VMCS.VIRTUAL_APIC_PAGE_ADDR >>> 1];
const S_VM_ENTRY_CONTROLS = VMCS_SLOT_BY_ENCODING[VMCS.VM_ENTRY_CONTROLS >>> 1];
const S_VM_ENTRY_EXCEPTION_ERROR_CODE = VMCS_SLOT_BY_ENCODING[VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE >>> 1];
const S_VM_ENTRY_INSTRUCTION_LEN = VMCS_SLOT_BY_ENCODING[VMCS.VM_ENTRY_INSTRUCTION_LEN >>> 1];
const S_VM_ENTRY_INTR_INFO_FIELD = VMCS_SLOT_BY_ENCODING[VMCS.VM_ENTRY_INTR_INFO_FIELD >>> 1];
const S_VM_EXIT_CONTROLS = VMCS_SLOT_BY_ENCODING[VMCS.VM_EXIT_CONTROLS >>> 1];
const S_VM_EXIT_INSTRUCTION_LEN = VMCS_SLOT_BY_ENCODING[VMCS.VM_EXIT_INSTRUCTION_LEN >>> 1];
const S_VM_EXIT_INTR_ERROR_CODE = VMCS_SLOT_BY_ENCODING[VMCS.VM_EXIT_INTR_ERROR_CODE >>> 1];
const S_VM_EXIT_INTR_INFO = VMCS_SLOT_BY_ENCODING[VMCS.VM_EXIT_INTR_INFO >>> 1];
const S_VM_EXIT_REASON = VMCS_SLOT_BY_ENCODING[VMCS.VM_EXIT_REASON >>> 1];

/** A whole field written as the processor writes it on exit: the value, the high half 0. */
function put(v: VmxSilicon['vmcs'], slot: number, value: number): void {
  v.setLo(slot, value >>> 0);
  v.setHi(slot, 0);
}

/** InterceptKind → basic exit reason, for the kinds whose exit is just the instruction. */
const SIMPLE_EXIT: Int16Array = (() => {
  const t = new Int16Array(32).fill(-1);
  t[InterceptKind.Cpuid] = ExitReason.CPUID;
  t[InterceptKind.Hlt] = ExitReason.HLT;
  t[InterceptKind.Invlpg] = ExitReason.INVLPG;
  t[InterceptKind.Rdtsc] = ExitReason.RDTSC;
  t[InterceptKind.Rdmsr] = ExitReason.MSR_READ;
  t[InterceptKind.Wrmsr] = ExitReason.MSR_WRITE;
  t[InterceptKind.CrRead] = ExitReason.CR_ACCESS;
  t[InterceptKind.CrWrite] = ExitReason.CR_ACCESS;
  t[InterceptKind.DrAccess] = ExitReason.DR_ACCESS;
  t[InterceptKind.Io] = ExitReason.IO_INSTRUCTION;
  t[InterceptKind.Invd] = ExitReason.INVD;
  t[InterceptKind.Wbinvd] = ExitReason.WBINVD;
  t[InterceptKind.Pause] = ExitReason.PAUSE_INSTRUCTION;
  t[InterceptKind.DescriptorTable] = ExitReason.GDTR_IDTR;
  t[InterceptKind.InterruptWindow] = ExitReason.INTERRUPT_WINDOW;
  t[InterceptKind.Rdpmc] = ExitReason.RDPMC;
  t[InterceptKind.Shutdown] = ExitReason.TRIPLE_FAULT;
  t[InterceptKind.MonitorMwait] = ExitReason.MWAIT_INSTRUCTION;
  t[InterceptKind.Vmcall] = ExitReason.VMCALL;
  t[InterceptKind.TaskSwitch] = ExitReason.TASK_SWITCH;
  t[InterceptKind.Xsetbv] = ExitReason.XSETBV;
  t[InterceptKind.NmiWindow] = ExitReason.NMI_WINDOW;
  t[InterceptKind.Rdrand] = ExitReason.RDRAND;
  t[InterceptKind.Rdseed] = ExitReason.RDSEED;
  return t;
})();

const bit = (k: number): number => 1 << k;

/** A trap-like exit the last instruction asked for (it completes, then the exit). */
const Trap = { NONE: 0, TPR_BELOW_THRESHOLD: 1 } as const;

/** The processor in VMX non-root operation. One per silicon (one logical processor). */
export class VmxNonRoot implements Intercepts {
  readonly cpu: Cpu;
  mask = 0;
  exceptionMask = 0;
  /** Guest instructions until the host timer fires. */
  hostTick = 200_000;
  /** Instructions executed by the last entry. */
  lastInstructions = 0;
  /**
   * VM-entry injection is delivered without consulting the exception bitmap, and an injected
   * #PF leaves CR2 as the hypervisor loaded it (SDM 27.6.1): x86emu does both when asked.
   */
  readonly injectionBypassesExceptionHook = true;

  // Controls cached at entry (read per sensitive instruction).
  private proc = 0;
  private cr0Mask = 0;
  private cr0Shadow = 0;
  private cr4Mask = 0;
  private cr4Shadow = 0;
  private cr3TargetCount = 0;
  private exceptionBitmap = 0;
  private pfecMask = 0;
  private pfecMatch = 0;
  private ioBitmapA: Uint8Array | null = null;
  private ioBitmapB: Uint8Array | null = null;
  private msrBitmap: Uint8Array | null = null;
  /** "Use TPR shadow": the virtual-APIC page, the TPR threshold, and VTPR[7:4] as loaded. */
  private virtualApic: Uint8Array | null = null;
  private tprThreshold = 0;
  private vtprLoaded = 0;
  private trap: number = Trap.NONE;
  /**
   * Virtual NMIs: the RIP (low half) of the last IRET that began under virtual-NMI blocking, or
   * -1. A fault that IRET raises exits with "NMI unblocking due to IRET" (SDM 27.2.2).
   */
  private iretUnblockRip = -1;
  private readonly override = newShadowPagingOverride();
  /** Whether an entry may keep the TLB (see `ShadowTlbRegime`; the current VMCS is its tag). */
  private readonly tlbRegime = new ShadowTlbRegime();
  /** "Enable EPT" and "enable VPID" with its VPID (0 without), cached with the controls. */
  private eptEnabled = false;
  private vpid = 0;
  /**
   * PAUSE-loop exiting (SDM 25.1.3): its gap and window in TSC ticks, cached with the controls,
   * and the TSC (low half) of the last PAUSE at CPL 0 and of the first PAUSE of its loop.
   * `pleFresh` marks the first PAUSE after VM entry, which always starts a loop.
   */
  private pleGap = -1;
  private pleWindow = 0;
  private pleLast = 0;
  private pleLoopStart = 0;
  private pleFresh = true;
  /** The EPT walk (x86emu's nested paging in the EPT format) and its TLB regime (ept.ts). */
  private readonly nested: NestedPaging;
  /**
   * Combined entries are tagged by VPID and EPTP (28.3.3.3): kept across an exit and an entry of
   * the same VMCS, EPTP and VPID; without VPID (0000H) every entry flushes them.
   */
  private readonly eptRegime = new NestedTlbRegime();
  /** The guest PDPTE fields' slots (27.3.2.4, 28.3.4). */
  private static readonly PDPTR_SLOTS = [S_GUEST_PDPTR0, S_GUEST_PDPTR1, S_GUEST_PDPTR2, S_GUEST_PDPTR3];

  constructor(
    private readonly silicon: VmxSilicon,
    msr: MsrOps,
  ) {
    // The engine's compile threshold, not a bare Cpu's: a guest kernel's code runs too few times
    // for most of its blocks to pay for compiling (x86emu's jit/engine-policy.ts).
    this.cpu = new Cpu({
      memory: silicon.memory,
      msr,
      intercepts: this,
      jit: silicon.jit ? engineJitTuning(silicon.jitBackend) : false,
      random: silicon.randomSeed === undefined ? undefined : seededRandom(silicon.randomSeed),
    });
    this.nested = new NestedPaging(silicon.memory);
    this.nested.format = NestedFormat.Ept;
    // Instruction counts and budgets, controls with bit 31, CR0 masks and shadows, host times
    // (x86emu's double-fields.ts).
    holdAsDoubles(this, [
      'hostTick',
      'lastInstructions',
      'proc',
      'cr0Mask',
      'cr0Shadow',
      'cr4Mask',
      'pleLast',
      'pleLoopStart',
    ]);
  }

  /** INVEPT: the guest-physical and combined mappings go (vmx-silicon.ts). */
  flushEpt(): void {
    this.nested.flush();
    this.cpu.flushTlb();
  }

  // ---- Intercepts (called by the Cpu) ----------------------------------------------------

  instruction(kind: number, exit: ExitInfo): boolean {
    switch (kind) {
      case InterceptKind.CrWrite:
        return this.crWriteExits(exit);
      case InterceptKind.CrRead:
        // MOV from CR3/CR8 exits with CR3-/CR8-store exiting; CR0/CR4 reads use the read shadows.
        if (exit.cr === 8) return (this.proc & CpuBased.CR8_STORE_EXITING) !== 0;
        return exit.cr === 3 && (this.proc & CpuBased.CR3_STORE_EXITING) !== 0;
      case InterceptKind.Io:
        return this.ioExits(exit);
      case InterceptKind.Rdmsr:
      case InterceptKind.Wrmsr:
        return this.msrExits(kind === InterceptKind.Wrmsr);
      case InterceptKind.Pause:
        return (this.proc & CpuBased.PAUSE_EXITING) !== 0 || this.pauseLoopExits();
      case InterceptKind.Iret:
        // Armed only with virtual NMIs: IRET never exits on VMX; note whether it unblocks.
        this.iretUnblockRip =
          this.cpu.state.interruptibility & GuestIntrState.NMI
            ? (this.cpu.state.rip[0] - exit.instructionLength) >>> 0
            : -1;
        return false;
      default:
        return true;
    }
  }

  /**
   * SDM 25.1.3: at CPL 0, a PAUSE more than PLE_Gap ticks after the previous one (or the first
   * after VM entry) begins a loop; one more than PLE_Window ticks after its loop began exits.
   * Time is the guest's TSC, which x86emu advances an instruction a tick within a run.
   */
  private pauseLoopExits(): boolean {
    const s = this.cpu.state;
    if (this.pleGap < 0 || s.cpl !== 0) return false;
    const now = (s.tsc[0] + this.cpu.runCount) >>> 0;
    if (this.pleFresh || (now - this.pleLast) >>> 0 > this.pleGap) {
      this.pleFresh = false;
      this.pleLoopStart = now;
    }
    this.pleLast = now;
    return (now - this.pleLoopStart) >>> 0 > this.pleWindow;
  }

  /**
   * An exception the guest raised, nested ones included: x86emu offers a fault that happens
   * while delivering another event before the double-fault rules combine them, so a nested
   * exception whose bitmap bit is set exits with the first event in the IDT-vectoring
   * information (SDM 28.2.4), as on VMX hardware.
   */
  exception(vector: number, errorCode: number): boolean {
    return this.bitmapExits(vector, errorCode);
  }

  /** Would exception `vector` exit under the exception bitmap (and, for #PF, PFEC mask/match)? */
  private bitmapExits(vector: number, errorCode: number): boolean {
    if (vector >= 32 || !((this.exceptionBitmap >>> vector) & 1)) return false;
    // SDM 26.2: with bit 14 set a #PF exits iff (PFEC & MASK) == MATCH.
    if (vector === PF_VECTOR) return (errorCode & this.pfecMask) === this.pfecMatch;
    return true;
  }

  crRead(cr: number, value: number): number {
    if (cr === 0) return ((value & ~this.cr0Mask) | (this.cr0Shadow & this.cr0Mask)) >>> 0;
    if (cr === 4) return ((value & ~this.cr4Mask) | (this.cr4Shadow & this.cr4Mask)) >>> 0;
    return value;
  }

  crWrite(cr: number, value: number): number {
    // Not exiting: the bits the host owns keep their real value (SDM 26.3).
    const s = this.cpu.state;
    if (cr === 0) return ((value & ~this.cr0Mask) | (s.cr[0] & this.cr0Mask)) >>> 0;
    if (cr === 4) return ((value & ~this.cr4Mask) | (s.cr[4] & this.cr4Mask)) >>> 0;
    return value;
  }

  /** SDM 26.1.3: MOV to CR0/CR4, CLTS, LMSW exit per the guest/host masks and read shadows. */
  private crWriteExits(exit: ExitInfo): boolean {
    const cr = exit.cr;
    switch (exit.crAccessType) {
      case 0: {
        if (cr === 3) {
          if (!(this.proc & CpuBased.CR3_LOAD_EXITING)) return false;
          const v = this.cpu.state.gpr[exit.gpr];
          for (let i = 0; i < this.cr3TargetCount; i++) {
            if (this.silicon.field(VMCS.CR3_TARGET_VALUE0 + 2 * i) === v) return false;
          }
          return true;
        }
        // MOV to CR8 exits with CR8-load exiting (without a TPR shadow it writes the TPR).
        if (cr === 8) {
          if (this.proc & CpuBased.CR8_LOAD_EXITING) return true;
          if (this.virtualApic !== null) this.tprVirtualization(exit.gpr);
          return false;
        }
        const v = this.cpu.state.gpr[exit.gpr];
        if (cr === 0) return ((v ^ this.cr0Shadow) & this.cr0Mask) !== 0;
        if (cr === 4) return ((v ^ this.cr4Shadow) & this.cr4Mask) !== 0;
        return true;
      }
      case 2:
        // CLTS exits if CR0.TS is host-owned and the shadow has TS = 1.
        return (this.cr0Mask & X86_CR0_TS) !== 0 && (this.cr0Shadow & X86_CR0_TS) !== 0;
      case 3: {
        const src = exit.lmswSource & 0xf;
        if (this.cr0Mask & 1 && src & 1 && !(this.cr0Shadow & 1)) return true;
        return ((src ^ this.cr0Shadow) & this.cr0Mask & 0xe) !== 0;
      }
      default:
        return true;
    }
  }

  /**
   * MOV to CR8 with a TPR shadow writes VTPR[7:4] (SDM 29.3); TPR virtualization then makes a
   * trap-like TPR-below-threshold exit if VTPR[7:4] < TPR threshold[3:0] (29.1.2). A source with
   * reserved bits faults instead (nothing written, no exit).
   */
  private tprVirtualization(gpr: number): void {
    const s = this.cpu.state;
    const v = s.gpr[gpr];
    if (v & ~0xf || s.gprHigh[gpr] !== 0) return;
    if (v < this.tprThreshold) {
      this.trap = Trap.TPR_BELOW_THRESHOLD;
      this.cpu.requestStop();
    }
  }

  /** SDM 26.1.3: unconditional I/O exiting, or the I/O bitmaps when in use (every byte's bit). */
  private ioExits(exit: ExitInfo): boolean {
    if (!(this.proc & CpuBased.USE_IO_BITMAPS)) return (this.proc & CpuBased.UNCOND_IO_EXITING) !== 0;
    for (let i = 0; i < exit.ioSize; i++) {
      const port = exit.port + i;
      if (port > 0xffff) return true;
      const map = port < 0x8000 ? this.ioBitmapA : this.ioBitmapB;
      if (map === null) return true;
      const p = port & 0x7fff;
      if ((map[p >>> 3] >>> (p & 7)) & 1) return true;
    }
    return false;
  }

  /** SDM 25.6.9: the MSR bitmaps (read low/high at 0/1024, write low/high at 2048/3072). */
  private msrExits(write: boolean): boolean {
    if (!(this.proc & CpuBased.USE_MSR_BITMAPS) || this.msrBitmap === null) return true;
    const ecx = this.cpu.state.gpr[1] >>> 0;
    let base: number;
    let n: number;
    if (ecx <= 0x1fff) {
      base = 0;
      n = ecx;
    } else if (ecx >= 0xc0000000 && ecx <= 0xc0001fff) {
      base = 1024;
      n = ecx - 0xc0000000;
    } else return true;
    if (write) base += 2048;
    return ((this.msrBitmap[base + (n >>> 3)] >>> (n & 7)) & 1) === 1;
  }

  // ---- VM entry and exit -------------------------------------------------------------------

  private pageAt(hpa: number): Uint8Array | null {
    return this.silicon.memory.pageView(Math.floor(hpa / 4096));
  }

  /**
   * Loads the guest-state area and the controls into the CPU (SDM 27.3.2, 27.5, 27.6): of the
   * cold groups (`guest-cache.ts`) only `cold`, the ones the processor does not hold already; the
   * controls only when `controls` says they may have changed.
   */
  private loadGuest(cold: number, controls: boolean): void {
    const si = this.silicon;
    const s = this.cpu.state;
    const v = si.vmcs;
    if (cold !== 0) loadColdGroups(s, v, cold);
    // What the mode depends on beside the cold groups: with none of them loaded and these two bits
    // as the exit left them, the mode and segment checks x86emu derived still hold (below).
    const modeBits = (s.efer[0] & EFER_LMA) | (s.rflags[0] & X86_EFLAGS_VM);
    s.dr[7] = v.lo(S_GUEST_DR7);
    s.gpr[4] = v.lo(S_GUEST_RSP);
    s.gprHigh[4] = v.hi(S_GUEST_RSP);
    s.rip[0] = v.lo(S_GUEST_RIP);
    s.rip[1] = v.hi(S_GUEST_RIP);
    s.rflags[0] = v.lo(S_GUEST_RFLAGS);
    const entry = v.lo(S_VM_ENTRY_CONTROLS);
    if (entry & VmEntryCtl.LOAD_IA32_EFER) {
      s.efer[0] = v.lo(S_GUEST_IA32_EFER);
      s.efer[1] = v.hi(S_GUEST_IA32_EFER);
    } else if (si.longMode) {
      // 26.3.2.1: without "load IA32_EFER", LMA is the "IA-32e mode guest" control, and LME too
      // when CR0.PG is 1.
      const lma = entry & VmEntryCtl.IA32E_MODE ? EFER_LMA | (s.cr[0] & X86_CR0_PG ? EFER_LME : 0) : 0;
      s.efer[0] = (s.efer[0] & ~(EFER_LMA | EFER_LME)) | lma;
    }
    // CPL is SS.DPL in VMX (real mode: 0; virtual-8086: 3).
    s.cpl =
      s.rflags[0] & (1 << 17) ? 3 : s.cr[0] & 1 ? (s.segAttr[2] & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT : 0;
    s.interruptibility =
      v.lo(S_GUEST_INTERRUPTIBILITY_INFO) & (GuestIntrState.STI | GuestIntrState.MOV_SS | GuestIntrState.NMI);
    s.halted = v.lo(S_GUEST_ACTIVITY_STATE) === ActivityState.HLT;
    s.pendingType = -1;
    if (controls) this.loadControls();
    this.pleFresh = true;
    this.iretUnblockRip = -1;
    this.trap = Trap.NONE;
    // "Use TPR shadow" (29.3): MOV from/to CR8 read and write VTPR[7:4], the guest's CR8 here.
    if (this.virtualApic !== null) {
      this.vtprLoaded = this.virtualApic[0x80] >>> 4;
      s.cr[8] = this.vtprLoaded;
    }

    // Shadow paging: translate through the CR3 field's tables (see the file comment). The
    // override is set before `stateChanged`, which derives the paging regime from it once.
    this.cpu.setIntercepts(this);
    let keep: boolean;
    if (this.eptEnabled) {
      // EPT: the guest's own paging state over the EPT at the EPTP. Guest-physical mappings are
      // tagged by the EPTP (28.3.3.1): another EPTP starts with none.
      const lo = v.lo(S_EPT_POINTER);
      const hi = v.hi(S_EPT_POINTER);
      const n = this.nested;
      const root = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
      const ad = (lo & Eptp.AD) !== 0;
      if (n.root !== root || n.eptAd !== ad) n.flush();
      n.root = root;
      n.eptAd = ad;
      this.tlbRegime.reset();
      this.cpu.override = null;
      this.cpu.nested = n;
      keep = this.eptRegime.keep(this.cpu, si.currentVmcs, lo + hi * TWO32, this.vpid) && this.vpid !== 0;
    } else {
      this.eptRegime.reset();
      this.cpu.nested = null;
      const o = loadShadowPagingOverride(this.override, s);
      keep = this.tlbRegime.keep(o, si.currentVmcs, this.cpu.stats.tlbMisses);
      this.cpu.override = o;
    }
    // An entry that loaded no cold group (the processor held them: guest-cache.ts) and changed
    // neither EFER.LMA nor RFLAGS.VM leaves CR0, the segments, CPL and so the mode as the exit
    // left them: only the hot state's consequences are recomputed (x86emu's hotStateChanged).
    if (cold === 0 && ((s.efer[0] & EFER_LMA) | (s.rflags[0] & X86_EFLAGS_VM)) === modeBits)
      this.cpu.hotStateChanged(!keep);
    else this.cpu.stateChanged(!keep);
    // EPT with PAE paging: the PDPTE registers come from the guest-state area (27.3.2.4).
    if (this.eptEnabled && this.cpu.pagingMode === 2) {
      const p = this.cpu.pdptes;
      const slots = VmxNonRoot.PDPTR_SLOTS;
      for (let i = 0; i < 4; i++) p[i] = v.hi(slots[i]) * TWO32 + v.lo(slots[i]);
    }

    // VM-entry event injection (27.6): delivered before the first guest instruction.
    const info = v.lo(S_VM_ENTRY_INTR_INFO_FIELD);
    if (info & IntrInfo.VALID) {
      const type = (info & IntrInfo.TYPE_MASK) >>> IntrInfo.TYPE_SHIFT;
      const hasCode = (info & IntrInfo.DELIVER_CODE) !== 0;
      this.cpu.injectEvent(
        type as 0,
        info & IntrInfo.VECTOR_MASK,
        hasCode ? v.lo(S_VM_ENTRY_EXCEPTION_ERROR_CODE) : undefined,
        v.lo(S_VM_ENTRY_INSTRUCTION_LEN),
      );
      s.halted = false;
      // The valid bit is cleared on VM exit (28.2.5 / 27.6); an injected event leaves HLT.
    }
  }

  /**
   * The VM-execution controls as the processor uses them in non-root operation (read per
   * sensitive instruction). Loaded again only when a control may have changed since the last
   * entry (the silicon's `controlsStale`: a VMWRITE of another value to a control, host-state
   * field or GUEST_CR0, a VMCS switch, the IA-32e mode entry control).
   */
  private loadControls(): void {
    const v = this.silicon.vmcs;
    const proc = v.lo(S_CPU_BASED_VM_EXEC_CONTROL);
    const proc2 = proc & CpuBased.ACTIVATE_SECONDARY_CONTROLS ? v.lo(S_SECONDARY_VM_EXEC_CONTROL) : 0;
    this.proc = proc;
    this.cr0Mask = v.lo(S_CR0_GUEST_HOST_MASK);
    this.cr0Shadow = v.lo(S_CR0_READ_SHADOW);
    this.cr4Mask = v.lo(S_CR4_GUEST_HOST_MASK);
    this.cr4Shadow = v.lo(S_CR4_READ_SHADOW);
    this.cr3TargetCount = v.lo(S_CR3_TARGET_COUNT);
    this.pfecMask = v.lo(S_PAGE_FAULT_ERROR_CODE_MASK);
    this.pfecMatch = v.lo(S_PAGE_FAULT_ERROR_CODE_MATCH);
    this.ioBitmapA = proc & CpuBased.USE_IO_BITMAPS ? this.pageAt(v.lo(S_IO_BITMAP_A)) : null;
    this.ioBitmapB = proc & CpuBased.USE_IO_BITMAPS ? this.pageAt(v.lo(S_IO_BITMAP_B)) : null;
    this.msrBitmap = proc & CpuBased.USE_MSR_BITMAPS ? this.pageAt(v.lo(S_MSR_BITMAP)) : null;
    let mask =
      bit(InterceptKind.Cpuid) |
      bit(InterceptKind.Rdmsr) |
      bit(InterceptKind.Wrmsr) |
      bit(InterceptKind.CrWrite) |
      bit(InterceptKind.Invd) |
      bit(InterceptKind.Shutdown) |
      bit(InterceptKind.Vmcall) |
      bit(InterceptKind.TaskSwitch) |
      // XSETBV exits unconditionally (SDM Vol. 3C 26.1.2).
      bit(InterceptKind.Xsetbv);
    if (proc & (CpuBased.CR3_STORE_EXITING | CpuBased.CR8_STORE_EXITING)) mask |= bit(InterceptKind.CrRead);
    if (proc & CpuBased.HLT_EXITING) mask |= bit(InterceptKind.Hlt);
    if (proc & CpuBased.INVLPG_EXITING) mask |= bit(InterceptKind.Invlpg);
    if (proc & CpuBased.RDTSC_EXITING) mask |= bit(InterceptKind.Rdtsc);
    if (proc & CpuBased.RDPMC_EXITING) mask |= bit(InterceptKind.Rdpmc);
    if (proc & CpuBased.MOV_DR_EXITING) mask |= bit(InterceptKind.DrAccess);
    if (proc & (CpuBased.UNCOND_IO_EXITING | CpuBased.USE_IO_BITMAPS)) mask |= bit(InterceptKind.Io);
    if (proc & CpuBased.PAUSE_EXITING || proc2 & SecondaryExec.PAUSE_LOOP_EXITING)
      mask |= bit(InterceptKind.Pause);
    this.pleGap = proc2 & SecondaryExec.PAUSE_LOOP_EXITING ? v.lo(S_PLE_GAP) : -1;
    this.pleWindow = v.lo(S_PLE_WINDOW);
    if (proc & (CpuBased.MONITOR_EXITING | CpuBased.MWAIT_EXITING)) mask |= bit(InterceptKind.MonitorMwait);
    if (proc & CpuBased.VIRTUAL_INTR_PENDING) mask |= bit(InterceptKind.InterruptWindow);
    if (proc & CpuBased.NMI_WINDOW_EXITING) mask |= bit(InterceptKind.NmiWindow);
    if (v.lo(S_PIN_BASED_VM_EXEC_CONTROL) & PinBased.VIRTUAL_NMIS) mask |= bit(InterceptKind.Iret);
    this.virtualApic = proc & CpuBased.TPR_SHADOW ? this.pageAt(v.lo(S_VIRTUAL_APIC_PAGE_ADDR)) : null;
    if (this.virtualApic !== null) this.tprThreshold = v.lo(S_TPR_THRESHOLD) & 0xf;
    if (proc2 & SecondaryExec.DESC) mask |= bit(InterceptKind.DescriptorTable);
    if (proc2 & SecondaryExec.WBINVD_EXITING) mask |= bit(InterceptKind.Wbinvd);
    if (proc2 & SecondaryExec.RDRAND_EXITING) mask |= bit(InterceptKind.Rdrand);
    if (proc2 & SecondaryExec.RDSEED_EXITING) mask |= bit(InterceptKind.Rdseed);
    this.eptEnabled = (proc2 & SecondaryExec.ENABLE_EPT) !== 0;
    this.vpid = proc2 & SecondaryExec.ENABLE_VPID ? v.lo(S_VIRTUAL_PROCESSOR_ID) & 0xffff : 0;
    this.mask = mask;
    this.exceptionBitmap = v.lo(S_EXCEPTION_BITMAP);
    this.exceptionMask = this.exceptionBitmap;
  }

  /**
   * Saves guest state into the VMCS (28.3) and loads the host's (28.5): the cold groups stay in
   * the processor (`guest-cache.ts`) until the driver reads or writes one of their fields.
   */
  private saveGuest(): void {
    const si = this.silicon;
    const s = this.cpu.state;
    const v = si.vmcs;
    si.holdColdGuestState();
    if (!si.longMode) {
      // What a save and load would leave of them: the 32-bit part's fields hold 32 bits.
      s.sysenterHigh[1] = 0;
      s.sysenterHigh[2] = 0;
    }
    put(v, S_GUEST_DR7, s.dr[7]);
    put(v, S_GUEST_RSP, s.gpr[4]);
    v.setHi(S_GUEST_RSP, s.gprHigh[4]);
    put(v, S_GUEST_RIP, s.rip[0]);
    v.setHi(S_GUEST_RIP, s.rip[1]);
    put(v, S_GUEST_RFLAGS, s.rflags[0]);
    if (v.lo(S_VM_EXIT_CONTROLS) & VmExitCtl.SAVE_IA32_EFER) {
      put(v, S_GUEST_IA32_EFER, s.efer[0]);
      v.setHi(S_GUEST_IA32_EFER, s.efer[1]);
    }
    if (si.longMode) {
      // 27.2 (Intel 64): "IA-32e mode guest" takes the value of IA32_EFER.LMA on every VM exit.
      const entry = v.lo(S_VM_ENTRY_CONTROLS);
      const ia32e = s.efer[0] & EFER_LMA ? VmEntryCtl.IA32E_MODE : 0;
      put(v, S_VM_ENTRY_CONTROLS, (entry & ~VmEntryCtl.IA32E_MODE) | ia32e);
    }
    put(
      v,
      S_GUEST_INTERRUPTIBILITY_INFO,
      s.interruptibility & (GuestIntrState.STI | GuestIntrState.MOV_SS | GuestIntrState.NMI),
    );
    put(v, S_GUEST_ACTIVITY_STATE, s.halted ? ActivityState.HLT : ActivityState.ACTIVE);
    // MOV to CR8 stored bits 3:0 into VTPR[7:4] and cleared the rest of VTPR (29.3).
    const vapic = this.virtualApic;
    if (vapic !== null && s.cr[8] !== this.vtprLoaded) {
      vapic[0x80] = (s.cr[8] & 0xf) << 4;
      vapic[0x81] = vapic[0x82] = vapic[0x83] = 0;
    }
    // EPT with PAE paging: the PDPTE registers into the guest-state area (28.3.4).
    if (this.eptEnabled && this.cpu.pagingMode === 2) {
      const p = this.cpu.pdptes;
      const slots = VmxNonRoot.PDPTR_SLOTS;
      for (let i = 0; i < 4; i++) {
        v.setLo(slots[i], (p[i] % TWO32) >>> 0);
        v.setHi(slots[i], Math.floor(p[i] / TWO32) >>> 0);
      }
    }
    // The VM-entry interruption-information valid bit is cleared on every VM exit.
    put(v, S_VM_ENTRY_INTR_INFO_FIELD, v.lo(S_VM_ENTRY_INTR_INFO_FIELD) & ~IntrInfo.VALID);
    // Host state: the processor's RSP becomes HOST_RSP (the other GPRs are the driver's to save).
    s.gpr[4] = v.lo(S_HOST_RSP);
    s.gprHigh[4] = v.hi(S_HOST_RSP);
  }

  /** Clears the exit-information fields an exit may leave stale. */
  private clearExitInfo(reason: number, qualification: number, instructionLength: number): void {
    const si = this.silicon;
    const v = si.vmcs;
    put(v, S_VM_EXIT_REASON, reason);
    put(v, S_EXIT_QUALIFICATION, qualification);
    put(v, S_VM_EXIT_INSTRUCTION_LEN, instructionLength);
    put(v, S_VM_EXIT_INTR_INFO, 0);
    put(v, S_VM_EXIT_INTR_ERROR_CODE, 0);
    const e = this.cpu.exit;
    if (e.vectoringValid) {
      put(
        v,
        S_IDT_VECTORING_INFO_FIELD,
        (IntrInfo.VALID |
          (e.vectoringType << 8) |
          (e.vectoringHasErrorCode ? IntrInfo.DELIVER_CODE : 0) |
          e.vectoringVector) >>>
          0,
      );
      put(v, S_IDT_VECTORING_ERROR_CODE, e.vectoringErrorCode);
    } else {
      put(v, S_IDT_VECTORING_INFO_FIELD, 0);
    }
  }

  /**
   * Enters the guest and runs it until a VM exit; fills the exit fields. Called by VMLAUNCH /
   * VMRESUME after their checks passed.
   */
  enterGuest(cold: number, controls: boolean): void {
    this.loadGuest(cold, controls);
    const cpu = this.cpu;
    const before = cpu.instructionsRetired;
    // x86emu's ExitInfo is fresh only for Intercept/Exception stops.
    cpu.exit.vectoringValid = false;
    const why = cpu.run(this.hostTick);
    this.lastInstructions = cpu.instructionsRetired - before;
    const e = cpu.exit;
    switch (why) {
      case StopReason.Intercept:
        this.interceptExit(e);
        break;
      case StopReason.Exception: {
        const type =
          e.vector === 3 || e.vector === 4
            ? e.instructionLength > 0
              ? IntrType.SOFT_EXCEPTION
              : IntrType.HARD_EXCEPTION
            : IntrType.HARD_EXCEPTION;
        this.clearExitInfo(
          ExitReason.EXCEPTION_NMI,
          e.vector === PF_VECTOR ? e.faultAddress : 0,
          e.instructionLength,
        );
        // The qualification of a #PF is the faulting linear address, canonical (27.2.1).
        if (e.vector === PF_VECTOR)
          this.silicon.setFieldHigh(VMCS.EXIT_QUALIFICATION, linearHigh(e.faultAddress));
        // Of a #DB, what it would have put in DR6: B3–B0, BD, BS (27.2.1, Table 27-1). (x86emu
        // has written DR6 already; the VMM that intercepts #DB keeps the guest's DR6 itself.)
        else if (e.vector === DB_VECTOR)
          this.silicon.setField(VMCS.EXIT_QUALIFICATION, this.cpu.state.dr[6] & DR6_EXIT_QUAL_BITS);
        // A fault in an IRET that began under virtual-NMI blocking (now cleared, 27.3.1): bit 12
        // says so, that the VMM may block NMIs again when it resumes the IRET (27.2.2; not for #DF).
        const unblock =
          this.iretUnblockRip >= 0 &&
          this.iretUnblockRip === this.cpu.state.rip[0] &&
          e.vector !== 8 &&
          !e.vectoringValid
            ? IntrInfo.NMI_UNBLOCK
            : 0;
        this.silicon.setField(
          VMCS.VM_EXIT_INTR_INFO,
          (IntrInfo.VALID |
            (type << 8) |
            (e.hasErrorCode ? IntrInfo.DELIVER_CODE : 0) |
            unblock |
            e.vector) >>>
            0,
        );
        this.silicon.setField(VMCS.VM_EXIT_INTR_ERROR_CODE, e.errorCode);
        break;
      }
      case StopReason.Shutdown:
        this.clearExitInfo(ExitReason.TRIPLE_FAULT, 0, 0);
        break;
      case StopReason.Requested:
        // A trap-like exit after the instruction that asked for it (29.1.2); else a kick.
        this.clearExitInfo(
          this.trap === Trap.TPR_BELOW_THRESHOLD
            ? ExitReason.TPR_BELOW_THRESHOLD
            : ExitReason.EXTERNAL_INTERRUPT,
          0,
          0,
        );
        break;
      default:
        // Budget (host timer), Requested (kick), or Hlt without HLT exiting: the host
        // interrupt takes the processor out of the guest (and out of HLT, which stays the
        // guest's activity state).
        this.clearExitInfo(ExitReason.EXTERNAL_INTERRUPT, 0, 0);
        break;
    }
    if (this.eptEnabled) this.eptRegime.exited(cpu);
    else this.tlbRegime.exited(cpu.stats.tlbMisses);
    this.saveGuest();
  }

  private interceptExit(e: ExitInfo): void {
    const si = this.silicon;
    const kind = e.kind;
    const reason = SIMPLE_EXIT[kind];
    let qual = 0;
    let qualHigh = 0;
    switch (kind) {
      case InterceptKind.CrRead:
      case InterceptKind.CrWrite:
        qual =
          e.cr |
          (e.crAccessType << CrQual.ACCESS_TYPE_SHIFT) |
          (e.gpr << CrQual.GPR_SHIFT) |
          ((e.lmswSource & 0xffff) << CrQual.LMSW_SOURCE_SHIFT);
        break;
      case InterceptKind.Io:
        qual =
          (e.ioSize - 1) |
          (e.ioIn ? IoQual.IN : 0) |
          (e.ioString ? IoQual.STRING : 0) |
          (e.ioRep ? IoQual.REP : 0) |
          (e.port << IoQual.PORT_SHIFT);
        break;
      case InterceptKind.Invlpg:
        qual = e.linearAddress;
        qualHigh = linearHigh(e.linearAddress);
        break;
      case InterceptKind.DrAccess:
        qual = e.dr | (e.drWrite ? 0 : 1 << 4) | (e.gpr << 8);
        break;
      case InterceptKind.TaskSwitch:
        // Table 28-2: the new TSS selector in 15:0, the source (CALL, IRET, JMP, task gate) in 31:30.
        qual = (e.taskSwitchSelector & 0xffff) | (e.taskSwitchSource << 30);
        break;
      case InterceptKind.InterruptWindow:
        this.clearExitInfo(ExitReason.INTERRUPT_WINDOW, 0, 0);
        return;
      case InterceptKind.NestedPageFault:
        this.eptExit(e);
        return;
    }
    this.clearExitInfo(reason >= 0 ? reason : ExitReason.EXTERNAL_INTERRUPT, qual >>> 0, e.instructionLength);
    si.setFieldHigh(VMCS.EXIT_QUALIFICATION, qualHigh);
    if (kind === InterceptKind.Io && e.ioString) {
      si.setField(VMCS.GUEST_LINEAR_ADDRESS, e.linearAddress);
      si.setFieldHigh(VMCS.GUEST_LINEAR_ADDRESS, linearHigh(e.linearAddress));
      // VM-exit instruction information for INS/OUTS (Table 28-8): address size, segment.
      const asz = e.ioAddressSize === 2 ? 0 : e.ioAddressSize === 4 ? 1 : 2;
      si.setField(VMCS.VMX_INSTRUCTION_INFO, (asz << 7) | (e.segment << 15));
    }
    // RDRAND/RDSEED (Table 28-12): the destination register in 6:3, the operand size in 12:11
    // (0 16-bit, 1 32-bit, 2 64-bit).
    if (kind === InterceptKind.Rdrand || kind === InterceptKind.Rdseed)
      si.setField(VMCS.VMX_INSTRUCTION_INFO, (e.gpr << 3) | ((e.operandSize >>> 2) << 11));
  }

  /**
   * An EPT violation (exit 48) or misconfiguration (exit 49), SDM Vol. 3C 28.2.1: the
   * guest-physical address in GUEST_PHYSICAL_ADDRESS; for a violation the qualification holds
   * the access (bits 2:0), the entries' rights (5:3), whether the guest linear address is valid
   * (7) and then whether the access was to the translated address rather than a guest
   * paging-structure entry (8), and "NMI unblocking due to IRET" (12); GUEST_LINEAR_ADDRESS.
   * RIP at the instruction, which runs again once the hypervisor has mapped the page.
   */
  private eptExit(e: ExitInfo): void {
    const si = this.silicon;
    const gpa = e.faultAddress;
    if (e.nestedFaultMisconfig) this.clearExitInfo(ExitReason.EPT_MISCONFIG, 0, e.instructionLength);
    else {
      let q =
        e.errorCode & PFERR.WRITE ? EptQual.WRITE : e.errorCode & PFERR.FETCH ? EptQual.FETCH : EptQual.READ;
      q |= (e.nestedFaultRights & 7) << EptQual.RIGHTS_SHIFT;
      if (e.nestedFaultLinearValid)
        q |= EptQual.LINEAR_VALID | (e.nestedFaultInWalk ? 0 : EptQual.TRANSLATED);
      if (this.iretUnblockRip >= 0 && this.iretUnblockRip === this.cpu.state.rip[0] && !e.vectoringValid)
        q |= EptQual.NMI_UNBLOCK;
      this.clearExitInfo(ExitReason.EPT_VIOLATION, q, e.instructionLength);
      si.setFieldHigh(VMCS.EXIT_QUALIFICATION, 0);
      if (e.nestedFaultLinearValid) {
        si.setField(VMCS.GUEST_LINEAR_ADDRESS, e.linearAddress);
        si.setFieldHigh(VMCS.GUEST_LINEAR_ADDRESS, linearHigh(e.linearAddress));
      }
    }
    si.setField(VMCS.GUEST_PHYSICAL_ADDRESS, gpa % TWO32);
    si.setFieldHigh(VMCS.GUEST_PHYSICAL_ADDRESS, Math.floor(gpa / TWO32));
  }
}
