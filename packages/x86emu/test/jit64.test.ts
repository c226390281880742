/**
 * The block compiler in 64-bit mode (src/jit): compiled blocks leave the CPU exactly as the
 * interpreter does — at every budget stop, at a fault in the middle of a block, with RIP above
 * 4 GiB and at branches that cross a 4 GiB boundary.
 */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { L, longMode } from './long.js';

/** Budgets that stop runs at every position inside blocks (1 and primes). */
const BUDGETS = [1, 3, 7, 13, 29, 61];

// 64-bit and 32-bit operands, REX registers, RIP-relative and 64-bit addressing, stack, calls.
const MIXED64 = `
  mov ecx, 300
  mov rsi, 0x200000
  mov r9, 0x123456789
  xor eax, eax
  xor ebx, ebx
top:
  mov edx, ecx
  and edx, 0x3f
  add rax, [rsi + rdx*8]
  imul rax, rax, 33
  xor rax, rcx
  mov [rsi + rdx*8], rax
  lea rdi, [rax + rcx*2 + 5]
  add r9, rdi
  adc r10d, r9d
  movzx ebp, al
  movzx r11d, sil
  movsx r12d, byte ptr [rsi + 3]
  movsxd r13, dword ptr [rsi + 4]
  add r8d, ecx
  sub ebx, edi
  cmp ebx, eax
  setb dl
  shl edi, 3
  shl r9, 7
  ror rbx, 5
  sar ebp, 7
  shr edi, 1
  imul r14d, ecx, 77
  imul r15d, edi
  mov [rip + slot], r9
  add r8, [rip + slot]
  jc carry
  sub rbx, r8
  jo carry
  shr rbx, 31
carry:
  sar rbx, 1
  sbb rax, 0
  test ecx, 4
  jz even
  push rbx
  call sub1
  pop rbx
  inc rbx
even:
  cmp ecx, 150
  jg above
  dec ebx
above:
  cmp rax, rbx
  jl less
  jmp next
less:
  neg rbx
next:
  dec ecx
  jnz top
  hlt
sub1:
  add rbx, 3
  mov [rsi + 0x200], rbx
  ret
.balign 4096
slot:
  .quad 0
`;

