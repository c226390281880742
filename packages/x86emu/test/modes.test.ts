/** PAE/NX, global pages, virtual-8086 mode, SYSENTER, x87 state, I/O bitmap, real-mode IVT. */
import { describe, expect, it } from 'vitest';
import { Flag, Reg, StopReason } from '../src/index.js';
import { asm } from './asm.js';
import { realMode, runTo } from './machine.js';
import { CODE, protectedMode, SEL, setGate, TSS } from './pm.js';

const PF = 14;
const GP = 13;
const NM = 7;

function toUser(body: string): string {
  return `push ${SEL.DATA3}; push 0x8800; push ${SEL.CODE3}; push offset user; retf; user: mov ax, ${SEL.DATA3}; mov ds, ax; mov es, ax; ${body}`;
}

describe('PAE paging', () => {
  const setup = `
    mov eax, cr4; or eax, 0x20; mov cr4, eax
    mov eax, 0x3fe000; mov cr3, eax
    mov ecx, 0xc0000080; rdmsr; or eax, 0x800; wrmsr
    mov eax, cr0; or eax, 0x80000000; mov cr0, eax
  `;
  function pae(m: ReturnType<typeof protectedMode>): void {
    m.mem.write32(0x3fe000, 0x3ff001);
    for (let i = 0; i < 8; i++) m.mem.write32(0x3ff000 + i * 8, ((i << 21) | 0x83) >>> 0);
    m.mem.write32(0x3ff000 + 3 * 8 + 4, 0x80000000); // 0x600000–0x7FFFFF: execute-disable
  }

  it('2 MiB pages translate and get A/D; a fetch from an XD page is #PF with I/D set', () => {
    const m = protectedMode(
      `${setup}
      mov dword ptr [0x600000], 0xc3
      mov ebx, [0x200010]
      call 0x600000
    `,
      { captureExceptions: true },
    );
    pae(m);
    m.mem.write32(0x200010, 0x5a5a5a5a);
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 0x11, faultAddress: 0x600000 });
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x5a5a5a5a);
    expect(m.mem.read32(0x3ff000 + 8) & 0x60).toBe(0x20);
    expect(m.mem.read32(0x3ff000 + 3 * 8) & 0x60).toBe(0x60);
  });

  it('state set from outside with PAE paging on loads the PDPTEs from CR3 (as VM entry does)', () => {
    const m = protectedMode('mov eax, [0x200010]; hlt');
    pae(m);
    m.mem.write32(0x200010, 0x77);
    const s = m.cpu.state;
    s.cr[4] = 0x20;
    s.cr[3] = 0x3fe000;
    s.cr[0] |= 0x80000000;
    m.cpu.stateChanged();
    runTo(m);
    expect(s.gpr[Reg.RAX]).toBe(0x77);
  });

  it('a reserved bit in a PDE is #PF with RSVD and P set', () => {
    const m = protectedMode(`${setup} mov eax, [0x400000]`, { captureExceptions: true });
    pae(m);
    m.mem.write32(0x3ff000 + 2 * 8 + 4, 0x10); // bit 36 ≥ MAXPHYADDR
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 0x9, faultAddress: 0x400000 });
  });

  it('MOV CR3 with a reserved bit in a present PDPTE is #GP(0) (PDPTEs load with CR3)', () => {
    const m = protectedMode(`${setup} mov eax, 0x3fd000; mov cr3, eax`, { captureExceptions: true });
    pae(m);
    m.mem.write32(0x3fd000, 0x3ff007); // R/W and U/S are reserved in a PAE PDPTE
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    expect(m.cpu.state.cr[3]).toBe(0x3fe000);
  });
});

