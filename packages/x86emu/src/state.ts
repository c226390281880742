/**
 * The architectural state of one x86 CPU, in typed arrays so that it can be saved, compared
 * (the differential tester) and shared (`emulate()` works on the very same object) without
 * copying field by field. 64-bit registers are two 32-bit halves: `xxx[i]` is the low half and
 * `xxxHigh[i]` the high half (zero until long mode is executed).
 *
 * If you write these arrays from outside `Cpu.run()`, call `Cpu.stateChanged()` before the
 * next run: the CPU derives its mode, CPL and TLB from them.
 */

/** GPR numbers, as encoded in ModRM / REX (SDM Vol. 2 Table 2-2). */
export const Reg = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
} as const;

/** Segment register numbers: the Sreg encoding (SDM Vol. 2 3.1.1.3), then LDTR and TR. */
export const Seg = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;

/** RFLAGS bits (SDM Vol. 1 3.4.3). */
export const Flag = {
  CF: 1 << 0,
  FIXED1: 1 << 1,
  PF: 1 << 2,
  AF: 1 << 4,
  ZF: 1 << 6,
  SF: 1 << 7,
  TF: 1 << 8,
  IF: 1 << 9,
  DF: 1 << 10,
  OF: 1 << 11,
  IOPL: 3 << 12,
  NT: 1 << 14,
  RF: 1 << 16,
  VM: 1 << 17,
  AC: 1 << 18,
  VIF: 1 << 19,
  VIP: 1 << 20,
  ID: 1 << 21,
} as const;

/** CR0 bits (SDM Vol. 3 2.5). */
export const Cr0 = {
  PE: 1 << 0,
  MP: 1 << 1,
  EM: 1 << 2,
  TS: 1 << 3,
  ET: 1 << 4,
  NE: 1 << 5,
  WP: 1 << 16,
  AM: 1 << 18,
  NW: 1 << 29,
  CD: 1 << 30,
  PG: 1 << 31,
} as const;

/** CR4 bits implemented (SDM Vol. 3 2.5). */
export const Cr4 = {
  VME: 1 << 0,
  PVI: 1 << 1,
  TSD: 1 << 2,
  DE: 1 << 3,
  PSE: 1 << 4,
  PAE: 1 << 5,
  MCE: 1 << 6,
  PGE: 1 << 7,
  PCE: 1 << 8,
  OSFXSR: 1 << 9,
  OSXMMEXCPT: 1 << 10,
  OSXSAVE: 1 << 18,
} as const;

/** EFER bits (SDM Vol. 3 2.2.1). */
export const Efer = { SCE: 1 << 0, LME: 1 << 8, LMA: 1 << 10, NXE: 1 << 11 } as const;

/**
 * Segment attribute layout in `CpuState.segAttr`: the VMX guest access-rights format (SDM Vol. 3
 * Table 25-2), i.e. descriptor bits 40–47 in 0–7 and 52–55 in 12–15, plus "unusable" in 16.
 */
export const SegAttr = {
  TYPE_MASK: 0xf,
  ACCESSED: 1 << 0,
  S: 1 << 4,
  DPL_SHIFT: 5,
  DPL_MASK: 3 << 5,
  P: 1 << 7,
  AVL: 1 << 12,
  L: 1 << 13,
  DB: 1 << 14,
  G: 1 << 15,
  UNUSABLE: 1 << 16,
} as const;

/** `CpuState.interruptibility` bits, as the VMX guest interruptibility-state field (SDM Vol. 3 Table 25-3). */
export const Interruptibility = { STI: 1 << 0, MOV_SS: 1 << 1, NMI: 1 << 3 } as const;

/** The architectural state. Construct with `new CpuState()`: the power-on state of SDM Vol. 3 9.1.1. */
/**
 * The bytes behind a `CpuState`'s arrays, handed out in order with natural alignment. The first
 * 256 bytes are XMM0–XMM15 (views of `xmm.buffer` at offset 0 see them, as before).
 */
class StateArena {
  static readonly SIZE = 1024;
  readonly buffer = new ArrayBuffer(StateArena.SIZE);
  readonly bytes = new Uint8Array(this.buffer);
  private next = 256;

