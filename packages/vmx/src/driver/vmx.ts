/**
 * The VMX driver: `ArchOps` implemented on the VMX silicon the way kvm-intel (vmx.c) programs
 * real hardware — hardware check and VMXON, a VMCS per vCPU, guest state through VMREAD/VMWRITE,
 * shadow paging with CR3-load/store exiting and CR0/CR4 read shadows, exit handlers by reason.
 * With the `ept` option (kvm-intel's `ept=1`, `enable_ept`) the guest pages on its own tables
 * over the MMU's TDP map in EPT format (the EPTP), with VPID-tagged TLBs: no CR3, INVLPG or #PF
 * exits, EPT violations and misconfigurations instead.
 */
import {
  type ArchDtable,
  type ArchOps,
  type ArchSegment,
  EntryResult,
  type ExitResult,
  type HardwareCheck,
  KVM_DEFAULT_PLE_GAP,
  KVM_EXIT,
  type KvmRunView,
  kvmFerr,
  kvmGuestDebugExceptions,
  kvmResetControlRegs,
  kvmUsesHwBp,
  loadGuestGprs,
  type SoftVcpu,
  saveGuestGprs,
  siliconCpuStats,
} from '@kvm/core';
import type { CpuState } from '@kvm/x86emu';
import { EptCap, Eptp, InveptType, InvvpidType } from '../silicon/ept.js';
import { GUEST_SEGMENT_FIELDS, VMCS } from '../silicon/vmcs-fields.js';
import {
  AR_UNUSABLE,
  CpuBased,
  EXIT_REASON_NAMES,
  ExitReason,
  FeatureControl,
  GuestIntrState,
  IntrInfo,
  IntrType,
  PinBased,
  SecondaryExec,
  VmEntryCtl,
  VmExitCtl,
  VmxMsr,
} from '../silicon/vmx-arch.js';
import { VMCS_REVISION_ID } from '../silicon/vmx-capabilities.js';
import { VmxSilicon, VmxStatus } from '../silicon/vmx-silicon.js';
import { vmxHandleExit } from './exit-handlers.js';
import { toVmx, VcpuVmx } from './vcpu-vmx.js';
import { VmcsAccess } from './vmcs-access.js';
import { vmxGetMsr, vmxSetMsr } from './vmx-msrs.js';