describe('32-bit paging controls', () => {
  function paging(m: ReturnType<typeof protectedMode>, cr0Extra: number, cr4 = 0): void {
    const pd = 0x3ff000;
    for (let t = 0; t < 4; t++) {
      m.mem.write32(pd + t * 4, (0x400000 + t * 0x1000) | 7);
      for (let i = 0; i < 1024; i++)
        m.mem.write32(0x400000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 0x1000) | 7);
    }
    m.cpu.state.cr[3] = pd;
    m.cpu.state.cr[4] = cr4;
    m.cpu.state.cr[0] |= 0x80000000 | cr0Extra;
    m.cpu.stateChanged();
  }
  const pte = (lin: number) => 0x400000 + (lin >>> 12) * 4;

  it('CR0.WP = 0 lets the supervisor write a read-only page (and sets D)', () => {
    const m = protectedMode('mov dword ptr [0x500000], 9; hlt');
    paging(m, 0);
    m.mem.write32(pte(0x500000), 0x500005);
    runTo(m);
    expect(m.mem.read32(0x500000)).toBe(9);
    expect(m.mem.read32(pte(0x500000)) & 0x40).toBe(0x40);
  });

  it('global pages survive a CR3 reload; clearing CR4.PGE flushes them', () => {
    const m = protectedMode(`
      mov eax, [0x700000]
      mov dword ptr [${pte(0x700000)}], 0x800107
      mov ebx, cr3
      mov cr3, ebx
      mov ecx, [0x700000]
      mov ebx, cr4
      and ebx, ~0x80
      mov cr4, ebx
      mov edx, [0x700000]
      hlt
    `);
    paging(m, 0x10000, 0x80);
    m.mem.write32(pte(0x700000), 0x700107);
    m.mem.write32(0x700000, 0x11111111);
    m.mem.write32(0x800000, 0x22222222);
    runTo(m);
    const s = m.cpu.state;
    expect([s.gpr[Reg.RAX], s.gpr[Reg.RCX], s.gpr[Reg.RDX]]).toEqual([0x11111111, 0x11111111, 0x22222222]);
  });
});

describe('virtual-8086 mode', () => {
  it('IRET enters v86; INT n at IOPL 0 is #GP(0) to the ring-0 monitor with the v86 frame', () => {
    const m = protectedMode(`
      push 0x0       # GS
      push 0x0       # FS
      push 0x3000    # DS
      push 0x4000    # ES
      push 0x5000    # SS
      push 0x0100    # ESP
      push 0x20002   # EFLAGS: VM, IOPL 0
      push 0x2000    # CS
      push 0x0       # EIP
      iretd
      .org 0x100
    monitor:
      pop eax        # error code
      pop ebx        # EIP
      pop ecx        # CS
      pop edx        # EFLAGS
      mov esi, [esp + 8]   # ES
      mov edi, [esp + 12]  # DS
      mov ebp, ds
      hlt
    `);
    // v86 code at 0x2000:0 = 0x20000: mov ax, 0x1234; inc ax; int 0x30
    m.mem.bytes.set([0xb8, 0x34, 0x12, 0x40, 0xcd, 0x30], 0x20000);
    setGate(m.mem, GP, CODE + 0x100);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RAX]).toBe(0);
    expect(s.gpr[Reg.RBX]).toBe(4);
    expect(s.gpr[Reg.RCX]).toBe(0x2000);
    expect(s.gpr[Reg.RDX] & Flag.VM).toBe(Flag.VM);
    expect(s.gpr[Reg.RSI]).toBe(0x4000);
    expect(s.gpr[Reg.RDI]).toBe(0x3000);
    expect(s.gpr[Reg.RBP] & 0xffff).toBe(0); // data segments are nulled on the way in
    expect(s.cpl).toBe(0);
    expect(s.gpr[Reg.RSP]).toBe(0x8000 - 24); // ring-0 stack from the TSS, 4 pops done
  });
});

describe('SYSENTER / SYSEXIT', () => {
  it('round trip CPL 3 → 0 → 3 with the flat selectors derived from IA32_SYSENTER_CS', () => {
    const m = protectedMode(`
      mov ecx, 0x174; mov eax, 0x08; xor edx, edx; wrmsr
      mov ecx, 0x175; mov eax, 0x7000; wrmsr
      mov ecx, 0x176; mov eax, offset kernel; wrmsr
      ${toUser('mov esi, esp; sysenter')}
    back:
      mov ebx, cs
      mov edi, 0x77
      jmp .
    kernel:
      mov ebp, cs
      mov eax, ss
      mov ecx, esi
      mov edx, offset back
      sysexit
    `);
    m.cpu.run(200);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBP] & 0xffff).toBe(0x08);
    expect(s.gpr[Reg.RAX] & 0xffff).toBe(0x10);
    expect(s.gpr[Reg.RBX] & 0xffff).toBe(0x1b);
    expect(s.gpr[Reg.RDI]).toBe(0x77);
    expect(s.gpr[Reg.RSP]).toBe(0x8800);
    expect(s.segSel[2]).toBe(0x23);
    expect(s.cpl).toBe(3);
  });
});

