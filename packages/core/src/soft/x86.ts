/**
 * What the generic part offers exit handlers (kvm_main.c's exported helpers): skipping the
 * instruction, CPUID from the KVM_SET_CPUID2 table, MSRs, the control-register writes with
 * their architectural checks, the shadow-MMU page fault, port I/O and HLT to userspace, internal
 * errors. Each returns an `ExitResult` or nothing, and raises guest faults by injection, never by
 * throwing; a KvmError (ENOMEM, EFAULT) is what KVM_RUN itself would return.
 */
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { Errno, KvmError } from '../api/errors.js';
import { ExitResult, newArchSegment, VcpuSreg } from './arch-ops.js';
import { linearAddressHigh } from './canonical.js';
import { EMULATE_FAILED, kvmEmulationFailed, vcpuEmulator } from './emulate.js';
import { kvmQueueException } from './exceptions.js';
import { kvmHaltInKernel, kvmIrqchipPio } from './irqchip/vcpu-irq.js';
import { kvmWrmsrNeedsLongMode, siliconHasLongMode } from './long-mode.js';
import { syncPaging, vcpuMmu } from './mmu-glue.js';
import type { SoftVcpu } from './vcpu.js';

export const X86_CR0_PE = 1 << 0;
export const X86_CR0_TS = 1 << 3;
export const X86_CR0_NE = 1 << 5;
export const X86_CR0_WP = 1 << 16;
export const X86_CR0_NW = 1 << 29;
export const X86_CR0_CD = 1 << 30;
export const X86_CR0_PG = 0x80000000;
export const X86_CR4_PSE = 1 << 4;
export const X86_CR4_PAE = 1 << 5;
const X86_CR4_OSXSAVE = 1 << 18;
export const X86_CR4_PGE = 1 << 7;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NX = 1 << 11;

/** Exception vectors. */
export const GP_VECTOR = 13;
export const PF_VECTOR = 14;
export const UD_VECTOR = 6;

/** CR0 bits a guest may set (the rest are reserved: #GP). */
const CR0_RESERVED_BITS = ~(0xe005003f | 0) >>> 0;

/**
 * RIP += `length` on the cached registers: EIP wraps at 4 GiB outside 64-bit mode; in 64-bit
 * mode (EFER.LMA and CS.L) the carry goes into the high half.
 */
export function kvmRipAdd(vcpu: SoftVcpu, length: number): void {
  const next = vcpu.rip + length;
  vcpu.rip = next >>> 0;
  if (next > 0xffffffff && vcpu.efer & EFER_LMA) {
    vcpu.ops.getSegment(vcpu, VcpuSreg.CS, segScratch);
    if (segScratch.l) vcpu.ripHigh = (vcpu.ripHigh + 1) >>> 0;
  }
}

/** Advances RIP past the instruction that exited (`skip_emulated_instruction`). */
export function skipEmulatedInstruction(vcpu: SoftVcpu, length: number): void {
  vcpu.ops.cacheRegs(vcpu);
  kvmRipAdd(vcpu, length);
  vcpu.ops.decacheRegs(vcpu);
}

/** Injects #GP(0). */
export function injectGp(vcpu: SoftVcpu): void {
  vcpu.ops.injectException(vcpu, GP_VECTOR, 0, true);
}

/** Injects #UD. */
export function injectUd(vcpu: SoftVcpu): void {
  vcpu.ops.injectException(vcpu, UD_VECTOR, 0, false);
}

/** `kvm_emulate_cpuid`: EAX/ECX in, EAX–EDX from the KVM_SET_CPUID2 table, then skip. */
export function kvmEmulateCpuid(vcpu: SoftVcpu, length: number): ExitResult {
  const r = vcpu.regs;
  vcpu.ops.cacheRegs(vcpu);
  const out = cpuidScratch;
  vcpu.cpuidLookup(r[0], r[1], out);
  r[0] = out[0];
  r[3] = out[1];
  r[1] = out[2];
  r[2] = out[3];
  vcpu.regsHigh[0] = vcpu.regsHigh[1] = vcpu.regsHigh[2] = vcpu.regsHigh[3] = 0;
  kvmRipAdd(vcpu, length);
  vcpu.ops.decacheRegs(vcpu);
  return ExitResult.Reenter;
}
const cpuidScratch = new Uint32Array(4);
const msrScratch = new Uint32Array(2);

