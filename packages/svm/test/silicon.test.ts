import { KvmError } from '@kvm/core';
import { createVmxKvm, VmxDriver, VmxSilicon } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import { createSvmKvm, SvmDriver, SvmSilicon } from '../src/index.js';
import { EFER_SVME, Intercept2, SvmExit, SvmMsr, VmCr } from '../src/silicon/svm-arch.js';
import { SvmStatus } from '../src/silicon/svm-silicon.js';
import { Vmcb } from '../src/silicon/vmcb.js';
import { VMCB, VMCB_FIELDS } from '../src/silicon/vmcb-layout.js';

function refusal(f: () => unknown): KvmError {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('VMCB layout', () => {
  it('matches APM Vol. 2 Appendix B for the fields KVM uses', () => {
    expect(VMCB.EXITCODE).toBe(0x70);
    expect(VMCB.EXITINFO1).toBe(0x78);
    expect(VMCB.EXITINFO2).toBe(0x80);
    expect(VMCB.EVENTINJ).toBe(0xa8);
    expect(VMCB.IOPM_BASE_PA).toBe(0x40);
    expect(VMCB.MSRPM_BASE_PA).toBe(0x48);
    expect(VMCB.CS).toBe(0x410);
    expect(VMCB.EFER).toBe(0x4d0);
    expect(VMCB.CR0).toBe(0x558);
    expect(VMCB.RIP).toBe(0x578);
    expect(VMCB.RAX).toBe(0x5f8);
    expect(VMCB.CR2).toBe(0x640);
  });
  it('has no two fields overlapping and everything inside one page', () => {
    const sorted = [...VMCB_FIELDS].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i].offset, sorted[i].name).toBeGreaterThanOrEqual(
        sorted[i - 1].offset + sorted[i - 1].size,
      );
    }
    const last = sorted[sorted.length - 1];
    expect(last.offset + last.size).toBeLessThanOrEqual(4096);
  });
});

describe('SVM silicon', () => {
  it('raises #UD for VMRUN without EFER.SVME and #GP for an unaligned VMCB', () => {
    const si = new SvmSilicon();
    expect(si.vmrun(0x1000)).toBe(SvmStatus.Ud);
    expect(si.wrmsr(SvmMsr.EFER, EFER_SVME, 0)).toBe(true);
    expect(si.vmrun(0x1008)).toBe(SvmStatus.Gp);
  });
  it('refuses EFER.SVME while VM_CR.SVMDIS is set', () => {
    const si = new SvmSilicon({ vmCr: VmCr.SVMDIS | VmCr.LOCK });
    expect(si.wrmsr(SvmMsr.EFER, EFER_SVME, 0)).toBe(false);
    expect(si.wrmsr(SvmMsr.VM_CR, 0, 0)).toBe(false);
  });
  it('exits with VMEXIT_INVALID for a VMCB failing the consistency checks (VMRUN intercept clear, ASID 0)', () => {
    const si = new SvmSilicon();
    si.wrmsr(SvmMsr.EFER, EFER_SVME, 0);
    const hpfn = si.memory.allocPage();
    const v = new Vmcb(si.memory);
    v.bind(hpfn * 4096);
    v.set64(VMCB.EFER, EFER_SVME, 0);
    expect(si.vmrun(hpfn * 4096)).toBe(SvmStatus.Exited);
    expect(v.u32(VMCB.EXITCODE)).toBe(0xffffffff);
    expect(v.hi(VMCB.EXITCODE)).toBe(0xffffffff);
    expect(si.lastInvalid).toContain('VMRUN intercept');
    v.setU32(VMCB.INTERCEPT_MISC2, Intercept2.VMRUN);
    si.vmrun(hpfn * 4096);
    expect(si.lastInvalid).toBe('ASID 0');
    v.setU32(VMCB.GUEST_ASID, 1);
    v.set64(VMCB.EFER, 0, 0);
    si.vmrun(hpfn * 4096);
    expect(si.lastInvalid).toContain('SVME');
  });
  it('has MSR_STAR (every SVM part has SYSCALL) but no VMX MSRs', () => {
    const out = new Uint32Array(2);
    const si = new SvmSilicon();
    expect(si.rdmsr(0xc0000081, out)).toBe(true);
    expect(si.rdmsr(0x480, out)).toBe(false);
  });
  it('exit codes are the APM numbers', () => {
    expect(SvmExit.IOIO).toBe(0x7b);
    expect(SvmExit.MSR).toBe(0x7c);
    expect(SvmExit.VINTR).toBe(0x64);
    expect(SvmExit.SHUTDOWN).toBe(0x7f);
    expect(SvmExit.EXCP_BASE + 14).toBe(0x4e);
  });
});

describe('hardware checks: the right backend for the silicon', () => {
  it('refuses the SVM backend on Intel silicon and the VMX backend on AMD silicon ("not on speaking terms")', () => {
    const a = refusal(() => createSvmKvm({ silicon: new SvmSilicon({ vendor: 'GenuineIntel' }) }));
    expect(a.code).toBe('EOPNOTSUPP');
    expect(a.message).toContain('not on speaking terms');
    // The real cross-wiring: each driver handed the other vendor's silicon.
    expect(new SvmDriver(new VmxSilicon() as unknown as SvmSilicon).hardwareSetup().ok).toBe(false);
    const r = new VmxDriver(new SvmSilicon() as unknown as VmxSilicon).hardwareSetup();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain('not on speaking terms');
  });
  it('refuses SVM disabled by the BIOS (VM_CR.SVMDIS) with a clear message', () => {
    const e = refusal(() => createSvmKvm({ siliconConfig: { vmCr: VmCr.SVMDIS } }));
    expect(e.message).toContain('disabled by bios');
  });
  it('refuses silicon without the SVM feature bit', () => {
    expect(refusal(() => createSvmKvm({ siliconConfig: { svm: false } })).message).toContain(
      'no hardware support',
    );
  });
  it('lets a VMX and an SVM engine live side by side in one process', () => {
    // The 32-bit VMX part has no MSR_STAR; each engine lists what its own silicon has.
    const vmx = createVmxKvm({ siliconConfig: { longMode: false } });
    const svm = createSvmKvm();
    expect(vmx.engine).toBe('vmx');
    expect(svm.engine).toBe('svm');
    expect(vmx.getMsrIndexList()).not.toContain(0xc0000081);
    expect(svm.getMsrIndexList()).toContain(0xc0000081);
  });
});
