/**
 * Virtualization hooks. The software engine's silicon models (VMX non-root operation, SVM
 * guest mode) implement `Intercepts` to decide, before a sensitive instruction or event, that
 * it exits instead of executing. x86emu knows nothing of VMX or SVM: it reports *what* is about
 * to happen in `ExitInfo`; mapping that to an exit reason and qualification is the silicon's job.
 *
 * Cost model: a hook is consulted only when the kind's bit is set in `Intercepts.mask`
 * (`1 << InterceptKind.X`), so a plain emulator pays one AND per sensitive instruction.
 */
import { holdAsDoubles } from '../double-fields.js';

/** The sensitive instructions and events a caller can intercept. Numbers are ours (not VMX's). */
export const InterceptKind = {
  /** CPUID (0F A2). */
  Cpuid: 0,
  /** HLT (F4), after the privilege check. */
  Hlt: 1,
  /** INVLPG (0F 01 /7); `ExitInfo.linearAddress` is the operand's linear address. */
  Invlpg: 2,
  /** RDTSC (0F 31). */
  Rdtsc: 3,
  /** RDMSR (0F 32); the index is in ECX. */
  Rdmsr: 4,
  /** WRMSR (0F 30); index in ECX, value in EDX:EAX. */
  Wrmsr: 5,
  /** MOV r32, CRn (0F 20), SMSW; `ExitInfo.cr`, `ExitInfo.gpr`, `ExitInfo.crAccessType`. */
  CrRead: 6,
  /** MOV CRn, r32 (0F 22), CLTS, LMSW; `ExitInfo.crAccessType` says which (SDM Table 28-3 order). */
  CrWrite: 7,
  /** MOV to/from DRn (0F 21 / 0F 23). */
  DrAccess: 8,
  /** IN/OUT/INS/OUTS, after the IOPL / TSS I/O-bitmap checks passed (they have priority over a VM exit, SDM Vol. 3 25.1.1). */
  Io: 9,
  /** INVD (0F 08). */
  Invd: 10,
  /** WBINVD (0F 09). */
  Wbinvd: 11,
  /** PAUSE (F3 90). */
  Pause: 12,
  /** LGDT/LIDT/SGDT/SIDT/LLDT/LTR/SLDT/STR; `ExitInfo.descInstruction`. */
  DescriptorTable: 13,
  /**
   * Interrupt window: checked at each instruction boundary; fires when RFLAGS.IF = 1 and no
   * STI / MOV SS shadow is in force (the guest can take an interrupt now).
   */
  InterruptWindow: 14,
  /** An external interrupt is pending at the interrupt controller and would be taken now. */
  ExternalInterrupt: 15,
  /** INT n (CD ib) only; INT3/INTO/INT1 are exceptions (`Intercepts.exception`), as SVM's INTn intercept. */
  SoftwareInterrupt: 16,
  /** IRET. */
  Iret: 17,
  /** PUSHF / POPF. */
  PushfPopf: 18,
  /** RDPMC (0F 33). */
  Rdpmc: 19,
  /** A triple fault is about to shut the CPU down. */
  Shutdown: 20,
  /** MONITOR / MWAIT (0F 01 C8 / C9). */
  MonitorMwait: 21,
  /** VMCALL (0F 01 C1): without an intercept it is #UD, as outside VMX non-root operation. */
  Vmcall: 22,
  /** VMMCALL (0F 01 D9): without an intercept it is #UD. */
  Vmmcall: 23,
  /** A task switch (CALL/JMP to a TSS or task gate, IRET with NT=1, task-gate event). */
  TaskSwitch: 24,
  /**
   * XSETBV (0F 01 D1), after the #UD (CR4.OSXSAVE = 0) and CPL checks, before ECX and the value
   * are checked: VMX exits unconditionally (SDM Vol. 3C 26.1.2, exit reason 55), SVM on the XSETBV
   * intercept (APM Vol. 2 15.9, exit code 8DH); the hypervisor checks the rest (`kvm_set_xcr`).
   */
  Xsetbv: 25,
  /**
   * NMI window: checked at each instruction boundary (and before the first instruction of an
   * event handler); fires when there is no blocking by NMI, STI or MOV SS (SDM Vol. 3C 26.7.6,
   * "NMI-window exiting"). The silicon models use it for NMI-window exits and virtual NMIs.
   */
  NmiWindow: 26,
  /**
   * A nested page fault (`Cpu.nested`: AMD NPT, APM Vol. 2 15.25.6): a guest-physical address
   * the nested tables do not map for the access. Not asked of the hooks (the silicon that set
   * `nested` takes it): `run()` stops with `StopReason.Intercept`, RIP at the instruction, with
   * `ExitInfo.faultAddress` the guest-physical address, `errorCode` the nested walk's #PF-style
   * error code and `nestedFaultInWalk`; under EPT also `nestedFaultMisconfig`,
   * `nestedFaultRights`, `nestedFaultLinearValid` and `linearAddress`.
   */
  NestedPageFault: 27,
  /**
   * RDRAND (0F C7 /6), after its #UD checks; `ExitInfo.gpr` is the destination register and
   * `operandSize` its size (VMX "RDRAND exiting", exit reason 57; SVM has no such intercept).
   */
  Rdrand: 28,
  /** RDSEED (0F C7 /7), as `Rdrand` (VMX "RDSEED exiting", exit reason 61). */
  Rdseed: 29,
} as const;
export type InterceptKind = (typeof InterceptKind)[keyof typeof InterceptKind];

