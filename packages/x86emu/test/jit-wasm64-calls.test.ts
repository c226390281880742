/**
 * The wasm backend's 64-bit forms that the bare Debian boot called handlers for most after the
 * forms of jit-wasm64.test.ts, and its FS:/GS: operands (src/jit/wasm/emit64.ts): NEG, LEAVE,
 * PUSH imm, CDQE/CWDE, CALL and JMP through a register or memory, and per-CPU (GS) and TLS (FS)
 * operands inline with the base the wrapper and the handler import keep at ST_SEGB, across
 * WRMSR and SWAPGS in the middle of a function. Each equals the interpreter at every budget stop
 * (test/jit-lockstep.ts), and runs without the handler or the slow memory path.
 */
import { describe, expect, it } from 'vitest';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep } from './jit-lockstep.js';
import { L, longMode } from './long.js';
import { inWasmMemory, type Machine } from './machine.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];
const WASM = { hot: 2, backend: 'wasm' } as const;

function inWasm(m: Machine): Machine {
  const w = inWasmMemory(m);
  wasmBackend(w.cpu).long = true;
  return w;
}

/** The kernel half (PML4 entry 256) mapped as the low half: GS's base there, as Linux's per-CPU area. */
function kernelHalf(m: Machine): Machine {
  m.mem.write32(L.PML4 + 256 * 8, (L.PML4 + 0x1000) | 7);
  return m;
}

const stats = (m: Machine) => wasmBackend(m.cpu).stats;

// FS's base 0x200400 + 8 * (the count & 15), new at each iteration (WRMSR, interpreted: the
// wrapper's store), GS's 0xffff800000203000 (the kernel half; another TLB index than the low
// half's data page), KERNEL_GS_BASE 0x200c00; a loop of
// the forms with their flags read by the next instructions and blocks, the indirect branches
// across pages, a SWAPGS between two GS accesses of one block; at the end a CALL to a target that
// is not canonical (#GP(0) at the CALL, RSP kept).
const FORMS = `
  mov ecx, 0xc0000100
  mov eax, 0x200400
  xor edx, edx
  wrmsr
  mov ecx, 0xc0000101
  mov eax, 0x203000
  mov edx, 0xffff8000
  wrmsr
  mov ecx, 0xc0000102
  mov eax, 0x200c00
  xor edx, edx
  wrmsr
  mov rsi, 0x200000
  lea rax, [rip + f2]
  mov [rsi + 0x100], rax
  lea rax, [rip + next]
  mov [rsi + 0x108], rax
  mov dword ptr [rsi + 0x10], 0x80000000
  mov rbx, 0x123456789
  mov ecx, 300
top:
  mov r10, rcx
  and r10d, 15
  lea eax, [r10 * 8 + 0x200400]
  mov r10, rcx
  mov ecx, 0xc0000100
  xor edx, edx
  wrmsr
  mov rcx, r10
  mov rax, rcx
  neg rax
  adc rbx, rax
  neg ebx
  mov [rsi + 8], rbx
  neg qword ptr [rsi + 8]
  seto dl
  add r11b, dl
  neg dword ptr [rsi + 0x10]
  jno 1f
  inc r8
1:
  mov r9d, ecx
  neg r9w
  sbb r12, r9
  neg rbx
  jnc 2f
  cdqe
  add r13, rax
2:
  cwde
  add r14, rax
  push 5
  push -7
  push 0x12345678
  pop r10
  add rbx, r10
  pop r10
  sub rbx, r10
  pop r10
  push rbp
  mov rbp, rsp
  sub rsp, 32
  mov [rbp - 8], rcx
  add r14, [rbp - 8]
  leave
  mov rax, qword ptr fs:[8]
  add qword ptr fs:[0x10], rcx
  mov eax, dword ptr gs:[0x20]
  add dword ptr gs:[0x20], ecx
  inc byte ptr gs:[0x30]
  movzx edx, word ptr gs:[rcx*2 + 0x40]
  add r15, rdx
  mov qword ptr gs:[rcx*8 + 0x100], rbx
  swapgs
  mov rdx, qword ptr gs:[8]
  add qword ptr gs:[8], rcx
  swapgs
  add rdx, qword ptr gs:[0x20]
  lea rax, [rip + f1]
  call rax
  call qword ptr [rsi + 0x100]
  lea rdx, [rip + back]
  jmp rdx
back:
  jmp qword ptr [rsi + 0x108]
next:
  dec ecx
  jnz top
  mov rax, 0x0000800000000000
  call rax
  hlt
.balign 4096
f1:
  add rbx, 1
  ret
.balign 4096
f2:
  xor rbx, rcx
  ret
`;

