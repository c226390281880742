/**
 * The wasm backend in 64-bit mode (src/jit/wasm/compile64.ts): 64-bit regions compiled to wasm
 * (each instruction through the interpreter's handler) leave the CPU exactly as the interpreter
 * does, in lockstep at budgets that stop inside blocks, at a #PF in the middle of a block, after
 * REX.W arithmetic whose flags the next block reads, and with RIP above 4 GiB.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep } from './jit-lockstep.js';
import { L, longMode } from './long.js';
import { inWasmMemory, type Machine } from './machine.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];
const WASM = { hot: 2, backend: 'wasm' } as const;
/** Regions of four blocks at most (the default before FORWARD_REGION_BLOCKS): flags and RETs cross functions. */
const WASM4 = { ...WASM, forwardRegionBlocks: 4 } as const;

/** `m` with its 64-bit regions compiled to wasm (`WasmBackend.long`, off by default). */
function long(m: Machine): Machine {
  wasmBackend(m.cpu).long = true;
  return m;
}

/** `m` moved onto RAM in a WebAssembly.Memory (the same bytes, state, devices and intercepts). */
function inWasm(m: Machine): Machine {
  return long(inWasmMemory(m));
}

const stats = (m: Machine) => wasmBackend(m.cpu).stats;

// 64-bit and 32-bit operands, REX registers, RIP-relative and 64-bit addressing, stack, calls,
// REX.W arithmetic whose flags a Jcc of the next block reads.
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
  movzx r11d, sil
  movsxd r13, dword ptr [rsi + 4]
  shl r9, 7
  ror rbx, 5
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
even:
  mov r12, 0x7fffffffffffffff
  add r12, rcx
  jo over
  neg rbx
over:
  sub r12, rax
  jl less
  dec r14
less:
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

