/**
 * VMRUN on the state the processor already holds (guest-mode.ts `modeStale`): after a #VMEXIT the
 * silicon keeps the mode and segment checks it derived, and a VMRUN that loads the same ES, CS,
 * SS, DS, CPL, CR0/3/4, EFER and RFLAGS.VM only recomputes its hot state. These tests change
 * exactly what that shortcut must not miss, between two VMRUNs of one VMCB: the hypervisor's
 * write to CS (the default operand size), VMLOAD of another FS, and the intercept words.
 */
import { describe, expect, it } from 'vitest';
import { SvmSilicon } from '../src/index.js';
import {
  EFER_SVME,
  Intercept1,
  Intercept2,
  SvmExit,
  SvmFeature,
  SvmMsr,
  VMCB_CLEAN_HONOURED,
  VmcbClean,
} from '../src/silicon/svm-arch.js';
import { SvmStatus } from '../src/silicon/svm-silicon.js';
import { Vmcb } from '../src/silicon/vmcb.js';
import { SEG_ATTRIB, SEG_BASE, SEG_LIMIT, VMCB } from '../src/silicon/vmcb-layout.js';

/** VMCB attribute words (APM Vol. 2 Table B-2): code 16-bit, code 32-bit (D, G), data. */
const CODE16 = 0x9b;
const CODE32 = 0xc9b;
const DATA = 0x93;

/** A protected-mode guest without paging, CS based at its code page, stopping at HLT. */
function guest(code: number[]) {
  const si = new SvmSilicon();
  expect(si.wrmsr(SvmMsr.EFER, EFER_SVME, 0)).toBe(true);
  const mem = si.memory;
  const vmcbHpa = mem.allocPage() * 4096;
  const codeHpa = mem.allocPage() * 4096;
  const v = new Vmcb(mem);
  v.bind(vmcbHpa);
  mem.pageView(codeHpa / 4096)!.set(code);
  v.set64(VMCB.EFER, EFER_SVME, 0);
  v.set64(VMCB.CR0, 0x11, 0); // PE, ET
  for (const seg of [VMCB.ES, VMCB.CS, VMCB.SS, VMCB.DS, VMCB.FS, VMCB.GS]) {
    v.setU16(seg + SEG_ATTRIB, seg === VMCB.CS ? CODE16 : DATA);
    v.setU32(seg + SEG_LIMIT, 0xffff);
  }
  v.set64(VMCB.CS + SEG_BASE, codeHpa, 0);
  v.set64(VMCB.RFLAGS, 2, 0);
  v.setU32(VMCB.INTERCEPT_MISC1, Intercept1.HLT);
  v.setU32(VMCB.INTERCEPT_MISC2, Intercept2.VMRUN);
  v.setU32(VMCB.GUEST_ASID, 1);
  const run = (rip: number) => {
    v.set64(VMCB.RIP, rip, 0);
    expect(si.vmrun(vmcbHpa)).toBe(SvmStatus.Exited);
    return v.u32(VMCB.EXITCODE);
  };
  return { si, v, vmcbHpa, mem, run };
}