/** RDMSR exit: ECX in, EDX:EAX out; #GP for an MSR nobody implements. */
export function kvmEmulateRdmsr(vcpu: SoftVcpu, length: number): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  const r = vcpu.regs;
  if (!vcpu.getMsr(r[1], msrScratch)) {
    injectGp(vcpu);
    return ExitResult.Reenter;
  }
  r[0] = msrScratch[0];
  r[2] = msrScratch[1];
  // RDMSR writes EDX:EAX; in 64-bit mode the upper halves of RAX and RDX are cleared.
  vcpu.regsHigh[0] = vcpu.regsHigh[2] = 0;
  kvmRipAdd(vcpu, length);
  vcpu.ops.decacheRegs(vcpu);
  return ExitResult.Reenter;
}

/** WRMSR exit: ECX, EDX:EAX in; #GP when refused. */
export function kvmEmulateWrmsr(vcpu: SoftVcpu, length: number): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  const r = vcpu.regs;
  // EFER.LME on silicon without long mode stops the run (see long-mode.ts), instead of a #GP.
  if (kvmWrmsrNeedsLongMode(vcpu, r[1], r[0], r[2])) return ExitResult.Userspace;
  if (!vcpu.setMsr(r[1], r[0], r[2])) {
    injectGp(vcpu);
    return ExitResult.Reenter;
  }
  skipEmulatedInstruction(vcpu, length);
  return ExitResult.Reenter;
}

/** `kvm_emulate_halt` without an in-kernel irqchip: KVM_EXIT_HLT, RIP after the HLT. */
export function kvmEmulateHalt(vcpu: SoftVcpu, run: KvmRunView, length: number): ExitResult {
  skipEmulatedInstruction(vcpu, length);
  // With an in-kernel irqchip the vCPU halts in the kernel until an interrupt (kvm_vcpu_block).
  if (kvmHaltInKernel(vcpu)) return ExitResult.Reenter;
  run.exitReason = KVM_EXIT.HLT;
  vcpu.vm.count('halt_exits');
  return ExitResult.Userspace;
}

/** KVM_EXIT_SHUTDOWN (triple fault). */
export function kvmShutdown(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  run.exitReason = KVM_EXIT.SHUTDOWN;
  vcpu.vm.count('shutdown_exits');
  return ExitResult.Userspace;
}

/** KVM_EXIT_INTERNAL_ERROR with `suberror` and up to 16 data words. */
export function kvmInternalError(run: KvmRunView, suberror: number, ...data: number[]): ExitResult {
  run.exitReason = KVM_EXIT.INTERNAL_ERROR;
  run.internal.suberror = suberror;
  run.internal.ndata = Math.min(data.length, 16);
  for (let i = 0; i < run.internal.ndata; i++) run.internal.setDataAt(i, BigInt(data[i] >>> 0));
  return ExitResult.Userspace;
}

/** KVM_EXIT_UNKNOWN carrying the hardware exit reason (the handler table's fallback). */
export function kvmUnknownExit(run: KvmRunView, hardwareReason: number): ExitResult {
  run.exitReason = KVM_EXIT.UNKNOWN;
  run.hardwareExitReason = BigInt(hardwareReason >>> 0);
  return ExitResult.Userspace;
}

/** Port I/O to userspace (non-string IN/OUT); RIP stays at the instruction until completion. */
export function kvmEmulatePio(
  vcpu: SoftVcpu,
  run: KvmRunView,
  isIn: boolean,
  size: number,
  port: number,
  length: number,
): ExitResult {
  if (vcpu.apic !== null && kvmPioInKernel(vcpu, isIn, size, port, length)) return ExitResult.Reenter;
  vcpu.ops.cacheRegs(vcpu);
  const pio = vcpu.pio;
  pio.setup(run, isIn, size, port, vcpu.regs[0], length);
  pio.cuiLinearRip = kvmGetLinearRip(vcpu);
  pio.cuiRipHigh = vcpu.ripHigh;
  vcpu.vm.count('io_exits');
  return ExitResult.Userspace;
}