describe('wasm backend, 64-bit mode: lockstep with the interpreter', () => {
  for (const [name, wrap] of [
    ['RAM in wasm memory', inWasm],
    ['RAM in an ArrayBuffer', long],
  ] as const) {
    it(`REX forms, RIP-relative operands, calls and REX.W flags at every budget stop (${name})`, () => {
      const make = () => {
        const m = wrap(longMode(MIXED64));
        m.cpu.state.gprHigh.fill(0x1234);
        m.cpu.state.gprHigh[Reg.RSP] = 0;
        return m;
      };
      const r = lockstep(make, BUDGETS, WASM);
      expect(r.jit.cpu.state.halted).toBe(true);
      expect(r.stops).toBeGreaterThan(300);
      const st = stats(r.jit);
      // Every region went to wasm (none to the JS backend), and ran.
      expect(st.compiled64).toBeGreaterThan(5);
      expect(st.compiled64).toBe(st.compiled);
      expect(st.rejected).toBe(0);
      expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(4000);
      // OF from ADD r64 (0x7fff…ffff + RCX) was read by JO: NEG never ran on those iterations.
      expect(r.jit.cpu.state.gprHigh[Reg.RCX]).toBe(0);
    });
  }

  it('by default 64-bit regions go to wasm where RAM is in wasm memory, else to the JS backend (X86EMU_JIT_WASM64=1 or 0 forces it)', () => {
    const w = lockstep(() => inWasmMemory(longMode(MIXED64)), [1, 61], { hot: 8, backend: 'wasm' });
    expect(w.jit.cpu.state.halted).toBe(true);
    expect(stats(w.jit).compiled64).toBeGreaterThan(5);
    expect(stats(w.jit).rejected).toBe(0);
    const r = lockstep(() => longMode(MIXED64), [1, 61], { hot: 8, backend: 'wasm' });
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = stats(r.jit);
    expect(st.compiled64).toBe(0);
    expect(st.rejected).toBe(r.jit.cpu.jit?.stats.compiled);
    expect(st.rejected).toBeGreaterThan(5);
    // …and no 64-bit block start waits in the batch for a module it will never be in.
    expect(r.jit.cpu.jit?.batch?.stats).toEqual({ riders: 0, stale: 0 });
  });

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
    const r = lockstep(() => inWasm(longMode(src, { captureExceptions: true })), [1000], WASM);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x1000000 }]);
    expect(m.cpu.state.rip[0]).toBe(L.CODE + 7 + 3 + 4);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 17);
    expect(m.cpu.state.gpr[Reg.R8]).toBe(0x22 * 17);
    expect(stats(m).compiled64).toBeGreaterThan(0);
  });

  it('REX.W ADD/SUB/ADC/SBB/IMUL flags, read by the next block, equal the interpreter at every stop', () => {
    const src = `
      mov ecx, 400
      mov rbx, 0x7ffffffffffffff0
      mov rdx, 0x8000000000000010
    top:
      add rbx, rcx
      jno a1
      inc r8
    a1:
      sub rdx, rcx
      jno a2
      inc r9
    a2:
      adc r10, rbx
      jnc a3
      inc r11
    a3:
      sbb r12, rdx
      jns a4
      inc r13
    a4:
      imul r14, rbx, 3
      jo a5
      inc r15
    a5:
      cmp rbx, rdx
      jle a6
      inc rdi
    a6:
      dec ecx
      jnz top
      hlt`;
    // Regions of four blocks: the flags cross from one function to the next.
    const r = lockstep(() => inWasm(longMode(src)), [1, 2, 5, 11, 100_000], WASM4);
    expect(r.jit.cpu.state.halted).toBe(true);
    // The overflow branches went both ways.
    const g = r.jit.cpu.state.gpr;
    expect(g[Reg.R8]).toBeGreaterThan(0);
    expect(g[Reg.R8]).toBeLessThan(400);
    expect(stats(r.jit).compiled64).toBeGreaterThan(5);
    // By default (FORWARD_REGION_BLOCKS) the loop's twelve blocks fit one region: fewer functions,
    // the flags read inside it, the same state at every stop.
    const whole = lockstep(() => inWasm(longMode(src)), [1, 5, 100_000], WASM);
    expect(whole.jit.cpu.state.gpr[Reg.R8]).toBe(g[Reg.R8]);
    expect(stats(whole.jit).compiled64).toBeLessThan(stats(r.jit).compiled64);
  });

  it('code at RIP above 4 GiB (RIP[63:32] kept, RIP-relative LEA)', () => {
    const src = `
      movabs rax, 0x100011000
      jmp rax
    .balign 0x1000
      mov ecx, 50
    loop:
      add rdx, rcx
      lea rbx, [rip + loop]
      dec ecx
      jnz loop
      hlt`;
    const make = () => {
      const m = inWasm(longMode(src));
      const pdpt0 = L.PML4 + 0x1000;
      m.mem.write32(pdpt0 + 4 * 8, 0x140000 | 7); // 0x1_0000_0000: PDPT[4] → PD at 0x140000
      m.mem.write32(0x140000, 0x87); // a 2 MiB page at 0
      return m;
    };
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.rip[1]).toBe(1);
    expect(r.jit.cpu.state.gprHigh[Reg.RBX]).toBe(1);
    expect(stats(r.jit).compiled64).toBeGreaterThan(0);
  });
});

/** One xorshift64 step of RAX (RDX scratch): operands that give every flag and condition both values. */
const XORSHIFT_RAX = `  mov rdx, rax
  shl rdx, 13
  xor rax, rdx
  mov rdx, rax
  shr rdx, 7
  xor rax, rdx
  mov rdx, rax
  shl rdx, 17
  xor rax, rdx
`;

/**
 * Every condition code after every flag record the 64-bit forms leave (ADD, SUB, CMP, logic, TEST,
 * INC, DEC with 64- and 32-bit operands), operands from a xorshift sequence so that every flag
 * takes both values, the branches counted in RBP.
 */
function conditions64(): string {
  const producers = [
    'add rdx, rbx',
    'sub rdx, rbx',
    'cmp rdx, rbx',
    'and rdx, rbx',
    'xor rdx, rbx',
    'test rdx, rbx',
    'inc rdx',
    'dec rdx',
    'add edx, ebx',
    'sub edx, ebx',
    'or edx, ebx',
    'inc edx',
    'dec edx',
    'cmp rdx, 0x7f',
    'add dl, bl',
    'sub dl, bl',
    'cmp dl, 0x80',
    'test dl, bl',
    'inc dl',
    'dec dl',
    'shl rdx, 1',
    'shr edx, 1',
    'sar rdx, 63',
  ];
  let src = `
  mov ecx, 150
  mov rax, 0x9e3779b97f4a7c15
  mov rbx, 0x7f4a7c159e3779b9
top:
${XORSHIFT_RAX}  xor rbx, rax
  mov rdi, rbx
  shr rdi, 60
  add rbx, rdi
`;
  let n = 0;
  for (const p of producers)
    for (const cc of 'o no b ae e ne be a s ns p np l ge le g'.split(' ')) {
      src += `  mov rdx, rax\n  ${p}\n  j${cc} t${n}\n  inc rbp\nt${n}:\n`;
      n++;
    }
  return `${src}  dec ecx\n  jnz top\n  hlt`;
}