  private take(bytes: number, align: number): number {
    const at = (this.next + align - 1) & ~(align - 1);
    if (at + bytes > StateArena.SIZE) throw new Error('CpuState arena too small');
    this.next = at + bytes;
    return at;
  }
  u32(n: number): Uint32Array {
    return new Uint32Array(this.buffer, this.take(4 * n, 4), n);
  }
  u16(n: number): Uint16Array {
    return new Uint16Array(this.buffer, this.take(2 * n, 2), n);
  }
  u8(n: number): Uint8Array {
    return new Uint8Array(this.buffer, this.take(n, 1), n);
  }
}

export class CpuState {
  /**
   * Every array below is a view into this one buffer (XMM0–15 at offset 0, then the rest in
   * declaration order), so that `copyFrom` (emulate()'s snapshot, twice per emulated
   * instruction) is one copy, not forty-five `TypedArray.set` calls.
   */
  private readonly arena = new StateArena();

  /**
   * RAX…R15, low halves, by `Reg` number. Views of the arena until `moveGprs` puts them elsewhere
   * (the wasm backend's memory: `Cpu.moveRegisters`); read them through the state (or `Cpu.gpr`)
   * at each use rather than keeping the array.
   */
  readonly gpr: Uint32Array = this.arena.u32(16);
  readonly gprHigh: Uint32Array = this.arena.u32(16);
  /** RIP: `rip[0]` low, `rip[1]` high. */
  readonly rip = this.arena.u32(2);
  /**
   * RFLAGS, architectural value. While `Cpu.run()` executes, the arithmetic flags may live in
   * the CPU's lazy-flag state; they are written back here whenever `run()` returns.
   */
  readonly rflags = this.arena.u32(1);

  /** Segment registers by `Seg` number: visible selector and hidden part (base, byte-granular limit, attributes). */
  readonly segSel = this.arena.u16(8);
  readonly segBase = this.arena.u32(8);
  readonly segBaseHigh = this.arena.u32(8);
  readonly segLimit = this.arena.u32(8);
  readonly segAttr = this.arena.u32(8);

  /** GDTR (index 0) and IDTR (index 1). */
  readonly dtBase = this.arena.u32(2);
  readonly dtBaseHigh = this.arena.u32(2);
  readonly dtLimit = this.arena.u16(2);

  /** CR0, CR2, CR3, CR4, CR8 at indices 0, 2, 3, 4, 8 (1, 5–7 unused). */
  readonly cr = this.arena.u32(9);
  readonly crHigh = this.arena.u32(9);
  /** DR0–DR7 (DR4/DR5 alias DR6/DR7 when CR4.DE = 0). */
  readonly dr = this.arena.u32(8);
  /** Bits 63:32 of DR0–DR3 (64-bit linear addresses; DR6/DR7's upper halves are reserved, zero). */
  readonly drHigh = this.arena.u32(4);
  /** EFER: `efer[0]` low, `efer[1]` high. */
  readonly efer = this.arena.u32(2);
  /** IA32_SYSENTER_CS, _ESP, _EIP (MSRs 0x174–0x176), low halves. */
  readonly sysenter = this.arena.u32(3);
  /** Their high halves (ESP and EIP are 64-bit addresses on Intel 64; [0] stays 0). */
  readonly sysenterHigh = this.arena.u32(3);
  /** Time-stamp counter as two halves; advanced by instructions retired. */
  readonly tsc = this.arena.u32(2);
  /**
   * The SYSCALL MSRs (SDM Vol. 3 5.8.8): IA32_STAR, IA32_LSTAR, IA32_CSTAR as halves, IA32_FMASK;
   * IA32_KERNEL_GS_BASE (SWAPGS) as halves; IA32_TSC_AUX (RDTSCP). FS/GS bases live in
   * `segBase`/`segBaseHigh`.
   */
  readonly star = this.arena.u32(2);
  readonly lstar = this.arena.u32(2);
  readonly cstar = this.arena.u32(2);
  readonly sfmask = this.arena.u32(1);
  readonly kernelGsBase = this.arena.u32(2);
  readonly tscAux = this.arena.u32(1);
  /** IA32_PAT (MSR 277H) as halves: eight memory types (SDM Vol. 3 12.12.2). Caching is not modelled. */
  readonly pat = this.arena.u32(2);