describe('block compiler, 64-bit mode: exact at every boundary', () => {
  it('a loop of 64-bit, 32-bit and REX forms leaves the interpreter state at every budget stop', () => {
    const make = () => {
      const m = longMode(MIXED64);
      m.cpu.state.gprHigh.fill(0x1234);
      m.cpu.state.gprHigh[Reg.RSP] = 0;
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = r.jit.cpu.jit?.stats;
    expect(st?.compiled).toBeGreaterThan(3);
    expect(st?.instructions).toBeGreaterThan(4000);
    expect(r.stops).toBeGreaterThan(300);
    // 32-bit writes zero-extend in compiled code too (SDM Vol. 1 3.4.1.1).
    expect(r.jit.cpu.state.gprHigh[Reg.RCX]).toBe(0);
    expect(r.jit.cpu.state.gprHigh[Reg.R8]).not.toBe(0x1234);
  });

  it('a budget smaller than a block stops after exactly that many instructions', () => {
    const m = longMode('top: inc rax; inc ebx; inc rcx; inc r8d; inc rsi; inc edi; jmp top');
    m.cpu.jit = new Jit({ hot: 1 });
    m.cpu.run(100);
    expect(m.cpu.jit.stats.instructions).toBeGreaterThan(50);
    const before = m.cpu.instructionsRetired;
    const rax = m.cpu.state.gpr[Reg.RAX];
    expect(m.cpu.run(3)).toBe(StopReason.Budget);
    expect(m.cpu.run(5)).toBe(StopReason.Budget);
    expect(m.cpu.instructionsRetired - before).toBe(8);
    expect(m.cpu.state.gpr[Reg.RAX] - rax).toBe(1);
    expect(m.cpu.state.rip[0]).toBe(L.CODE + 8); // INC RAX (3 bytes), INC EBX (2), INC RCX (3)
  });
});

// The 64-bit forms compiled inline, with the address corners of mem64.ts: FS-based, high halves
// that cancel (the exact sum), a quadword split across pages, INC/DEC keeping CF, imm64, MOVSXD.
const FORMS64 = `
  mov ecx, 200
  mov rbx, 0x1234567800000000
  mov rdx, 0xedcba98800200000
  mov r10, 0x300ffc
top:
  mov rax, [rbx + rdx]
  add rax, rcx
  mov [rbx + rdx + 8], rax
  mov r8, 0x8000000012345678
  add r8, rax
  adc r11, 0
  inc r8
  dec r9
  jc skip
  test r8, r9
  js skip
  xor r9, 0x7f
skip:
  movsxd r12, dword ptr [rbx + rdx + 12]
  movsxd r13, ecx
  lea r14, [rip + top]
  lea r15, [rax + r13*4 - 8]
  sub r15, [fs:0x10]
  mov [fs:0x18], r15
  mov [r10], r15
  mov rsi, [r10]
  cmp rsi, r15
  jne bad
  and rsi, -16
  or rsi, 1
  cmp rsi, 0x10000
  sbb rdi, rsi
  dec ecx
  jnz top
  hlt
bad:
  ud2
`;

describe('block compiler, 64-bit mode: inline 64-bit forms', () => {
  it('memory, FS, split quadwords, imm64, MOVSXD, LEA and INC/DEC leave the interpreter state at every budget stop', () => {
    const make = () => {
      const m = longMode(FORMS64);
      m.cpu.state.segBase[4] = 0x280000; // FS
      m.cpu.stateChanged();
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(0);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
  });

  it('PUSH and POP of 64-bit registers (RSP too) leave the interpreter state at every budget stop', () => {
    const src = `
      mov ecx, 300
      mov rbx, 0x123456789
      mov r12, -5
    top:
      push rbx
      push rcx
      push r12
      add rbx, rcx
      pop r13
      pop rdx
      push rsp
      pop rax
      pop rsi
      add rsi, rdx
      add r12, rsi
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => longMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1500);
    // POP RAX took what PUSH RSP pushed: RSP before that push, 8 below RSP after POP RSI.
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(r.jit.cpu.state.gpr[Reg.RSP] - 8);
    // Compiled, the pushes and pops hit the TLB inline: Cpu.write64/read64 run only until the
    // loop compiles, not 4 times per iteration.
    const m = longMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    let slow = 0;
    const cpu = m.cpu;
    const write64 = cpu.write64.bind(cpu);
    const read64 = cpu.read64.bind(cpu);
    cpu.write64 = (seg, off, lo, hi) => {
      slow++;
      write64(seg, off, lo, hi);
    };
    cpu.read64 = (seg, off) => {
      slow++;
      read64(seg, off);
    };
    expect(m.cpu.run(100_000)).toBe(StopReason.Hlt);
    expect(slow).toBeLessThan(40);
  });

  it('MOVSXD may be in a block: a loop headed by it runs compiled', () => {
    // A kernel's page-table walk (Debian's W+X check) has MOVSXD as its commonest instruction;
    // it could not be in a block, so every one ended a block and was stepped.
    const src = `
      mov ecx, 2000
      mov r8, -3
    top:
      movsxd rax, r8d
      add rbx, rax
      movsxd rdx, ecx
      sub rbx, rdx
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => longMode(src), [10_000]);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gprHigh[Reg.RAX]).toBe(0xffffffff);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(11_000);
  });

  it('a PUSH whose slot faults (#PF) leaves RSP and the registers before it', () => {
    // RSP walks up out of the 16 MiB that are mapped, the loop compiled on the way: the push
    // whose slot is the first beyond them faults.
    const src = `
      mov rsp, 0xff8010
    top:
      add ebx, 1
      push rbx
      add rsp, 0x1000
      jmp top`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1000]);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([14]);
    // The loop ran compiled up to the fault (a run that faults is not counted in `instructions`).
    expect(r.jit.cpu.jit?.stats.compiled).toBe(1);
    expect(r.jit.cpu.jit?.stats.entries).toBe(1);
    const rsp = r.jit.cpu.state.gpr[Reg.RSP];
    expect(rsp - 8).toBeGreaterThanOrEqual(0x1000000);
    expect(rsp - 8).toBeLessThan(0x1000000 + 0xff8);
  });

  it('a non-canonical address in compiled code is #GP(0) (#SS(0) through RSP/RBP) at that instruction', () => {
    const src = `
      mov ecx, 100
      mov rbx, 0x200000
    top:
      add rdi, 1
      mov rax, [rbx]
      add rbx, rcx
      dec ecx
      jnz top
      mov rbx, 0x8000000000000000
      jmp top`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1, 7, 1000]);
    expect(r.jit.exceptions.map((e) => [e.vector, e.errorCode])).toEqual([[13, 0]]);
    expect(r.jit.cpu.state.gpr[Reg.RDI]).toBe(101);
  });
});