/** Port I/O to a device the kernel emulates (the in-kernel 8259 pair): done, RIP skipped. */
function kvmPioInKernel(vcpu: SoftVcpu, isIn: boolean, size: number, port: number, length: number): boolean {
  vcpu.ops.cacheRegs(vcpu);
  const r = vcpu.regs;
  const v = kvmIrqchipPio(vcpu, isIn, size, port, r[0]);
  if (v < 0) return false;
  if (isIn) {
    const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    r[0] = ((r[0] & ~mask) | (v & mask)) >>> 0;
    // A 32-bit IN zero-extends into RAX in 64-bit mode.
    if (size === 4) vcpu.regsHigh[0] = 0;
  }
  kvmRipAdd(vcpu, length);
  vcpu.ops.decacheRegs(vcpu);
  return true;
}

const segScratch = newArchSegment();

/** `kvm_get_linear_rip`, low 32 bits: CS.base + RIP (the registers must be cached). */
export function kvmGetLinearRip(vcpu: SoftVcpu): number {
  return (kvmGetSegmentBase(vcpu, VcpuSreg.CS) + vcpu.rip) >>> 0;
}

/** `get_segment_base`, bits 31:0: the backend's own (`ArchOps.getSegmentBase`) where it has one. */
export function kvmGetSegmentBase(vcpu: SoftVcpu, seg: number): number {
  const ops = vcpu.ops;
  if (ops.getSegmentBase !== undefined) return ops.getSegmentBase(vcpu, seg);
  ops.getSegment(vcpu, seg, segScratch);
  return segScratch.base;
}

const TWO32 = 4294967296;
/** 2^48: x86emu's linear addresses in IA-32e mode are folded to 48 bits. */
const LINEAR_48 = 281474976710656;

/** General register `i` += `delta` (a small signed number) over both halves. */
function add64(vcpu: SoftVcpu, i: number, delta: number): void {
  const sum = vcpu.regs[i] + delta;
  vcpu.regs[i] = sum >>> 0;
  if (sum > 0xffffffff) vcpu.regsHigh[i] = (vcpu.regsHigh[i] + 1) >>> 0;
  else if (sum < 0) vcpu.regsHigh[i] = (vcpu.regsHigh[i] - 1) >>> 0;
}

/** DF in RFLAGS: string instructions step downwards. */
const X86_EFLAGS_DF = 1 << 10;

/**
 * The host view of guest-linear `gva` for an access of `size` bytes that must not cross a page:
 * through the guest's page tables when it pages, else identity. Null when not RAM.
 */
export function guestLinearView(
  vcpu: SoftVcpu,
  gva: number,
  write: boolean,
): { view: Uint8Array; offset: number } | null {
  // `gva` is a 32-bit address, or in IA-32e mode x86emu's 48-bit folded one.
  let gpa = gva;
  if (vcpu.cr0 & X86_CR0_PG) {
    syncPaging(vcpu);
    gpa = vcpuMmu(vcpu).mmu.gvaToGpa(gva, write ? 2 : 0);
    if (gpa < 0) return null;
  }
  const hpfn = vcpu.vm.slots.gfnToHpfn(Math.floor(gpa / 4096));
  if (hpfn < 0) return null;
  const view = vcpu.vm.hpm.pageView(hpfn);
  if (view === null) return null;
  if (write) {
    vcpu.vm.slots.markDirty(Math.floor(gpa / 4096));
    // The caller writes the page (an INS element): its decoded and compiled code goes, as for the
    // emulator's writes (emulate.ts). KVM_RUN's check against memory would not see this write
    // when userspace gives the no-user-writes hint (run-loop.ts).
    vcpu.ops.invalidateCode?.(vcpu, hpfn * 4096, 4096);
  }
  return { view, offset: gpa % 4096 };
}

/**
 * INS/OUTS to userspace, one element per exit (KVM's emulator does string port I/O with count
 * 1, advancing SI/DI and CX between exits). `seg` is the source segment of OUTS (ES for INS),
 * `addrMask` 0xffff or 0xffffffff by address size; `addr64`: the 64-bit address size of 64-bit
 * mode, where RSI/RDI/RCX count in 64 bits and only FS and GS have a base (SDM Vol. 1 3.4.2.1).
 */
