/**
 * IA-32e system behaviour (issue 10): 64-bit IDT gates with IST and 16-byte stack alignment,
 * IRETQ, canonical faults (#GP(0), #SS(0)), CR2 of a 64-bit #PF, SYSCALL/SYSRET, SWAPGS and the
 * FS/GS base MSRs.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { gate64, L, longMode, r64, toUser } from './long.js';
import { runTo } from './machine.js';

/** Handler code placed at 0x20000: records RSP and the frame's five slots, then HLT. */
const HANDLER = 0x20000;
function handlerThatRecords(m: ReturnType<typeof longMode>): void {
  // mov r15, rsp ; hlt
  m.mem.bytes.set([0x49, 0x89, 0xe7, 0xf4], HANDLER);
}
const q = (m: ReturnType<typeof longMode>, a: number) =>
  (BigInt(m.mem.read32(a + 4)) << 32n) | BigInt(m.mem.read32(a));

describe('64-bit IDT delivery', () => {
  it('INT n at CPL 0: 8-byte SS, RSP, RFLAGS, CS, RIP on a stack aligned to 16 bytes; IRETQ returns', () => {
    const m = longMode(`
      mov rsp, 0x8008
      int 0x40
      mov r14, rsp
      hlt
    `);
    gate64(m.mem, 0x40, HANDLER);
    // handler: mov r15, rsp ; mov r13, [rsp] ; iretq
    m.mem.bytes.set([0x49, 0x89, 0xe7, 0x4c, 0x8b, 0x2c, 0x24, 0x48, 0xcf], HANDLER);
    runTo(m);
    const frame = Number(r64(m, Reg.R15));
    expect(frame).toBe(0x8000 - 40);
    expect(q(m, frame + 8)).toBe(BigInt(L.CODE64)); // CS
    expect(q(m, frame + 24)).toBe(0x8008n); // old RSP (before alignment)
    expect(q(m, frame + 32)).toBe(BigInt(L.DATA0)); // SS
    expect(r64(m, Reg.R13)).toBe(BigInt(L.CODE + 9)); // return RIP: after INT (mov rsp,imm32 is 7 bytes)
    expect(r64(m, Reg.R14)).toBe(0x8008n); // IRETQ restored RSP
  });

  it('from CPL 3: RSP0 from the 64-bit TSS, SS becomes a null selector at CPL 0; IRETQ back to CPL 3', () => {
    const m = longMode(`
      int 0x40
      mov r14, rsp
      jmp .
    `);
    gate64(m.mem, 0x40, HANDLER, { dpl: 3 });
    m.mem.bytes.set([0x49, 0x89, 0xe7, 0x8c, 0xd0, 0x48, 0xcf], HANDLER); // mov r15,rsp; mov eax,ss; iretq
    toUser(m);
    m.cpu.state.gpr[Reg.RSP] = 0x7000;
    m.cpu.run(5);
    expect(r64(m, Reg.R15)).toBe(BigInt(0x9000 - 40));
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0); // null SS, RPL 0
    expect(m.cpu.state.cpl).toBe(3);
    expect(m.cpu.state.segSel[1]).toBe(L.CODE64_3);
    expect(r64(m, Reg.R14)).toBe(0x7000n);
  });

  it('a gate with IST 1 switches to IST1 even without a privilege change', () => {
    const m = longMode('int 0x41; hlt');
    gate64(m.mem, 0x41, HANDLER, { ist: 1 });
    m.mem.write32(L.TSS + 0x24, 0xa008); // IST1, misaligned on purpose
    handlerThatRecords(m);
    runTo(m);
    expect(r64(m, Reg.R15)).toBe(BigInt(0xa000 - 40));
  });

  it('a non-canonical data access is #GP(0) through the IDT, with RIP at the instruction', () => {
    const m = longMode(`
      mov rax, 0x0000800000000000
      mov rbx, [rax]
      hlt
    `);
    gate64(m.mem, 13, HANDLER);
    handlerThatRecords(m);
    runTo(m);
    const frame = Number(r64(m, Reg.R15));
    expect(q(m, frame)).toBe(0n); // error code
    expect(q(m, frame + 8)).toBe(BigInt(L.CODE + 10)); // RIP of the MOV
  });

  it('a non-canonical stack reference is #SS(0); a canonical one just below 2^47 works', () => {
    const m = longMode('mov rsp, 0x0000800000000008; push rax; hlt', { captureExceptions: true });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 12, errorCode: 0 });
    // RSP is unchanged by the faulting PUSH.
    expect(r64(m, Reg.RSP)).toBe(0x800000000008n);
  });

  it('#PF at a high canonical address sets the whole 64-bit CR2', () => {
    const m = longMode('mov rax, 0xffff800000001000; mov rbx, [rax]; hlt');
    gate64(m.mem, 14, HANDLER);
    m.mem.bytes.set([0x41, 0x0f, 0x20, 0xd7, 0xf4], HANDLER); // mov r15, cr2 ; hlt
    runTo(m);
    expect(r64(m, Reg.R15)).toBe(0xffff800000001000n);
    expect(m.cpu.state.crHigh[2]).toBe(0xffff8000);
  });

  it('a jump to a non-canonical address is #GP(0) at the jump (RIP unchanged)', () => {
    const m = longMode('mov rax, 0x0000800000000000; jmp rax', { captureExceptions: true });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
    expect(m.cpu.state.rip[0]).toBe(L.CODE + 10);
  });
});

