/**
 * A minimal `ArchOps` for testing the generic part alone (ioctls, slots, vCPU registry): it keeps
 * registers in plain fields and never runs a guest. Real backends are tested in @kvm/vmx and
 * @kvm/svm.
 */
import type { ArchDtable, ArchOps, ArchSegment, HardwareCheck, HostCpu } from '../../src/soft/arch-ops.js';
import { EntryResult, ExitResult } from '../../src/soft/arch-ops.js';
import { HostPhysicalMemory } from '../../src/soft/host-physical.js';
import type { SoftVcpu } from '../../src/soft/vcpu.js';

interface FakeVcpu {
  rsp: number;
  rip: number;
  rflags: number;
  segs: ArchSegment[];
  gdt: ArchDtable;
  idt: ArchDtable;
  cr2: number;
}

export function fakeCpu(vendor = 'GenuineIntel'): HostCpu {
  return {
    cpuid(leaf, _sub, out) {
      out.fill(0);
      if (leaf === 0) {
        const b = Buffer.from(vendor, 'latin1');
        out[0] = 1;
        out[1] = b.readUInt32LE(0);
        out[3] = b.readUInt32LE(4);
        out[2] = b.readUInt32LE(8);
      }
    },
    rdmsr: () => false,
    wrmsr: () => false,
  };
}

export function fakeArch(
  check: HardwareCheck = { ok: true },
  opts: { failCreate?: boolean } = {},
): ArchOps & {
  created: number;
  freed: number;
} {
  const st = (v: SoftVcpu): FakeVcpu => v.arch as FakeVcpu;
  const ops = {
    name: 'fake',
    cpu: fakeCpu(),
    memory: new HostPhysicalMemory(),
    created: 0,
    freed: 0,
    hardwareSetup: () => check,
    hasMsr: (i: number) => i === 0x174 || i === 0x10,
    vcpuCreate(v: SoftVcpu) {
      if (opts.failCreate) throw new Error('no memory');
      ops.created++;
      const seg = (): ArchSegment => ({
        base: 0,
        baseHigh: 0,
        limit: 0xffff,
        selector: 0,
        type: 3,
        present: 1,
        dpl: 0,
        db: 0,
        s: 1,
        l: 0,
        g: 0,
        avl: 0,
        unusable: 0,
      });
      v.arch = {
        rsp: 0,
        rip: 0xfff0,
        rflags: 2,
        segs: Array.from({ length: 8 }, seg),
        gdt: { base: 0, baseHigh: 0, limit: 0xffff },
        idt: { base: 0, baseHigh: 0, limit: 0xffff },
        cr2: 0,
      } satisfies FakeVcpu;
    },
    vcpuSetup() {},
    vcpuFree(v: SoftVcpu) {
      if (v.arch !== null) ops.freed++;
      v.arch = null;
    },
    vcpuLoad() {},
    cacheRegs(v: SoftVcpu) {
      v.regs[4] = st(v).rsp;
      v.rip = st(v).rip;
    },
    decacheRegs(v: SoftVcpu) {
      st(v).rsp = v.regs[4];
      st(v).rip = v.rip;
    },
    getRflags: (v: SoftVcpu) => st(v).rflags,
    setRflags: (v: SoftVcpu, f: number) => {
      st(v).rflags = f;
    },
    getSegment: (v: SoftVcpu, n: number, out: ArchSegment) => Object.assign(out, st(v).segs[n]),
    setSegment: (v: SoftVcpu, n: number, s: ArchSegment) => {
      st(v).segs[n] = { ...s };
    },
    getGdt: (v: SoftVcpu, o: ArchDtable) => Object.assign(o, st(v).gdt),
    setGdt: (v: SoftVcpu, d: ArchDtable) => {
      st(v).gdt = { ...d };
    },
    getIdt: (v: SoftVcpu, o: ArchDtable) => Object.assign(o, st(v).idt),
    setIdt: (v: SoftVcpu, d: ArchDtable) => {
      st(v).idt = { ...d };
    },
    decacheCrGuestBits() {},
    setCr0: (v: SoftVcpu, c: number) => {
      v.cr0 = c;
    },
    setCr3() {},
    setCr4: (v: SoftVcpu, c: number) => {
      v.cr4 = c;
    },
    setEfer: (v: SoftVcpu, lo: number) => {
      v.efer = lo;
    },
    getCr2: (v: SoftVcpu) => st(v).cr2,
    setCr2: (v: SoftVcpu, c: number) => {
      st(v).cr2 = c;
    },
    getMsr: () => false,
    setMsr: () => false,
    interruptAllowed: (v: SoftVcpu) => (st(v).rflags & 0x200) !== 0,
    injectIrq() {},
    setIrqWindow() {},
    injectException() {},
    flushTlb() {},
    run: () => EntryResult.Exit,
    handleExit: () => ExitResult.Userspace,
  };
  return ops;
}