describe('VMRUN on the state the processor holds', () => {
  it('decodes with the operand size of the CS the hypervisor wrote between two VMRUNs', () => {
    // mov (e)ax, imm ; then in 16-bit code `and dl, [bx+di]` ; hlt
    const { v, run } = guest([0xb8, 0x44, 0x33, 0x22, 0x11, 0xf4]);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x3344);
    // Same VMCB, nothing else changed but CS.D: the 32-bit decode must follow.
    v.setU16(VMCB.CS + SEG_ATTRIB, CODE32);
    v.setU32(VMCB.CS + SEG_LIMIT, 0xffffffff);
    v.set64(VMCB.RAX, 0, 0);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x11223344);
    // And back: the held state is the 32-bit one now, the VMCB says 16-bit.
    v.setU16(VMCB.CS + SEG_ATTRIB, CODE16);
    v.setU32(VMCB.CS + SEG_LIMIT, 0xffff);
    v.set64(VMCB.RAX, 0, 0);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x3344);
  });

  it('reads through the FS that VMLOAD loaded between two VMRUNs', () => {
    // mov al, fs:[0] ; hlt
    const { si, v, vmcbHpa, mem, run } = guest([0x64, 0xa0, 0x00, 0x00, 0xf4]);
    const a = mem.allocPage() * 4096;
    const b = mem.allocPage() * 4096;
    mem.write32(a, 0x11);
    mem.write32(b, 0x22);
    v.set64(VMCB.FS + SEG_BASE, a, 0);
    expect(si.vmload(vmcbHpa)).toBe(SvmStatus.Exited);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX) & 0xff).toBe(0x11);
    v.set64(VMCB.FS + SEG_BASE, b, 0);
    expect(si.vmload(vmcbHpa)).toBe(SvmStatus.Exited);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX) & 0xff).toBe(0x22);
    // A VMLOAD that makes FS unusable: the same access is #GP now (a null selector's segment).
    v.setU16(VMCB.FS + SEG_ATTRIB, 0);
    expect(si.vmload(vmcbHpa)).toBe(SvmStatus.Exited);
    v.setU32(VMCB.INTERCEPT_EXCEPTIONS, 1 << 13);
    expect(run(0)).toBe(SvmExit.EXCP_BASE + 13);
  });

  it('takes the intercepts the VMCB has at each VMRUN', () => {
    // cpuid ; hlt
    const { v, run } = guest([0x0f, 0xa2, 0xf4]);
    expect(run(0)).toBe(SvmExit.HLT);
    v.setU32(VMCB.INTERCEPT_MISC1, Intercept1.HLT | Intercept1.CPUID);
    expect(run(0)).toBe(SvmExit.CPUID);
    v.setU32(VMCB.INTERCEPT_MISC1, Intercept1.HLT);
    expect(run(0)).toBe(SvmExit.HLT);
  });

  it('uses the CS it holds for a VMCB marked SEG-clean, and loads it when the bit is clear (15.15.3)', () => {
    const out = new Uint32Array(4);
    new SvmSilicon().cpuid(0x8000000a, 0, out);
    expect(out[3] & SvmFeature.VMCB_CLEAN).toBe(SvmFeature.VMCB_CLEAN);
    // mov (e)ax, imm ; hlt: 16-bit code takes 2 bytes of immediate, 32-bit code 4.
    const { v, run } = guest([0xb8, 0x44, 0x33, 0x22, 0x11, 0xf4]);
    expect(run(0)).toBe(SvmExit.HLT);
    // CS.D written with its area marked clean: the processor keeps the CS the #VMEXIT stored.
    v.setU16(VMCB.CS + SEG_ATTRIB, CODE32);
    v.setU32(VMCB.CS + SEG_LIMIT, 0xffffffff);
    v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x3344);
    // The hypervisor clears SEG (vmcb_mark_dirty): CS comes from the VMCB.
    v.setU16(VMCB.CS + SEG_ATTRIB, CODE32);
    v.setU32(VMCB.CS + SEG_LIMIT, 0xffffffff);
    v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED & ~VmcbClean.SEG);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x11223344);
  });

  it("loads every area of a VMCB that is not the last VMRUN's, whatever its clean bits say", () => {
    const { si, v, vmcbHpa, mem, run } = guest([0xb8, 0x44, 0x33, 0x22, 0x11, 0xf4]);
    expect(run(0)).toBe(SvmExit.HLT);
    // A second VMCB, a copy of the first but with 32-bit CS, all clean: never run, so all loaded.
    const other = mem.allocPage() * 4096;
    mem.pageView(other / 4096)!.set(mem.pageView(vmcbHpa / 4096)!);
    const w = new Vmcb(mem);
    w.bind(other);
    w.setU16(VMCB.CS + SEG_ATTRIB, CODE32);
    w.setU32(VMCB.CS + SEG_LIMIT, 0xffffffff);
    w.set64(VMCB.RIP, 0, 0);
    w.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    expect(si.vmrun(other)).toBe(SvmStatus.Exited);
    expect(w.u32(VMCB.RAX)).toBe(0x11223344);
    // And back to the first, clean too: the processor held the other's CS, so it loads its own.
    v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.RAX)).toBe(0x3344);
  });

  it('stores at each #VMEXIT the CR0 and DS the guest changed, with their areas clean or not', () => {
    // mov eax, cr0 ; xor ax, 2 (CR0.MP) ; mov cr0, eax ; xor ax, ax ; mov ds, ax ; hlt ; hlt
    const { v, run } = guest([
      0x0f, 0x20, 0xc0, 0x83, 0xf0, 0x02, 0x0f, 0x22, 0xc0, 0x31, 0xc0, 0x8e, 0xd8, 0xf4, 0xf4,
    ]);
    const ds = () => [v.u16(VMCB.DS), v.u16(VMCB.DS + SEG_ATTRIB) & 0x80];
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.CR0)).toBe(0x13);
    expect(ds()).toEqual([0, 0]);
    // The hypervisor gives DS back (and says so, SEG dirty); CR0 stays clean: the guest toggles
    // the MP bit of the CR0 the processor holds, and the #VMEXIT stores each change.
    for (const cr0 of [0x11, 0x13, 0x11]) {
      v.setU16(VMCB.DS + SEG_ATTRIB, DATA);
      v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED & ~VmcbClean.SEG);
      expect(run(0)).toBe(SvmExit.HLT);
      expect(v.u32(VMCB.CR0)).toBe(cr0);
      expect(ds()).toEqual([0, 0]);
    }
    // A run that changes neither, all clean: the VMCB keeps them; DS's attrib as the guest left it.
    v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    expect(run(14)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.CR0)).toBe(0x11);
    expect(ds()).toEqual([0, 0]);
    // And from a VMCB the hypervisor set up anew (nothing clean): stored whole again.
    v.setU16(VMCB.DS + SEG_ATTRIB, DATA);
    v.set64(VMCB.CR0, 0x13, 0);
    v.setU32(VMCB.VMCB_CLEAN, 0);
    expect(run(0)).toBe(SvmExit.HLT);
    expect(v.u32(VMCB.CR0)).toBe(0x11);
    expect(ds()).toEqual([0, 0]);
  });

  it("clears the clean bit of a field's area on the hypervisor's writes (Vmcb.tracksClean)", () => {
    const { v } = guest([0xf4]);
    v.tracksClean = true;
    const cases: [number, number][] = [
      [VMCB.CS + SEG_ATTRIB, VmcbClean.SEG],
      [VMCB.DS + SEG_BASE, VmcbClean.SEG],
      [VMCB.CPL, VmcbClean.SEG],
      [VMCB.CR0, VmcbClean.CRX],
      [VMCB.EFER, VmcbClean.CRX],
      [VMCB.GDTR + SEG_LIMIT, VmcbClean.DT],
      [VMCB.IDTR + SEG_BASE, VmcbClean.DT],
      [VMCB.MSRPM_BASE_PA, VmcbClean.IOPM],
    ];
    for (const [off, bit] of cases) {
      v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
      if (off === VMCB.CPL) v.setU8(off, 0);
      else if (off === VMCB.CS + SEG_ATTRIB) v.setU16(off, CODE16);
      else v.set64(off, 0, 0);
      expect(v.u32(VMCB.VMCB_CLEAN)).toBe(VMCB_CLEAN_HONOURED & ~bit);
    }
    // Fields outside the four areas leave the bits (RIP, RAX, the FS VMLOAD loads).
    v.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    v.set64(VMCB.RIP, 0, 0);
    v.set64(VMCB.RAX, 0, 0);
    v.set64(VMCB.FS + SEG_BASE, 0, 0);
    expect(v.u32(VMCB.VMCB_CLEAN)).toBe(VMCB_CLEAN_HONOURED);
  });
});