describe('SYSCALL / SYSRET', () => {
  const SETUP = `
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1
    wrmsr
    mov ecx, 0xc0000081
    xor eax, eax
    mov edx, 0x00180008
    wrmsr
    mov ecx, 0xc0000082
    lea rax, [rip + kernel]
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000084
    mov eax, 0x200
    xor edx, edx
    wrmsr
  `;
  it('SYSRETQ to CPL 3, SYSCALL back: RCX/R11, CS/SS from STAR, FMASK clears IF', () => {
    const m = longMode(`
      ${SETUP}
      lea rcx, [rip + user]
      mov r11, 0x202
      sysretq
    user:
      mov rbx, rsp
      syscall
    after:
      hlt
    kernel:
      lea rdx, [rip + after]
      hlt
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.cpl).toBe(0);
    expect([s.segSel[1], s.segSel[2]]).toEqual([L.CODE64, L.DATA0]);
    expect(r64(m, Reg.RCX)).toBe(r64(m, Reg.RDX)); // return address
    expect(r64(m, Reg.R11) & 0x200n).toBe(0x200n); // user RFLAGS with IF
    expect(s.rflags[0] & 0x200).toBe(0); // FMASK cleared IF
    expect(m.cpu.long64).toBe(true);
  });

  it('SYSRET to compatibility mode uses STAR[63:48] and ECX', () => {
    const m = longMode(`
      ${SETUP}
      lea rcx, [rip + user]
      mov r11, 2
      .byte 0x0f, 0x07 # SYSRET (32-bit operand size)
    .code32
    user:
      jmp .
    kernel:
      hlt
    `);
    m.cpu.run(40);
    expect(m.cpu.state.segSel[1]).toBe(L.CODE32_3);
    expect(m.cpu.lma && !m.cpu.long64).toBe(true);
    expect(m.cpu.state.cpl).toBe(3);
  });

  it('SYSRETQ with a non-canonical RCX is #GP(0) in ring 0; SYSCALL without EFER.SCE is #UD', () => {
    const m = longMode(`${SETUP}\n mov rcx, 0x0000800000000000\n sysretq\n kernel: hlt`, {
      captureExceptions: true,
    });
    m.cpu.run(40);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
    expect(m.cpu.state.cpl).toBe(0);
    const u = longMode('syscall', { captureExceptions: true });
    u.cpu.run(2);
    expect(u.exceptions[0]?.vector).toBe(6);
  });
});

describe('FS/GS bases', () => {
  it('WRMSR FS_BASE/GS_BASE address memory; SWAPGS exchanges GS with KERNEL_GS_BASE', () => {
    const m = longMode(`
      mov ecx, 0xc0000100
      mov eax, 0x30000
      xor edx, edx
      wrmsr
      mov ecx, 0xc0000102
      mov eax, 0x40000
      wrmsr
      mov rsi, fs:[8]
      swapgs
      mov rbx, gs:[8]
      mov ecx, 0xc0000101
      rdmsr
      hlt
    `);
    m.mem.write32(0x30008, 0x11111111);
    m.mem.write32(0x40008, 0x22222222);
    runTo(m);
    expect(r64(m, Reg.RSI)).toBe(0x11111111n);
    expect(r64(m, Reg.RBX)).toBe(0x22222222n);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0x40000); // RDMSR GS_BASE after SWAPGS
    expect(m.cpu.state.segBase[5]).toBe(0x40000);
    expect(m.cpu.state.kernelGsBase[0]).toBe(0);
  });

  it('a non-canonical base is #GP(0) on WRMSR; SWAPGS at CPL 3 is #GP(0)', () => {
    const m = longMode('mov ecx, 0xc0000100; xor eax, eax; mov edx, 0x8000; wrmsr', {
      captureExceptions: true,
    });
    m.cpu.run(5);
    expect(m.exceptions[0]?.vector).toBe(13);
    const u = longMode('swapgs', { captureExceptions: true });
    toUser(u);
    u.cpu.run(2);
    expect(u.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });
});

describe('descriptor tables and CPUID in IA-32e mode', () => {
  it('LTR loads a 16-byte TSS descriptor: base bits 63:32 from its third dword, busy set', () => {
    const m = longMode('mov ax, 0x30; ltr ax; hlt');
    m.mem.write32(L.GDT + 0x38, 0xffff8000); // base 63:32
    m.mem.write32(L.GDT + 0x3c, 0);
    m.cpu.state.segSel[7] = 0;
    m.cpu.stateChanged();
    runTo(m);
    expect(m.cpu.state.segBaseHigh[7]).toBe(0xffff8000);
    expect(m.cpu.state.segBase[7]).toBe(L.TSS);
    expect((m.mem.read32(L.GDT + 0x34) >>> 8) & 0xf).toBe(0xb);
  });

  it('LGDT/SGDT take 8-byte bases in 64-bit mode', () => {
    const m = longMode(`
      lea rax, [rip + desc]
      sgdt [rip + saved]
      lgdt [rax]
      sgdt [rip + saved2]
      mov rbx, qword ptr [rip + saved2 + 2]
      lgdt [rip + saved]
      hlt
    desc: .word 0x47
      .quad 0xffff800000000800
    saved: .space 10
    saved2: .space 10
    `);
    runTo(m);
    expect(r64(m, Reg.RBX)).toBe(0xffff800000000800n);
    expect(m.cpu.state.dtBase[0]).toBe(L.GDT);
    expect(m.cpu.state.dtBaseHigh[0]).toBe(0);
  });

  it('CPUID advertises what is implemented: LM, SYSCALL, NX, Page1GB, RDTSCP, LAHF-LM, CX16, 48-bit linear', () => {
    const m = longMode(`
      mov eax, 0x80000001
      cpuid
      mov r8d, edx
      mov r9d, ecx
      mov eax, 1
      cpuid
      mov r10d, ecx
      mov eax, 0x80000008
      cpuid
      hlt
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.R8] & ((1 << 29) | (1 << 27) | (1 << 20) | (1 << 11))).toBe(
      ((1 << 29) | (1 << 27) | (1 << 20) | (1 << 11)) >>> 0,
    );
    expect(s.gpr[Reg.R8] & (1 << 26)).toBe(1 << 26); // 1 GiB pages
    expect(s.gpr[Reg.R9] & 1).toBe(1);
    expect(s.gpr[Reg.R10] & (1 << 13)).toBe(1 << 13);
    expect(s.gpr[Reg.RAX] & 0xffff).toBe(0x3024);
  });
});