describe('I/O permission', () => {
  it('at CPL 3 with IOPL 0 the TSS bitmap decides, byte by byte of the access', () => {
    const m = protectedMode(toUser('out 0x80, al; mov ebx, 1; out 0x80, ax'), { captureExceptions: true });
    m.mem.bytes.fill(0xff, TSS + 0x68, TSS + 0x68 + 0x21);
    m.mem.bytes[TSS + 0x68 + 0x10] = 0xfe; // port 0x80 allowed, 0x81 not
    m.cpu.state.segLimit[7] = 0x68 + 0x20;
    m.cpu.stateChanged();
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(1);
  });
});

describe('x87 and SSE state', () => {
  it('FLDCW/FNSTCW, FXSAVE/FXRSTOR round trip; FXSAVE needs 16-byte alignment', () => {
    const m = protectedMode(
      `
      fninit
      fldcw [cw]
      fxsave [0x5000]
      fninit
      fnstcw [0x6000]
      fxrstor [0x5000]
      fnstcw [0x6002]
      fxsave [0x5008]
    cw: .word 0x027f
    `,
      { captureExceptions: true },
    );
    runTo(m, StopReason.Exception);
    expect(m.mem.read16(0x5000)).toBe(0x27f);
    expect(m.mem.read32(0x5018)).toBe(0x1f80); // MXCSR
    expect(m.mem.read16(0x6000)).toBe(0x37f);
    expect(m.mem.read16(0x6002)).toBe(0x27f);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
  });
  it('x87 instructions are #NM with CR0.TS set', () => {
    const m = protectedMode('mov eax, cr0; or eax, 8; mov cr0, eax; fninit', { captureExceptions: true });
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: NM });
  });
});

describe('real mode', () => {
  it('#DE goes through the IVT with the faulting IP; the handler skips the DIV and IRET returns', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov word ptr [0], offset de
      mov word ptr [2], 0
      mov ax, 100
      xor bl, bl
      div bl
      mov cx, 0x4242
      hlt
    de:
      push bp
      mov bp, sp
      add word ptr [bp + 2], 2
      mov dx, [bp + 2]
      pop bp
      iret
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RCX] & 0xffff).toBe(0x4242);
    expect(s.gpr[Reg.RSP] & 0xffff).toBe(0x7000);
  });
  it('CPUID describes what is implemented (FPU, PAE, PSE, CX8, SEP, CMOV, FXSR, NX; no VME)', () => {
    const m = realMode('mov eax, 1; cpuid; mov esi, edx; mov eax, 0x80000001; cpuid; hlt');
    runTo(m);
    const s = m.cpu.state;
    expect((s.gpr[Reg.RSI] >>> 1) & 1).toBe(0);
    for (const bit of [0, 3, 6, 8, 11, 13, 15, 24]) expect((s.gpr[Reg.RSI] >>> bit) & 1).toBe(1);
    expect((s.gpr[Reg.RDX] >>> 20) & 1).toBe(1);
  });
  it('IA32_PAT: CPUID.1:EDX.PAT, the power-up value, WRMSR/RDMSR, #GP(0) on a reserved type', () => {
    const m = realMode(
      `mov eax, 1; cpuid; mov esi, edx
      mov ecx, 0x277; rdmsr; mov edi, eax; mov ebp, edx
      mov eax, 0x01050607; mov edx, 0x00040601; wrmsr; rdmsr; mov ebx, eax; mov esp, edx
      mov eax, 0x00000200; wrmsr`,
      { captureExceptions: true },
    );
    runTo(m, StopReason.Exception);
    const s = m.cpu.state;
    expect((s.gpr[Reg.RSI] >>> 16) & 1).toBe(1);
    expect([s.gpr[Reg.RDI], s.gpr[Reg.RBP]]).toEqual([0x00070406, 0x00070406]);
    expect([s.gpr[Reg.RBX], s.gpr[Reg.RSP] & 0xffff]).toEqual([0x01050607, 0x0601]);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    // The refused write (type 2) left the register as it was.
    expect([s.pat[0], s.pat[1]]).toEqual([0x01050607, 0x00040601]);
  });
  it('RDMSR of an MSR nobody has is #GP(0)', () => {
    const m = realMode('mov ecx, 0x1234; rdmsr', { captureExceptions: true });
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
  });
});