export function kvmEmulateStringPio(
  vcpu: SoftVcpu,
  run: KvmRunView,
  isIn: boolean,
  size: number,
  port: number,
  rep: boolean,
  seg: number,
  addrMask: number,
  length: number,
  addr64 = false,
): ExitResult {
  const ops = vcpu.ops;
  ops.cacheRegs(vcpu);
  const r = vcpu.regs;
  const h = vcpu.regsHigh;
  if (rep && (r[1] & addrMask) === 0 && (!addr64 || h[1] === 0)) {
    // REP with a zero count does nothing.
    skipEmulatedInstruction(vcpu, length);
    return ExitResult.Reenter;
  }
  const sreg = isIn ? 0 : seg;
  ops.getSegment(vcpu, sreg, segScratch);
  const idx = isIn ? 7 : 6;
  let linear: number;
  if (addr64) {
    // 64-bit mode: flat but for FS/GS; the sum folded to x86emu's 48 bits (no canonical check:
    // the processor made it before the exit).
    const base = sreg === 4 || sreg === 5 ? segScratch.base + (segScratch.baseHigh & 0xffff) * TWO32 : 0;
    linear = (base + r[idx] + (h[idx] & 0xffff) * TWO32) % LINEAR_48;
  } else {
    linear = (segScratch.base + (r[idx] & addrMask)) >>> 0;
  }
  let value = 0;
  if (!isIn) {
    const v = guestLinearView(vcpu, linear, false);
    if (v === null || v.offset + size > 4096)
      return kvmInternalError(run, KVM_INTERNAL_ERROR.EMULATION, linear);
    for (let i = size - 1; i >= 0; i--) value = (value << 8) | v.view[v.offset + i];
  }
  const pio = vcpu.pio;
  // A device the kernel emulates (the in-kernel 8259 pair) serves the element here, as KVM's
  // emulator_pio_in_out tries kernel devices before userspace; a REP continues by re-entering
  // the guest at the same instruction (one element per exit, as for userspace).
  const inKernel = vcpu.apic !== null ? kvmIrqchipPio(vcpu, isIn, size, port, value >>> 0) : -1;
  pio.setup(run, isIn, size, port, (inKernel >= 0 ? inKernel : value) >>> 0, length);
  pio.isString = true;
  pio.rep = rep;
  pio.addrMask = addrMask;
  pio.addr64 = addr64;
  pio.linear = linear;
  if (inKernel >= 0) {
    pio.active = false;
    completeStringPio(vcpu, run);
    return ExitResult.Reenter;
  }
  vcpu.vm.count('io_exits');
  return ExitResult.Userspace;
}

/** Completes an INS/OUTS element after userspace: store (INS), step SI/DI, count down CX, maybe repeat. */
export function completeStringPio(vcpu: SoftVcpu, run: KvmRunView): void {
  const pio = vcpu.pio;
  const ops = vcpu.ops;
  ops.cacheRegs(vcpu);
  const r = vcpu.regs;
  if (pio.isIn) {
    const v = guestLinearView(vcpu, pio.linear, true);
    if (v !== null && v.offset + pio.size <= 4096) {
      let value = pio.inValue(run);
      for (let i = 0; i < pio.size; i++) {
        v.view[v.offset + i] = value & 0xff;
        value >>>= 8;
      }
    }
  }
  const m = pio.addrMask;
  const step = ops.getRflags(vcpu) & X86_EFLAGS_DF ? -pio.size : pio.size;
  const idx = pio.isIn ? 7 : 6;
  let again = false;
  if (pio.addr64) {
    add64(vcpu, idx, step);
    if (pio.rep) {
      add64(vcpu, 1, -1);
      again = (r[1] | vcpu.regsHigh[1]) !== 0;
    }
  } else {
    r[idx] = ((r[idx] & ~m) | ((r[idx] + step) & m)) >>> 0;
    if (pio.rep) {
      r[1] = ((r[1] & ~m) | ((r[1] - 1) & m)) >>> 0;
      again = (r[1] & m) !== 0;
    }
  }
  if (!again) kvmRipAdd(vcpu, pio.instructionLength);
  ops.decacheRegs(vcpu);
}

/**
 * MOV to CR0/CR3/CR4/CR8 (the part of `handle_cr` both vendors share): the architectural checks
 * and the MMU follow-up, faults injected. `high`: bits 63:32 of the source in 64-bit mode (set
 * bits there are reserved in CR0, CR4 and CR8: #GP). False for a CR no exit should report (the
 * caller says so as an internal error).
 */