/** SSE on (CR0.EM clear, CR0.MP set, CR4.OSFXSR and OSXMMEXCPT set), as the kernel runs. */
const SSE_ON64 = `
  mov rax, cr0
  and eax, ~4
  or eax, 2
  mov cr0, rax
  mov rax, cr4
  or eax, 0x600
  mov cr4, rax
`;

// blake2s_compress_ssse3's kind of code: message words gathered by MOVD xmm, m32 (base + index,
// RIP-relative, GS:), rotates by PSHUFB with a mask from memory and from a register (bytes with
// bit 7 set and indices past 15), MOVDQU/MOVDQA loads and stores, MOVD m32, xmm and CVTSI2SD from
// memory; at the last iteration a MOVDQA at an address 8 off alignment (#GP(0), the handler's check).
const SSE_MEM64 = `${SSE_ON64}
  mov ecx, 0xc0000101
  mov eax, 0x203000
  mov edx, 0xffff8000
  wrmsr
  mov rsi, 0x200000
  mov rax, 0x0c0f0e0d80090a0b
  mov [rsi + 0x40], rax
  mov rax, 0x0405067f01028f03
  mov [rsi + 0x48], rax
  movdqu xmm7, [rsi + 0x40]
  mov rax, 0x9e3779b97f4a7c15
  mov ecx, 300
top:
  mov rdx, rax
  shl rdx, 13
  xor rax, rdx
  mov [rsi + rcx * 4], eax
  mov qword ptr gs:[0x18], rax
  movd xmm0, [rsi + rcx * 4]
  movd xmm1, dword ptr [rip + word1]
  movd xmm2, dword ptr gs:[0x18]
  punpckldq xmm0, xmm1
  punpcklqdq xmm0, xmm2
  paddd xmm3, xmm0
  pshufb xmm3, xmm7
  pxor xmm4, xmm3
  pshufb xmm4, [rsi + 0x40]
  movdqu xmm5, [rsi + rcx * 4 + 1]
  paddd xmm5, xmm4
  movdqa [rsi + 0x60], xmm5
  movdqu [rsi + 0x71], xmm3
  movd [rsi + 0x90], xmm4
  cvtsi2sd xmm6, dword ptr [rsi + 0x90]
  movdqa xmm8, [rsi + 0x60]
  pxor xmm8, [rsi + 0x70]
  lea rdx, [rsi + 0x60]
  cmp ecx, 1
  jne 1f
  add rdx, 8
1:
  movdqa xmm9, [rdx]
  dec ecx
  jnz top
  hlt
.balign 16
word1:
  .long 0x11223344
`;