describe('call gates', () => {
  it('CALL through a DPL-3 gate to ring 0 copies parameters to the TSS stack; RETF n returns to ring 3', () => {
    const m = protectedMode(`
      ${toUser(`
        push 0x1111
        push 0x2222
        .byte 0x9a
        .long 0
        .word 0x43
        mov ebx, eax
        mov ecx, esp
        mov edx, cs
        jmp .
      `)}
      .org 0x200
    kernel:
      mov eax, [esp + 8]      # first parameter pushed last: 0x2222 is at the lower address
      shl eax, 16
      or eax, [esp + 12]
      mov esi, cs
      mov edi, esp
      retf 8
    `);
    // Call gate 0x40 (selector 0x43 with RPL 3): 32-bit, DPL 3, 2 parameters, to 0x08:CODE+0x200.
    const target = CODE + 0x200;
    m.mem.write32(0x800 + 0x40, ((0x08 << 16) | (target & 0xffff)) >>> 0);
    m.mem.write32(0x800 + 0x44, ((target & 0xffff0000) | 0xec00 | 2) >>> 0);
    m.cpu.state.dtLimit[0] = 0x47;
    m.cpu.stateChanged();
    m.cpu.run(300);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX]).toBe(0x22221111);
    expect(s.gpr[Reg.RSI] & 0xffff).toBe(0x08);
    expect(s.gpr[Reg.RDI]).toBe(0x8000 - 24); // EIP, CS, 2 params, ESP, SS
    expect(s.gpr[Reg.RCX]).toBe(0x8800); // RETF 8 released the parameters on the user stack too
    expect(s.gpr[Reg.RDX] & 0xffff).toBe(SEL.CODE3);
    expect(s.cpl).toBe(3);
  });
});

describe('string I/O', () => {
  it('REP OUTSB sends bytes in order; REP INSW with DF = 1 fills memory downwards', () => {
    const m = protectedMode(`
      mov esi, offset msg
      mov ecx, 3
      mov dx, 0xe9
      cld
      rep outsb
      std
      mov edi, 0x5004
      mov ecx, 3
      mov dx, 0x60
      rep insw
      hlt
    msg: .ascii "abc"
    `);
    let next = 0x1111;
    m.cpu.io = {
      portIn: (port, size) => {
        expect([port, size]).toEqual([0x60, 2]);
        const v = next;
        next += 0x1111;
        return v;
      },
      portOut: (port, _s, v) => {
        if (port === 0xe9) m.out.push(v);
      },
    };
    runTo(m);
    expect(String.fromCharCode(...m.out)).toBe('abc');
    expect([m.mem.read16(0x5004), m.mem.read16(0x5002), m.mem.read16(0x5000)]).toEqual([
      0x1111, 0x2222, 0x3333,
    ]);
    expect(m.cpu.state.gpr[Reg.RDI]).toBe(0x4ffe);
  });
});

describe('16-bit protected mode', () => {
  it('a 16-bit code segment and a 16-bit interrupt gate push a 16-bit frame; IRET returns', () => {
    const m = protectedMode('.byte 0xea; .long 0x4000; .word 0x30');
    m.mem.bytes.set(asm('mov ax, 5; int 0x50; mov cx, ax; hlt', { bits: 16, origin: 0x4000 }), 0x4000);
    m.mem.bytes.set(asm('mov bx, sp; add ax, 1; iret', { bits: 16, origin: 0x4100 }), 0x4100);
    setGate(m.mem, 0x50, 0x4100, 0x6, 0, SEL.CODE16);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RCX] & 0xffff).toBe(6);
    expect(s.gpr[Reg.RBX] & 0xffff).toBe(0x9000 - 6);
    expect(s.gpr[Reg.RSP]).toBe(0x9000);
    expect(s.segSel[1]).toBe(SEL.CODE16);
  });
});