export function kvmSetCr(vcpu: SoftVcpu, cr: number, value: number, high = 0): boolean {
  if (high !== 0 && cr !== 3 && (cr === 0 || cr === 4 || cr === 8)) {
    injectGp(vcpu);
    return true;
  }
  switch (cr) {
    case 0:
      kvmSetCr0(vcpu, value);
      return true;
    case 3:
      kvmSetCr3(vcpu, value, high);
      return true;
    case 4:
      kvmSetCr4(vcpu, value);
      return true;
    case 8:
      vcpu.cr8 = value & 15;
      // CR8 is TPR[7:4] (SDM Vol. 3 11.8.6).
      vcpu.apic?.writeReg(0x80, (value & 15) << 4);
      return true;
    default:
      return false;
  }
}

/** MOV from CR0/CR3/CR4/CR8: the guest's value, or -1 for a CR no exit should report. */
export function kvmGetCr(vcpu: SoftVcpu, cr: number): number {
  switch (cr) {
    case 0:
      return vcpu.cr0;
    case 3:
      return vcpu.cr3;
    case 4:
      return vcpu.cr4;
    case 8:
      return vcpu.apic !== null ? (vcpu.apic.reg(0x80) >>> 4) & 15 : vcpu.cr8;
    default:
      return -1;
  }
}

/** Bits 63:32 of MOV from CR (only CR3 has any: a PML4 above 4 GiB). */
export function kvmGetCrHigh(vcpu: SoftVcpu, cr: number): number {
  return cr === 3 ? vcpu.cr3High : 0;
}

/** `kvm_lmsw`: loads CR0[3:0] from `msw`; it can set PE but never clear it (SDM LMSW). */
export function kvmLmsw(vcpu: SoftVcpu, msw: number): void {
  kvmSetCr0(vcpu, (vcpu.cr0 & ~0x0e) | (msw & 0x0f));
}

/** CLTS: clears CR0.TS. */
export function kvmClts(vcpu: SoftVcpu): void {
  kvmSetCr0(vcpu, vcpu.cr0 & ~X86_CR0_TS);
}

/** -KVM_ENOSYS, what KVM answers an unknown hypercall with. */
const KVM_ENOSYS = 1000;

/** VMCALL / VMMCALL (`kvm_emulate_hypercall`): no hypercalls; RAX = -KVM_ENOSYS, skip. */
export function kvmEmulateHypercall(vcpu: SoftVcpu, length: number): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  vcpu.regs[0] = -KVM_ENOSYS >>> 0;
  kvmRipAdd(vcpu, length);
  vcpu.ops.decacheRegs(vcpu);
  return ExitResult.Reenter;
}

/**
 * The interrupt-window exit: stop asking for it. RFLAGS.IF is not checked: both vendors'
 * manuals guarantee it is set on this exit (changelog: "No need to test for rflags.if as both VT
 * and SVM specs assure us…"). The run loop decides whether userspace asked to hear about it.
 */
export function kvmIrqWindowOpened(vcpu: SoftVcpu): ExitResult {
  vcpu.ops.setIrqWindow(vcpu, false);
  vcpu.vm.count('irq_window_exits');
  return ExitResult.Reenter;
}

/**
 * The general and control registers at power-on / INIT (SDM Vol. 3 9.1.1, APM 14.1.3), the part
 * of `vcpu_reset` both vendors share: GPRs zero but EDX = `resetEdx` (the processor signature),
 * CR0 = CD | NW | ET, CR3 = CR4 = CR8 = EFER = 0, installed through the backend.
 */
export function kvmResetControlRegs(vcpu: SoftVcpu, resetEdx: number): void {
  vcpu.regs.fill(0);
  vcpu.regsHigh.fill(0);
  vcpu.regs[2] = resetEdx;
  vcpu.cr8 = 0;
  vcpu.ops.setEfer(vcpu, 0, 0);
  vcpu.ops.setCr4(vcpu, 0);
  vcpu.cr4 = 0;
  vcpu.ops.setCr0(vcpu, RESET_CR0);
  vcpu.cr0 = RESET_CR0;
  vcpu.cr3 = 0;
}
const RESET_CR0 = 0x60000010;

/** Loads the roots for the current guest mode after a paging-relevant change. */
function mmuReset(vcpu: SoftVcpu): void {
  vcpu.vm.mmuResetContext(vcpu);
}