// The forms emit64.ts compiles inline, over a kernel-half (0xffff8000_00000000) mapping of RAM: every
// access but a few on the inline TLB path.
const INLINE64 = `
  mov ecx, 500
  mov rsi, 0xffff800000200000
  mov r9, 0x123456789
  xor eax, eax
top:
  mov edx, ecx
  and edx, 0x3f
  add rax, [rsi + rdx*8]
  xor rax, rcx
  mov [rsi + rdx*8], rax
  lea rdi, [rax + rcx*2 + 5]
  add r9, rdi
  lea r10d, [rdi + r9]
  movzx r11d, sil
  movzx r12, word ptr [rsi + rdx*2]
  movsx r13, byte ptr [rsi + rdx]
  movsx ebp, ah
  movsxd r15, dword ptr [rsi + 4]
  mov [rip + slot], r9
  add r8, [rip + slot]
  mov dword ptr [rsi + 0x400], 0x89abcdef
  mov qword ptr [rsi + 0x408], -5
  mov ebx, [rsi + 0x400]
  cmp rbx, [rsi + 0x408]
  test [rsi + 0x400], ecx
  cmp dword ptr [rsi + 0x404], 7
  sub rbx, 0x11
  or rbx, r8
  and r10, -16
  inc r12
  dec r13d
  movabs r14, 0x7ffffffffffffff0
  mov r15d, 0xfedcba98
  shl r14, 3
  shr r15, 1
  sar r13, 61
  shl r12d, 31
  sal r11d, 1
  shr r10d, 7
  sar ebp, 2
  add [rsi + 0x410], rcx
  jc 1f
  add dword ptr [rsi + 0x414], ecx
  jo 1f
  sub byte ptr [rsi + 0x435], 7
  jbe 1f
  add [rsi + 0x436], dl
  setc r14b
  sub [rsi + 0x438], ebx
  seto r14b
1:
  or dword ptr [rsi + 0x418], 0x40
  sub qword ptr [rsi + 0x418], 3
  inc qword ptr [rsi + 0x420]
  dec dword ptr [rsi + 0x428]
  mov byte ptr [rsi + 0x430], 0x5a
  mov [rsi + 0x431], cl
  mov bh, [rsi + 0x430]
  mov r9b, [rsi + rdx]
  add al, [rsi + 0x431]
  and [rsi + 0x434], dl
  cmp byte ptr [rsi + 0x430], 0x5a
  test byte ptr [rsi + 0x431], 3
  setz r10b
  setb byte ptr [rsi + 0x432]
  inc byte ptr [rsi + 0x433]
  dec r11b
  xor ah, bl
  mov dil, 0x77
  push rbx
  push r15
  call sub1
  pop r15
  pop rbx
  test ecx, 4
  jz even
  add rbx, r15
even:
  dec ecx
  jnz top
  hlt
sub1:
  add rbx, 3
  mov [rsi + 0x200], rbx
  ret 0
.balign 4096
slot:
  .quad 0
`;

/** `m` with RAM also mapped at 0xffff8000_00000000 (PML4[256] → the identity map's PDPT). */
function kernelHalf(m: Machine): Machine {
  m.mem.write32(L.PML4 + 256 * 8, (L.PML4 + 0x1000) | 7);
  return m;
}