describe('hardware task switching', () => {
  const TSS2 = 0x3100;
  function twoTasks(src: string, task2Eip: number) {
    const m = protectedMode(src, { captureExceptions: false });
    const w = (a: number, v: number) => m.mem.write32(a, v);
    w(TSS2 + 0x20, task2Eip);
    w(TSS2 + 0x24, 0x2);
    w(TSS2 + 0x38, 0x7000);
    for (const off of [0x48, 0x50, 0x54, 0x58, 0x5c]) w(TSS2 + off, 0x10);
    w(TSS2 + 0x4c, 0x08);
    // GDT 0x48: available 32-bit TSS at TSS2; 0x50: task gate to it.
    w(0x800 + 0x48, ((TSS2 & 0xffff) << 16) | 0x67);
    w(0x800 + 0x4c, 0x00008900 | ((TSS2 >>> 16) & 0xff));
    w(0x800 + 0x50, 0x48 << 16);
    w(0x800 + 0x54, 0x8500);
    m.cpu.state.dtLimit[0] = 0x57;
    m.cpu.stateChanged();
    return m;
  }

  it('JMP to a TSS, JMP back, CALL through a task gate, IRET with NT returns', () => {
    const m = twoTasks(
      `
      mov eax, 0x1111
      .byte 0xea
      .long 0
      .word 0x48
      mov ebx, eax
      .byte 0x9a
      .long 0
      .word 0x50
      mov ecx, eax
      hlt
      .org 0x100
      mov eax, 0x2222
      .byte 0xea
      .long 0
      .word 0x28
      pushfd
      pop esi
      mov [0x6000], esi
      mov dword ptr [0x6004], eax
      iretd
    `,
      CODE + 0x100,
    );
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX]).toBe(0x1111);
    expect(s.gpr[Reg.RCX]).toBe(0x1111);
    expect(m.mem.read32(0x6000) & Flag.NT).toBe(Flag.NT); // CALL set NT in the new task
    expect(m.mem.read32(0x6004)).toBe(0x2222); // task 2's EAX survived its own switch out and back
    expect(m.mem.read16(TSS2)).toBe(0x28); // previous-task link
    expect(s.segSel[7]).toBe(0x28);
    expect((m.mem.read32(0x800 + 0x4c) >>> 8) & 0xf).toBe(0x9); // task 2 available again after IRET
    expect((m.mem.read32(0x800 + 0x2c) >>> 8) & 0xf).toBe(0xb); // task 1 busy
    expect(s.cr[0] & 8).toBe(8); // CR0.TS
    expect(s.rflags[0] & Flag.NT).toBe(0);
  });

  it('an exception through a task gate saves the faulting EIP and pushes the error code on the new stack', () => {
    const m = twoTasks(
      `
      mov ax, 0x5b
      mov ds, ax
      hlt
      .org 0x100
      pop eax
      hlt
    `,
      CODE + 0x100,
    );
    m.mem.write32(0x2000 + 13 * 8, 0x48 << 16);
    m.mem.write32(0x2000 + 13 * 8 + 4, 0x8500);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RAX]).toBe(0x58);
    expect(m.mem.read32(0x3000 + 0x20)).toBe(CODE + 4); // task 1's EIP: the MOV DS that faulted
    expect(s.segSel[7]).toBe(0x48);
    expect(s.gpr[Reg.RSP]).toBe(0x7000);
  });

  it('JMP to a busy TSS is #GP(selector)', () => {
    const m = protectedMode('.byte 0xea; .long 0; .word 0x28', { captureExceptions: true });
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0x28 });
  });
});

describe('REP MOVS/STOS bulk path', () => {
  it('large copies and fills across pages match the element-by-element result', () => {
    const m = protectedMode(`
      mov edi, 0x200ffd
      mov ecx, 5003
      mov eax, 0x11223344
      cld
      rep stosd
      mov esi, 0x200ffd
      mov edi, 0x300001
      mov ecx, 20012
      rep movsb
      mov esi, 0x400000
      mov edi, 0x400001
      mov ecx, 10
      rep movsb
      hlt
    `);
    m.mem.bytes[0x400000] = 0xab;
    runTo(m);
    const s = m.cpu.state;
    for (let k = 0; k < 5003 * 4; k++) {
      const want = [0x44, 0x33, 0x22, 0x11][k % 4];
      if (m.mem.bytes[0x200ffd + k] !== want || m.mem.bytes[0x300001 + k] !== want)
        throw new Error(`byte ${k}`);
    }
    expect(m.mem.bytes[0x300001 + 20012]).toBe(0);
    // Overlapping forward copy replicates the first byte, as byte-at-a-time hardware does.
    expect([...m.mem.bytes.subarray(0x400000, 0x40000b)]).toEqual(Array(11).fill(0xab));
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RSI], s.gpr[Reg.RDI]]).toEqual([0, 0x40000a, 0x40000b]);
  });

  it('a fill into MMIO goes element by element through PhysicalMemory', () => {
    const m = protectedMode('mov edi, 0xfee00000; mov ecx, 4; mov eax, 7; rep stosd; hlt');
    const writes: string[] = [];
    const mem = m.cpu.memory as { write32(pa: number, v: number): void };
    const orig = mem.write32.bind(mem);
    mem.write32 = (pa: number, v: number) => {
      if (pa >= 0xfee00000) writes.push(`${pa.toString(16)}=${v}`);
      else orig(pa, v);
    };
    runTo(m);
    expect(writes).toEqual(['fee00000=7', 'fee00004=7', 'fee00008=7', 'fee0000c=7']);
  });
});

