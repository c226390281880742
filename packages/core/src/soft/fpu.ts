/**
 * The guest's x87/SSE state, kept per vCPU and swapped into the silicon's processor around each
 * VM entry (KVM's `fx_save`/`fx_restore` of guest and host FPU in `vcpu_load`/`vcpu_put`): the
 * processor is shared by every vCPU that runs on it, its FPU registers are not in the VMCS/VMCB.
 * KVM_GET_FPU / KVM_SET_FPU convert to and from `struct kvm_fpu` (the FXSAVE image).
 */
import type { CpuState } from '@kvm/x86emu';
import type { KvmFpu } from '../api/structs.js';

/**
 * Which vCPU's FPU registers each processor holds. KVM keeps the guest FPU loaded from
 * `vcpu_load` to `vcpu_put` (`kvm_load_guest_fpu`), not swapped around every exit; the software
 * engine does the same per processor state: an entry of the vCPU whose registers are already in
 * the processor copies nothing, and another vCPU's entry first takes the holder's out.
 */
const holders = new WeakMap<CpuState, GuestFpu>();

/**
 * The FPU part of the guest state (what FNINIT/reset leaves: FCW 37Fh, all empty, MXCSR 1F80h).
 *
 * Between entries the registers may live in the processor that last ran the vCPU (see
 * `holders`), so the fields are only current after {@link sync}; whoever writes them calls
 * {@link release} first, so that the next entry loads the new values. `toKvm`, `fromKvm` and
 * core's XSAVE/XCR helpers do.
 */
export class GuestFpu {
  /** The processor state holding this vCPU's registers since its last entry (null: the fields). */
  private heldBy: CpuState | null = null;
  control = 0x37f;
  status = 0;
  /** Full tag word, 2 bits per physical register (11b = empty). */
  tag = 0xffff;
  readonly regs = new Uint8Array(80);
  mxcsr = 0x1f80;
  readonly xmm = new Uint8Array(256);
  /**
   * The last x87 non-control instruction (FIP and FDP as [low, high], FCS/FDS, FOP) and XCR0:
   * state of the shared processor that each vCPU must find again as it left it (FXSAVE and
   * FNSTENV show the first, XGETBV the second).
   */
  readonly ip = new Uint32Array(2);
  readonly dp = new Uint32Array(2);
  readonly sel = new Uint16Array(2);
  opcode = 0;
  /** XCR0 at reset: x87 only (SDM Vol. 1 13.3). */
  readonly xcr0 = new Uint32Array([1, 0]);

  /**
   * Into the processor before entering the guest, unless it still holds them from this vCPU's
   * last entry (nothing else writes a processor's FPU registers between entries). Another vCPU's
   * registers there are saved into that vCPU first.
   */
  loadInto(s: CpuState): void {
    // Still held (the common case, every entry): `heldBy` is s only while `holders` maps s to this
    // vCPU (another vCPU's load clears it, and only a load sets either), so no WeakMap lookup.
    if (this.heldBy === s) return;
    const holder = holders.get(s);
    if (holder !== undefined && holder !== this && holder.heldBy === s) {
      holder.saveFrom(s);
      holder.heldBy = null;
    }
    // This vCPU's registers still in another processor (it moved): they are the current ones.
    this.sync();
    this.push(s);
    this.heldBy = s;
    holders.set(s, this);
  }

  /** The fields are current: the registers are read back from the processor holding them. */
  sync(): void {
    const s = this.heldBy;
    if (s !== null && holders.get(s) === this) this.saveFrom(s);
  }

  /** Before writing the fields: they are made current and the next entry loads them. */
  release(): void {
    this.sync();
    this.heldBy = null;
  }

  private push(s: CpuState): void {
    s.fpuControl[0] = this.control;
    s.fpuStatus[0] = this.status;
    s.fpuTag[0] = this.tag;
    s.fpuRegs.set(this.regs);
    s.mxcsr[0] = this.mxcsr;
    s.xmm.set(this.xmm);
    s.fpuIp.set(this.ip);
    s.fpuDp.set(this.dp);
    s.fpuSel.set(this.sel);
    s.fpuOpcode[0] = this.opcode;
    s.xcr0.set(this.xcr0);
  }

  /** Out of processor state `s` (eager: {@link sync} is the lazy form). */
  saveFrom(s: CpuState): void {
    this.control = s.fpuControl[0];
    this.status = s.fpuStatus[0];
    this.tag = s.fpuTag[0];
    this.regs.set(s.fpuRegs);
    this.mxcsr = s.mxcsr[0];
    this.xmm.set(s.xmm);
    this.ip.set(s.fpuIp);
    this.dp.set(s.fpuDp);
    this.sel.set(s.fpuSel);
    this.opcode = s.fpuOpcode[0];
    this.xcr0.set(s.xcr0);
  }

  /**
   * KVM_GET_FPU: ST(i) in 16-byte slots (the FXSAVE order; `regs` holds the physical registers
   * R0–R7 and ST(i) is R((TOP + i) mod 8)), the abridged tag (1 = not empty, by physical register),
   * FOP, and FIP/FDP as the 64-bit FXSAVE format has them (`fx_save`'s `rip`/`rdp`).
   */
  toKvm(): KvmFpu {
    this.sync();
    const fpr = new Uint8Array(128);
    const top = (this.status >>> 11) & 7;
    for (let i = 0; i < 8; i++) {
      const p = 10 * ((top + i) & 7);
      fpr.set(this.regs.subarray(p, p + 10), 16 * i);
    }
    let ftwx = 0;
    for (let i = 0; i < 8; i++) if (((this.tag >>> (2 * i)) & 3) !== 3) ftwx |= 1 << i;
    return {
      fpr,
      fcw: this.control,
      fsw: this.status,
      ftwx,
      lastOpcode: this.opcode,
      lastIp: (BigInt(this.ip[1]) << 32n) | BigInt(this.ip[0]),
      lastDp: (BigInt(this.dp[1]) << 32n) | BigInt(this.dp[0]),
      xmm: this.xmm.slice(),
      mxcsr: this.mxcsr,
    };
  }

  /** KVM_SET_FPU (a non-empty register's tag becomes "valid", as FXRSTOR's reconstruction approximates). */
  fromKvm(f: KvmFpu): void {
    this.release();
    const top = (f.fsw >>> 11) & 7;
    for (let i = 0; i < 8; i++) this.regs.set(f.fpr.subarray(16 * i, 16 * i + 10), 10 * ((top + i) & 7));
    this.control = f.fcw;
    this.status = f.fsw;
    let tag = 0;
    for (let i = 0; i < 8; i++) if (!((f.ftwx >>> i) & 1)) tag |= 3 << (2 * i);
    this.tag = tag;
    this.mxcsr = f.mxcsr;
    this.xmm.set(f.xmm.subarray(0, 256));
    this.opcode = f.lastOpcode & 0x7ff;
    this.ip[0] = Number(f.lastIp & 0xffffffffn);
    this.ip[1] = Number((f.lastIp >> 32n) & 0xffffffffn);
    this.dp[0] = Number(f.lastDp & 0xffffffffn);
    this.dp[1] = Number((f.lastDp >> 32n) & 0xffffffffn);
  }
}