describe('wasm backend, 64-bit mode: inline forms', () => {
  it('every compiled form, no handler call, memory at kernel-half addresses inline', () => {
    const r = lockstep(() => inWasm(kernelHalf(longMode(INLINE64))), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = stats(r.jit);
    expect(st.compiled64).toBeGreaterThan(1);
    // Call sites: the RET's, for a return address that is not canonical (never taken here).
    expect(st.handlerSites).toBe(1);
    expect(st.slowAccesses).toBeLessThan(100);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(5000);
  });

  it('a region that names CH, DH or BH alone reads and writes RCX, RDX or RBX (Debian: test dh, 0x38)', () => {
    // Each function is a region of its own page, naming a high byte register and nothing else of
    // its register: AH…BH are bits 15:8 of RAX…RBX, which the function must hold in its locals
    // (compile64.ts regsOf). Before, DH read as 0 there (the kernel took `jz` at 98 M instructions)
    // and the writes to BH and DH were lost.
    const src = `
      mov ecx, 200
      mov edx, 0xb000
      mov ebx, 0x0300
      xor r8d, r8d
      xor r9d, r9d
    top:
      call f1
      call f2
      call f3
      dec ecx
      jnz top
      hlt
    .balign 4096
    f1:
      test dh, 0x38
      jz 1f
      add r8d, 1
    1:
      cmp dh, 0xb0
      jne 2f
      add r8d, 0x100
    2:
      ret
    .balign 4096
    f2:
      add bh, 0x11
      xor dh, 0x40
      ret
    .balign 4096
    f3:
      cmp bh, 0x80
      jb 1f
      add r9d, 1
    1:
      inc dh
      mov dh, 0xb0
      ret`;
    const r = lockstep(() => inWasm(longMode(src)), BUDGETS, WASM4);
    expect(r.jit.cpu.state.halted).toBe(true);
    const s = r.jit.cpu.state;
    expect(s.gpr[Reg.RBX]).toBe(((0x03 + 200 * 0x11) & 0xff) << 8);
    expect(s.gpr[Reg.R8]).toBe(200 * 0x101);
    expect(stats(r.jit).compiled64).toBeGreaterThan(3);
    // The RETs' (a return address that is not canonical): no byte form. A RET is in every region
    // that reaches it (64-bit regions keep their forward blocks: f1's and f3's RETs are in the
    // regions entered at their functions and at the labels after their branches).
    expect(stats(r.jit).handlerSites).toBeLessThanOrEqual(8);
  });

  it('ROL/ROR by a constant after an inline ALU form: CF and OF set, SF ZF AF PF kept, read by the next instructions and blocks', () => {
    const src = `
      mov ecx, 300
      mov rax, 0x0123456789abcdef
      mov ebx, 0x80000001
      xor r8d, r8d
      xor r9d, r9d
    top:
      add rax, rcx
      rol rax, 1
      jo 1f
      ror rax, 13
      jc 1f
      add r9d, 3
    1:
      xor ebx, ecx
      rol ebx, 31
      ror ebx, 1
      seto dl
      setc dh
      sete sil
      sets dil
      cmp ebx, eax
      rol r8, 63
      ror r8d, 7
      jbe 2f
      jp 2f
      add r8, rax
    2:
      sub rbx, rcx
      rol rbx, 5
      adc r9, rbx
      ror r9, 1
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => inWasm(longMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(stats(r.jit).compiled64).toBeGreaterThan(0);
  });

  it('every condition code after every 64-bit flag record', () => {
    const r = lockstep(() => inWasm(longMode(conditions64())), [1, 17, 100_000], WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(stats(r.jit).compiled64).toBeGreaterThan(100);
    expect(stats(r.jit).rejected).toBe(0);
  });

  it('a stack access that faults (#PF) in the middle of a block leaves RSP and the registers before it', () => {
    // RSP walks down out of the mapped 16 MiB... upwards: POPs past the top fault at 0x1000000.
    const src = `
      mov rsp, 0xfffff0
    top:
      add rbx, 0x11
      pop rax
      add r8, 0x22
      jmp top`;
    const r = lockstep(() => inWasm(longMode(src, { captureExceptions: true })), [1000], WASM);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x1000000 }]);
    expect(m.cpu.state.gpr[Reg.RSP]).toBe(0x1000000);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 3);
    expect(stats(m).compiled64).toBeGreaterThan(0);
  });
  it('a read-modify-write whose store faults (#PF) leaves the memory, the flags and the registers before it', () => {
    // 0xe00000…0xffffff mapped read-only: the ADD reads, then its store faults.
    const src = `
      mov rsi, 0xe00000
      mov rax, 5
      cmp rax, 7
      add [rsi], rax
      hlt`;
    const make = () => {
      const m = inWasm(longMode(src, { captureExceptions: true }));
      m.mem.write32(L.PML4 + 0x2000 + 7 * 8, (7 << 21) | 0x85);
      m.cpu.state.cr[0] |= 1 << 16; // CR0.WP: read-only for CPL 0 too
      m.cpu.stateChanged();
      return m;
    };
    const r = lockstep(make, [1000], { hot: 1, backend: 'wasm' });
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 3, faultAddress: 0xe00000 }]);
    expect(r.jit.cpu.state.rflags[0] & 1).toBe(1); // CF of the CMP, not of the ADD
  });
});

/**
 * The forms the kernel's and busybox's boot still sent to `h64` (counted per call on the bare
 * Debian boot): CMOVcc, IMUL r64, NOT, BSWAP, shifts by CL, ADC/SBB, 16-bit CMP and MOV, and
 * rotates at a block's head whose flags the next ALU instruction overwrites. Operands from a
 * xorshift sequence, so every flag and condition takes both values; CL takes 0 and the masked
 * counts; IMUL meets 0, -1, -2^63 and products on either side of 2^63.
 */
const HANDLER_FORMS64 = `
  mov rsi, 0xffff800000200000
  mov rax, 0x9e3779b97f4a7c15
  mov rbx, 0x7f4a7c159e3779b9
  xor r12d, r12d
top:
${XORSHIFT_RAX}  mov [rsi + 0x100], rax
  mov rdi, rbx
  cmp rax, rbx
  cmovb rdi, rax
  cmovle r8d, eax
  cmovz r9, [rsi + 0x100]
  cmovs r10d, dword ptr [rsi + 0x104]
  not rdi
  not r8d
  bswap r9
  bswap r10d
  mov r11, rax
  imul r11, rbx
  jo 1f
  add r12, r11
1:
  imul r13, [rsi + 0x100], -7
  setc dl
  imul r14, rax, 0x12345
  mov edx, ecx
  and edx, 3
  mov r15, [rsi + 0x200 + rdx*8]
  imul r15, rax
  seto dl
  add r12, r15
  mov r15, [rsi + 0x200 + rdx*8]
  imul r15, [rsi + 0x208 + rdx*8]
  setc dl
  add r12, rdx
  add r12, r15
  mov rcx, rax
  shl rbx, cl
  jc 2f
  shr r8d, cl
  js 2f
  sar r9, cl
2:
  sal r10d, cl
  setp dl
  shr rdi, cl
  mov ecx, eax
  and ecx, 0x20
  shr rbx, cl
  sar r11d, cl
  setc dl
  mov ecx, 0
  shl r11, cl
  shl r11d, cl
  adc rbx, rax
  cmp rax, rbx
  adc r11, -1
  setc dl
  sbb r13, r13
  adc r12, rdx
  sbb r14d, r14d
  adc r12d, 0
  adc r8d, 0x7fff
  sbb r9, [rsi + 0x100]
  sbb r10d, eax
  jbe 3f
  adc qword ptr [rsi + 0x108], -1
  sbb dword ptr [rsi + 0x110], 3
3:
  mov [rsi + 0x118], ax
  cmp word ptr [rsi + 0x118], 0x7f
  jl 4f
  cmp word ptr [rsi + 0x11a], bx
  jbe 4f
  add [rsi + 0x11c], r8w
  sub r9w, [rsi + 0x118]
4:
  mov r13w, [rsi + 0x11a]
  mov r14w, r13w
  call f1
  mov ecx, [rsi + 0x300]
  dec ecx
  mov [rsi + 0x300], ecx
  jnz top
  hlt
.balign 4096
f1:
  ror r8d, 7
  rol rdi, 19
  mov edx, r8d
  not edx
  ror edx, 11
  xor r8d, edx
  ret
`;

describe('wasm backend, 64-bit mode: the forms the boot sent to handlers, inline', () => {
  const make = () => {
    const m = inWasm(kernelHalf(longMode(HANDLER_FORMS64)));
    // IMUL's edge operands: 0, -2^63, -1, 2^32 + 1, -1 (the loop picks one and the next by its count
    // & 3: -2^63 · -1 overflows, -1 · (2^32 + 1) does not).
    const edges = [0, 0, 0, 0x80000000, 0xffffffff, 0xffffffff, 1, 1, 0xffffffff, 0xffffffff];
    for (const [k, v] of edges.entries()) m.mem.write32(0x200200 + 4 * k, v);
    m.mem.write32(0x200300, 400); // the loop's count (RCX is the shifts')
    return m;
  };

  it('CMOVcc, IMUL r64, NOT, BSWAP, shifts by CL, ADC/SBB, word CMP/MOV and head rotates equal the interpreter at every stop', () => {
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = stats(r.jit);
    expect(st.compiled64).toBeGreaterThan(1);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(15_000);
    // The RETs' sites (a return address that is not canonical, never taken) and none other.
    expect(st.handlerSites).toBeLessThanOrEqual(2);
  });

  it('a rotate at a block head whose flags something reads, or with a handler call before the next writer, keeps a handler site (for flags in the CPU)', () => {
    const src = `
      mov ecx, 100
      xor ebx, ebx
    top:
      call f1
      call f2
      dec ecx
      jnz top
      hlt
    .balign 4096
    f1:
      ror ebx, 3
      adc ebx, ecx
      ret
    .balign 4096
    f2:
      rol ebx, 5
      rol dl, 3
      xor eax, eax
      ret`;
    const r = lockstep(() => inWasm(longMode(src)), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    // f1's ROR (ADC reads its CF), f2's ROL (ROL DL, a handler, before the XOR): inline where the
    // record is the 64-bit forms' at run time, their handlers where the flags are in the CPU (a
    // chain's start); that ROL DL and the two RETs' sites (a return address that is not canonical).
    expect(stats(r.jit).handlerSites).toBe(5);
  });
});

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

// The register forms of Debian's blake2s_compress_ssse3 and the like (emit-sse.ts sseInline64),
// XMM8…XMM15 through REX, a packed float form whose lanes take the handler now and then, then
// CR0.TS set (#NM from the handler, mid-block) at the last iterations.
const SSE64 = `${SSE_ON64}
  mov ecx, 300
  mov rsi, 0x200000
  mov rax, 0x9e3779b97f4a7c15
top:
  mov rdx, rax
  shl rdx, 13
  xor rax, rdx
  mov rdx, rax
  shr rdx, 7
  xor rax, rdx
  mov [rsi], rax
  mov [rsi + 8], rcx
  paddd xmm1, xmm0
  movdqu xmm0, [rsi]
  pxor xmm9, xmm1
  punpckldq xmm2, xmm9
  pshufd xmm10, xmm2, 0x93
  movdqa xmm11, xmm10
  punpcklqdq xmm11, xmm0
  psrld xmm11, 7
  pslld xmm12, 25
  por xmm12, xmm11
  paddd xmm15, xmm12
  addps xmm3, xmm0
  movdqa [rsi + 0x20], xmm15
  movdqa [rsi + 0x30], xmm3
  cmp ecx, 3
  jne 1f
  mov rdx, cr0
  or edx, 8
  mov cr0, rdx
1:
  dec ecx
  jnz top
  hlt
`;

describe('wasm backend, 64-bit mode: SSE register forms inline', () => {
  it('PADDD, PXOR, PUNPCK*, PSHUFD, MOVDQA, shifts, POR, ADDPS with XMM8-15 equal the interpreter at every stop; #NM from the handler mid-block', () => {
    // One long run too: the compiled loop itself meets CR0.TS (SSE_OK clear: its handler faults).
    const whole = lockstep(() => inWasm(longMode(SSE64, { captureExceptions: true })), [100_000], WASM);
    expect(whole.jit.exceptions.map((e) => e.vector)).toEqual([7]);
    const r = lockstep(() => inWasm(longMode(SSE64, { captureExceptions: true })), BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([7]);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
    // The eleven register forms inline (each with its handler where its checks fail); MOVDQU and
    // the MOVDQA stores (memory operands) and the MOV CR0s call their handlers.
    const st = stats(r.jit);
    expect(st.compiled64).toBeGreaterThan(0);
    expect(st.sseInline64).toBeGreaterThanOrEqual(11);
  });
});