describe('debug registers', () => {
  const DB = 1;
  it('an instruction breakpoint is a fault before the instruction; RF in the image lets it run', () => {
    const m = protectedMode(`
      mov eax, offset target
      mov dr0, eax
      mov eax, 1
      mov dr7, eax
      xor ecx, ecx
    target:
      inc ecx
      hlt
      .org 0x100
      mov ebx, [esp]
      mov edx, dr6
      or dword ptr [esp + 8], 0x10000
      iretd
    `);
    setGate(m.mem, DB, CODE + 0x100);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RCX]).toBe(1);
    expect(s.gpr[Reg.RBX]).toBe(s.dr[0]);
    expect(s.gpr[Reg.RDX] & 0xf).toBe(1);
  });

  it('a data write breakpoint is a trap after the writing instruction', () => {
    const m = protectedMode(`
      mov eax, 0x5000
      mov dr1, eax
      mov eax, 0x00d00004
      mov dr7, eax
      mov byte ptr [0x4fff], 1
      mov byte ptr [0x5003], 1
    after:
      hlt
      .org 0x100
      mov ebx, [esp]
      mov edx, dr6
      iretd
    `);
    setGate(m.mem, DB, CODE + 0x100);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX]).toBe(CODE + 0x1e); // `after`: the write to 0x4FFF (outside DR1..DR1+3) did not trap
    expect(s.gpr[Reg.RDX] & 0xf).toBe(2);
  });

  it('DR7.GD makes MOV DR a #DB fault with DR6.BD; the handler runs with GD clear', () => {
    const m = protectedMode(`
      mov eax, 0x2000
      mov dr7, eax
      mov eax, dr0
      hlt
      .org 0x100
      mov ebx, [esp]
      mov edx, dr6
      mov esi, dr7
      hlt
    `);
    setGate(m.mem, DB, CODE + 0x100);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX]).toBe(CODE + 8);
    expect(s.gpr[Reg.RDX] & 0x2000).toBe(0x2000);
    expect(s.gpr[Reg.RSI] & 0x2000).toBe(0);
  });
});

describe('I/O breakpoints', () => {
  it('with CR4.DE an OUT to a watched port traps after the instruction', () => {
    const m = protectedMode(`
      mov eax, cr4
      or eax, 8
      mov cr4, eax
      mov eax, 0x80
      mov dr2, eax
      mov eax, 0x02000010   # L2, RW2 = 10 (I/O), LEN2 = 1 byte
      mov dr7, eax
      out 0x81, al
      out 0x80, al
    after:
      hlt
      .org 0x100
      mov ebx, [esp]
      mov edx, dr6
      iretd
    `);
    setGate(m.mem, 1, CODE + 0x100);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RDX] & 0xf).toBe(4);
    expect(s.gpr[Reg.RBX]).toBe(CODE + 0x1d); // `after`: OUT 0x81 did not trap
  });
});

describe('descriptor accessed bits', () => {
  it('an interrupt from ring 3 sets the accessed bits of the new CS and SS descriptors, and only those', () => {
    const m = protectedMode(`
      push ${SEL.DATA3}
      push 0x8800
      push ${SEL.CODE3}
      push offset user
      retf
    user:
      int 0x40
      .org 0x100
      hlt
    `);
    setGate(m.mem, 0x40, CODE + 0x100, 0xe, 3);
    for (const sel of [0x08, 0x10, 0x18, 0x20])
      m.mem.write32(0x800 + sel + 4, m.mem.read32(0x800 + sel + 4) & ~0x100);
    runTo(m);
    const accessed = (sel: number) => (m.mem.read32(0x800 + sel + 4) >>> 8) & 1;
    expect([accessed(0x08), accessed(0x10), accessed(0x18), accessed(0x20)]).toEqual([1, 1, 1, 1]);
    // The descriptors are otherwise intact (no cross-writes between CS and SS entries).
    expect((m.mem.read32(0x800 + 0x10 + 4) >>> 8) & 0xff).toBe(0x93);
    expect((m.mem.read32(0x800 + 0x08 + 4) >>> 8) & 0xff).toBe(0x9b);
  });
});
