import { describe, expect, it } from 'vitest';
import {
  encodingType,
  encodingWidth,
  VMCS,
  VMCS_FIELDS,
  VmcsFieldType,
  VmcsWidth,
} from '../src/silicon/vmcs-fields.js';
import {
  CpuBased,
  ExitReason,
  FeatureControl,
  IntrInfo,
  SecondaryExec,
  VmExitCtl,
  VmxInstructionError,
  VmxMsr,
} from '../src/silicon/vmx-arch.js';
import { VMCS_REVISION_ID } from '../src/silicon/vmx-capabilities.js';
import { VmxSilicon, VmxStatus } from '../src/silicon/vmx-silicon.js';

/** A silicon in VMX root operation with a VMXON region and one VMCS region, both revision-stamped. */
function rootSilicon() {
  const si = new VmxSilicon();
  const mem = si.memory;
  const page = (): number => {
    const hpfn = mem.allocPage();
    new DataView(mem.pageView(hpfn)!.buffer, mem.pageView(hpfn)!.byteOffset).setUint32(
      0,
      VMCS_REVISION_ID,
      true,
    );
    return hpfn * 4096;
  };
  const vmxon = page();
  const vmcs = page();
  expect(si.writeCr4(si.hostCr4 | (1 << 13))).toBe(true);
  expect(si.vmxon(vmxon)).toBe(VmxStatus.Succeed);
  return { si, vmxon, vmcs, page };
}

function instructionError(si: VmxSilicon): number {
  expect(si.vmread(VMCS.VM_INSTRUCTION_ERROR)).toBe(VmxStatus.Succeed);
  return si.vmreadValue;
}

describe('VMCS field table', () => {
  it('has each width as the encoding bits 14:13 say (SDM 25.11.2)', () => {
    for (const f of VMCS_FIELDS) expect(encodingWidth(f.encoding), f.name).toBe(f.width);
  });
  it('has unique encodings, all "full" accesses (bit 0 clear)', () => {
    const seen = new Set<number>();
    for (const f of VMCS_FIELDS) {
      expect(f.encoding & 1, f.name).toBe(0);
      expect(seen.has(f.encoding), f.name).toBe(false);
      seen.add(f.encoding);
    }
  });
  it('matches SDM Appendix B for fields KVM uses', () => {
    expect(VMCS.GUEST_RIP).toBe(0x681e);
    expect(VMCS.VM_EXIT_REASON).toBe(0x4402);
    expect(VMCS.VM_INSTRUCTION_ERROR).toBe(0x4400);
    expect(VMCS.CPU_BASED_VM_EXEC_CONTROL).toBe(0x4002);
    expect(VMCS.CR0_READ_SHADOW).toBe(0x6004);
    expect(VMCS.VMCS_LINK_POINTER).toBe(0x2800);
    expect(VMCS.GUEST_TR_AR_BYTES).toBe(0x4822);
    expect(encodingType(VMCS.EXIT_QUALIFICATION)).toBe(VmcsFieldType.ExitInfo);
    expect(encodingWidth(VMCS.GUEST_ES_SELECTOR)).toBe(VmcsWidth.W16);
  });
});

describe('VMX silicon: feature control and VMXON', () => {
  it('raises #UD for VMXON with CR4.VMXE clear', () => {
    const si = new VmxSilicon();
    expect(si.vmxon(0x1000)).toBe(VmxStatus.Ud);
  });
  it('raises #GP for VMXON when IA32_FEATURE_CONTROL is enabled but not locked (the MacBook firmware)', () => {
    const si = new VmxSilicon({ featureControl: FeatureControl.VMXON_ENABLED_OUTSIDE_SMX });
    si.writeCr4(si.hostCr4 | (1 << 13));
    expect(si.vmxon(0x1000)).toBe(VmxStatus.Gp);
    // Unlocked: the hypervisor may lock it with VMX enabled, and then VMXON works.
    expect(si.wrmsr(VmxMsr.IA32_FEATURE_CONTROL, 5, 0)).toBe(true);
    expect(si.wrmsr(VmxMsr.IA32_FEATURE_CONTROL, 1, 0)).toBe(false);
  });
  it('raises #GP for VMXON when IA32_FEATURE_CONTROL is locked with VMX disabled', () => {
    const si = new VmxSilicon({ featureControl: FeatureControl.LOCKED });
    si.writeCr4(si.hostCr4 | (1 << 13));
    expect(si.vmxon(0x1000)).toBe(VmxStatus.Gp);
  });
  it('fails VMXON invalid for a region without the revision identifier, and in root with error 15', () => {
    const si = new VmxSilicon();
    si.writeCr4(si.hostCr4 | (1 << 13));
    const hpfn = si.memory.allocPage();
    expect(si.vmxon(hpfn * 4096)).toBe(VmxStatus.FailInvalid);
    expect(si.vmxon(hpfn * 4096 + 8)).toBe(VmxStatus.FailInvalid);
    const { si: r, vmcs } = rootSilicon();
    expect(r.vmxon(0x1000)).toBe(VmxStatus.FailInvalid); // no current VMCS: nowhere to put error 15
    r.vmptrld(vmcs);
    expect(r.vmxon(0x1000)).toBe(VmxStatus.FailValid);
    expect(instructionError(r)).toBe(VmxInstructionError.VMXON_IN_ROOT);
  });
});