describe('wasm backend, 64-bit mode: the compiled side calls out less', () => {
  it('SSE memory forms (MOVD xmm, m32 through base, RIP and GS:; MOVDQU/MOVDQA; PSHUFB) equal the interpreter at every stop, inline', () => {
    const make = () => inWasm(kernelHalf(longMode(SSE_MEM64, { captureExceptions: true })));
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([13]);
    const st = stats(r.jit);
    expect(st.sseInline64).toBeGreaterThanOrEqual(17);
    expect(st.slowAccesses).toBeLessThan(100);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(2000);
  });

  it('NEG, LEAVE, PUSH imm, CDQE/CWDE, indirect CALL/JMP and FS:/GS: operands across SWAPGS equal the interpreter at every stop', () => {
    const make = () => inWasm(kernelHalf(longMode(FORMS, { captureExceptions: true })));
    const r = lockstep(make, BUDGETS, WASM);
    // The CALL to 0x0000800000000000: #GP(0) (its handler's, the inline path's test of the target).
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([13]);
    expect(r.jit.cpu.state.halted).toBe(false);
    const st = stats(r.jit);
    expect(st.compiled64).toBeGreaterThan(2);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(8_000);
    // Before: every FS:/GS: access (9 an iteration) went through the imports.
    expect(st.slowAccesses).toBeLessThan(100);
  });

  it('a region whose only mention of RBP is a LEAVE holds RBP (Debian: native_flush_tlb_one_user)', () => {
    // tail's region names RBP nowhere but in its LEAVE, which reads RBP implicitly: the function must
    // load it (compile64.ts regsOf). Before, the slot was read at 0 (a #PF at linear 0).
    const src = `
      mov ecx, 100
    top:
      call f
      dec ecx
      jnz top
      hlt
    f:
      push rbp
      mov rbp, rsp
      sub rsp, 32
      jmp tail
    .balign 4096
    tail:
      add rbx, rcx
      leave
      ret`;
    const r = lockstep(() => inWasm(longMode(src, { captureExceptions: true })), BUDGETS, WASM);
    expect(r.jit.exceptions).toEqual([]);
    expect(r.jit.cpu.state.halted).toBe(true);
  });

  it('conditions at a block head read a record a 64-bit form left in another function (in wasm, not the import)', () => {
    // f's SUB/ADD/AND/SHL/IMUL leave their record (PEND_MAT), RET and the chain carry it, and the
    // SETcc at the return site (a block head: the record's place known only at run time) read every
    // flag of it; operands that make each flag both ways.
    const src = `
      mov ecx, 600
      mov rsi, 0x8000000000000001
    top:
      mov rax, rcx
      imul rax, rsi
      mov rdx, rcx
      and edx, 7
      call f
      setz r8b
      setc r9b
      seto r10b
      sets r11b
      setp r12b
      setl r13b
      setbe r14b
      setle r15b
      shl r9d, 1
      shl r10d, 2
      shl r11d, 3
      shl r12d, 4
      shl r13d, 5
      shl r14d, 6
      shl r15d, 7
      or r8d, r9d
      or r8d, r10d
      or r8d, r11d
      or r8d, r12d
      or r8d, r13d
      or r8d, r14d
      or r8d, r15d
      add rbx, r8
      rol rbx, 9
      dec ecx
      jnz top
      hlt
    .balign 4096
    f:
      cmp edx, 1
      jb 1f
      je 2f
      cmp edx, 3
      jb 3f
      je 4f
      imul rax, rax
      ret
    1:
      sub rax, rsi
      ret
    2:
      add rax, rsi
      ret
    3:
      and rax, rcx
      ret
    4:
      shl rax, 3
      ret`;
    const r = lockstep(() => inWasm(longMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(8_000);
  });

  it('a CALL or JMP through a register or memory is no handler call but for a target that is not canonical', () => {
    // One region of the indirect branches alone (the handler sites are those of the non-canonical
    // path: one for each CALL/JMP r/m64 and RET).
    const src = `
      mov rsi, 0x200000
      lea rax, [rip + g]
      mov [rsi], rax
      mov ecx, 200
    top:
      call qword ptr [rsi]
      lea rdx, [rip + 1f]
      jmp rdx
    1:
      dec ecx
      jnz top
      hlt
    .balign 4096
    g:
      add rbx, rcx
      ret`;
    const r = lockstep(() => inWasm(longMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[3]).toBe((200 * 201) / 2);
    const w = wasmBackend(r.jit.cpu);
    expect(w.stats.compiled64).toBeGreaterThan(1);
    expect(w.chain?.hops).toBeGreaterThan(300);
  });
});