describe('compatibility mode', () => {
  it('32-bit code under LMA: an interrupt goes to the 64-bit handler and IRETQ returns to compatibility mode', () => {
    const m = longMode(`
      push ${L.CODE32}
      lea rax, [rip + compat]
      push rax
      retfq
    .code32
    compat:
      mov esp, 0x7000
      mov eax, 0xffffffff
      add eax, 1
      int 0x40
      mov ebx, 0x1234
      hlt
    `);
    gate64(m.mem, 0x40, HANDLER);
    // handler: mov r15, rsp ; mov r14, cs-image ; iretq
    m.mem.bytes.set([0x49, 0x89, 0xe7, 0x4c, 0x8b, 0x74, 0x24, 0x08, 0x48, 0xcf], HANDLER);
    runTo(m);
    expect(r64(m, Reg.R14)).toBe(BigInt(L.CODE32)); // pushed CS: the compatibility-mode segment
    expect(r64(m, Reg.R15)).toBe(BigInt(0x7000 - 40));
    expect(m.cpu.lma && !m.cpu.long64).toBe(true);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x1234);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0);
  });
});

describe('I/O permission with a 64-bit TSS', () => {
  it('IN at CPL 3 consults the I/O bitmap through the TSS base (bit set: #GP(0); clear: allowed)', () => {
    const m = longMode('in al, 0x80; mov bl, 1; in al, 0x81; hlt', { captureExceptions: true });
    m.mem.write16(L.TSS + 0x66, 0x68); // I/O map base inside the TSS limit below
    m.mem.write32(L.TSS + 0x68 + 0x10, 0x2); // port 0x81 denied, 0x80 allowed
    m.cpu.state.segLimit[7] = 0x68 + 0x20;
    toUser(m);
    m.cpu.run(10);
    expect(m.cpu.state.gpr[Reg.RBX] & 0xff).toBe(1);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });
});