describe('VMX silicon: VMCS instructions and their error numbers', () => {
  it('VMPTRLD: revision mismatch is error 11, the VMXON pointer error 10, an unaligned address error 9', () => {
    const { si, vmxon, vmcs, page } = rootSilicon();
    expect(si.vmptrld(vmcs)).toBe(VmxStatus.Succeed);
    const bad = page();
    si.memory.write32(bad, 0x7777);
    expect(si.vmptrld(bad)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMPTRLD_INCORRECT_REVISION_ID);
    expect(si.vmptrld(vmxon)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMPTRLD_VMXON_POINTER);
    expect(si.vmptrld(vmcs + 4)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMPTRLD_INVALID_ADDRESS);
    expect(si.vmptrst()).toBe(vmcs);
  });

  it('VMREAD/VMWRITE: unsupported component 12, read-only component 13, widths kept', () => {
    const { si, vmcs } = rootSilicon();
    expect(si.vmwrite(VMCS.GUEST_RIP, 0x1234)).toBe(VmxStatus.FailInvalid);
    si.vmptrld(vmcs);
    expect(si.vmwrite(0x7fff & ~1, 1)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.UNSUPPORTED_VMCS_COMPONENT);
    expect(si.vmwrite(VMCS.VM_EXIT_REASON, 1)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMWRITE_READ_ONLY_COMPONENT);
    expect(si.vmwrite(VMCS.GUEST_CS_SELECTOR, 0x12345)).toBe(VmxStatus.Succeed);
    si.vmread(VMCS.GUEST_CS_SELECTOR);
    expect(si.vmreadValue).toBe(0x2345);
    si.vmwrite(VMCS.VMCS_LINK_POINTER, 0xffffffff);
    si.vmwrite(VMCS.VMCS_LINK_POINTER + 1, 0xffffffff);
    si.vmread(VMCS.VMCS_LINK_POINTER + 1);
    expect(si.vmreadValue).toBe(0xffffffff);
    // A full-access write clears the high half (32-bit operation).
    si.vmwrite(VMCS.VMCS_LINK_POINTER, 5);
    si.vmread(VMCS.VMCS_LINK_POINTER + 1);
    expect(si.vmreadValue).toBe(0);
    // The high access of a 32-bit field does not exist.
    expect(si.vmread(VMCS.GUEST_CS_LIMIT + 1)).toBe(VmxStatus.FailValid);
  });

  it('VMREAD/VMWRITE move 64 bits of natural-width and 64-bit fields on the Intel 64 part, 32 on the 32-bit one', () => {
    const { si, vmcs } = rootSilicon();
    si.vmptrld(vmcs);
    expect(si.vmwrite(VMCS.GUEST_RIP, 0x81000000, 0xffffffff)).toBe(VmxStatus.Succeed);
    si.vmread(VMCS.GUEST_RIP);
    expect([si.vmreadValue, si.vmreadValueHigh]).toEqual([0x81000000, 0xffffffff]);
    si.vmwrite(VMCS.GUEST_IA32_EFER, 0xd01, 0);
    si.vmread(VMCS.GUEST_IA32_EFER);
    expect([si.vmreadValue, si.vmreadValueHigh]).toEqual([0xd01, 0]);
    // 32-bit fields keep their width whatever the operand's high half.
    si.vmwrite(VMCS.GUEST_CS_LIMIT, 0xffff, 0x1234);
    si.vmread(VMCS.GUEST_CS_LIMIT);
    expect([si.vmreadValue, si.vmreadValueHigh]).toEqual([0xffff, 0]);
    // The 32-bit part: 32-bit operation, the high half is not there to write or read.
    const si32 = new VmxSilicon({ longMode: false });
    const mem = si32.memory;
    const page = (): number => {
      const hpfn = mem.allocPage();
      new DataView(mem.pageView(hpfn)!.buffer, mem.pageView(hpfn)!.byteOffset).setUint32(
        0,
        VMCS_REVISION_ID,
        true,
      );
      return hpfn * 4096;
    };
    si32.writeCr4(si32.hostCr4 | (1 << 13));
    si32.vmxon(page());
    si32.vmptrld(page());
    si32.vmwrite(VMCS.GUEST_RIP, 0x1000, 0xffffffff);
    si32.vmread(VMCS.GUEST_RIP);
    expect([si32.vmreadValue, si32.vmreadValueHigh]).toEqual([0x1000, 0]);
  });

  it('VMCLEAR of the VMXON region is error 3 and clears the current VMCS pointer otherwise', () => {
    const { si, vmxon, vmcs } = rootSilicon();
    si.vmptrld(vmcs);
    expect(si.vmclear(vmxon)).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMCLEAR_VMXON_POINTER);
    expect(si.vmclear(vmcs)).toBe(VmxStatus.Succeed);
    expect(si.vmptrst()).toBe(-1);
    expect(si.vmread(VMCS.GUEST_RIP)).toBe(VmxStatus.FailInvalid);
  });

  it('VMRESUME of a clear VMCS is error 5; VM entry with reserved control bits is error 7', () => {
    const { si, vmcs } = rootSilicon();
    si.vmclear(vmcs);
    si.vmptrld(vmcs);
    expect(si.vmresume()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMRESUME_NONLAUNCHED_VMCS);
    // All controls zero: the default-1 bits are missing.
    expect(si.vmlaunch()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
    expect(si.lastEntryFailure).toContain('pin-based');
  });

  it('VMLAUNCH with good controls but a bad host state is error 8; bad guest state is exit 33 with bit 31', () => {
    const { si, vmcs } = rootSilicon();
    si.vmclear(vmcs);
    si.vmptrld(vmcs);
    const msr = new Uint32Array(2);
    const ctl = (m: number) => {
      si.rdmsr(m, msr);
      return msr[0];
    };
    si.vmwrite(VMCS.PIN_BASED_VM_EXEC_CONTROL, ctl(VmxMsr.IA32_VMX_PINBASED_CTLS));
    si.vmwrite(VMCS.CPU_BASED_VM_EXEC_CONTROL, ctl(VmxMsr.IA32_VMX_PROCBASED_CTLS));
    // A 64-bit host (IA32_EFER.LMA) must return with "host address-space size" (SDM 26.2.4).
    si.vmwrite(VMCS.VM_EXIT_CONTROLS, ctl(VmxMsr.IA32_VMX_EXIT_CTLS) | VmExitCtl.HOST_ADDR_SPACE_SIZE);
    si.vmwrite(VMCS.VM_ENTRY_CONTROLS, ctl(VmxMsr.IA32_VMX_ENTRY_CTLS));
    expect(si.vmlaunch()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.ENTRY_INVALID_HOST_STATE_FIELD);
    si.vmwrite(VMCS.HOST_CR0, si.hostCr0);
    si.vmwrite(VMCS.HOST_CR4, si.hostCr4);
    si.vmwrite(VMCS.HOST_CS_SELECTOR, 0x10);
    si.vmwrite(VMCS.HOST_TR_SELECTOR, 0x40);
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed);
    si.vmread(VMCS.VM_EXIT_REASON);
    expect(si.vmreadValue).toBe((0x80000000 | ExitReason.INVALID_STATE) >>> 0);
    // The launch state stays clear after a failed entry: VMRESUME is still error 5.
    expect(si.vmresume()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.VMRESUME_NONLAUNCHED_VMCS);
  });

  it('checks the controls and host state again after a VMWRITE or VMPTRLD, though they passed before', () => {
    const { si, vmcs, page } = rootSilicon();
    si.vmclear(vmcs);
    si.vmptrld(vmcs);
    const msr = new Uint32Array(2);
    const ctl = (m: number) => {
      si.rdmsr(m, msr);
      return msr[0];
    };
    si.vmwrite(VMCS.PIN_BASED_VM_EXEC_CONTROL, ctl(VmxMsr.IA32_VMX_PINBASED_CTLS));
    si.vmwrite(VMCS.CPU_BASED_VM_EXEC_CONTROL, ctl(VmxMsr.IA32_VMX_PROCBASED_CTLS));
    si.vmwrite(VMCS.VM_EXIT_CONTROLS, ctl(VmxMsr.IA32_VMX_EXIT_CTLS) | VmExitCtl.HOST_ADDR_SPACE_SIZE);
    si.vmwrite(VMCS.VM_ENTRY_CONTROLS, ctl(VmxMsr.IA32_VMX_ENTRY_CTLS));
    si.vmwrite(VMCS.HOST_CR0, si.hostCr0);
    si.vmwrite(VMCS.HOST_CR4, si.hostCr4);
    si.vmwrite(VMCS.HOST_CS_SELECTOR, 0x10);
    si.vmwrite(VMCS.HOST_TR_SELECTOR, 0x40);
    // Controls and host state pass (the guest state does not: exit 33).
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed);
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed);
    si.vmwrite(VMCS.HOST_CR0, 0);
    expect(si.vmlaunch()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.ENTRY_INVALID_HOST_STATE_FIELD);
    si.vmwrite(VMCS.HOST_CR0, si.hostCr0);
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed);
    // Another VMCS, all controls zero.
    const other = page();
    expect(si.vmptrld(other)).toBe(VmxStatus.Succeed);
    si.vmclear(other);
    si.vmptrld(other);
    expect(si.vmlaunch()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
  });

  it('a guest-state VMWRITE keeps the checked controls; one of GUEST_CR0 (read by the injection rules) does not', () => {
    const { si, vmcs } = rootSilicon();
    si.vmclear(vmcs);
    si.vmptrld(vmcs);
    const msr = new Uint32Array(2);
    const ctl = (m: number) => {
      si.rdmsr(m, msr);
      return msr[0];
    };
    si.vmwrite(VMCS.PIN_BASED_VM_EXEC_CONTROL, ctl(VmxMsr.IA32_VMX_PINBASED_CTLS));
    si.vmwrite(
      VMCS.CPU_BASED_VM_EXEC_CONTROL,
      ctl(VmxMsr.IA32_VMX_PROCBASED_CTLS) | CpuBased.ACTIVATE_SECONDARY_CONTROLS,
    );
    si.vmwrite(VMCS.SECONDARY_VM_EXEC_CONTROL, SecondaryExec.UNRESTRICTED_GUEST);
    si.vmwrite(VMCS.VM_EXIT_CONTROLS, ctl(VmxMsr.IA32_VMX_EXIT_CTLS) | VmExitCtl.HOST_ADDR_SPACE_SIZE);
    si.vmwrite(VMCS.VM_ENTRY_CONTROLS, ctl(VmxMsr.IA32_VMX_ENTRY_CTLS));
    si.vmwrite(VMCS.HOST_CR0, si.hostCr0);
    si.vmwrite(VMCS.HOST_CR4, si.hostCr4);
    si.vmwrite(VMCS.HOST_CS_SELECTOR, 0x10);
    si.vmwrite(VMCS.HOST_TR_SELECTOR, 0x40);
    // Inject #GP with an error code: right while GUEST_CR0.PE = 1 (27.2.1.3).
    si.vmwrite(VMCS.GUEST_CR0, 0x80000031);
    si.vmwrite(VMCS.VM_ENTRY_INTR_INFO_FIELD, (IntrInfo.VALID | IntrInfo.DELIVER_CODE | (3 << 8) | 13) >>> 0);
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed); // controls pass (the guest state: exit 33)
    si.vmwrite(VMCS.GUEST_RIP, 0x1234);
    expect(si.vmlaunch()).toBe(VmxStatus.Succeed);
    // Real mode under unrestricted guest delivers no error code: the same injection is now invalid.
    si.vmwrite(VMCS.GUEST_CR0, 0x30);
    expect(si.vmlaunch()).toBe(VmxStatus.FailValid);
    expect(instructionError(si)).toBe(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
    expect(si.lastEntryFailure).toContain('deliver-error-code');
  });

  it('reports capability MSRs whose allowed settings are consistent, and no VMX MSRs without VMX', () => {
    const si = new VmxSilicon();
    const out = new Uint32Array(2);
    expect(si.rdmsr(VmxMsr.IA32_VMX_BASIC, out)).toBe(true);
    expect(out[0]).toBe(VMCS_REVISION_ID);
    expect(out[1] & 0x1fff).toBe(4096);
    for (const m of [0x481, 0x482, 0x483, 0x484, 0x48b]) {
      si.rdmsr(m, out);
      expect((out[0] & ~out[1]) >>> 0, m.toString(16)).toBe(0);
    }
    expect(new VmxSilicon({ vmx: false }).rdmsr(VmxMsr.IA32_VMX_BASIC, out)).toBe(false);
    // The Intel 64 part has MSR_STAR; a 32-bit part does not.
    expect(si.rdmsr(0xc0000081, out)).toBe(true);
    expect(new VmxSilicon({ longMode: false }).rdmsr(0xc0000081, out)).toBe(false);
  });
});