  /** Current privilege level (0–3). Architecturally CS.RPL; kept explicitly as in VMX (SS.DPL). */
  cpl = 0;
  /** `Interruptibility` bits: an STI or MOV SS shadow covering the next instruction boundary. */
  interruptibility = 0;
  /** True after HLT until an interrupt, NMI or reset wakes the CPU. */
  halted = false;

  /**
   * An event to deliver before the next instruction (VM-entry event injection; also where the
   * CPU parks an interrupted delivery). `pendingType` is an `EventType`, -1 when none.
   */
  pendingType = -1;
  pendingVector = 0;
  pendingErrorCode = 0;
  pendingHasErrorCode = false;
  /** Instruction length for injected software interrupts/exceptions (pushed RIP = RIP + this). */
  pendingInstructionLength = 0;

  /** x87 control, status (TOP in bits 13:11) and full tag word (2 bits per physical register). */
  readonly fpuControl = this.arena.u16(1);
  readonly fpuStatus = this.arena.u16(1);
  readonly fpuTag = this.arena.u16(1);
  /**
   * The physical registers R0–R7, 10 bytes each in the memory format (significand low dword,
   * high dword, sign/exponent). ST(i) is R((TOP + i) mod 8): a push or pop only moves TOP (SDM
   * Vol. 1 8.1.2); FNSAVE/FXSAVE store the registers in ST order.
   */
  readonly fpuRegs = this.arena.u8(80);
  /**
   * `fpuRegs` as 16-bit words (register k at words 5k…5k+4), the interpreter's fast view of the
   * same bytes (little-endian hosts, as every x86-64 and ARM Node is).
   */
  readonly fpuWords = new Uint16Array(this.fpuRegs.buffer, this.fpuRegs.byteOffset, 40);
  /**
   * The last x87 non-control instruction (SDM Vol. 1 8.1.8-8.1.10): FIP (offset, 64-bit in
   * halves), FDP (its memory operand's offset), the FCS and FDS selectors, and FOP (the 11-bit
   * opcode: low 3 bits of the first opcode byte, then the ModRM byte).
   */
  readonly fpuIp = this.arena.u32(2);
  readonly fpuDp = this.arena.u32(2);
  readonly fpuSel = this.arena.u16(2);
  readonly fpuOpcode = this.arena.u16(1);
  /** XCR0, the XSAVE feature-enable register (SDM Vol. 1 13.3): x87 (bit 0, always 1) and SSE (bit 1). */
  readonly xcr0 = this.arena.u32(2);
  /**
   * MXCSR (FXSAVE/FXRSTOR) and XMM0–XMM15 bytes, kept so an OS can save and restore them. Views of
   * the arena until `moveSse` puts them elsewhere (the wasm backend's memory: jit/wasm/arena.ts); read
   * them through the state at each use rather than keeping the arrays (the typed views made of
   * `xmm`, exec/sse/lanes.ts and jit/emit-sse.ts `xmmViews`, are keyed by the array and follow it).
   */
  readonly mxcsr = this.arena.u32(1);
  readonly xmm = new Uint8Array(this.arena.buffer, 0, 256);

  constructor() {
    this.reset();
  }