/** Event types, numbered as in the VMX interruption-information field (SDM Vol. 3 Table 25-17). */
export const EventType = {
  ExternalInterrupt: 0,
  Nmi: 2,
  HardwareException: 3,
  SoftwareInterrupt: 4,
  PrivilegedSoftwareException: 5,
  SoftwareException: 6,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/**
 * `ExitInfo.crAccessType`, numbered as the VMX exit qualification for CR accesses (SDM Vol. 3
 * Table 28-3); `Smsw` (4) has no VMX encoding: SMSW is offered as a CR0 read (`CrRead`), which
 * SVM intercepts (APM Vol. 2 15.9) and VMX never does. CLTS, LMSW and SMSW report `cr` 0.
 */
export const CrAccessType = { MovToCr: 0, MovFromCr: 1, Clts: 2, Lmsw: 3, Smsw: 4 } as const;

/** `ExitInfo.descInstruction`. */
export const DescInstruction = {
  Sgdt: 0,
  Sidt: 1,
  Lgdt: 2,
  Lidt: 3,
  Sldt: 4,
  Str: 5,
  Lldt: 6,
  Ltr: 7,
} as const;

/**
 * What was about to happen when `run()` stopped with `Intercept` or `Exception`. One instance
 * per Cpu, overwritten at each stop (no allocation). Fields not relevant to `kind` are stale.
 */
export class ExitInfo {
  /** The `InterceptKind` (for `StopReason.Intercept`), or -1 for `StopReason.Exception`. */
  kind = -1;
  /** Length in bytes of the instruction that caused the exit (0 for events). RIP points at it. */
  instructionLength = 0;
  /** Linear address of the instruction's memory operand (INVLPG, LGDT…, INS/OUTS), low 32 bits. */
  linearAddress = 0;

  /** Exception exits: vector, error code and whether it has one. */
  vector = 0;
  errorCode = 0;
  hasErrorCode = false;
  /**
   * #PF: the faulting linear address (what CR2 would have received). #DB: the DR6 bits. A
   * nested page fault: the guest-physical address.
   */
  faultAddress = 0;
  /** Nested page fault: true when it hit an access of the guest's page-table walk, false for the final guest-physical address. */
  nestedFaultInWalk = false;
  /**
   * Nested page fault under EPT (`NestedPaging.format`): an EPT misconfiguration (true) or an EPT
   * violation (false) (SDM Vol. 3C 29.3.3). `errorCode` then holds the access (PFERR WRITE /
   * FETCH; neither: a read), `nestedFaultRights` the AND of the R/W/X bits (EPT bits 2:0) of the
   * entries used, `nestedFaultLinearValid` whether the access had a guest linear address (in
   * `linearAddress`): false for the PDPTE loads of MOV CR3/CR0/CR4 under PAE paging.
   */
  nestedFaultMisconfig = false;
  nestedFaultRights = 0;
  nestedFaultLinearValid = false;

  /**
   * CR access: register number, `CrAccessType`, general register (0–15; also RDRAND's and
   * RDSEED's destination), LMSW source value.
   */
  cr = 0;
  crAccessType = 0;
  gpr = 0;
  lmswSource = 0;
  /** RDRAND/RDSEED: the destination's operand size in bytes (2, 4 or 8; its register is `gpr`). */
  operandSize = 0;
  /** LMSW: true when the source operand is in memory (its linear address is in `linearAddress`). */
  lmswMemory = false;
  /** DR access: register number; `drWrite` true for MOV DRn, r32. */
  dr = 0;
  drWrite = false;

  /** I/O: port, size (1/2/4), direction, string (INS/OUTS), REP prefix, address size (2/4/8). */
  port = 0;
  ioSize = 0;
  ioIn = false;
  ioString = false;
  ioRep = false;
  ioAddressSize = 0;
  /** I/O: true when the port came from an immediate (IN/OUT imm8), false for DX. */
  ioImmediate = false;
  /** Segment register (0=ES … 5=GS) of a memory operand (OUTS honours overrides; INS is ES). */
  segment = 0;

  /** INT n: the vector. Descriptor-table exits: `DescInstruction`. */
  softwareVector = 0;
  /**
   * Task switches: the new TSS selector and what caused the switch, numbered as the VMX exit
   * qualification (SDM Vol. 3 Table 28-2): 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT.
   */
  taskSwitchSelector = 0;
  taskSwitchSource = 0;
  /**
   * Exception exits: the event type (`EventType`): HardwareException, SoftwareException (INT3,
   * INTO, with `instructionLength` set) or PrivilegedSoftwareException (INT1).
   */
  eventType = 0;
  descInstruction = 0;

  /**
   * IDT-vectoring information: true when the exit happened while delivering an event (the
   * event type, vector and error code are below), so the caller can re-inject it (SDM Vol. 3
   * 27.2.4). x86emu never delivers it further.
   */
  vectoringValid = false;
  vectoringType = 0;
  vectoringVector = 0;
  vectoringErrorCode = 0;
  vectoringHasErrorCode = false;

  constructor() {
    // Linear and guest-physical addresses (double-fields.ts).
    holdAsDoubles(this, ['linearAddress', 'faultAddress']);
  }
}

/** The hooks. Every member is optional; `mask` selects which instruction kinds are offered. */
export interface Intercepts {
  /** Bit `1 << InterceptKind.X` set: `instruction()` is asked before every instruction of kind X. */
  mask: number;
  /**
   * Asked before executing an instruction whose kind is in `mask`, after its decode and its
   * ordinary #UD / #GP / privilege checks that the SDM lists as taking priority over a VM exit
   * (SDM Vol. 3 25.1.1: e.g. CPL > 0 on MOV CR still faults first). `exit` is filled
   * with the operands. Return true to stop `run()` with `StopReason.Intercept` (instruction
   * not executed); false to execute it normally.
   */
  instruction?(kind: InterceptKind, exit: ExitInfo): boolean;
  /**
   * Asked before delivering an exception (vector 0–31) through the IDT when bit `vector` of
   * `exceptionMask` is set; return true to stop `run()` with `StopReason.Exception` (the
   * exception is not delivered, CR2 is not written, RIP is at the faulting instruction).
   */
  exceptionMask?: number;
  /**
   * When true, an event queued with `Cpu.injectEvent` is delivered without asking `exception`
   * (VM-entry injection, SDM Vol. 3 27.6.1). Faults during its delivery are offered as usual.
   * Default false. (An injected #PF never writes CR2 either way: the injector sets it.)
   */
  injectionBypassesExceptionHook?: boolean;
  exception?(vector: number, errorCode: number, hasErrorCode: boolean, exit: ExitInfo): boolean;
  /**
   * MOV from CR0/CR4 and SMSW read through here when set: receives the register's value and
   * returns what the guest sees (the silicon applies its read shadow and guest/host mask).
   */
  crRead?(cr: number, value: number): number;
  /**
   * A write to CR0/CR3/CR4 (MOV, LMSW, CLTS) that was not intercepted: receives the value the
   * guest wrote (already checked for reserved bits and consistency, SDM Vol. 3 2.4/2.5) and
   * returns the value to install (the silicon keeps host-owned bits).
   */
  crWrite?(cr: number, value: number): number;
}
