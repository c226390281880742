/**
 * The block compiler's flags and loops: shifts by CL (a count of 0 changes no flag), flags the
 * compiler holds back (shifts, IMUL) until something reads them or a fault needs them, and loops
 * whose next iteration starts with the previous one's flags and registers still in the block's
 * locals. Each machine runs in lockstep with the interpreter at budgets that stop inside blocks.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import { CODE, pagedProtectedMode, protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61, 1000];

describe('block compiler: shifts by CL', () => {
  it('SHL/SHR/SAR by CL give the interpreter’s results and flags, and a count of 0 keeps the flags before it', () => {
    // ECX runs 70…1: CL & 31 is 0 at 64 and 32, where CF must still be CMP's for ADC and SBB.
    const src = `
      mov ecx, 70
      mov edi, 0x9e3779b1
      xor ebx, ebx
      xor ebp, ebp
    top:
      mov eax, ecx
      imul eax, edi
      mov edx, eax
      mov esi, eax
      cmp eax, 0x80000000
      shl eax, cl
      adc ebx, 0
      cmp edx, 0x40000000
      sar edx, cl
      sbb ebp, 0
      shr esi, cl
      jo over
      add ebx, esi
    over:
      xor ebx, edx
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(500);
  });
});

describe('block compiler: loops keep flags and registers in locals', () => {
  it('the head of a loop reads the flags its previous iteration left pending (INC keeps CF, ADC reads it)', () => {
    const src = `
      mov ecx, 200
      xor ebx, ebx
      xor esi, esi
      mov edx, 0x12345678
    top:
      inc ebx
      adc esi, 0
      mov eax, ecx
      shl eax, 29
      sub edx, eax
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(200);
    // SUB borrowed in 88 of the 199 iterations before the last INC.
    expect(r.jit.cpu.state.gpr[Reg.RSI]).toBe(88);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
  });

  it('a #PF in a later iteration of a loop sees the flags and registers of the iteration before', () => {
    // IMUL's flags (held back, never built while the loop runs) are the ones at the fault.
    const src = `
      mov esi, 0x3f0000
      mov ebx, 0x10001
    top:
      mov eax, [esi]
      add esi, 0x1000
      inc edi
      imul ebx, ebx, 0x10003
      jmp top`;
    const r = lockstep(() => pagedProtectedMode(src), [1000]);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x400000 }]);
    expect(m.cpu.state.rip[0]).toBe(CODE + 10);
    expect(m.cpu.state.gpr[Reg.RDI]).toBe(16);
    expect(m.cpu.state.rflags[0] & 0x801).toBe(0x801); // IMUL overflowed: CF = OF = 1
  });
});

describe('block compiler: regions (blocks of a page jumping to each other in one function)', () => {
  it('nested loops and an if/else of one page run as one function, exact at every budget stop', () => {
    const src = `
      mov edi, 40
      mov esi, 0x100000
    outer:
      mov ecx, 9
    inner:
      mov eax, [esi + ecx*4]
      imul eax, eax, 0x9e3779b1
      shr eax, cl
      test eax, 1
      jz even
      add ebx, eax
      jmp next
    even:
      sub ebx, eax
      inc edx
    next:
      mov [esi + ecx*4], ebx
      dec ecx
      jnz inner
      shl ebx, cl
      dec edi
      jnz outer
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS, { hot: 2, regionBlocks: 24 });
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = r.jit.cpu.jit?.stats;
    expect(st?.instructions).toBeGreaterThan(2500);
    // Functions called: about one per run() (the region's blocks jump to each other inside it),
    // not one per block run (40 × 9 inner iterations of three to four blocks each).
    expect(st?.runs).toBeLessThan(r.stops + 60);
  });

  it('a region holds the loop through its entry, not the code after the loop', () => {
    // The loop (three blocks: its head, the fall-through after JZ, the JNZ block) compiles during
    // the second call, when the code after it (ADD, XOR, RET) is decoded too and reachable from
    // the JNZ's fall-through, but leads out: that block is not in the loop's function.
    const src = `
      call loop1
      call loop1
      hlt
    loop1:
      mov ecx, 300
    inner:
      add eax, ecx
      test eax, 4
      jz skip
      inc ebx
    skip:
      dec ecx
      jnz inner
      add edx, eax
      xor edx, ebx
      ret`;
    const r = lockstep(() => protectedMode(src), BUDGETS, { hot: 400, regionBlocks: 24 });
    expect(r.jit.cpu.state.halted).toBe(true);
    const owners = (r.jit.cpu.jit as unknown as { owners: { jitBlock: { blocks: number } }[] }).owners;
    expect(owners.map((o) => o.jitBlock.blocks)).toEqual([3]);
  });
});

describe('block compiler: ROL/ROR r32 by a constant', () => {
  it('give the interpreter’s results and CF/OF, keep SF/ZF/PF/AF, and skip the flags only where the next ALU overwrites them', () => {
    // SHA-256's sigma functions (rotates whose flags XOR overwrites at once), then rotates whose
    // flags are read: ADC takes CF, JO reads OF, PUSHF sees SF/ZF/PF/AF from the SUB before them,
    // and a store after a rotate keeps its flags live (it could fault).
    const src = `
      mov ecx, 300
      mov edi, 0x6a09e667
      mov ebp, 0x100000
      xor ebx, ebx
      xor esi, esi
    top:
      mov eax, edi
      mov edx, edi
      rol eax, 15
      ror edx, 7
      mov esi, eax
      rol esi, 13
      xor eax, edx
      xor eax, esi
      add edi, eax
      sub edx, ecx
      ror edi, 1
      adc ebx, 0
      rol edx, 3
      jo skip
      inc ebx
    skip:
      sub eax, edi
      rol eax, 9
      pushfd
      pop esi
      add ebx, esi
      rol edi, 31
      mov [ebp + ecx*4], edi
      adc ebx, edi
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(5000);
  });

  it('a #PF at a store after a rotate sees the rotate’s CF and OF', () => {
    const src = `
      mov esi, 0x3f0000
      mov eax, 0x8000
      xor ebx, ebx
    top:
      add ebx, 1
      rol eax, 1
      mov [esi], eax
      add esi, 0x1000
      jmp top`;
    const r = lockstep(() => pagedProtectedMode(src), [1000]);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 2, faultAddress: 0x400000 }]);
    // 16 stores, then the 17th rotate of 0x8000 by 1 leaves 1: CF = 1, OF = MSB ^ CF = 1.
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(1);
    expect(m.cpu.state.rflags[0] & 0x801).toBe(0x801);
    expect(m.cpu.jit?.stats.compiled).toBeGreaterThan(0);
  });

  it('64-bit mode: ROL/ROR r32 zero-extend into the 64-bit register, as the interpreter does', () => {
    const make = () => {
      const m = longMode(`
  mov ecx, 400
  mov r9, 0x123456789abcdef0
  mov r10, 0xfedcba9876543210
top:
  rol r9d, 15
  ror r10d, 7
  xor r9d, r10d
  add r10, rcx
  ror r10d, 1
  adc r11, r9
  rol r9d, 30
  jno skip
  inc r12
skip:
  shl r10, 3
  dec ecx
  jnz top
  hlt
`);
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3_000);
  });
});