const X86_CR0_PE = 1 << 0;
const X86_CR0_TS = 1 << 3;
const X86_CR0_NE = 1 << 5;
const X86_CR0_NW = 1 << 29;
const X86_CR0_CD = 1 << 30;
const X86_CR4_PAE = 1 << 5;
const X86_CR0_PG = 0x80000000;
const X86_CR4_VMXE = 1 << 13;
const X86_EFLAGS_IF = 1 << 9;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** CR0 bits the real CR0 never has (the cache is the host's: KVM_VM_CR0_ALWAYS_OFF). */
const KVM_VM_CR0_ALWAYS_OFF = X86_CR0_NW | X86_CR0_CD;
/** CR4 bits the guest changes without an exit. */
const CR4_GUEST_OWNED = 0x700;

/** The controls we need (min) and would like (opt), as `setup_vmcs_config` has them. */
const PIN_MIN = PinBased.EXT_INTR_EXITING | PinBased.NMI_EXITING;
const PROC_MIN =
  CpuBased.HLT_EXITING |
  // The shadow MMU's unsync pages are resynced on INVLPG (vmx.c: INVLPG exiting without EPT).
  CpuBased.INVLPG_EXITING |
  CpuBased.CR3_LOAD_EXITING |
  CpuBased.CR3_STORE_EXITING |
  CpuBased.USE_IO_BITMAPS |
  CpuBased.USE_MSR_BITMAPS |
  CpuBased.ACTIVATE_SECONDARY_CONTROLS;
const PROC2_MIN = SecondaryExec.UNRESTRICTED_GUEST;
const EXIT_MIN = VmExitCtl.SAVE_IA32_EFER | VmExitCtl.LOAD_IA32_EFER;
/** A 64-bit host returns to 64-bit code (vmx.c: `#ifdef CONFIG_X86_64 VM_EXIT_HOST_ADDR_SPACE_SIZE`). */
const EXIT_OPT = VmExitCtl.HOST_ADDR_SPACE_SIZE;
const ENTRY_MIN = VmEntryCtl.LOAD_IA32_EFER;
/**
 * Without a TPR shadow a 64-bit guest's MOV CR8 exits (vmx.c's CR8 exiting on x86_64); with one
 * (an in-kernel LAPIC) it reads and writes VTPR. NMI-window exiting comes with virtual NMIs.
 */
const PROC_OPT =
  CpuBased.CR8_LOAD_EXITING | CpuBased.CR8_STORE_EXITING | CpuBased.TPR_SHADOW | CpuBased.NMI_WINDOW_EXITING;
/**
 * PAUSE-loop exiting (SDM 25.1.3, `cpu_has_vmx_ple`): a spin at CPL 0 longer than PLE_Window
 * exits and the vCPU yields (`kvm_vcpu_on_spin`); a lone PAUSE or a short delay loop runs on.
 */
const PROC2_OPT = SecondaryExec.PAUSE_LOOP_EXITING;
/** KVM's `KVM_VMX_DEFAULT_PLE_WINDOW`: TSC ticks of one spin before it exits (KVM grows it per exit; kept fixed here). */
export const KVM_VMX_DEFAULT_PLE_WINDOW = 4096;
/** Virtual NMIs: the VMCS tracks the guest's NMI blocking, and IRET ends it (SDM 25.3). */
const PIN_OPT = PinBased.VIRTUAL_NMIS;
const CR8_EXITING = CpuBased.CR8_LOAD_EXITING | CpuBased.CR8_STORE_EXITING;

/** CPUID.1:ECX.RDRAND and CPUID.(7,0):EBX.RDSEED, which the vCPU's table may lack (`guest_cpuid_has`). */
const CPUID_1_ECX_RDRAND = 1 << 30;
const CPUID_7_EBX_RDSEED = 1 << 18;

/** Real-mode reset segment access rights (present, S, type): code 9BH, data 93H. */
const AR_CODE16 = 0x9b;
const AR_DATA16 = 0x93;

/** With EPT the guest owns CR3 and INVLPG (vmx.c's `setup_vmcs_config` clears these with enable_ept). */
const PROC_NOT_WITH_EPT = CpuBased.INVLPG_EXITING | CpuBased.CR3_LOAD_EXITING | CpuBased.CR3_STORE_EXITING;
/** The EPTP of a 4-level walk over write-back paging structures (`construct_eptp`), without A/D. */
const EPTP_FLAGS = Eptp.MT_WB | Eptp.WALK_LENGTH_4;

/** What `new VmxDriver` takes besides the silicon. */
export interface VmxDriverOptions {
  /**
   * EPT (kvm-intel's `ept` parameter, `enable_ept`), with VPID: the guest runs on its own page
   * tables over the MMU's TDP map in the EPT format (SDM Vol. 3C 29.3); CR3 accesses, INVLPG and
   * #PF no longer exit, EPT violations and misconfigurations do. The VM's MMU must be made with
   * `tdp: true, ept: true`. Default false.
   */
  ept?: boolean;
}

/** `adjust_vmx_controls`: min|opt within the allowed settings, or -1 if min is not allowed. */
function adjustControls(si: VmxSilicon, min: number, opt: number, msr: number): number {
  const out = new Uint32Array(2);
  if (!si.rdmsr(msr, out)) return -1;
  let ctl = (min | opt) >>> 0;
  ctl &= out[1];
  ctl |= out[0];
  ctl >>>= 0;
  return (ctl & min) >>> 0 === min >>> 0 ? ctl : -1;
}

export class VmxDriver implements ArchOps {
  readonly name = 'vmx';
  readonly cpu: VmxSilicon;
  readonly memory;
  readonly vmcs: VmcsAccess;
  readonly exitCountsLength = 65;
  /** `enable_ept` (`VmxDriverOptions.ept`). */
  readonly ept: boolean;
  /** The silicon has PAUSE-loop exiting and the controls ask for it (`cpu_has_vmx_ple`). */
  get pauseLoopExiting(): boolean {
    return this.proc2Ctl > 0 && (this.proc2Ctl & SecondaryExec.PAUSE_LOOP_EXITING) !== 0;
  }
  private vmxonRegion = -1;
  private pinCtl = 0;
  private procCtl = 0;
  private proc2Ctl = 0;
  private exitCtl = 0;
  private entryCtl = 0;
  private readonly msrOut = new Uint32Array(2);
  /** The next VPID `vcpuCreate` hands out. */
  private nextVpid = 1;
  /** `cpu_has_vmx_tpr_shadow` (a 64-bit part) and `enable_vnmi`. */
  private tprShadowAvailable = false;
  private rdrandExiting = false;
  private rdseedExiting = false;
  private nmiWindowAvailable = false;

  /** May the primary processor-based control `bit` be 1 (IA32_VMX_PROCBASED_CTLS allowed-1)? */
  private procCtlAllowed1(bit: number): boolean {
    return this.cpu.rdmsr(VmxMsr.IA32_VMX_PROCBASED_CTLS, this.msrOut) && (this.msrOut[1] & bit) !== 0;
  }
  private proc2CtlAllowed1(bit: number): boolean {
    return this.cpu.rdmsr(VmxMsr.IA32_VMX_PROCBASED_CTLS2, this.msrOut) && (this.msrOut[1] & bit) !== 0;
  }

  constructor(silicon: VmxSilicon = new VmxSilicon(), options: VmxDriverOptions = {}) {
    this.cpu = silicon;
    this.ept = options.ept === true;
    this.memory = silicon.memory;
    this.vmcs = new VmcsAccess(silicon);
  }

  // ---- hardware ---------------------------------------------------------------------------

  /**
   * `hardware_setup` + `cpu_has_kvm_support` + `vmx_disabled_by_bios` + `hardware_enable`:
   * GenuineIntel silicon with CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL not locked with VMX off,
   * then lock it enabled if the firmware left it unlocked, CR4.VMXE, VMXON.
   */
  hardwareSetup(): HardwareCheck {
    const si = this.cpu;
    const r = new Uint32Array(4);
    si.cpuid(0, 0, r);
    const vendor = String.fromCharCode(
      ...[r[1], r[3], r[2]].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]),
    );
    if (vendor !== 'GenuineIntel') {
      return {
        ok: false,
        reason: `kvm-intel: the VMX backend cannot drive ${vendor} silicon (they're not on speaking terms); use the SVM backend`,
      };
    }
    si.cpuid(1, 0, r);
    if (!(r[2] & (1 << 5)))
      return { ok: false, reason: 'kvm-intel: no hardware support (CPUID.1:ECX.VMX is clear)' };
    const fc = new Uint32Array(2);
    si.rdmsr(VmxMsr.IA32_FEATURE_CONTROL, fc);
    const want = FeatureControl.LOCKED | FeatureControl.VMXON_ENABLED_OUTSIDE_SMX;
    if ((fc[0] & want) === FeatureControl.LOCKED) {
      return {
        ok: false,
        reason:
          'kvm-intel: disabled by bios (IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled); enable VT-x in the firmware setup',
      };
    }
    const ept = this.ept;
    this.pinCtl = adjustControls(si, PIN_MIN, PIN_OPT, VmxMsr.IA32_VMX_PINBASED_CTLS);
    this.procCtl = adjustControls(
      si,
      ept ? PROC_MIN & ~PROC_NOT_WITH_EPT : PROC_MIN,
      PROC_OPT,
      VmxMsr.IA32_VMX_PROCBASED_CTLS,
    );
    // EPT and VPID (`cpu_has_vmx_ept`, `cpu_has_vmx_vpid`): required when asked for, with a
    // 4-level walk over write-back structures (`cpu_has_vmx_ept_4levels`, `_mt_wb`).
    const proc2Min = ept ? PROC2_MIN | SecondaryExec.ENABLE_EPT | SecondaryExec.ENABLE_VPID : PROC2_MIN;
    this.proc2Ctl = adjustControls(si, proc2Min, PROC2_OPT, VmxMsr.IA32_VMX_PROCBASED_CTLS2);
    // With EPT the guest owns CR3 and INVLPG: cleared after the adjustment (the legacy MSR has
    // CR3 exiting default-1; the true controls, which VM entry checks, allow 0: SDM A.3.2).
    if (ept && this.procCtl >= 0) this.procCtl = (this.procCtl & ~PROC_NOT_WITH_EPT) >>> 0;
    if (ept && this.proc2Ctl < 0)
      return { ok: false, reason: 'kvm-intel: EPT asked for (ept=1) but the processor lacks EPT or VPID' };
    if (ept) {
      const cap = new Uint32Array(2);
      const need = EptCap.WALK_LENGTH_4 | EptCap.WB;
      if (!si.rdmsr(VmxMsr.IA32_VMX_EPT_VPID_CAP, cap) || (cap[0] & need) !== need)
        return {
          ok: false,
          reason: 'kvm-intel: EPT needs a 4-level walk over write-back tables (IA32_VMX_EPT_VPID_CAP)',
        };
    }
    this.exitCtl = adjustControls(si, EXIT_MIN, EXIT_OPT, VmxMsr.IA32_VMX_EXIT_CTLS);
    this.entryCtl = adjustControls(si, ENTRY_MIN, 0, VmxMsr.IA32_VMX_ENTRY_CTLS);
    if (this.pinCtl < 0 || this.procCtl < 0 || this.proc2Ctl < 0 || this.exitCtl < 0 || this.entryCtl < 0) {
      return {
        ok: false,
        reason: 'kvm-intel: the processor lacks VMX controls KVM needs (unrestricted guest, EFER load/save)',
      };
    }
    // setup_vmcs_config: NMI-window exiting only with virtual NMIs (enable_vnmi); the TPR shadow
    // and CR8 exiting are chosen per vCPU (an in-kernel LAPIC or not), CR8 exiting by default.
    this.procCtl = (this.procCtl & ~(CpuBased.NMI_WINDOW_EXITING | CpuBased.TPR_SHADOW)) >>> 0;
    this.tprShadowAvailable = this.procCtlAllowed1(CpuBased.TPR_SHADOW);
    // `cpu_has_vmx_rdrand`, `cpu_has_vmx_rdseed`: the exiting controls, set per vCPU from its CPUID.
    this.rdrandExiting = this.proc2CtlAllowed1(SecondaryExec.RDRAND_EXITING);
    this.rdseedExiting = this.proc2CtlAllowed1(SecondaryExec.RDSEED_EXITING);
    this.nmiWindowAvailable =
      (this.pinCtl & PinBased.VIRTUAL_NMIS) !== 0 && this.procCtlAllowed1(CpuBased.NMI_WINDOW_EXITING);
    if (si.inVmxOperation) return { ok: true };
    // hardware_enable: the MacBook case — enabled but not locked — would make VMXON fault, so
    // lock it with VMX enabled ourselves (changelog: "macbooks set bit 2 but not bit 0").
    if ((fc[0] & want) !== want && !si.wrmsr(VmxMsr.IA32_FEATURE_CONTROL, fc[0] | want, 0)) {
      return { ok: false, reason: 'kvm-intel: cannot enable VMX in IA32_FEATURE_CONTROL' };
    }
    if (!si.writeCr4(si.hostCr4 | X86_CR4_VMXE))
      return { ok: false, reason: 'kvm-intel: cannot set CR4.VMXE' };
    this.vmxonRegion = this.allocVmcsPage();
    const st = si.vmxon(this.vmxonRegion * 4096);
    if (st !== VmxStatus.Succeed) {
      si.memory.freePage(this.vmxonRegion);
      this.vmxonRegion = -1;
      return { ok: false, reason: `kvm-intel: VMXON failed (status ${st})` };
    }
    return { ok: true };
  }

  hardwareUnsetup(): void {
    if (this.cpu.inVmxOperation) this.cpu.vmxoff();
    if (this.vmxonRegion >= 0) this.cpu.memory.freePage(this.vmxonRegion);
    this.vmxonRegion = -1;
  }

  hasMsr(index: number): boolean {
    return this.cpu.rdmsr(index, this.msrOut);
  }

  /** A page stamped with the VMCS revision identifier (VMXON and VMCS regions). */
  private allocVmcsPage(): number {
    const hpfn = this.cpu.memory.allocPage();
    this.cpu.memory.write32(hpfn * 4096, VMCS_REVISION_ID);
    return hpfn;
  }

  // ---- vCPU life ---------------------------------------------------------------------------

  vcpuCreate(vcpu: SoftVcpu): void {
    const vmx = new VcpuVmx();
    const mem = this.cpu.memory;
    const pages: number[] = [];
    try {
      const vmcs = this.allocVmcsPage();
      pages.push(vmcs);
      // I/O bitmaps all ones: every port exits (the VMM's devices see every access); MSR bitmap
      // all ones: every RDMSR/WRMSR exits to the MSR handlers.
      for (let i = 0; i < 3; i++) {
        const p = mem.allocPage();
        pages.push(p);
        mem.pageView(p)!.fill(0xff);
      }
      // The virtual-APIC page (zeroed: VTPR 0), used once the vCPU has an in-kernel LAPIC.
      const vapic = mem.allocPage();
      pages.push(vapic);
      mem.pageView(vapic)!.fill(0);
    } catch (e) {
      for (const p of pages) mem.freePage(p);
      throw e;
    }
    vmx.vmcsHpa = pages[0] * 4096;
    vmx.ioBitmapA = pages[1] * 4096;
    vmx.ioBitmapB = pages[2] * 4096;
    vmx.msrBitmap = pages[3] * 4096;
    vmx.virtualApicPage = pages[4] * 4096;
    // `allocate_vpid`: 1, 2, … per processor (0 is the host's).
    vmx.vpid = this.nextVpid++;
    vcpu.arch = vmx;
    this.cpu.vmclear(vmx.vmcsHpa);
  }

  vcpuLoad(vcpu: SoftVcpu): void {
    const vmx = toVmx(vcpu);
    if (this.cpu.vmptrst() !== vmx.vmcsHpa) {
      const st = this.cpu.vmptrld(vmx.vmcsHpa);
      if (st !== VmxStatus.Succeed) this.vmcs.record('vmptrld', 0, st);
    }
  }

  /**
   * `vmx_secondary_exec_control`: the VM's secondary controls, with RDRAND and RDSEED exiting
   * where the processor has them and the vCPU's CPUID table lacks the instruction
   * (`vmx_adjust_sec_exec_exiting`): that exit is #UD for the guest (`kvm_handle_invalid_op`), as
   * on the CPU its table describes. Before KVM_SET_CPUID2 the table is empty: both exit.
   */
  private secondaryExecControl(vcpu: SoftVcpu): number {
    let ctl = this.proc2Ctl & ~(SecondaryExec.RDRAND_EXITING | SecondaryExec.RDSEED_EXITING);
    const leaf1 = vcpu.findCpuidEntry(1);
    if (this.rdrandExiting && !((leaf1?.ecx ?? 0) & CPUID_1_ECX_RDRAND)) ctl |= SecondaryExec.RDRAND_EXITING;
    const leaf7 = vcpu.findCpuidEntry(7, 0);
    if (this.rdseedExiting && !((leaf7?.ebx ?? 0) & CPUID_7_EBX_RDSEED)) ctl |= SecondaryExec.RDSEED_EXITING;
    return ctl >>> 0;
  }

  /** `vmx_vcpu_after_set_cpuid`: the secondary controls follow the new table. */
  vcpuAfterSetCpuid(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.SECONDARY_VM_EXEC_CONTROL, this.secondaryExecControl(vcpu));
  }

  /** `vmx_vcpu_setup`: controls, host state, and the guest's reset state (SDM 9.1.1). */
  vcpuSetup(vcpu: SoftVcpu): void {
    const w = (e: number, v: number) => this.vmcs.write(e, v);
    const vmx = toVmx(vcpu);
    w(VMCS.PIN_BASED_VM_EXEC_CONTROL, this.pinCtl);
    vmx.execControls = -1;
    vmx.exceptionBitmap = -1;
    vmx.tprThreshold = -1;
    this.setExecControls(vmx, this.procCtl);
    w(VMCS.SECONDARY_VM_EXEC_CONTROL, this.secondaryExecControl(vcpu));
    if (this.pauseLoopExiting) {
      w(VMCS.PLE_GAP, KVM_DEFAULT_PLE_GAP);
      w(VMCS.PLE_WINDOW, KVM_VMX_DEFAULT_PLE_WINDOW);
    }
    // VPID (`allocate_vpid`): one per vCPU, never 0 (SDM 26.2.1.1); the EPTP comes with the root (setCr3).
    if (this.ept) w(VMCS.VIRTUAL_PROCESSOR_ID, vmx.vpid);
    w(VMCS.VM_EXIT_CONTROLS, this.exitCtl);
    w(VMCS.VM_ENTRY_CONTROLS, this.entryCtl);
    this.setExceptionBitmap(vmx, this.ept ? 0 : 1 << 14);
    w(VMCS.PAGE_FAULT_ERROR_CODE_MASK, 0);
    w(VMCS.PAGE_FAULT_ERROR_CODE_MATCH, 0);
    w(VMCS.CR3_TARGET_COUNT, 0);
    w(VMCS.IO_BITMAP_A, vmx.ioBitmapA);
    w(VMCS.IO_BITMAP_B, vmx.ioBitmapB);
    w(VMCS.MSR_BITMAP, vmx.msrBitmap);
    w(VMCS.VMCS_LINK_POINTER, 0xffffffff);
    w(VMCS.VMCS_LINK_POINTER + 1, 0xffffffff);
    w(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
    w(VMCS.VIRTUAL_APIC_PAGE_ADDR, vmx.virtualApicPage);
    this.setTprThreshold(vmx, 0);
    vmx.tprShadow = false;
    // Host state: what the processor returns to on a VM exit.
    w(VMCS.HOST_CR0, this.cpu.hostCr0);
    w(VMCS.HOST_CR4, this.cpu.hostCr4);
    w(VMCS.HOST_CS_SELECTOR, 0x10);
    w(VMCS.HOST_SS_SELECTOR, 0x18);
    w(VMCS.HOST_DS_SELECTOR, 0x18);
    w(VMCS.HOST_ES_SELECTOR, 0x18);
    w(VMCS.HOST_TR_SELECTOR, 0x40);
    // The EFER the exit loads ("load IA32_EFER"): the host's own (LMA with a 64-bit host).
    w(VMCS.HOST_IA32_EFER, this.cpu.hostEfer);
    // CR0: the guest owns TS; CR4: the guest owns PCE, OSFXSR, OSXMMEXCPT.
    vmx.cr0GuestOwned = X86_CR0_TS;
    vmx.cr4GuestOwned = CR4_GUEST_OWNED;
    w(VMCS.CR0_GUEST_HOST_MASK, ~vmx.cr0GuestOwned >>> 0);
    w(VMCS.CR4_GUEST_HOST_MASK, ~vmx.cr4GuestOwned >>> 0);

    // Guest reset state.
    for (let i = 0; i < 8; i++) {
      const [sel, base, limit, ar] = GUEST_SEGMENT_FIELDS[i];
      w(sel, 0);
      w(base, 0);
      w(limit, 0xffff);
      w(ar, i === 6 ? 0x82 : i === 7 ? 0x8b : AR_DATA16);
    }
    w(VMCS.GUEST_CS_SELECTOR, 0xf000);
    w(VMCS.GUEST_CS_BASE, 0xffff0000);
    w(VMCS.GUEST_CS_AR_BYTES, AR_CODE16);
    w(VMCS.GUEST_GDTR_LIMIT, 0xffff);
    w(VMCS.GUEST_IDTR_LIMIT, 0xffff);
    w(VMCS.GUEST_RIP, 0xfff0);
    w(VMCS.GUEST_RSP, 0);
    vmx.vmcsRsp[0] = vmx.vmcsRip[0] = -1;
    w(VMCS.GUEST_RFLAGS, 2);
    w(VMCS.GUEST_DR7, 0x400);
    w(VMCS.GUEST_ACTIVITY_STATE, 0);
    w(VMCS.GUEST_INTERRUPTIBILITY_INFO, 0);
    w(VMCS.GUEST_SYSENTER_CS, 0);
    w(VMCS.GUEST_SYSENTER_ESP, 0);
    w(VMCS.GUEST_SYSENTER_EIP, 0);
    kvmResetControlRegs(vcpu, 0x600); // EDX after reset: family 6
    vmx.launched = false;
  }

  /** `vcpu_free`: VMCLEAR, then free the pages; nothing touches the VMCS afterwards. */
  vcpuFree(vcpu: SoftVcpu): void {
    const vmx = vcpu.arch as VcpuVmx | null;
    if (vmx === null) return;
    const mem = this.cpu.memory;
    if (vmx.vmcsHpa >= 0) {
      this.cpu.vmclear(vmx.vmcsHpa);
      mem.freePage(vmx.vmcsHpa / 4096);
      vmx.vmcsHpa = -1;
    }
    for (const p of [vmx.ioBitmapA, vmx.ioBitmapB, vmx.msrBitmap, vmx.virtualApicPage])
      if (p >= 0) mem.freePage(p / 4096);
    vmx.ioBitmapA = vmx.ioBitmapB = vmx.msrBitmap = vmx.virtualApicPage = -1;
    vcpu.arch = null;
  }

  // ---- registers ------------------------------------------------------------------------------

  cacheRegs(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    const rsp = vmx.vmcsRsp;
    rsp[0] = vcpu.regs[4] = this.vmcs.read(VMCS.GUEST_RSP);
    rsp[1] = vcpu.regsHigh[4] = this.vmcs.high;
    const rip = vmx.vmcsRip;
    rip[0] = vcpu.rip = this.vmcs.read(VMCS.GUEST_RIP);
    rip[1] = vcpu.ripHigh = this.vmcs.high;
  }

  /**
   * RSP and RIP back into the VMCS, each only when it differs from the field (KVM writes back only
   * the registers it dirtied, `regs_dirty`): an exit handler that skips an instruction moves RIP
   * alone, one VMWRITE instead of two.
   */
  decacheRegs(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    const rsp = vmx.vmcsRsp;
    if (rsp[0] !== vcpu.regs[4] || rsp[1] !== vcpu.regsHigh[4]) {
      this.vmcs.write(VMCS.GUEST_RSP, vcpu.regs[4], vcpu.regsHigh[4]);
      rsp[0] = vcpu.regs[4];
      rsp[1] = vcpu.regsHigh[4];
    }
    const rip = vmx.vmcsRip;
    if (rip[0] !== vcpu.rip || rip[1] !== vcpu.ripHigh) {
      this.vmcs.write(VMCS.GUEST_RIP, vcpu.rip, vcpu.ripHigh);
      rip[0] = vcpu.rip;
      rip[1] = vcpu.ripHigh;
    }
  }

  getRflags(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcs.read(VMCS.GUEST_RFLAGS);
  }

  setRflags(vcpu: SoftVcpu, rflags: number): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.GUEST_RFLAGS, rflags);
  }

  /** `vmx_get_segment`: the access-rights field unpacked, "unusable" (bit 16) included. */
  getSegment(vcpu: SoftVcpu, seg: number, out: ArchSegment): void {
    this.vcpuLoad(vcpu);
    const [sel, base, limit, arF] = GUEST_SEGMENT_FIELDS[seg];
    const ar = this.vmcs.read(arF);
    out.selector = this.vmcs.read(sel);
    out.base = this.vmcs.read(base);
    out.baseHigh = this.vmcs.high;
    out.limit = this.vmcs.read(limit);
    out.type = ar & 15;
    out.s = (ar >>> 4) & 1;
    out.dpl = (ar >>> 5) & 3;
    out.present = (ar >>> 7) & 1;
    out.avl = (ar >>> 12) & 1;
    out.l = (ar >>> 13) & 1;
    out.db = (ar >>> 14) & 1;
    out.g = (ar >>> 15) & 1;
    out.unusable = (ar >>> 16) & 1;
  }

  /** `vmx_get_segment_base`: the one VMCS field (`vmx_read_guest_seg_base`). */
  getSegmentBase(vcpu: SoftVcpu, seg: number): number {
    this.vcpuLoad(vcpu);
    return this.vmcs.read(GUEST_SEGMENT_FIELDS[seg][1]);
  }

  /** `vmx_set_segment`: packs the access rights; unusable when asked or not present (symmetric with get). */
  setSegment(vcpu: SoftVcpu, seg: number, v: ArchSegment): void {
    this.vcpuLoad(vcpu);
    const [sel, base, limit, arF] = GUEST_SEGMENT_FIELDS[seg];
    let ar =
      (v.type & 15) |
      ((v.s & 1) << 4) |
      ((v.dpl & 3) << 5) |
      ((v.present & 1) << 7) |
      ((v.avl & 1) << 12) |
      ((v.l & 1) << 13) |
      ((v.db & 1) << 14) |
      ((v.g & 1) << 15);
    if (v.unusable || !v.present) ar |= AR_UNUSABLE;
    this.vmcs.write(sel, v.selector);
    this.vmcs.write(base, v.base, v.baseHigh);
    this.vmcs.write(limit, v.limit);
    this.vmcs.write(arF, ar);
  }

  getGdt(vcpu: SoftVcpu, out: ArchDtable): void {
    this.vcpuLoad(vcpu);
    out.base = this.vmcs.read(VMCS.GUEST_GDTR_BASE);
    out.baseHigh = this.vmcs.high;
    out.limit = this.vmcs.read(VMCS.GUEST_GDTR_LIMIT);
  }
  setGdt(vcpu: SoftVcpu, v: ArchDtable): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.GUEST_GDTR_BASE, v.base, v.baseHigh);
    this.vmcs.write(VMCS.GUEST_GDTR_LIMIT, v.limit);
  }
  getIdt(vcpu: SoftVcpu, out: ArchDtable): void {
    this.vcpuLoad(vcpu);
    out.base = this.vmcs.read(VMCS.GUEST_IDTR_BASE);
    out.baseHigh = this.vmcs.high;
    out.limit = this.vmcs.read(VMCS.GUEST_IDTR_LIMIT);
  }
  setIdt(vcpu: SoftVcpu, v: ArchDtable): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.GUEST_IDTR_BASE, v.base, v.baseHigh);
    this.vmcs.write(VMCS.GUEST_IDTR_LIMIT, v.limit);
  }

  // ---- control registers ------------------------------------------------------------------------

  /** The bits the guest owns are fresh only in the real CR0/CR4 (changelog: decache_cr4_guest_bits). */
  decacheCrGuestBits(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    vcpu.cr0 = ((vcpu.cr0 & ~vmx.cr0GuestOwned) | (this.vmcs.read(VMCS.GUEST_CR0) & vmx.cr0GuestOwned)) >>> 0;
    vcpu.cr4 = ((vcpu.cr4 & ~vmx.cr4GuestOwned) | (this.vmcs.read(VMCS.GUEST_CR4) & vmx.cr4GuestOwned)) >>> 0;
  }

  /**
   * `vmx_set_cr0`: real CR0 without CD/NW, with NE; the guest's value as the read shadow. With
   * EFER.LME, turning paging on enters IA-32e mode and turning it off leaves it (`enter_lmode` /
   * `exit_lmode`: EFER.LMA and the "IA-32e mode guest" entry control follow).
   */
  setCr0(vcpu: SoftVcpu, cr0: number): void {
    this.vcpuLoad(vcpu);
    if (vcpu.efer & EFER_LME && this.cpu.longMode) {
      const paging = (vcpu.cr0 & X86_CR0_PG) !== 0;
      if (!paging && cr0 & X86_CR0_PG) this.setEfer(vcpu, vcpu.efer | EFER_LMA, vcpu.eferHigh);
      if (paging && !(cr0 & X86_CR0_PG)) this.setEfer(vcpu, vcpu.efer & ~EFER_LMA, vcpu.eferHigh);
    }
    this.vmcs.write(VMCS.CR0_READ_SHADOW, cr0);
    if (this.ept) toVmx(vcpu).pdptrsDirty = true;
    this.vmcs.write(VMCS.GUEST_CR0, ((cr0 & ~KVM_VM_CR0_ALWAYS_OFF) | X86_CR0_NE) >>> 0);
  }

  /**
   * `vmx_load_mmu_pgd`: the real CR3 is the shadow root; with EPT the root goes in the EPTP
   * (`construct_eptp`) and the guest's own CR3 (`vcpu.cr3`, already updated by the caller) in
   * GUEST_CR3, its PAE PDPTEs marked for loading (`ept_load_pdptrs`). No flush here, as in KVM:
   * the MMU flushed (`ArchOps.flushTlb`) when it switched to this root (kvm_mmu_new_pgd's
   * KVM_REQ_TLB_FLUSH_CURRENT), and a second flush with nothing filled since was a third of the
   * CR3 exit's flushes.
   */
  setCr3(vcpu: SoftVcpu, rootHpa: number): void {
    this.vcpuLoad(vcpu);
    if (this.ept) {
      const vmx = toVmx(vcpu);
      vmx.eptpLo = ((rootHpa % 4294967296) | EPTP_FLAGS) >>> 0;
      vmx.eptpHi = Math.floor(rootHpa / 4294967296);
      this.vmcs.write(VMCS.EPT_POINTER, vmx.eptpLo, vmx.eptpHi);
      this.vmcs.write(VMCS.GUEST_CR3, vcpu.cr3, vcpu.cr3High);
      vmx.pdptrsDirty = true;
    } else this.vmcs.write(VMCS.GUEST_CR3, rootHpa >>> 0, Math.floor(rootHpa / 4294967296));
  }

  /**
   * `vmx_set_cr4`: real CR4 has PAE (the shadow tables are PAE) and VMXE; the guest's is the
   * shadow. With EPT the real one is the guest's own (and VMXE), its PDPTEs loaded again.
   */
  setCr4(vcpu: SoftVcpu, cr4: number): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.CR4_READ_SHADOW, cr4);
    if (this.ept) toVmx(vcpu).pdptrsDirty = true;
    this.vmcs.write(VMCS.GUEST_CR4, ((this.ept ? cr4 : cr4 | X86_CR4_PAE) | X86_CR4_VMXE) >>> 0);
  }

  /**
   * `ept_load_pdptrs` before an entry: with EPT and PAE paging the processor takes the PDPTEs from
   * the VMCS (SDM 27.3.2.4), so after KVM changed CR0, CR3 or CR4 they are read from guest memory
   * (`load_pdptrs`: a PDPT outside RAM reads as not present) and written there. Between such
   * changes the fields hold what the guest's own MOV CR3 loaded (saved at each exit, 28.3.4).
   */
  private eptLoadPdptrs(vcpu: SoftVcpu, vmx: VcpuVmx): void {
    vmx.pdptrsDirty = false;
    if (!(vcpu.cr0 & X86_CR0_PG) || !(vcpu.cr4 & X86_CR4_PAE) || vcpu.efer & EFER_LMA) return;
    const base = (vcpu.cr3 & 0xffffffe0) >>> 0;
    const hpfn = vcpu.vm.slots.gfnToHpfn(Math.floor(base / 4096));
    for (let i = 0; i < 4; i++) {
      const lo = hpfn < 0 ? 0 : this.memory.read32(hpfn * 4096 + (base % 4096) + i * 8);
      const hi = hpfn < 0 ? 0 : this.memory.read32(hpfn * 4096 + (base % 4096) + i * 8 + 4);
      this.vmcs.write(VMCS.GUEST_PDPTR0 + 2 * i, lo, hi);
    }
  }

  /**
   * `vmx_set_efer`: the guest's EFER, loaded and saved by VM entry/exit (entry "load IA32_EFER"),
   * and the "IA-32e mode guest" entry control set to its LMA (SDM 26.3.1.1 checks they agree).
   * With unrestricted guest the real CR0.PG is the guest's, so LME needs no hiding before LMA.
   */
  setEfer(vcpu: SoftVcpu, lo: number, hi: number): void {
    this.vcpuLoad(vcpu);
    vcpu.efer = lo >>> 0;
    vcpu.eferHigh = hi >>> 0;
    this.vmcs.write(VMCS.GUEST_IA32_EFER, lo, hi);
    const entry = this.vmcs.read(VMCS.VM_ENTRY_CONTROLS);
    const next = lo & EFER_LMA ? entry | VmEntryCtl.IA32E_MODE : entry & ~VmEntryCtl.IA32E_MODE;
    if (next !== entry) this.vmcs.write(VMCS.VM_ENTRY_CONTROLS, next);
  }

  getCr2(vcpu: SoftVcpu): number {
    return toVmx(vcpu).cr2;
  }
  getCr2High(vcpu: SoftVcpu): number {
    return toVmx(vcpu).cr2High;
  }
  setCr2(vcpu: SoftVcpu, cr2: number, cr2High = 0): void {
    toVmx(vcpu).cr2 = cr2 >>> 0;
    toVmx(vcpu).cr2High = cr2High >>> 0;
  }

  // ---- MSRs -------------------------------------------------------------------------------

  /** `vmx_get_msr` (vmx-msrs.ts). */
  getMsr(vcpu: SoftVcpu, index: number, out: Uint32Array): boolean {
    return vmxGetMsr(this, vcpu, index, out);
  }

  /** `vmx_set_msr` (vmx-msrs.ts). */
  setMsr(vcpu: SoftVcpu, index: number, lo: number, hi: number): boolean {
    return vmxSetMsr(this, vcpu, index, lo, hi);
  }

  /** IA32_TSC's counter itself: the silicon's one TSC, which every vCPU's guest reads (no offset). */
  tscCounter(): Uint32Array {
    return this.cpu.nonRoot.cpu.state.tsc;
  }

  // ---- events --------------------------------------------------------------------------------

  /** True while an event waits in the VM-entry interruption-information field. */
  eventPending(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (this.vmcs.read(VMCS.VM_ENTRY_INTR_INFO_FIELD) & IntrInfo.VALID) !== 0;
  }

  /** A hardware exception waiting in the VM-entry interruption-information field, or -1. */
  pendingException(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    const info = this.vmcs.read(VMCS.VM_ENTRY_INTR_INFO_FIELD);
    if (!(info & IntrInfo.VALID) || ((info >>> 8) & 7) !== IntrType.HARD_EXCEPTION) return -1;
    return info & IntrInfo.VECTOR_MASK;
  }

  interruptAllowed(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (
      (this.vmcs.read(VMCS.GUEST_RFLAGS) & X86_EFLAGS_IF) !== 0 &&
      (this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & (GuestIntrState.STI | GuestIntrState.MOV_SS)) ===
        0 &&
      !this.eventPending(vcpu)
    );
  }

  injectIrq(vcpu: SoftVcpu, vector: number): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(
      VMCS.VM_ENTRY_INTR_INFO_FIELD,
      (IntrInfo.VALID | (IntrType.EXT_INTR << 8) | (vector & 0xff)) >>> 0,
    );
    vcpu.vm.count('irq_injections');
  }

  /** NMI through VM-entry injection (type 2, vector 2). */
  injectNmi(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    this.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, (IntrInfo.VALID | (IntrType.NMI << 8) | 2) >>> 0);
    vcpu.vm.count('nmi_injections');
  }

  /**
   * `vmx_nmi_allowed`: no (virtual-)NMI blocking, no STI or MOV SS blocking (KVM: "Disallow NMI
   * while blocked by STI", as some processors refuse that entry), nothing already being injected.
   */
  nmiAllowed(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    const blocked = GuestIntrState.NMI | GuestIntrState.STI | GuestIntrState.MOV_SS;
    return (this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & blocked) === 0 && !this.eventPending(vcpu);
  }

  /**
   * `vmx_enable_nmi_window`: NMI-window exiting, or the interrupt window under STI blocking (the
   * STI shadow ends with IF = 1, where that window opens too) or without virtual NMIs.
   */
  enableNmiWindow(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    if (!this.nmiWindowAvailable || this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & GuestIntrState.STI) {
      this.setIrqWindow(vcpu, true);
      return;
    }
    const vmx = toVmx(vcpu);
    this.setExecControls(vmx, vmx.execControls | CpuBased.NMI_WINDOW_EXITING);
  }

  /** `handle_nmi_window`: the window is open; stop asking (the run loop injects the NMI). */
  nmiWindowOpened(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    this.setExecControls(vmx, vmx.execControls & ~CpuBased.NMI_WINDOW_EXITING);
    vcpu.vm.count('nmi_window_exits');
  }

  /** `vmx_get_nmi_mask`: blocking by (virtual) NMI in the guest interruptibility state. */
  getNmiMask(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & GuestIntrState.NMI) !== 0;
  }

  /** `vmx_set_nmi_mask`. */
  setNmiMask(vcpu: SoftVcpu, masked: boolean): void {
    this.vcpuLoad(vcpu);
    const st = this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    this.vmcs.write(
      VMCS.GUEST_INTERRUPTIBILITY_INFO,
      masked ? st | GuestIntrState.NMI : st & ~GuestIntrState.NMI,
    );
  }

  /** `vmx_get_interrupt_shadow`: STI → KVM_X86_SHADOW_INT_STI (1), MOV SS → _MOV_SS (2). */
  getInterruptShadow(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & (GuestIntrState.STI | GuestIntrState.MOV_SS);
  }

  /** `vmx_set_interrupt_shadow`: the same bits, the NMI blocking bit kept. */
  setInterruptShadow(vcpu: SoftVcpu, mask: number): void {
    this.vcpuLoad(vcpu);
    const st = this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    const sh = mask & (GuestIntrState.STI | GuestIntrState.MOV_SS);
    this.vmcs.write(
      VMCS.GUEST_INTERRUPTIBILITY_INFO,
      (st & ~(GuestIntrState.STI | GuestIntrState.MOV_SS)) | sh,
    );
  }

  /**
   * `vmx_update_cr8_intercept` with the TPR shadow set up as `vmx_exec_control` does for a vCPU
   * with an in-kernel LAPIC (no CR8 exiting, the virtual-APIC page): VTPR ← TPR (KVM's page is the
   * LAPIC's own; ours a copy), and a TPR threshold of `maxIrr` while the TPR masks it (tpr ≥
   * maxIrr), so that lowering CR8 below it exits; else 0, which never exits.
   */
  updateCr8Intercept(vcpu: SoftVcpu, tpr: number, maxIrr: number): void {
    if (!this.tprShadowAvailable) return;
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    if (!vmx.tprShadow) {
      this.setExecControls(vmx, (vmx.execControls & ~CR8_EXITING) | CpuBased.TPR_SHADOW);
      vmx.tprShadow = true;
    }
    this.memory.pageView(vmx.virtualApicPage / 4096)![0x80] = (tpr & 15) << 4;
    this.setTprThreshold(vmx, maxIrr === -1 || tpr < maxIrr ? 0 : maxIrr);
  }

  /**
   * `exec_controls_set`: the primary processor-based controls, written only when they change
   * (the driver's shadow of the field, `VcpuVmx.execControls`). The current VMCS is the vCPU's.
   */
  private setExecControls(vmx: VcpuVmx, value: number): void {
    const v = value >>> 0;
    if (v === vmx.execControls) return;
    vmx.execControls = v;
    this.vmcs.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, v);
  }

  /** `update_exception_bitmap`'s VMWRITE, only when the bitmap changes. */
  private setExceptionBitmap(vmx: VcpuVmx, value: number): void {
    const v = value >>> 0;
    if (v === vmx.exceptionBitmap) return;
    vmx.exceptionBitmap = v;
    this.vmcs.write(VMCS.EXCEPTION_BITMAP, v);
  }

  /** TPR_THRESHOLD (`vmx_update_cr8_intercept`'s `vmcs_write32`), only when it changes. */
  private setTprThreshold(vmx: VcpuVmx, value: number): void {
    if (value === vmx.tprThreshold) return;
    vmx.tprThreshold = value;
    this.vmcs.write(VMCS.TPR_THRESHOLD, value);
  }

  setIrqWindow(vcpu: SoftVcpu, enable: boolean): void {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    const ctl = vmx.execControls;
    this.setExecControls(
      vmx,
      enable ? ctl | CpuBased.VIRTUAL_INTR_PENDING : ctl & ~CpuBased.VIRTUAL_INTR_PENDING,
    );
  }

  /**
   * Hardware exception through VM-entry injection. In real mode (unrestricted guest, CR0.PE = 0)
   * no error code is delivered (SDM 27.2.1.3), so none is given.
   */
  injectException(vcpu: SoftVcpu, vector: number, errorCode: number, hasErrorCode: boolean): void {
    this.vcpuLoad(vcpu);
    const pe = (this.vmcs.read(VMCS.GUEST_CR0) & X86_CR0_PE) !== 0;
    const deliver = hasErrorCode && pe;
    this.vmcs.write(
      VMCS.VM_ENTRY_INTR_INFO_FIELD,
      (IntrInfo.VALID | (IntrType.HARD_EXCEPTION << 8) | (deliver ? IntrInfo.DELIVER_CODE : 0) | vector) >>>
        0,
    );
    if (deliver) this.vmcs.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode);
  }

  revalidateCode(_vcpu: SoftVcpu): void {
    this.cpu.nonRoot.cpu.revalidateCode();
  }

  invalidateCode(_vcpu: SoftVcpu, hpa: number, length: number): void {
    this.cpu.nonRoot.cpu.invalidateCode(hpa, length);
  }

  /** `vmx_flush_tlb_all`: with EPT an INVEPT (the EPT's guest-physical mappings too), else the TLB. */
  flushTlb(_vcpu: SoftVcpu): void {
    if (this.ept) this.cpu.invept(InveptType.ALL_CONTEXT);
    else this.cpu.nonRoot.cpu.flushTlb();
  }

  /** `flush_tlb_gva`: the INVLPG the MMU handled drops that one translation. */
  flushTlbGva(_vcpu: SoftVcpu, gva: number): void {
    this.cpu.nonRoot.cpu.invlpg(gva);
  }

  /**
   * `vmx_flush_tlb_guest`: with EPT a single-context INVVPID of the vCPU's VPID (its linear and
   * combined mappings; EPT's guest-physical ones stay: SDM Vol. 3C 28.3.3), else the TLB.
   */
  flushTlbGuest(vcpu: SoftVcpu): void {
    if (this.ept) this.cpu.invvpid(InvvpidType.SINGLE_CONTEXT, toVmx(vcpu).vpid);
    else this.cpu.nonRoot.cpu.flushTlb();
  }

  // ---- run ---------------------------------------------------------------------------------

  /** FERR# went up during the entry (CR0.NE = 0 and an unmasked x87 error; core `ferr.ts`). */
  private ferrRaised = false;
  /**
   * The processor's FERR# output: noted, and the entry ended at the next instruction boundary (as
   * a host interrupt would), so that IRQ 13 is raised on the in-kernel irqchip right after it.
   */
  private readonly onFerr = (asserted: boolean): void => {
    if (!asserted) return;
    this.ferrRaised = true;
    this.cpu.nonRoot.cpu.requestStop();
  };

  /**
   * KVM_GUESTDBG_USE_HW_BP around an entry (`kvm_update_dr7`, and `vcpu_enter_guest` loading
   * `eff_db`): the debugger's DR0–DR3 into the processor and its DR7 into GUEST_DR7. When it takes
   * the registers over, the guest's DR7 (GUEST_DR7) and DR6 are set aside in `vcpu.debugRegs`
   * and MOV DR exits (handle_dr serves the guest its own values); when it gives them back, they
   * return and MOV DR runs in the guest again.
   */
  private loadDebuggerRegs(vcpu: SoftVcpu, s: CpuState): void {
    const d = vcpu.debugRegs;
    const hw = kvmUsesHwBp(vcpu);
    if (hw !== d.debuggerOwns) {
      const vmx = toVmx(vcpu);
      const ctl = vmx.execControls;
      if (hw) {
        d.dr7 = this.vmcs.read(VMCS.GUEST_DR7);
        d.dr6 = s.dr[6];
        this.setExecControls(vmx, ctl | CpuBased.MOV_DR_EXITING);
      } else {
        this.vmcs.write(VMCS.GUEST_DR7, d.dr7);
        s.dr[6] = d.dr6;
        this.setExecControls(vmx, ctl & ~CpuBased.MOV_DR_EXITING);
      }
      d.debuggerOwns = hw;
    }
    if (hw) {
      d.loadDebugger(s, vcpu.guestDebugRegs, vcpu.guestDebugRegsHigh);
      this.vmcs.write(VMCS.GUEST_DR7, vcpu.guestDebugRegs[7]);
    } else d.loadInto(s);
  }

  /**
   * `vmx_vcpu_run`: the guest's GPRs (but RSP, which the VMCS has) and CR2 into the processor,
   * VMLAUNCH or VMRESUME, and back. A VMfail is KVM_EXIT_FAIL_ENTRY with the VM-instruction
   * error as the hardware reason.
   */
  run(vcpu: SoftVcpu, budget: number): EntryResult {
    this.vcpuLoad(vcpu);
    const vmx = toVmx(vcpu);
    const nr = this.cpu.nonRoot;
    const s = nr.cpu.state;
    const regs = vcpu.regs;
    const regsHigh = vcpu.regsHigh;
    // RAX with the others (VMX carries only RSP and RIP in the VMCS).
    s.gpr[0] = regs[0];
    s.gprHigh[0] = regsHigh[0];
    loadGuestGprs(s, regs, regsHigh);
    s.cr[2] = vmx.cr2;
    s.crHigh[2] = vmx.cr2High;
    // The guest MSR area into the processor (vmx.c's load_msrs around the entry).
    // Element by element: TypedArray.set of two elements is a runtime call, eight per exit.
    s.star[0] = vmx.star[0];
    s.star[1] = vmx.star[1];
    s.lstar[0] = vmx.lstar[0];
    s.lstar[1] = vmx.lstar[1];
    s.cstar[0] = vmx.cstar[0];
    s.cstar[1] = vmx.cstar[1];
    s.kernelGsBase[0] = vmx.kernelGsBase[0];
    s.kernelGsBase[1] = vmx.kernelGsBase[1];
    s.sfmask[0] = vmx.sfmask;
    s.tscAux[0] = vmx.tscAux;
    vcpu.fpu.loadInto(s);
    if (vcpu.debugRegs.debuggerOwns || kvmUsesHwBp(vcpu)) this.loadDebuggerRegs(vcpu, s);
    else vcpu.debugRegs.loadInto(s);
    // update_exception_bitmap: #PF for the shadow MMU (not with EPT), #BP while a debugger owns it
    // (USE_SW_BP), #DB while it owns the debug registers (USE_HW_BP).
    this.setExceptionBitmap(vmx, (this.ept ? 0 : 1 << 14) | kvmGuestDebugExceptions(vcpu));
    if (vmx.pdptrsDirty) this.eptLoadPdptrs(vcpu, vmx);
    nr.hostTick = budget;
    nr.cpu.ferr = this.onFerr;
    const st = vmx.launched ? this.cpu.vmresume() : this.cpu.vmlaunch();
    // The exit wrote GUEST_RSP and GUEST_RIP: the driver's copies of them are stale.
    vmx.vmcsRsp[0] = vmx.vmcsRip[0] = -1;
    if (st !== VmxStatus.Succeed) {
      const run = vcpu.run;
      let error = 0;
      if (st === VmxStatus.FailValid && this.cpu.vmread(VMCS.VM_INSTRUCTION_ERROR) === VmxStatus.Succeed) {
        error = this.cpu.vmreadValue;
      }
      this.vmcs.record(vmx.launched ? 'vmresume' : 'vmlaunch', 0, st);
      run.exitReason = KVM_EXIT.FAIL_ENTRY;
      run.failEntry.hardwareEntryFailureReason = BigInt(error);
      run.failEntry.cpu = 0;
      return EntryResult.FailEntry;
    }
    const reason = this.vmcs.read(VMCS.VM_EXIT_REASON);
    if (!(reason & 0x80000000)) vmx.launched = true;
    // With EPT the guest loads CR3 without an exit: KVM's copy follows the VMCS's (vmx_cache_reg's
    // VCPU_EXREG_CR3: `vcpu->arch.cr3 = vmcs_readl(GUEST_CR3)` when the guest owns it).
    if (this.ept) {
      vcpu.cr3 = this.vmcs.read(VMCS.GUEST_CR3);
      vcpu.cr3High = this.vmcs.high;
    }
    regs[0] = s.gpr[0];
    regsHigh[0] = s.gprHigh[0];
    saveGuestGprs(s, regs, regsHigh);
    vmx.cr2 = s.cr[2];
    vmx.cr2High = s.crHigh[2];
    // save_msrs: SYSCALL does not change them, but WRMSR-free SWAPGS swaps KERNEL_GS_BASE.
    vmx.star[0] = s.star[0];
    vmx.star[1] = s.star[1];
    vmx.lstar[0] = s.lstar[0];
    vmx.lstar[1] = s.lstar[1];
    vmx.cstar[0] = s.cstar[0];
    vmx.cstar[1] = s.cstar[1];
    vmx.kernelGsBase[0] = s.kernelGsBase[0];
    vmx.kernelGsBase[1] = s.kernelGsBase[1];
    vmx.sfmask = s.sfmask[0];
    vmx.tscAux = s.tscAux[0];
    // The FPU registers stay in the processor (GuestFpu.loadInto: KVM keeps the guest FPU loaded).
    // While the debugger owns DR0–DR3 they are its own; the guest's stay in vcpu.debugRegs.
    if (!vcpu.debugRegs.debuggerOwns) vcpu.debugRegs.saveFrom(s);
    if (this.ferrRaised) {
      this.ferrRaised = false;
      kvmFerr(vcpu);
    }
    vcpu.instructions += nr.lastInstructions;
    // MOV to CR8 wrote VTPR: the LAPIC's TPR (KVM's virtual-APIC page is the TPR itself).
    if (vmx.tprShadow && vcpu.apic !== null) {
      const vtpr = this.memory.pageView(vmx.virtualApicPage / 4096)![0x80];
      if (vtpr !== vcpu.apic.reg(0x80)) vcpu.apic.writeReg(0x80, vtpr);
    }
    this.recoverNmiBlocking(reason);
    this.completeInterrupts(vcpu);
    return EntryResult.Exit;
  }

  /**
   * `vmx_recover_nmi_blocking`: a fault in an IRET that began under virtual-NMI blocking cleared
   * it (SDM 27.3.1); the IRET runs again after the exit is handled, so the blocking comes back
   * (exit interruption information bit 12, 27.2.2; not for #DF).
   */
  private recoverNmiBlocking(reason: number): void {
    if ((reason & 0xffff) !== ExitReason.EXCEPTION_NMI) return;
    const info = this.vmcs.read(VMCS.VM_EXIT_INTR_INFO);
    if (!(info & IntrInfo.VALID) || !(info & IntrInfo.NMI_UNBLOCK) || (info & 0xff) === 8) return;
    const st = this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    this.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, st | GuestIntrState.NMI);
  }

  /**
   * `vmx_complete_interrupts`: an event whose delivery the exit interrupted (IDT-vectoring
   * information valid) is injected again at the next entry.
   */
  private completeInterrupts(vcpu: SoftVcpu): void {
    const info = this.vmcs.read(VMCS.IDT_VECTORING_INFO_FIELD);
    if (!(info & IntrInfo.VALID)) return;
    const type = (info >>> 8) & 7;
    if (type === IntrType.EXT_INTR) {
      vcpu.interruptQueued = info & 0xff;
      return;
    }
    this.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, info & ~IntrInfo.NMI_UNBLOCK);
    // An NMI whose delivery was cut short did not block NMIs yet; it goes in again (an entry
    // injecting an NMI under virtual-NMI blocking fails, 26.3.1.5).
    if (type === IntrType.NMI) {
      const st = this.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
      if (st & GuestIntrState.NMI)
        this.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, st & ~GuestIntrState.NMI);
    }
    if (info & IntrInfo.DELIVER_CODE) {
      this.vmcs.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, this.vmcs.read(VMCS.IDT_VECTORING_ERROR_CODE));
    }
    if (
      type === IntrType.SOFT_INTR ||
      type === IntrType.SOFT_EXCEPTION ||
      type === IntrType.PRIV_SOFT_EXCEPTION
    ) {
      this.vmcs.write(VMCS.VM_ENTRY_INSTRUCTION_LEN, this.vmcs.read(VMCS.VM_EXIT_INSTRUCTION_LEN));
    }
  }

  handleExit(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
    return vmxHandleExit(this, vcpu, run);
  }

  countExit(vcpu: SoftVcpu, basic: number): void {
    toVmx(vcpu).exitCounts[basic]++;
  }

  stats(vcpu: SoftVcpu, into: Record<string, number>): void {
    const c = toVmx(vcpu).exitCounts;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      const k = `exit_${(EXIT_REASON_NAMES[i] ?? String(i)).toLowerCase()}`;
      into[k] = (into[k] ?? 0) + c[i];
    }
    into.vmx_errors = (into.vmx_errors ?? 0) + this.vmcs.errors.length;
    siliconCpuStats(this.cpu.nonRoot.cpu, into);
  }
}

export { ExitReason };