/** Is the guest in 64-bit mode (EFER.LMA and CS.L, `is_64_bit_mode`)? */
export function kvmIs64BitMode(vcpu: SoftVcpu): boolean {
  if (!(vcpu.efer & EFER_LMA)) return false;
  vcpu.ops.getSegment(vcpu, VcpuSreg.CS, segScratch);
  return segScratch.l === 1;
}

/**
 * `kvm_set_cr0`: #GP for reserved bits, PG without PE, NW without CD; turning paging on with
 * EFER.LME (entering IA-32e mode) needs CR4.PAE and a CS without L (SDM Vol. 3 9.8.5); turning
 * it off in 64-bit mode is #GP; entering PAE paging (not LME) needs good PDPTEs. Then the backend
 * installs it (and sets or clears EFER.LMA) and the MMU follows the new mode.
 */
export function kvmSetCr0(vcpu: SoftVcpu, cr0: number): void {
  cr0 = cr0 >>> 0;
  if (
    cr0 & CR0_RESERVED_BITS ||
    (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) ||
    (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD))
  ) {
    injectGp(vcpu);
    return;
  }
  const enablingPaging = (cr0 & X86_CR0_PG) !== 0 && !(vcpu.cr0 & X86_CR0_PG);
  // (Silicon without long mode lets the write through: the entry then stops, see long-mode.ts.)
  if (enablingPaging && vcpu.efer & EFER_LME && siliconHasLongMode(vcpu)) {
    vcpu.ops.getSegment(vcpu, VcpuSreg.CS, segScratch);
    if (!(vcpu.cr4 & X86_CR4_PAE) || segScratch.l) {
      injectGp(vcpu);
      return;
    }
  } else if (enablingPaging && vcpu.cr4 & X86_CR4_PAE) {
    if (!vcpuMmu(vcpu).mmu.loadPdptrs(vcpu.cr3)) {
      injectGp(vcpu);
      return;
    }
  }
  if (!(cr0 & X86_CR0_PG) && kvmIs64BitMode(vcpu)) {
    injectGp(vcpu);
    return;
  }
  const old = vcpu.cr0;
  vcpu.ops.setCr0(vcpu, cr0);
  vcpu.cr0 = cr0;
  // The backend's setCr0 moved EFER.LMA with PG: the new mode (4-level or not) is a new MMU root.
  if ((old ^ cr0) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)) mmuReset(vcpu);
}

/** `set_cr4`: #GP for reserved bits or clearing PAE in long mode; PAE paging needs good PDPTEs. */
export function kvmSetCr4(vcpu: SoftVcpu, cr4: number): void {
  cr4 = cr4 >>> 0;
  // VME…OSXMMEXCPT and OSXSAVE (bit 18, XSAVE: x86emu has it) are the implemented bits.
  if (cr4 & ~(0x7ff | X86_CR4_OSXSAVE)) {
    injectGp(vcpu);
    return;
  }
  if (vcpu.efer & EFER_LMA && !(cr4 & X86_CR4_PAE)) {
    injectGp(vcpu);
    return;
  }
  if (cr4 & X86_CR4_PAE && !(vcpu.cr4 & X86_CR4_PAE) && vcpu.cr0 & X86_CR0_PG) {
    if (!vcpuMmu(vcpu).mmu.loadPdptrs(vcpu.cr3)) {
      injectGp(vcpu);
      return;
    }
  }
  const old = vcpu.cr4;
  vcpu.ops.setCr4(vcpu, cr4);
  vcpu.cr4 = cr4;
  const changed = old ^ cr4;
  if (changed & (X86_CR4_PAE | X86_CR4_PSE)) mmuReset(vcpu);
  else if (changed & X86_CR4_PGE) kvmFlushTlbGuest(vcpu);
}

/**
 * A CR4.PGE toggle flushes the whole TLB, global entries too (SDM Vol. 3A 4.10.4.1). Under TDP
 * the MMU's map is of guest-physical memory, which no guest TLB flush touches: only the guest's
 * own translations go (`flush_tlb_guest`, as KVM's `kvm_post_set_cr4` since it stopped resetting
 * the MMU there; Linux toggles PGE to flush global pages, ~200 times a boot, and each reset also
 * dropped the silicon's EPT-derived translations, refilled by walks). The shadow MMU's roots
 * shadow the guest's tables themselves: they are reloaded, as the 2007 KVM did on every CR4 write.
 */