describe('1 GiB pages', () => {
  it('a PDPTE with PS maps 1 GiB; reserved bits 29:13 in it are a RSVD #PF; INVLPG drops its 4 KiB parts', () => {
    const m = longMode(
      `
      mov rax, 0x40012344
      mov ebx, [rax]
      mov dword ptr [rax], 0x77
      mov rdx, [${L.PML4 + 0x1000 + 8}]
      invlpg [rax]
      mov qword ptr [${L.PML4 + 0x1000 + 8}], 0x87 | 0x2000
      mov rax, 0x40012344
      mov ecx, [rax]
      hlt
    `,
      { captureExceptions: true },
    );
    // PDPT entry 1: 1 GiB page at physical 0 (present, writable, user, PS).
    m.mem.write32(L.PML4 + 0x1000 + 8, 0x87);
    m.mem.write32(0x12344, 0x5a5a);
    m.cpu.run(20);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x5a5a);
    expect(m.mem.read32(0x12344)).toBe(0x77);
    // Accessed and dirty set in the PDPTE itself (the leaf).
    expect(m.cpu.state.gpr[Reg.RDX] & 0x60).toBe(0x60);
    expect(m.exceptions[0]).toMatchObject({ vector: 14, errorCode: 0x9 });
  });
});

describe('4-level paging permissions', () => {
  it('EFER.NXE: a fetch from an XD page is #PF with I/D; XD with NXE clear is a reserved bit', () => {
    // PD entry 1 (2 MiB at 2 MiB) gets XD; code jumps there.
    const m = longMode('mov ecx, 0xc0000080; rdmsr; or eax, 0x800; wrmsr; mov rax, 0x200000; jmp rax', {
      captureExceptions: true,
    });
    m.mem.write32(L.PML4 + 0x2000 + 12, 0x80000000);
    m.cpu.run(20);
    expect(m.exceptions[0]).toEqual({ vector: 14, errorCode: 0x11, faultAddress: 0x200000 });
    const r = longMode('mov rax, [0x200000]; hlt', { captureExceptions: true });
    r.mem.write32(L.PML4 + 0x2000 + 12, 0x80000000);
    r.cpu.run(5);
    expect(r.exceptions[0]).toEqual({ vector: 14, errorCode: 0x9, faultAddress: 0x200000 });
  });

  it('address bits above MAXPHYADDR (36) in a PML4E are reserved: #PF(P|RSVD)', () => {
    const m = longMode('mov rax, [0x1000]; hlt', { captureExceptions: true });
    m.mem.write32(L.PML4 + 4, 0x10);
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 14, errorCode: 0x9 });
  });
});

