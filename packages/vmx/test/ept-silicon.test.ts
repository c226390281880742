/**
 * EPT on the VMX silicon (SDM Vol. 3C 29.3), seen through a guest the EPT driver runs: the
 * capability MSRs, the VM-entry checks of the EPTP and the VPID (VMfailValid 7), and the exit
 * fields of an EPT violation (exit 48: qualification bits 2:0 access, 5:3 the entries' rights, 7
 * linear address valid, 8 translated address vs paging-structure entry; GUEST_PHYSICAL_ADDRESS
 * and GUEST_LINEAR_ADDRESS) and of an EPT misconfiguration (exit 49).
 */
import { KVM_EXIT, openKvm, SoftKvmDevice } from '@kvm/core';
import { longModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import {
  EPT_VPID_CAP_LO,
  EptCap,
  EptQual,
  ExitReason,
  SecondaryExec,
  VMCS,
  VMX_EXIT_HANDLERS,
  VmxDriver,
  VmxInstructionError,
  VmxMsr,
  VmxSilicon,
  VmxStatus,
} from '../src/index.js';

// mov dx, 0x3f8 ; out dx, al ; mov eax, [0x100000] ; hlt
const CODE = [0x66, 0xba, 0xf8, 0x03, 0xee, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00, 0xf4];

/**
 * A long-mode guest over EPT. `tdpPrefetch` 1 (the MMU's default maps a fault's whole 2 MiB group)
 * so that every page the guest touches first is an EPT violation of its own, as the exits'
 * fields are checked below.
 */
function eptGuest(code = CODE, tdpPrefetch = 1) {
  const si = new VmxSilicon();
  const driver = new VmxDriver(si, { ept: true });
  const kvm = openKvm(new SoftKvmDevice(driver, { mmuOptions: { tdp: true, ept: true, tdpPrefetch } }));
  return { si, driver, g: longModeGuest(kvm, code) };
}

interface EptExit {
  reason: number;
  qual: number;
  gpa: number;
  gla: number;
}

/** Records the raw exit fields of every EPT exit the driver handles while `f` runs. */
function recordEptExits(si: VmxSilicon, f: () => void): EptExit[] {
  const table = VMX_EXIT_HANDLERS as (typeof VMX_EXIT_HANDLERS)[number][];
  const saved = [table[ExitReason.EPT_VIOLATION], table[ExitReason.EPT_MISCONFIG]];
  const out: EptExit[] = [];
  const read = (e: number): number => (si.vmread(e) === VmxStatus.Succeed ? si.vmreadValue : -1);
  for (const r of [ExitReason.EPT_VIOLATION, ExitReason.EPT_MISCONFIG]) {
    const h = table[r]!;
    table[r] = (d, vcpu, run) => {
      out.push({
        reason: read(VMCS.VM_EXIT_REASON),
        qual: read(VMCS.EXIT_QUALIFICATION),
        gpa: read(VMCS.GUEST_PHYSICAL_ADDRESS),
        gla: read(VMCS.GUEST_LINEAR_ADDRESS),
      });
      return h(d, vcpu, run);
    };
  }
  try {
    f();
  } finally {
    table[ExitReason.EPT_VIOLATION] = saved[0];
    table[ExitReason.EPT_MISCONFIG] = saved[1];
  }
  return out;
}

describe('VMX silicon: EPT capabilities', () => {
  it('allows "enable EPT" and "enable VPID" and reports a 4-level WB walk, 2M/1G pages, A/D, INVEPT', () => {
    const si = new VmxSilicon();
    const out = new Uint32Array(2);
    expect(si.rdmsr(VmxMsr.IA32_VMX_PROCBASED_CTLS2, out)).toBe(true);
    expect(out[1] & (SecondaryExec.ENABLE_EPT | SecondaryExec.ENABLE_VPID)).toBe(
      SecondaryExec.ENABLE_EPT | SecondaryExec.ENABLE_VPID,
    );
    expect(si.rdmsr(VmxMsr.IA32_VMX_EPT_VPID_CAP, out)).toBe(true);
    expect(out[0]).toBe(EPT_VPID_CAP_LO);
    expect(out[0] & (EptCap.WALK_LENGTH_4 | EptCap.WB | EptCap.AD | EptCap.EXECUTE_ONLY)).toBe(
      EptCap.WALK_LENGTH_4 | EptCap.WB | EptCap.AD | EptCap.EXECUTE_ONLY,
    );
    expect(out[0] & ((1 << 16) | (1 << 17) | (1 << 20))).toBe((1 << 16) | (1 << 17) | (1 << 20));
    // The true processor-based controls let CR3-load/store exiting be 0 (BASIC bit 55).
    expect(si.rdmsr(VmxMsr.IA32_VMX_BASIC, out)).toBe(true);
    expect(out[1] & (1 << 23)).not.toBe(0);
    expect(si.rdmsr(VmxMsr.IA32_VMX_TRUE_PROCBASED_CTLS, out)).toBe(true);
    expect(out[0] & ((1 << 15) | (1 << 16))).toBe(0);
    expect(si.rdmsr(VmxMsr.IA32_VMX_PROCBASED_CTLS, out)).toBe(true);
    expect(out[0] & ((1 << 15) | (1 << 16))).toBe((1 << 15) | (1 << 16));
  });
});

describe('VMX silicon: VM-entry checks with EPT', () => {
  it('fails VM entry with error 7 for an EPTP with a bad memory type, walk length or reserved bits, and for VPID 0', () => {
    const { si, g } = eptGuest();
    expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
    expect(si.vmread(VMCS.EPT_POINTER)).toBe(VmxStatus.Succeed);
    const good = si.vmreadValue;
    expect(good & 0x3f).toBe(0x1e); // WB, walk length 4
    for (const [field, bad] of [
      [VMCS.EPT_POINTER, (good & ~7) | 1], // memory type WC
      [VMCS.EPT_POINTER, (good & ~0x38) | 0x10], // walk length 3
      [VMCS.EPT_POINTER, good | 0x80], // bit 7 reserved
      [VMCS.VIRTUAL_PROCESSOR_ID, 0],
    ] as const) {
      expect(si.vmread(field)).toBe(VmxStatus.Succeed);
      const was = si.vmreadValue;
      si.vmwrite(field, bad);
      expect(si.vmresume(), `field ${field.toString(16)} = ${bad.toString(16)}`).toBe(VmxStatus.FailValid);
      expect(si.vmread(VMCS.VM_INSTRUCTION_ERROR)).toBe(VmxStatus.Succeed);
      expect(si.vmreadValue).toBe(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
      expect(si.lastEntryFailure).toMatch(field === VMCS.VIRTUAL_PROCESSOR_ID ? /VPID/ : /EPTP/);
      si.vmwrite(field, was);
    }
    // Restored, the guest runs on.
    expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
  });
});

describe('VMX silicon: EPT exits', () => {
  it('reports EPT violations with the access, the rights, the linear address and where the walk was', () => {
    const { si, g } = eptGuest();
    const exits = recordEptExits(si, () => {
      expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
    });
    expect(exits.every((e) => e.reason === ExitReason.EPT_VIOLATION)).toBe(true);
    // The first: the guest's walk for the first fetch reads its PML4 (at CR3 0x10000): a read of
    // a paging-structure entry with a valid linear address (RIP 0x1000), not the translated one.
    expect(exits[0].gpa).toBe(0x10000);
    expect(exits[0].qual).toBe(EptQual.READ | EptQual.LINEAR_VALID);
    expect(exits[0].gla).toBe(0x1000);
    // The code page: a fetch of the translated address.
    const code = exits.find((e) => e.gpa === 0x1000);
    expect(code?.qual).toBe(EptQual.FETCH | EptQual.LINEAR_VALID | EptQual.TRANSLATED);
    // The data read, after the OUT.
    const data = exits.find((e) => e.gpa === 0x100000);
    expect(data?.qual).toBe(EptQual.READ | EptQual.LINEAR_VALID | EptQual.TRANSLATED);
    expect(data?.gla).toBe(0x100000);
  });

  it("with the MMU's default prefetch, the first violation maps the 2 MiB around it: the code and tables exit no more", () => {
    const { si, g } = eptGuest(CODE, 512);
    const exits = recordEptExits(si, () => {
      expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
    });
    // The PML4 read maps gPA 0-2 MiB (the guest's tables and code); the data at 1 MiB is in it too.
    expect(exits.map((e) => e.gpa)).toEqual([0x10000]);
  });

  it('an EPT entry with a reserved memory type is a misconfiguration (exit 49), an internal error for KVM', () => {
    const { si, g } = eptGuest();
    // The guest reads gPA 0x100000 once (the MMU maps it); then its EPT leaf gets memory type 2.
    const exits = recordEptExits(si, () => {
      expect(g.vcpu.run()).toBe(KVM_EXIT.IO);
      expect(g.vcpu.run()).toBe(KVM_EXIT.HLT);
    });
    expect(exits.some((e) => e.gpa === 0x100000)).toBe(true);
    const mem = si.memory;
    expect(si.vmread(VMCS.EPT_POINTER)).toBe(VmxStatus.Succeed);
    let t = si.vmreadValue & 0xfffff000;
    for (let level = 4; level > 1; level--) {
      const lo = mem.read32(t + (Math.floor(0x100000 / 2 ** (3 + 9 * level)) % 512) * 8);
      expect(lo & 7).toBe(7);
      t = lo & 0xfffff000;
    }
    const leaf = t + ((0x100000 / 4096) % 512) * 8;
    expect(mem.read32(leaf) & 7).toBe(7);
    mem.write32(leaf, (mem.read32(leaf) & ~0x38) | (2 << 3));
    si.invept(2);
    const regs = g.vcpu.getRegs();
    g.vcpu.setRegs({ ...regs, rip: 0x1005n });
    const again = recordEptExits(si, () => {
      expect(g.vcpu.run()).toBe(KVM_EXIT.INTERNAL_ERROR);
    });
    expect(again.at(-1)?.reason).toBe(ExitReason.EPT_MISCONFIG);
    expect(again.at(-1)?.gpa).toBe(0x100000);
    expect(again.at(-1)?.qual).toBe(0);
  });
});