  /** The power-on / RESET state (SDM Vol. 3 Table 9-1): real mode at F000:FFF0, CS base FFFF0000. */
  reset(): void {
    this.gpr.fill(0);
    this.gprHigh.fill(0);
    this.gpr[Reg.RDX] = 0x633; // the CPUID.1:EAX signature in EDX after reset (SDM Vol. 3 9.1.4)
    this.rip[0] = 0xfff0;
    this.rip[1] = 0;
    this.rflags[0] = Flag.FIXED1;
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segBaseHigh[s] = 0;
      this.segLimit[s] = 0xffff;
      // present, read/write data, accessed (type 3)
      this.segAttr[s] = SegAttr.P | SegAttr.S | 3;
    }
    this.segSel[1] = 0xf000;
    this.segBase[1] = 0xffff0000;
    this.segAttr[1] = SegAttr.P | SegAttr.S | 0xb; // code, execute/read, accessed
    this.segSel[6] = 0;
    this.segBase[6] = 0;
    this.segLimit[6] = 0xffff;
    this.segAttr[6] = SegAttr.P | 2; // LDT
    this.segSel[7] = 0;
    this.segBase[7] = 0;
    this.segLimit[7] = 0xffff;
    this.segAttr[7] = SegAttr.P | 3; // busy 16-bit TSS
    this.dtBase.fill(0);
    this.dtBaseHigh.fill(0);
    this.dtLimit.fill(0xffff);
    this.cr.fill(0);
    this.crHigh.fill(0);
    this.cr[0] = Cr0.ET | Cr0.CD | Cr0.NW;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0;
    this.dr[7] = 0x400;
    this.drHigh.fill(0);
    this.efer.fill(0);
    this.sysenter.fill(0);
    this.sysenterHigh.fill(0);
    this.tsc.fill(0);
    this.star.fill(0);
    this.lstar.fill(0);
    this.cstar.fill(0);
    this.sfmask.fill(0);
    this.kernelGsBase.fill(0);
    this.tscAux.fill(0);
    // Power-up value: WB, WT, UC-, UC in both halves (SDM Vol. 3 Table 12-12).
    this.pat[0] = this.pat[1] = 0x00070406;
    this.cpl = 0;
    this.interruptibility = 0;
    this.halted = false;
    this.pendingType = -1;
    this.fpuControl[0] = 0x40;
    this.fpuStatus[0] = 0;
    this.fpuTag[0] = 0x5555;
    this.fpuRegs.fill(0);
    this.fpuIp.fill(0);
    this.fpuDp.fill(0);
    this.fpuSel.fill(0);
    this.fpuOpcode[0] = 0;
    this.xcr0[0] = 1;
    this.xcr0[1] = 0;
    this.mxcsr[0] = 0x1f80;
    this.xmm.fill(0);
  }

  /**
   * Re-points `gpr`/`gprHigh` at `lo`/`hi` (16 elements each), their values copied: the wasm
   * backend keeps the registers in its `WebAssembly.Memory` so that compiled code reads and writes
   * them in place (jit/wasm/arena.ts). Use `Cpu.moveRegisters`, which also re-points the CPU's own
   * references; safe between two instructions.
   */
  moveGprs(lo: Uint32Array, hi: Uint32Array): void {
    if (lo === this.gpr) return;
    lo.set(this.gpr);
    hi.set(this.gprHigh);
    const w = this as { gpr: Uint32Array; gprHigh: Uint32Array };
    w.gpr = lo;
    w.gprHigh = hi;
  }

  /**
   * Re-points `xmm` (256 bytes) and `mxcsr` (one element) at `xmm`/`mxcsr`, their values copied:
   * the wasm backend keeps them in its `WebAssembly.Memory` so that compiled SSE code reads and
   * writes them in place (jit/wasm/arena.ts `moveSse`); safe between two instructions.
   */
  moveSse(xmm: Uint8Array, mxcsr: Uint32Array): void {
    if (xmm === this.xmm) return;
    xmm.set(this.xmm);
    mxcsr[0] = this.mxcsr[0];
    const w = this as { xmm: Uint8Array; mxcsr: Uint32Array };
    w.xmm = xmm;
    w.mxcsr = mxcsr;
  }

  /** Copies every field of `from` into this state (for snapshots; allocation-free). */
  copyFrom(from: CpuState): void {
    this.arena.bytes.set(from.arena.bytes);
    // Registers moved out of the arena (moveGprs): the arena's copy of them is stale.
    if (this.gpr.buffer !== this.arena.buffer || from.gpr.buffer !== from.arena.buffer) {
      this.gpr.set(from.gpr);
      this.gprHigh.set(from.gprHigh);
    }
    // So may XMM0–15 and MXCSR be (moveSse).
    if (this.xmm.buffer !== this.arena.buffer || from.xmm.buffer !== from.arena.buffer) {
      this.xmm.set(from.xmm);
      this.mxcsr[0] = from.mxcsr[0];
    }
    this.cpl = from.cpl;
    this.interruptibility = from.interruptibility;
    this.halted = from.halted;
    this.pendingType = from.pendingType;
    this.pendingVector = from.pendingVector;
    this.pendingErrorCode = from.pendingErrorCode;
    this.pendingHasErrorCode = from.pendingHasErrorCode;
    this.pendingInstructionLength = from.pendingInstructionLength;
  }
}