function kvmFlushTlbGuest(vcpu: SoftVcpu): void {
  if (!vcpuMmu(vcpu).mmu.tdp) {
    mmuReset(vcpu);
    return;
  }
  if (vcpu.ops.flushTlbGuest !== undefined) vcpu.ops.flushTlbGuest(vcpu);
  else vcpu.ops.flushTlb(vcpu);
}

/**
 * `set_cr3`: the MMU loads it (PDPTEs in PAE mode; a CR3 at no guest page is not the host's
 * problem — changelog: "Prevent the guest's loading of a corrupt cr3 from crashing the host"),
 * then the backend installs the new shadow root as the real CR3.
 */
export function kvmSetCr3(vcpu: SoftVcpu, cr3: number, high = 0): void {
  // In IA-32e mode CR3 holds a 64-bit address: bits above MAXPHYADDR (36) are reserved (#GP);
  // outside it bits 63:32 of the source are ignored.
  if (!(vcpu.efer & EFER_LMA)) high = 0;
  else if (high >>> (CR3_MAXPHYADDR - 32) !== 0) {
    injectGp(vcpu);
    return;
  }
  syncPaging(vcpu);
  const m = vcpuMmu(vcpu).mmu;
  const r = m.kvmSetCr3((cr3 >>> 0) + high * 4294967296);
  if (r === 'gp') {
    injectGp(vcpu);
    return;
  }
  if (r === 'no-memory') throw new KvmError('KVM_RUN', Errno.ENOMEM, 'no pages for shadow roots');
  vcpu.cr3 = cr3 >>> 0;
  vcpu.cr3High = high >>> 0;
  vcpu.ops.setCr3(vcpu, m.rootHpa);
}
/** MAXPHYADDR of both silicon models' guests (x86emu's walker): CR3 bits above it are reserved. */
const CR3_MAXPHYADDR = 36;

/**
 * The #PF exit (`kvm_mmu_page_fault`): the MMU fixes the shadow tables, or the fault is the
 * guest's (reflected with its error code and CR2), or the access needs emulation.
 *
 * A write to a write-protected guest page table is emulated in the kernel: the new bytes land in
 * guest memory and the MMU updates the shadow entries (`kvmMmuPteWrite`). Only if the instruction
 * cannot be emulated is the page unprotected and the instruction retried natively (changelog: "A
 * page table may have been recycled into a regular page… Unprotect the page and let the cpu do
 * its thing"); when the page cannot be unprotected either (it is, for example, the page directory
 * the guest is running on), retrying would fault on the same write forever, so KVM_RUN ends with
 * KVM_EXIT_INTERNAL_ERROR (suberror EMULATION) instead.
 */
export function kvmMmuPageFault(vcpu: SoftVcpu, run: KvmRunView, gva: number, errorCode: number): ExitResult {
  syncPaging(vcpu);
  const m = vcpuMmu(vcpu).mmu;
  // `gva` is the linear address as x86emu gives it (in IA-32e mode folded to 48 bits).
  const r = m.pageFault(gva, errorCode);
  switch (r.kind) {
    case 'fixed':
      vcpu.vm.pfFixed++;
      // Only the shadow tables changed: nothing for the run loop to look at before re-entering.
      return ExitResult.ReenterFast;
    case 'inject-pf':
      vcpu.vm.count('pf_guest');
      vcpu.ops.setCr2(vcpu, r.cr2 >>> 0, linearAddressHigh(r.cr2));
      // Combined with an exception whose delivery this #PF interrupted (#DF, triple fault).
      kvmQueueException(vcpu, PF_VECTOR, r.errorCode, true);
      return ExitResult.Reenter;
    case 'emulate': {
      const res = vcpuEmulator(vcpu).emulate(run, true);
      if (res !== EMULATE_FAILED) return res;
      if (m.kvmMmuUnprotectPageVirt(gva)) {
        vcpu.vm.count('pf_unprotect');
        return ExitResult.Reenter;
      }
      return kvmEmulationFailed(vcpu, run);
    }
    case 'mmio': {
      const res = vcpuEmulator(vcpu).emulate(run, false);
      return res === EMULATE_FAILED ? kvmEmulationFailed(vcpu, run) : res;
    }
    case 'no-memory':
      throw new KvmError('KVM_RUN', Errno.ENOMEM, 'shadow MMU out of pages');
  }
}
