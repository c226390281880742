/**
 * A frame that gains decoded code loses its TLB write rights (fetch.ts `setCodePage`), so that a
 * store to it takes the path that drops the decodes. Under nested paging with the guest's paging
 * off the entry that maps the frame sits at the guest-physical page's index, not the host frame's.
 */
import { describe, expect, it } from 'vitest';
import { NestedPaging, StopReason } from '../src/index.js';
import { asm } from './asm.js';
import { protectedMode } from './pm.js';

const NPML4 = 0xc00000;
const NPDPT = 0xc01000;
const NPD = 0xc02000;
const NPT = 0xc03000;
/** Guest-physical 0x700000 is host 0x900000. */
const GPA = 0x700000;
const HPA = 0x900000;

describe('code frames under nested paging, guest paging off', () => {
  it('a store into a page whose code ran (write rights cached before) runs the new instruction', () => {
    const m = protectedMode(`mov dword ptr [${GPA + 0x800}], 0\nmov eax, ${GPA}\njmp eax`);
    const mem = m.mem;
    mem.write32(NPML4, NPDPT | 7);
    mem.write32(NPDPT, NPD | 7);
    for (let i = 0; i < 3; i++) mem.write32(NPD + i * 8, (i * 0x200000) | 7 | 0x80);
    mem.write32(NPD + 3 * 8, NPT | 7);
    for (let i = 0; i < 512; i++) mem.write32(NPT + i * 8, (0x600000 + i * 4096) | 7);
    mem.write32(NPT + ((GPA >>> 12) & 511) * 8, HPA | 7);
    const stub = asm(
      `
      mov ecx, 2
    l:
      mov eax, 1
      add ebx, eax
      mov dword ptr [l + 1], 5
      dec ecx
      jnz l
      hlt`,
      { bits: 32, origin: GPA },
    );
    mem.bytes.set(stub, HPA);
    const n = new NestedPaging(mem);
    n.root = NPML4;
    m.cpu.nested = n;
    m.cpu.jit = null;
    m.cpu.stateChanged();
    m.cpu.state.gpr[3] = 0;
    expect(m.cpu.run(1000)).toBe(StopReason.Hlt);
    expect(m.cpu.state.gpr[3]).toBe(1 + 5);
  });
});
