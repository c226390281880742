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

// User space's SSE2 string code (glibc's strlen, memchr, strchr): PCMPEQB and PMOVMSKB into a
// general register, PSUBB/PADDB, PMINUB/PMAXUB, signed PCMPGT of bytes, words and dwords, the byte
// and word unpacks of a splat, MOVD between XMM and general registers (R8D…R15D too), CVTSI2SD
// from and CVTTSD2SI to a general register; bytes with bit 7 set both ways; at the end a
// CVTTSD2SI of an out-of-range double (its handler: 0x80000000).
const SSE_STR64 = `${SSE_ON64}
  mov rsi, 0x200000
  mov rax, 0x80ff7f0100fe8102
  mov [rsi], rax
  mov rax, 0x0163c2e5f7337f80
  mov [rsi + 8], rax
  movdqu xmm6, [rsi]
  mov ecx, 300
  xor ebx, ebx
top:
  lea eax, [rcx * 8 + 0x61]
  movd xmm0, eax
  punpcklbw xmm0, xmm0
  punpcklwd xmm0, xmm0
  pshufd xmm0, xmm0, 0
  movdqa xmm1, xmm6
  paddb xmm1, xmm0
  pcmpeqb xmm1, xmm0
  pmovmskb edx, xmm1
  add ebx, edx
  movdqa xmm2, xmm6
  psubb xmm2, xmm0
  pminub xmm2, xmm6
  pmaxub xmm2, xmm0
  pmovmskb r9d, xmm2
  xor ebx, r9d
  movdqa xmm3, xmm6
  pcmpgtb xmm3, xmm0
  pmovmskb r10d, xmm3
  add ebx, r10d
  movdqa xmm4, xmm6
  punpckhbw xmm4, xmm0
  punpckhwd xmm4, xmm6
  pcmpgtw xmm4, xmm6
  paddw xmm4, xmm0
  psubw xmm4, xmm6
  pcmpeqw xmm4, xmm0
  pcmpgtd xmm4, xmm6
  movdqa xmm7, xmm2
  punpcklwd xmm7, xmm6
  pmovmskb r8d, xmm7
  add ebx, r8d
  movd r11d, xmm4
  add ebx, r11d
  movd xmm9, r11d
  movd r12d, xmm2
  add r13d, r12d
  cvtsi2sd xmm5, ecx
  cvttsd2si r14d, xmm5
  add r15d, r14d
  rol rbx, 3
  dec ecx
  jnz top
  mov rax, 0x7ff0000000000000
  movq xmm5, rax
  cvttsd2si edx, xmm5
  hlt
`;

// The kernel's cmpxchg loops, per-CPU counters and bitmaps: CMPXCHG with memory (64 and 32 bits)
// and register destinations, equal and unequal by turns; XADD to memory; BT/BTS/BTR/BTC with an
// immediate and a register offset, on registers and memory (a negative register offset: the qword
// before), each (and a ROL whose CF is read) with the record the 64-bit forms leave, at a block
// head (a jump target: the record's place known at run time) and after a handler (MOV from DS:
// the flags in the CPU, so the handler runs them); CF and ZF read by SETcc and ADC after each;
// BSF and BSR whose ZF nothing reads, of 0 (the destination kept) a quarter of the time. At the
// last iteration a CMPXCHG to an unmapped page (#PF at it, nothing written).
const RMW64 = `
  mov rsi, 0x200100
  mov qword ptr [rsi], 5
  mov dword ptr [rsi + 8], 7
  mov rax, 0x0f0f0f0f0f0f0f0f
  mov [rsi - 8], rax
  mov ecx, 300
  mov r12, 0x7f000000
top:
  mov rax, rcx
  and eax, 3
  add rax, 4
  lea rdx, [rcx + 4]
  cmpxchg [rsi], rdx
  setz r8b
  adc rbx, rax
  mov eax, ecx
  and eax, 1
  add eax, 6
  cmpxchg [rsi + 8], ecx
  setz r9b
  sbb r13, rax
  mov rax, rbx
  cmpxchg r10, rbx
  adc r14, r10
  mov eax, r11d
  cmpxchg r11d, ecx
  adc r15, r11
  mov rdx, rcx
  xadd [rsi + 16], rdx
  add rbx, rdx
  mov edx, ecx
  xadd [rsi + 24], edx
  adc rbx, rdx
  cmp ecx, 150
  jb 2f
  bt rcx, 3
  adc rbx, 0
  bts rbx, 61
  btr r10, rcx
  btc r11d, 5
  setc r8b
  bt qword ptr [rsi], 2
  adc r13, 0
  bts qword ptr [rsi + 32], 17
  btr dword ptr [rsi + 8], 1
  mov rdx, rcx
  neg rdx
  and rdx, 127
  sub rdx, 64
  btc qword ptr [rsi], rdx
  adc r14, 0
  bt qword ptr [rsi], rdx
  setc r9b
  jmp 3f
2:
  bt rcx, 2
  adc r15, 0
3:
  rol r14d, 3
  adc r13, 0
  mov rdx, rcx
  and edx, 0x41
  bsf r8, rdx
  add r13, r8
  bsr r9d, ecx
  add r14, r9
  bsr rdx, rdx
  add r13, rdx
  btr r15, 40
  adc rbx, 1
  mov edx, ds
  bt rbx, 7
  adc r14, 0
  cmp ecx, 1
  jne 4f
  cmpxchg [r12], rdx
4:
  dec ecx
  jnz top
  hlt
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

  it('SSE2 string forms (byte and word lanes, unpacks, PMOVMSKB and MOVD with general registers, CVTSI2SD/CVTTSD2SI) equal the interpreter at every stop, inline', () => {
    const r = lockstep(() => inWasm(longMode(SSE_STR64, { captureExceptions: true })), BUDGETS, WASM);
    expect(r.jit.exceptions).toEqual([]);
    expect(r.jit.cpu.state.halted).toBe(true);
    // The out-of-range CVTTSD2SI at the end: the integer indefinite, by its handler.
    expect(r.jit.cpu.state.gpr[2]).toBe(0x80000000);
    const st = stats(r.jit);
    // Every SSE form of the loop's body inline (before: PMOVMSKB, MOVD r32, the byte and word
    // forms and the conversions with a general register were handler calls).
    expect(st.sseInline64).toBeGreaterThanOrEqual(30);
    // The loop's one block fits only the largest budget (61 instructions).
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(2_000);
  });

  it('CMPXCHG, XADD and BT/BTS/BTR/BTC on registers and memory equal the interpreter at every stop, inline, up to a #PF at a CMPXCHG', () => {
    const make = () => inWasm(longMode(RMW64, { captureExceptions: true }));
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x7f000000]]);
    expect(r.jit.cpu.state.gpr[1]).toBe(1);
    // No handler on the inline paths: the MOVs from DS and the BTs after them (the flags in the
    // CPU), 298 of each (the loop's first two iterations interpreted: hot 2), and the faulting
    // CMPXCHG (before: 4,500 more, every form here a handler call).
    const big = lockstep(make, [100_000], WASM);
    expect(wasmBackend(big.jit.cpu).chain?.stats.calls).toBe(597);
    expect(big.jit.cpu.jit?.stats.instructions).toBeGreaterThan(12_000);
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