describe('block compiler, 64-bit mode: faults', () => {
  it('a #PF in the middle of a block is reported at that instruction, with the registers and flags before it', () => {
    // 16 MiB are mapped: the load faults once RSI reaches it; ADD before it leaves flags pending.
    const src = `
      mov rsi, 0xff0000
    top:
      add ebx, 0x11
      add r8, 0x22
      mov rax, [rsi]
      add rsi, 0x1000
      cmp ecx, 0
      jmp top`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1000]);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x1000000 }]);
    expect(m.cpu.state.rip[0]).toBe(L.CODE + 7 + 3 + 4);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 17);
    expect(m.cpu.state.gpr[Reg.R8]).toBe(0x22 * 17);
  });

  it('an 8-byte store that faults (#PF) leaves the block as a status, with the registers of its iteration', () => {
    // RDI walks up to the unmapped 16 MiB: the MOV [RDI], RAX there is the fault, no throw.
    const src = `
      mov rdi, 0xff8000
      mov rax, 0x1122334455667788
    top:
      add ebx, 0x11
      mov [rdi], rax
      add rdi, 0x1000
      jmp top`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1, 7, 1000]);
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 2, faultAddress: 0x1000000 }]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 9);
    const m = longMode(src, { captureExceptions: true });
    const cpu = m.cpu;
    const jit = new Jit({ hot: 2 });
    cpu.jit = jit;
    cpu.run(12); // the loop compiled (hot: 2) and run a few times, stopped at \`top\` or inside
    while (cpu.state.rip[0] !== L.CODE + 17) cpu.run(1);
    cpu.runCount = 0;
    cpu.runLimit = 100_000;
    expect(() => jit.enter(cpu, cpu.fetchFirst())).not.toThrow();
    expect(cpu.unwinding).not.toBe(0);
    expect([cpu.faultVector, cpu.faultError, cpu.faultAddress]).toEqual([14, 2, 0x1000000]);
    expect(cpu.startEip).toBe(L.CODE + 17 + 3);
    expect(cpu.state.gpr[Reg.RDI]).toBe(0x1000000);
  });

  it('#DE from DIV r64 inside a block goes through the IDT with the state of the interpreter', () => {
    const src = `
      mov ecx, 40
    top:
      mov eax, 1000
      xor edx, edx
      lea rbx, [rcx - 10]
      add edi, 3
      div rbx
      add rsi, rax
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1, 5, 1000]);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([0]);
  });
});

describe('block compiler, 64-bit mode: RIP above 4 GiB', () => {
  /**
   * The code page (physical 0x11000) also mapped at linear 0x1_0001_1000, 0xFFE1_1000,
   * 0x7FFF_FFE1_1000 and 0xFFFFFFFF_FFE1_1000 (2 MiB pages of frame 0), entered by a jump
   * through RAX to `target`.
   */
  function high(src: string, target: string, captureExceptions = false): ReturnType<typeof longMode> {
    const m = longMode(`mov rax, ${target}\njmp rax\n.balign 0x1000\n${src}`, { captureExceptions });
    const mem = m.mem;
    const pdpt0 = L.PML4 + 0x1000;
    const map = (pd: number) => mem.write32(pd + 511 * 8, 0x87); // PD[511]: 2 MiB page at 0
    mem.write32(pdpt0 + 4 * 8, 0x140000 | 7); // 0x1_0000_0000: PDPT[4] → PD[0]
    mem.write32(0x140000, 0x87);
    mem.write32(pdpt0 + 3 * 8, 0x141000 | 7); // 0xFFE0_0000: PDPT[3] → PD[511]
    map(0x141000);
    mem.write32(L.PML4 + 255 * 8, 0x142000 | 7); // 0x7FFF_FFE0_0000: PML4[255] → PDPT[511] → PD[511]
    mem.write32(0x142000 + 511 * 8, 0x143000 | 7);
    map(0x143000);
    mem.write32(L.PML4 + 511 * 8, 0x144000 | 7); // 0xFFFFFFFF_FFE0_0000
    mem.write32(0x144000 + 511 * 8, 0x145000 | 7);
    map(0x145000);
    m.cpu.stateChanged();
    return m;
  }

  const LOOP = 'mov ecx, 500\ntop: add rbx, 3; dec ecx; jnz top; hlt';

  it('a loop at 0x1_0001_1000 runs compiled with RIP[63:32] = 1', () => {
    const r = lockstep(() => high(LOOP, '0x100011000'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.rip[1]).toBe(1);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
  });

  it('a loop in the top 2 MiB of the address space runs compiled', () => {
    const r = lockstep(() => high(LOOP, '0xffffffffffe11000'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.rip[1]).toBe(0xffffffff);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(1000);
  });

  it('loads and stores at negative (kernel-half) addresses take the inline TLB path exactly', () => {
    // Code in the top 2 MiB: RIP-relative cells there, and a base register holding a negative
    // address (0xFFFFFFFF_FFE12000 + 8) for a 32-bit, a 64-bit and a byte access.
    const src = `mov ecx, 500
      lea rsi, [rip + cell]
    top:
      add rbx, rcx
      mov [rip + cell], rbx
      add rdx, [rip + cell]
      mov [rsi + 8], edx
      movzx eax, byte ptr [rsi + 9]
      add rdi, rax
      mov r8, [rsi + 8]
      dec ecx
      jnz top
      hlt
      .balign 4096
    cell:
      .quad 0, 0`;
    const r = lockstep(() => high(src, '0xffffffffffe11000'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gprHigh[Reg.RSI]).toBe(0xffffffff);
    // Of 4,500 instructions, those of runs too short for the 9-instruction block are stepped.
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(2500);
    // Compiled, the loads hit the TLB inline: Cpu.read/read64 are called only until the block
    // compiles (2 visits), not 4 times per iteration.
    const m = high(src, '0xffffffffffe11000');
    m.cpu.jit = new Jit({ hot: 2 });
    let slow = 0;
    const cpu = m.cpu;
    const read = cpu.read.bind(cpu);
    const read64 = cpu.read64.bind(cpu);
    cpu.read = (seg, off, size) => {
      slow++;
      return read(seg, off, size);
    };
    cpu.read64 = (seg, off) => {
      slow++;
      read64(seg, off);
    };
    expect(cpu.run(100_000)).toBe(StopReason.Hlt);
    expect(slow).toBeLessThan(20);
  });

  it('JMP rel32 from above 4 GiB to below it carries into RIP[63:32]', () => {
    // From 0x1_0001_10xx, 2 MiB back: the next instruction of the same frame, at 0xFFE1_10xx.
    const src = `${LOOP.replace('hlt', '.byte 0xe9\n.long -0x200000\nhlt')}`;
    const r = lockstep(() => high(src, '0x100011000'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.rip[1]).toBe(0);
    expect(r.jit.cpu.state.rip[0] >>> 20).toBe(0xffe);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500);
  });

  it('JMP rel32 to a non-canonical target is #GP(0) at the jump, compiled or not', () => {
    // From 0x7FFF_FFE1_10xx, 2 MiB on: 0x8000_0001_10xx, past the canonical range.
    const src = `${LOOP.replace('hlt', '.byte 0xe9\n.long 0x200000\nhlt')}`;
    const r = lockstep(() => high(src, '0x7fffffe11000', true), BUDGETS);
    expect(r.jit.exceptions.map((e) => [e.vector, e.errorCode])).toEqual([[13, 0]]);
    expect(r.jit.cpu.state.rip[1]).toBe(0x7fff);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500);
  });
});