describe('call gates in IA-32e mode', () => {
  /** A 16-byte 64-bit call gate at GDT 0x48 to CODE64:offset, DPL 3. */
  function gate(m: ReturnType<typeof longMode>, offset: number): void {
    m.mem.write32(L.GDT + 0x48, ((L.CODE64 << 16) | (offset & 0xffff)) >>> 0);
    m.mem.write32(L.GDT + 0x4c, ((offset & 0xffff0000) | 0x8000 | (3 << 13) | (0x0c << 8)) >>> 0);
    m.mem.write32(L.GDT + 0x50, 0);
    m.mem.write32(L.GDT + 0x54, 0);
    m.cpu.state.dtLimit[0] = 0x57;
  }

  it('CALL far from CPL 3 through a 64-bit call gate: RSP0, null SS, 8-byte SS/RSP/CS/RIP; RETFQ back', () => {
    const m = longMode(`
      mov rsp, 0x7000
      rex.w call fword ptr [rip + ptr]
      mov r14, rsp
      mov r13d, cs
      jmp .
    ptr: .quad 0
      .word 0x4b
    `);
    gate(m, HANDLER);
    // handler: mov r15, rsp ; mov r12d, ss ; retfq
    m.mem.bytes.set([0x49, 0x89, 0xe7, 0x41, 0x8c, 0xd4, 0x48, 0xcb], HANDLER);
    toUser(m);
    m.cpu.run(8);
    expect(r64(m, Reg.R15)).toBe(BigInt(0x9000 - 32));
    expect(m.mem.read32(0x9000 - 24)).toBe(L.CODE64_3); // old CS
    expect(m.mem.read32(0x9000 - 16)).toBe(0x7000); // old RSP
    expect(m.mem.read32(0x9000 - 8)).toBe(L.DATA3); // old SS
    expect(m.cpu.state.gpr[Reg.R12] & 0xffff).toBe(0); // null SS at CPL 0
    expect(m.cpu.state.cpl).toBe(3);
    expect(r64(m, Reg.R14)).toBe(0x7000n);
    expect(m.cpu.state.gpr[Reg.R13] & 0xffff).toBe(L.CODE64_3);
  });

  it('a gate whose upper type field is not 0 is #GP(selector)', () => {
    const m = longMode(
      `
      rex.w call fword ptr [rip + ptr]
      hlt
    ptr: .quad 0
      .word 0x48
    `,
      { captureExceptions: true },
    );
    gate(m, HANDLER);
    m.mem.write32(L.GDT + 0x54, 0x0c00);
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0x48 });
  });
});

describe('no task switches in IA-32e mode', () => {
  it('a far JMP to a TSS from compatibility mode is #GP(selector); IRET with NT = 1 is #GP(0)', () => {
    const m = longMode(
      `
      push ${L.CODE32}
      lea rax, [rip + compat]
      push rax
      retfq
    .code32
    compat:
      ljmp ${L.TSS_SEL}, 0
    `,
      { captureExceptions: true },
    );
    m.mem.write32(L.GDT + 0x34, m.mem.read32(L.GDT + 0x34) & ~0x200); // available TSS
    m.cpu.run(10);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: L.TSS_SEL });
    const n = longMode('pushfq; or qword ptr [rsp], 0x4000; popfq; iretq', { captureExceptions: true });
    n.cpu.run(10);
    expect(n.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });
});
