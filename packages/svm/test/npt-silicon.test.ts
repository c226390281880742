/**
 * Nested paging on the SVM silicon (APM Vol. 2 15.25): NP_ENABLE and N_CR3 in the VMCB, the
 * guest's guest-physical accesses translated through the nested tables, #VMEXIT(NPF) with
 * EXITINFO1 = the #PF-style error code and bit 32 (final gPA) / 33 (guest table walk), EXITINFO2 =
 * the gPA, and CPUID 8000_000A EDX.NP.
 */
import { describe, expect, it } from 'vitest';
import { SvmSilicon } from '../src/index.js';
import { NP_ENABLE } from '../src/silicon/npt.js';
import { EFER_SVME, Intercept1, Intercept2, SvmExit, SvmFeature, SvmMsr } from '../src/silicon/svm-arch.js';
import { SvmStatus } from '../src/silicon/svm-silicon.js';
import { Vmcb } from '../src/silicon/vmcb.js';
import { SEG_ATTRIB, SEG_LIMIT, VMCB } from '../src/silicon/vmcb-layout.js';

const EFER_NX = 1 << 11;
// Real mode: mov al, [0x2000] ; mov [0x2000], al ; hlt
const CODE = [0xa0, 0x00, 0x20, 0xa2, 0x00, 0x20, 0xf4];

/** A real-mode guest under nested paging: gfn 1 (code) and gfn 2 (data, read-only) mapped, nothing else. */
function nptGuest() {
  const si = new SvmSilicon();
  expect(si.wrmsr(SvmMsr.EFER, EFER_SVME | EFER_NX, 0)).toBe(true);
  const mem = si.memory;
  const vmcbHpa = mem.allocPage() * 4096;
  const v = new Vmcb(mem);
  v.bind(vmcbHpa);
  const [pml4, pdpt, pd, pt, code, data] = [0, 1, 2, 3, 4, 5].map(() => mem.allocPage() * 4096);
  mem.write32(pml4, pdpt | 7);
  mem.write32(pdpt, pd | 7);
  mem.write32(pd, pt | 7);
  const map = (gfn: number, hpa: number, flags: number) => mem.write32(pt + gfn * 8, (hpa | flags) >>> 0);
  map(1, code, 7);
  map(2, data, 5); // P | U: read-only
  mem.pageView(code / 4096)!.set(CODE);
  mem.write32(data, 0x5a);
  v.set64(VMCB.EFER, EFER_SVME, 0);
  v.set64(VMCB.CR0, 0x10, 0);
  for (const seg of [VMCB.ES, VMCB.CS, VMCB.SS, VMCB.DS]) {
    v.setU16(seg + SEG_ATTRIB, seg === VMCB.CS ? 0x9b : 0x93);
    v.setU32(seg + SEG_LIMIT, 0xffff);
  }
  v.set64(VMCB.RIP, 0x1000, 0);
  v.set64(VMCB.RFLAGS, 2, 0);
  v.setU32(VMCB.INTERCEPT_MISC1, Intercept1.HLT);
  v.setU32(VMCB.INTERCEPT_MISC2, Intercept2.VMRUN);
  v.setU32(VMCB.GUEST_ASID, 1);
  v.set64(VMCB.NP_ENABLE, NP_ENABLE, 0);
  v.set64(VMCB.N_CR3, pml4, 0);
  return { si, v, vmcbHpa, pt, data, map };
}

describe('SVM silicon: nested paging (APM 15.25)', () => {
  it('reports NP in CPUID 8000_000A EDX bit 0', () => {
    const out = new Uint32Array(4);
    new SvmSilicon().cpuid(0x8000000a, 0, out);
    expect(out[3] & SvmFeature.NP).toBe(1);
  });

  it('runs the guest on guest-physical addresses and exits NPF on a write to a read-only nested page', () => {
    const { si, v, vmcbHpa, pt, data, map } = nptGuest();
    expect(si.vmrun(vmcbHpa)).toBe(SvmStatus.Exited);
    expect(v.u32(VMCB.EXITCODE)).toBe(SvmExit.NPF);
    // P | W | U with bit 32: the final guest-physical address, not a guest table.
    expect([v.u32(VMCB.EXITINFO1), v.hi(VMCB.EXITINFO1)]).toEqual([7, 1]);
    expect([v.u32(VMCB.EXITINFO2), v.hi(VMCB.EXITINFO2)]).toEqual([0x2000, 0]);
    // RIP at the store; the load before it read the data page through the nested tables.
    expect(v.u32(VMCB.RIP)).toBe(0x1003);
    expect(v.u32(VMCB.RAX) & 0xff).toBe(0x5a);
    expect(v.u32(VMCB.EXITINTINFO)).toBe(0);
    // The hypervisor makes it writable and flushes (TLB_CONTROL): the store completes.
    map(2, data, 7);
    v.setU8(VMCB.TLB_CONTROL, 1);
    v.setU32(VMCB.RAX, 0xa5);
    expect(si.vmrun(vmcbHpa)).toBe(SvmStatus.Exited);
    expect(v.u32(VMCB.EXITCODE)).toBe(SvmExit.HLT);
    expect(si.memory.read32(data) & 0xff).toBe(0xa5);
    // The nested leaf got its accessed and dirty bits.
    expect(si.memory.read32(pt + 2 * 8) & 0x60).toBe(0x60);
  });

  it('an unmapped gPA is a not-present NPF (error code U only); the fetch of unmapped code too', () => {
    const { si, v, vmcbHpa, map } = nptGuest();
    map(1, 0, 0);
    expect(si.vmrun(vmcbHpa)).toBe(SvmStatus.Exited);
    expect(v.u32(VMCB.EXITCODE)).toBe(SvmExit.NPF);
    // Not present, user, instruction fetch (host NXE on), final gPA.
    expect([v.u32(VMCB.EXITINFO1), v.hi(VMCB.EXITINFO1)]).toEqual([0x14, 1]);
    expect(v.u32(VMCB.EXITINFO2)).toBe(0x1000);
  });
});
