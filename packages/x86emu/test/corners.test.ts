/** The hard corners of the SDM, each pinned by a small program. */
import { describe, expect, it } from 'vitest';
import { InterceptKind, Reg, StopReason } from '../src/index.js';
import { asm } from './asm.js';
import { realMode, runTo } from './machine.js';
import { CODE, protectedMode, SEL, setGate } from './pm.js';

const GP = 13;
const SS = 12;
const NP = 11;
const PF = 14;
const UD = 6;
const DF = 8;

describe('segmentation', () => {
  it('an access past a data segment limit is #GP(0); past SS is #SS(0)', () => {
    const m = protectedMode(`mov ax, ${SEL.DATA_LIM}; mov ds, ax; mov eax, [0xffc]; mov eax, [0xffd]`, {
      captureExceptions: true,
    });
    runTo(m, StopReason.Exception);
    expect(m.exceptions).toEqual([{ vector: GP, errorCode: 0, faultAddress: 0 }]);
    // EIP is at the faulting instruction (a fault), the first load succeeded.
    const s = m.cpu.state;
    expect(s.rip[0]).toBe(CODE + 11);

    const m2 = protectedMode(
      `mov ax, ${SEL.DATA_LIM}; mov ss, ax; mov esp, 0x1000; push eax; push eax; mov esp, 0x1002; push eax`,
      {
        captureExceptions: true,
      },
    );
    runTo(m2, StopReason.Exception);
    expect(m2.exceptions[0]).toMatchObject({ vector: SS, errorCode: 0 });
    expect(m2.cpu.state.gpr[Reg.RSP]).toBe(0x1002);
  });

  // SDM Vol. 3 5.3: with an effective limit of FFFFFFFFH an access running past 4 GiB "may or may
  // not" fault (implementation-specific); the CPUs and KVM's emulator do not fault: the linear
  // address wraps modulo 2^32, as the differential tester sees on the host.
  it('a 4 GiB expand-up segment does not fault at the top: the access wraps to linear 0', () => {
    const m = protectedMode(
      'mov dword ptr [0xfffffffe], 0x11223344; mov ax, [0]; not dword ptr [0xffffffff]; mov ebx, [0]; hlt',
      { captureExceptions: true },
    );
    runTo(m);
    const s = m.cpu.state;
    expect(m.exceptions).toEqual([]);
    expect(s.gpr[Reg.RAX] & 0xffff).toBe(0x1122);
    // NOT of the dword at 0xFFFFFFFF: its bytes 1..3 are linear 0..2 (0x22, 0x11, 0x00 before).
    expect(s.gpr[Reg.RBX] & 0xffffff).toBe(~0x001122 & 0xffffff);
  });

  it('the same with a non-zero base: base + offset wraps modulo 2^32', () => {
    const m = protectedMode('mov dword ptr [0xfffffffe], 0xaabbccdd; hlt', { captureExceptions: true });
    const s = m.cpu.state;
    s.segBase[3] = 0x1000; // DS: base 0x1000, limit 4 GiB - 1
    m.cpu.stateChanged();
    runTo(m);
    expect(m.exceptions).toEqual([]);
    expect(m.mem.read32(0xffe)).toBe(0xaabbccdd);
  });

  it('loading a bad selector is #GP(selector), a null SS #GP(0), a not-present one #NP(selector)', () => {
    const cases: [string, number, number][] = [
      ['mov ax, 0x48; mov ds, ax', GP, 0x48], // beyond the GDT limit
      [`mov ax, ${SEL.TSS}; mov ds, ax`, GP, SEL.TSS], // a system descriptor
      [`mov ax, ${SEL.CODE0}; mov ss, ax`, GP, SEL.CODE0], // code into SS
      [`mov ax, ${SEL.DATA3}; mov ss, ax`, GP, SEL.DATA3 & 0xfffc], // RPL/DPL ≠ CPL for SS (error codes carry index and TI, not RPL)
      ['xor ax, ax; mov ss, ax', GP, 0],
      ['mov ax, 0x40; mov es, ax', NP, 0x40],
    ];
    for (const [src, vector, errorCode] of cases) {
      const m = protectedMode(src, { captureExceptions: true });
      // 0x40: a data descriptor with P = 0
      m.mem.write32(0x800 + 0x40, 0x0000ffff);
      m.mem.write32(0x800 + 0x44, 0x00cf1200);
      m.cpu.state.dtLimit[0] = 0x47;
      runTo(m, StopReason.Exception);
      expect(m.exceptions[0], src).toMatchObject({ vector, errorCode });
    }
  });

  it('a null DS loads fine but using it is #GP(0)', () => {
    const m = protectedMode('xor ax, ax; mov ds, ax; mov eax, [0x100]', { captureExceptions: true });
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
  });
});

/** Identity-maps the first 16 MiB with 4 KiB pages (page tables at 0x400000), PD at 0x3ff000. */
function paging(m: ReturnType<typeof protectedMode>, pteFlags = 7): void {
  const pd = 0x3ff000;
  for (let t = 0; t < 4; t++) {
    m.mem.write32(pd + t * 4, (0x400000 + t * 0x1000) | 7);
    for (let i = 0; i < 1024; i++)
      m.mem.write32(0x400000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 0x1000) | pteFlags);
  }
  const s = m.cpu.state;
  s.cr[3] = pd;
  s.cr[0] |= 0x80010000; // PG | WP
  m.cpu.stateChanged();
}
function pteAddr(lin: number): number {
  return 0x400000 + (lin >>> 12) * 4;
}

describe('16-bit code at the end of its segment', () => {
  // Sequential execution does not wrap IP at 0xFFFF on a 386 or later: EIP becomes 0x10000 and the
  // next fetch is beyond a 64 KiB CS limit, #GP(0) (Intel386 PRM 15.6 item 8; SDM Vol. 3 5.3).
  it('a far pointer straddling offset 0xFFFF is #GP(0): its selector is not read from offset 0', () => {
    // 16-bit addressing wraps the effective address once (BX - 2 = 0xFFFE); the 4-byte operand
    // then runs past the 64 KiB limit (SDM Vol. 3 5.3), on the host as on hardware.
    for (const insn of ['lss bp, [bx-2]', 'lds bp, [bx-2]', 'jmp dword ptr [bx-2]', 'lidt [bx-2]']) {
      const m = realMode(`xor bx, bx; ${insn}`, { captureExceptions: true });
      runTo(m, StopReason.Exception);
      expect(m.exceptions[0], insn).toMatchObject({ vector: GP, errorCode: 0 });
      expect(m.cpu.state.segSel[2], insn).toBe(0);
    }
  });

  it('running past offset 0xFFFF with a 64 KiB CS limit is #GP(0) at EIP 0x10000, not a wrap to 0', () => {
    const m = realMode('nop; nop; nop; nop', { origin: 0xfffc, captureExceptions: true });
    m.mem.bytes[0] = 0xf4; // HLT at CS:0, where a wrap would land
    m.mem.bytes[0x10000] = 0xf4;
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    expect(m.cpu.state.rip[0]).toBe(0x10000);
  });

  it('in real mode the #GP frame holds IP 0 (the 16-bit push of 0x10000)', () => {
    const m = realMode('nop; nop', { origin: 0xfffe });
    m.mem.write16(13 * 4, 0x0100); // IVT[13] → 0000:0100, a HLT
    m.mem.write16(13 * 4 + 2, 0);
    m.mem.bytes[0x100] = 0xf4;
    m.mem.bytes[0] = 0x90;
    runTo(m);
    const s = m.cpu.state;
    expect(s.rip[0]).toBe(0x101);
    expect(m.mem.read16(s.gpr[Reg.RSP] & 0xffff)).toBe(0); // pushed IP
  });

  it('a 16-bit code segment with a larger limit runs on past 0xFFFF', () => {
    const m = realMode('nop; nop', { origin: 0xfffe });
    m.cpu.state.segLimit[1] = 0xffffffff;
    m.cpu.stateChanged();
    m.mem.bytes[0x10000] = 0xf4;
    runTo(m);
    expect(m.cpu.state.rip[0]).toBe(0x10001);
  });
});

describe('paging faults', () => {
  it('#PF error codes: not-present read, supervisor write to read-only with WP, user access to supervisor page', () => {
    const run = (src: string, setup: (m: ReturnType<typeof protectedMode>) => void) => {
      const m = protectedMode(src, { captureExceptions: true });
      paging(m);
      setup(m);
      runTo(m, StopReason.Exception);
      return m.exceptions[0];
    };
    expect(run('mov eax, [0x500123]', (m) => m.mem.write32(pteAddr(0x500000), 0))).toEqual({
      vector: PF,
      errorCode: 0,
      faultAddress: 0x500123,
    });
    expect(run('mov dword ptr [0x500010], 1', (m) => m.mem.write32(pteAddr(0x500000), 0x500005))).toEqual({
      vector: PF,
      errorCode: 3,
      faultAddress: 0x500010,
    });
    // User mode (CPL 3) reading a supervisor page: P | U.
    const m = protectedMode(
      `push ${SEL.DATA3}; push 0x8800; push ${SEL.CODE3}; push offset user; retf; user: mov ax, ${SEL.DATA3}; mov ds, ax; mov eax, [0x500000]`,
      { captureExceptions: true },
    );
    paging(m);
    m.mem.write32(pteAddr(0x500000), 0x500003);
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 5, faultAddress: 0x500000 });
    expect(m.cpu.state.cpl).toBe(3);
  });

  describe('instruction fetches at CPL 3 are user accesses (SDM Vol. 3 4.6)', () => {
    const toUser = `push ${SEL.DATA3}; push 0x8800; push ${SEL.CODE3}; push offset user; retf`;
    const userFetch = (src: string, setup: (m: ReturnType<typeof protectedMode>) => void) => {
      const m = protectedMode(src, { captureExceptions: true });
      paging(m);
      setup(m);
      runTo(m, StopReason.Exception);
      expect(m.cpu.state.cpl).toBe(3);
      return m.exceptions[0];
    };

    it('a jump into a supervisor page is #PF(P | U) at the target', () => {
      const e = userFetch(`${toUser}; user: jmp 0x500000`, (m) => {
        m.mem.write32(pteAddr(0x500000), 0x500003);
        m.mem.bytes[0x500000] = 0xf4; // HLT, if it ran
      });
      // I/D stays 0 without PAE + EFER.NXE (SDM Vol. 3 4.7).
      expect(e).toEqual({ vector: PF, errorCode: 5, faultAddress: 0x500000 });
    });

    it('a TLB entry filled by a supervisor fetch does not let a later user fetch through', () => {
      const e = userFetch(`call 0x500000; ${toUser}; user: jmp 0x500000`, (m) => {
        m.mem.write32(pteAddr(0x500000), 0x500003);
        m.mem.bytes[0x500000] = 0xc3; // RET for the supervisor call
      });
      expect(e).toEqual({ vector: PF, errorCode: 5, faultAddress: 0x500000 });
    });

    it('a return to CPL 3 on the supervisor code page being run faults at the next fetch', () => {
      let user = 0;
      const e = userFetch(`${toUser}; user: hlt`, (m) => {
        m.mem.write32(pteAddr(CODE), CODE | 3);
        user = CODE + asm(`${toUser}; user:`, { bits: 32, origin: CODE }).length;
      });
      expect(e).toEqual({ vector: PF, errorCode: 5, faultAddress: user });
    });
  });

  it('a delivered #PF writes CR2 and pushes the error code; the handler sees the faulting EIP', () => {
    const m = protectedMode(`
      mov dword ptr [0x500ffc], 7
      hlt
      .org 0x100
    handler:
      pop eax
      pop ebx
      hlt
    `);
    paging(m);
    setGate(m.mem, PF, CODE + 0x100);
    m.mem.write32(pteAddr(0x500000), 0);
    runTo(m);
    const s = m.cpu.state;
    expect(s.cr[2]).toBe(0x500ffc);
    expect(s.gpr[Reg.RAX]).toBe(2); // write, not present, supervisor
    expect(s.gpr[Reg.RBX]).toBe(CODE);
  });

  it('accessed and dirty bits: a read sets A only; a later write through the cached entry sets D', () => {
    const m = protectedMode('mov eax, [0x600000]; hlt; mov [0x600004], eax; hlt');
    paging(m);
    runTo(m);
    expect(m.mem.read32(pteAddr(0x600000)) & 0x60).toBe(0x20);
    m.cpu.state.halted = false;
    runTo(m);
    expect(m.mem.read32(pteAddr(0x600000)) & 0x60).toBe(0x60);
  });

  it('REP MOVSB faulting midway leaves ECX/ESI/EDI at the faulting iteration and EIP at the instruction', () => {
    const m = protectedMode('mov esi, 0x100000; mov edi, 0x500ff0; mov ecx, 64; cld; rep movsb; hlt', {
      captureExceptions: true,
    });
    paging(m);
    m.mem.write32(pteAddr(0x501000), 0);
    runTo(m, StopReason.Exception);
    const s = m.cpu.state;
    expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 2, faultAddress: 0x501000 });
    expect(s.gpr[Reg.RCX]).toBe(48);
    expect(s.gpr[Reg.RDI]).toBe(0x501000);
    expect(s.gpr[Reg.RSI]).toBe(0x100010);
    expect(s.rip[0]).toBe(CODE + 16);
    // Map the page and resume: the instruction completes.
    m.mem.write32(pteAddr(0x501000), 0x501007);
    m.cpu.flushTlb();
    runTo(m);
    expect(s.gpr[Reg.RCX]).toBe(0);
  });

  it('INVLPG drops a stale translation; without it the TLB keeps using the old one', () => {
    const m = protectedMode(`
      mov eax, [0x700000]
      mov dword ptr [${pteAddr(0x700000)}], 0x800007
      mov ebx, [0x700000]
      invlpg [0x700000]
      mov ecx, [0x700000]
      hlt
    `);
    paging(m);
    m.mem.write32(0x700000, 0x11111111);
    m.mem.write32(0x800000, 0x22222222);
    runTo(m);
    const s = m.cpu.state;
    expect([s.gpr[Reg.RAX], s.gpr[Reg.RBX], s.gpr[Reg.RCX]]).toEqual([0x11111111, 0x11111111, 0x22222222]);
  });
});

describe('REP string instructions and run(budget)', () => {
  // Each iteration counts as one instruction against the budget; a REP cut short leaves
  // ECX/ESI/EDI showing its progress and EIP at the instruction, and resumes in the next run.
  const repMachine = (insn: string) => {
    const m = protectedMode(`cld; ${insn}; hlt`);
    runTo(m, StopReason.Budget, 1); // CLD
    const s = m.cpu.state;
    s.gpr[Reg.RCX] = 0xffffffff;
    s.gpr[Reg.RDI] = 0x100000;
    s.gpr[Reg.RSI] = 0x200000;
    return m;
  };

  it('REP STOSB with ECX = 0xFFFFFFFF stops at the budget, one iteration per unit, across pages', () => {
    const m = repMachine('rep stosb');
    const s = m.cpu.state;
    const at = s.rip[0];
    expect(m.cpu.run(10)).toBe(StopReason.Budget);
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RDI], s.rip[0]]).toEqual([0xffffffff - 10, 0x100000 + 10, at]);
    // The bulk path, over a page boundary (0x10000a + 5000 crosses 0x101000).
    expect(m.cpu.run(5000)).toBe(StopReason.Budget);
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RDI], s.rip[0]]).toEqual([0xffffffff - 5010, 0x100000 + 5010, at]);
    // Resumes where it stopped and finishes a count that fits.
    s.gpr[Reg.RCX] = 3;
    runTo(m, StopReason.Hlt, 10);
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RDI]]).toEqual([0, 0x100000 + 5013]);
  });

  it('REP LODSB (the element-by-element path) is bounded the same way', () => {
    const m = repMachine('rep lodsb');
    const s = m.cpu.state;
    const at = s.rip[0];
    expect(m.cpu.run(10)).toBe(StopReason.Budget);
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RSI], s.rip[0]]).toEqual([0xffffffff - 10, 0x200000 + 10, at]);
    expect(m.cpu.run(5000)).toBe(StopReason.Budget); // more than one 4096-iteration chunk
    expect([s.gpr[Reg.RCX], s.gpr[Reg.RSI], s.rip[0]]).toEqual([0xffffffff - 5010, 0x200000 + 5010, at]);
  });

  it('instructions before a REP leave it less of the budget', () => {
    const m = protectedMode('cld; nop; nop; rep stosb; hlt');
    const s = m.cpu.state;
    s.gpr[Reg.RCX] = 0xffffffff;
    s.gpr[Reg.RDI] = 0x100000;
    expect(m.cpu.run(100)).toBe(StopReason.Budget);
    expect(s.gpr[Reg.RCX]).toBe(0xffffffff - 97);
  });
});

describe('interrupt shadows', () => {
  function withPendingIrq(src: string) {
    let pending = true;
    const m = realMode(
      src,
      {},
      {
        interrupts: {
          hasInterrupt: () => pending,
          acknowledge: () => {
            pending = false;
            return 0x20;
          },
        },
      },
    );
    // IVT[0x20] → 0:0x2000 where the handler records AX in BX.
    m.mem.write32(0x20 * 4, 0x2000);
    m.mem.bytes.set([0x89, 0xc3, 0xcf], 0x2000); // mov bx, ax; iret
    return m;
  }
  it('STI: the instruction after STI runs before a pending interrupt is taken', () => {
    const m = withPendingIrq('xor ax, ax; sti; inc ax; inc ax; hlt');
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RBX] & 0xffff).toBe(1);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(2);
  });
  it('MOV SS: the next instruction is covered too', () => {
    const m = withPendingIrq('xor ax, ax; mov cx, ss; sti; nop; mov ss, cx; inc ax; inc ax; hlt');
    runTo(m);
    // The STI shadow ends after NOP: the interrupt comes before MOV SS.
    expect(m.cpu.state.gpr[Reg.RBX] & 0xffff).toBe(0);
    const m2 = withPendingIrq('xor ax, ax; mov cx, ss; mov ss, cx; inc ax; inc ax; hlt');
    m2.cpu.state.rflags[0] |= 0x200;
    m2.cpu.stateChanged();
    // The interrupt is taken at the first boundary (before MOV SS), so use a second IRQ after it:
    runTo(m2);
    expect(m2.cpu.state.gpr[Reg.RBX] & 0xffff).toBe(0);
  });
  it('MOV SS blocks an interrupt that becomes pending exactly at it', () => {
    let pending = false;
    const m = realMode(
      'mov cx, ss; mov ss, cx; inc ax; inc ax; hlt',
      {},
      {
        interrupts: {
          hasInterrupt: () => pending,
          acknowledge: () => {
            pending = false;
            return 0x20;
          },
        },
      },
    );
    m.mem.write32(0x20 * 4, 0x2000);
    m.mem.bytes.set([0x89, 0xc3, 0xcf], 0x2000);
    m.cpu.state.rflags[0] |= 0x200;
    m.cpu.state.gpr[Reg.RAX] = 0;
    m.cpu.stateChanged();
    expect(m.cpu.run(1)).toBe(StopReason.Budget); // mov cx, ss
    pending = true;
    expect(m.cpu.run(1)).toBe(StopReason.Budget); // mov ss, cx — interrupt checked before it: taken first
    // The handler ran already (the interrupt was pending at the boundary before MOV SS).
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(2);
  });
});

describe('double and triple faults', () => {
  it('an exception whose delivery faults twice becomes #DF, then a triple fault: Shutdown', () => {
    const m = protectedMode('ud2');
    m.cpu.state.dtLimit[1] = 0; // empty IDT: every delivery is #GP
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Shutdown);
  });
  it('#GP during #GP delivery is #DF with error code 0, delivered through the #DF gate', () => {
    const m = protectedMode(`
      ud2
      .org 0x100
      pop eax
      hlt
    `);
    setGate(m.mem, DF, CODE + 0x100);
    // #UD gate not present → #NP(6*8+2+1); #NP gate points beyond the GDT → #GP: contributory + contributory → #DF.
    m.mem.write32(0x2000 + UD * 8 + 4, 0);
    m.mem.write32(0x2000 + NP * 8, (0x50 << 16) >>> 0);
    m.mem.write32(0x2000 + NP * 8 + 4, 0x8e00);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0);
    expect(m.cpu.state.rip[0]).toBe(CODE + 0x102);
  });
  it('the exception intercept reports IDT-vectoring information for a fault during delivery', () => {
    const m = protectedMode('ud2', { captureExceptions: true });
    m.intercepts.exceptionMask = 1 << NP;
    m.mem.write32(0x2000 + UD * 8 + 4, 0x0e00); // an interrupt gate with P = 0
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: NP, errorCode: UD * 8 + 2 + 1 });
    expect(m.cpu.exit.vectoringValid).toBe(true);
    expect(m.cpu.exit.vectoringVector).toBe(UD);
  });
});

describe('privilege', () => {
  it('CPL 3: HLT, CLI (IOPL 0), MOV CR and IN are #GP(0)', () => {
    for (const insn of ['hlt', 'cli', 'mov eax, cr0', 'in al, 0x80', 'lgdt [0]']) {
      const m = protectedMode(
        `push ${SEL.DATA3}; push 0x8800; push ${SEL.CODE3}; push offset user; retf; user: ${insn}`,
        { captureExceptions: true },
      );
      runTo(m, StopReason.Exception);
      expect(m.exceptions[0], insn).toMatchObject({ vector: GP, errorCode: 0 });
    }
  });
  it('an interrupt from CPL 3 switches to the TSS ring-0 stack and IRET returns to ring 3', () => {
    const m = protectedMode(`
      push ${SEL.DATA3}
      push 0x8800
      push ${SEL.CODE3}
      push offset user
      retf
    user:
      mov eax, 0x1234
      int 0x40
      mov ebx, eax
      mov ecx, esp
      mov edx, cs
      jmp .
      .org 0x100
    handler:
      mov esi, esp
      mov edi, [esp + 12]
      add eax, 1
      iret
    `);
    setGate(m.mem, 0x40, CODE + 0x100, 0xe, 3);
    m.cpu.run(200);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RSI]).toBe(0x8000 - 20); // EIP, CS, EFLAGS, ESP, SS on the ring-0 stack
    expect(s.gpr[Reg.RDI]).toBe(0x8800); // the user ESP pushed
    expect(s.gpr[Reg.RBX]).toBe(0x1235);
    expect(s.gpr[Reg.RCX]).toBe(0x8800);
    expect(s.gpr[Reg.RDX] & 0xffff).toBe(SEL.CODE3);
    expect(s.cpl).toBe(3);
  });
  it('INT n through a gate with DPL < CPL is #GP(vector*8+2)', () => {
    const m = protectedMode(
      `push ${SEL.DATA3}; push 0x8800; push ${SEL.CODE3}; push offset user; retf; user: int 0x41`,
      { captureExceptions: true },
    );
    setGate(m.mem, 0x41, CODE, 0xe, 0);
    m.intercepts.exceptionMask = 1 << GP;
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0x41 * 8 + 2 });
  });
});

describe('intercepts', () => {
  it('CPUID intercept: not executed, RIP at it, length 2', () => {
    const m = realMode('nop; cpuid; hlt');
    m.intercepts.mask = 1 << InterceptKind.Cpuid;
    let seen = -1;
    m.intercepts.instruction = (kind) => {
      seen = kind;
      return true;
    };
    m.cpu.setIntercepts(m.intercepts);
    m.cpu.state.gpr[Reg.RAX] = 0;
    runTo(m, StopReason.Intercept);
    expect(seen).toBe(InterceptKind.Cpuid);
    expect(m.cpu.exit.instructionLength).toBe(2);
    expect(m.cpu.state.rip[0]).toBe(0x1001);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0);
  });
  it('I/O intercept carries port, size and direction; a declined intercept executes the instruction', () => {
    const m = realMode('mov dx, 0x3f8; mov al, 0x41; out dx, al; in ax, dx; hlt');
    m.intercepts.mask = 1 << InterceptKind.Io;
    const seen: string[] = [];
    m.intercepts.instruction = (_k, x) => {
      seen.push(`${x.port.toString(16)}/${x.ioSize}/${x.ioIn}`);
      return false;
    };
    m.cpu.setIntercepts(m.intercepts);
    runTo(m);
    expect(seen).toEqual(['3f8/1/false', '3f8/2/true']);
  });
  it('crRead shadows CR0 reads and crWrite chooses the installed value', () => {
    const m = protectedMode('mov eax, cr0; mov ebx, 0x80000011; mov cr0, ebx; hlt');
    m.intercepts.crRead = (_cr, v) => v | 0x20;
    m.intercepts.crWrite = (_cr, v) => v & 0x7fffffff;
    m.cpu.setIntercepts(m.intercepts);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0x31);
    expect(m.cpu.state.cr[0]).toBe(0x11);
  });
});

describe('decode cache', () => {
  it('self-modifying code: a write to the next instruction is seen', () => {
    const m = realMode(`
      mov cx, 2
    1: mov ax, 0x1111
      mov word ptr [1b + 1], 0x2222
      loop 1b
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x2222);
    expect(m.cpu.stats.codeInvalidations).toBeGreaterThan(0);
  });
  it('a far write from outside (invalidateCode) is seen', () => {
    const m = realMode('1: mov ax, 0x1111; hlt; jmp 1b');
    runTo(m);
    m.mem.bytes[0x1001] = 0x33;
    m.cpu.invalidateCode(0x1001, 1);
    m.cpu.state.halted = false;
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x1133);
  });
});

describe('shadow paging override', () => {
  it('translates real-mode linear addresses through a caller-given root; the guest CR3 stays its own', () => {
    const m = realMode('mov ax, 0x1234; mov [0x2000], ax; mov eax, cr3; hlt');
    // Move the program: physical 0x5000 holds what linear 0x1000 shows; linear 0x2000 → physical 0x6000.
    m.mem.bytes.copyWithin(0x5000, 0x1000, 0x1100);
    m.mem.bytes.fill(0, 0x1000, 0x1100);
    const root = 0x100000;
    m.mem.write32(root, 0x101000 | 3);
    for (let i = 0; i < 1024; i++) m.mem.write32(0x101000 + i * 4, (i * 4096) | 3);
    m.mem.write32(0x101000 + 1 * 4, 0x5000 | 3);
    m.mem.write32(0x101000 + 2 * 4, 0x6000 | 3);
    m.cpu.state.cr[3] = 0xabc000;
    m.cpu.stateChanged();
    m.cpu.setPagingOverride({ mode: 1, root, wp: true, pse: false, nxe: false, pge: false });
    runTo(m);
    expect(m.mem.read16(0x6000)).toBe(0x1234);
    expect(m.mem.read16(0x2000)).toBe(0);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0xabc000);
    // The shadow entries got their accessed/dirty bits, as hardware sets them in the tables it walks.
    expect(m.mem.read32(0x101000 + 2 * 4) & 0x60).toBe(0x60);
  });
});

describe('single-step', () => {
  it('TF set by POPF traps after the next instruction with DR6.BS', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov word ptr [4], offset db
      mov word ptr [6], 0
      pushf
      pop ax
      or ax, 0x100
      push ax
      popf
      inc cx
      inc cx
      hlt
    db:
      mov bx, cx
      hlt
    `);
    m.cpu.state.gpr[Reg.RCX] = 0;
    m.cpu.stateChanged();
    runTo(m);
    // POPF set TF: no trap after POPF itself; the trap comes after the first INC.
    expect(m.cpu.state.gpr[Reg.RBX] & 0xffff).toBe(1);
    expect(m.cpu.state.dr[6] & 0x4000).toBe(0x4000);
  });
});

describe('exception intercepts for software exceptions', () => {
  it('INT3 is seen by the exception bitmap as a software exception with its length; RIP at it', () => {
    const m = realMode('nop; int3; hlt', { captureExceptions: true });
    runTo(m, StopReason.Exception);
    const x = m.cpu.exit;
    expect(m.exceptions[0]).toMatchObject({ vector: 3 });
    expect([x.eventType, x.instructionLength, x.kind]).toEqual([6, 1, -1]);
    expect(m.cpu.state.rip[0]).toBe(0x1001);
  });
  it('OUT imm8 reports an immediate port; OUT DX does not', () => {
    const m = realMode('out 0x80, al; mov dx, 0x80; out dx, al; hlt');
    const seen: boolean[] = [];
    m.intercepts.mask = 1 << InterceptKind.Io;
    m.intercepts.instruction = (_k, x) => {
      seen.push(x.ioImmediate);
      return false;
    };
    m.cpu.setIntercepts(m.intercepts);
    runTo(m);
    expect(seen).toEqual([true, false]);
  });
});

describe('decode cache and page tables', () => {
  it('an accessed bit set by the page walk inside cached code is seen (a page table that is also code)', () => {
    // The page table for linear 4–8 MiB lives in the code page: its entry 1 is the imm32 of the MOV.
    const m = protectedMode(`
      nop
      nop
      nop
    again:
      mov eax, 0x00500003
      cmp ecx, 1
      je done
      mov ebx, [0x401000]
      inc ecx
      jmp again
    done:
      hlt
    `);
    const pd = 0x3ff000;
    m.mem.write32(pd, 0x400000 | 3);
    for (let i = 0; i < 1024; i++) m.mem.write32(0x400000 + i * 4, (i * 4096) | 3);
    m.mem.write32(pd + 4, CODE | 3);
    const s = m.cpu.state;
    s.cr[3] = pd;
    s.cr[0] |= 0x80000000;
    s.gpr[Reg.RCX] = 0;
    m.cpu.stateChanged();
    runTo(m);
    expect(s.gpr[Reg.RAX]).toBe(0x00500023);
    expect(m.mem.read32(CODE + 4)).toBe(0x00500023);
  });
});

describe('NMI blocking', () => {
  it('an injected NMI blocks NMIs until IRET', () => {
    const m = realMode('hlt');
    m.mem.write32(2 * 4, 0x2000);
    m.mem.bytes.set([0xf4, 0xcf], 0x2000); // hlt; iret
    m.cpu.injectEvent(2, 2);
    runTo(m);
    expect(m.cpu.state.interruptibility & 8).toBe(8);
    expect(m.cpu.state.rip[0]).toBe(0x2001);
    m.cpu.state.halted = false;
    m.cpu.run(1); // IRET
    expect(m.cpu.state.interruptibility & 8).toBe(0);
  });
});

describe('nested faults and the exception hook', () => {
  it('a #GP while delivering a #PF is offered to the hook before it becomes #DF', () => {
    const m = protectedMode('mov eax, [0x500000]', { captureExceptions: true });
    paging(m);
    m.mem.write32(pteAddr(0x500000), 0);
    // #PF gate to selector 0x50, beyond the GDT limit: #GP(0x50 | EXT).
    m.mem.write32(0x2000 + PF * 8, (0x50 << 16) >>> 0);
    m.mem.write32(0x2000 + PF * 8 + 4, 0x8e00);
    m.intercepts.exceptionMask = 1 << GP;
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0x51 });
    const x = m.cpu.exit;
    expect([x.vectoringValid, x.vectoringVector, x.vectoringErrorCode]).toEqual([true, PF, 0]);
    // Not delivered through the IDT, so CR2 was written for the #PF only.
    expect(m.cpu.state.cr[2]).toBe(0x500000);
  });
});

describe('event injection', () => {
  it('with injectionBypassesExceptionHook an injected #PF is delivered without the hook and keeps CR2', () => {
    const m = realMode('hlt', { captureExceptions: true });
    m.mem.write32(PF * 4, 0x2000);
    m.mem.bytes.set([0xf4], 0x2000);
    m.intercepts.injectionBypassesExceptionHook = true;
    m.cpu.state.cr[2] = 0x1234;
    m.cpu.injectEvent(3, PF, 6);
    runTo(m);
    expect(m.exceptions).toEqual([]);
    expect(m.cpu.state.rip[0]).toBe(0x2001);
    expect(m.cpu.state.cr[2]).toBe(0x1234);
  });
  it('without it the injected exception is offered to the hook', () => {
    const m = realMode('hlt', { captureExceptions: true });
    m.cpu.injectEvent(3, UD);
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: UD });
  });
});

describe('RF in pushed EFLAGS', () => {
  it('a fault pushes RF = 1; INT n pushes RF = 0; RF is clear again after IRET', () => {
    const m = protectedMode(`
      int 0x40
      mov ax, 0x48
      mov ds, ax
      hlt
      .org 0x100
      mov ebx, [esp + 8]
      iretd
      .org 0x200
      mov ecx, [esp + 12]
      add dword ptr [esp + 4], 2
      add esp, 4
      iretd
    `);
    setGate(m.mem, 0x40, CODE + 0x100);
    setGate(m.mem, GP, CODE + 0x200);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX] & 0x10000).toBe(0);
    expect(s.gpr[Reg.RCX] & 0x10000).toBe(0x10000);
    expect(s.rflags[0] & 0x10000).toBe(0);
  });
});

describe('software interrupt intercept', () => {
  it('fires for INT n with the vector, not for INT3', () => {
    const m = realMode('int3; int 0x21; hlt');
    m.mem.write32(3 * 4, 0x2000);
    m.mem.bytes.set([0xcf], 0x2000); // iret
    const seen: number[] = [];
    m.intercepts.mask = 1 << InterceptKind.SoftwareInterrupt;
    m.intercepts.instruction = (_k, x) => {
      seen.push(x.softwareVector);
      return true;
    };
    m.cpu.setIntercepts(m.intercepts);
    runTo(m, StopReason.Intercept);
    expect(seen).toEqual([0x21]);
    expect([m.cpu.state.rip[0], m.cpu.exit.instructionLength]).toEqual([0x1001, 2]);
  });
});

describe('single-step and INT n', () => {
  it('no single-step trap follows INT n: its handler runs untraced, tracing resumes after IRET', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov word ptr [4], offset db
      mov word ptr [6], 0
      mov word ptr [0x80], offset h20
      mov word ptr [0x82], 0
      xor bx, bx
      pushf
      pop ax
      or ax, 0x100
      push ax
      popf
      int 0x20
      nop
      mov dx, bx
      hlt
    db:
      push bp
      mov bp, sp
      and word ptr [bp + 6], 0xfeff
      pop bp
      inc bx
      iret
    h20:
      mov cx, bx
      iret
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RCX] & 0xffff).toBe(0); // no trap between INT and its handler
    expect(s.gpr[Reg.RDX] & 0xffff).toBe(1); // one trap, after the NOP that follows the IRET
  });
});

describe('control register details', () => {
  it('reserved CR0 bits stay clear and ET reads as 1; a reserved CR4 bit is #GP(0)', () => {
    const m = protectedMode(
      'mov eax, 0x0ffcffc1; mov cr0, eax; mov ebx, cr0; mov eax, 0x1000; mov cr4, eax',
      {
        captureExceptions: true,
      },
    );
    runTo(m, StopReason.Exception);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x00040011); // AM, ET, PE kept; reserved bits dropped
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
  });
});

describe('flushCodeCache', () => {
  it('makes bytes written behind the CPU visible', () => {
    const m = realMode('1: mov ax, 0x1111; hlt; jmp 1b');
    runTo(m);
    m.mem.bytes[0x1002] = 0x44;
    m.cpu.flushCodeCache();
    m.cpu.state.halted = false;
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x4411);
  });
});

describe('4-level paging override', () => {
  it('runs real-mode code through 4-level host tables', () => {
    const m = realMode('mov ax, 0x4321; mov [0x2000], ax; hlt');
    m.mem.bytes.copyWithin(0x5000, 0x1000, 0x1100);
    m.mem.bytes.fill(0, 0x1000, 0x1100);
    const w = (a: number, v: number) => m.mem.write32(a, v);
    w(0x100000, 0x101000 | 3);
    w(0x101000, 0x102000 | 3);
    w(0x102000, 0x103000 | 3);
    for (let i = 0; i < 512; i++) w(0x103000 + i * 8, (i * 4096) | 3);
    w(0x103000 + 1 * 8, 0x5000 | 3);
    w(0x103000 + 2 * 8, 0x6000 | 3);
    m.cpu.setPagingOverride({ mode: 3, root: 0x100000, wp: true, pse: false, nxe: false, pge: false });
    runTo(m);
    expect(m.mem.read16(0x6000)).toBe(0x4321);
  });
});

describe('injected #PF and CR2', () => {
  it('an injected #PF leaves CR2 as the injector set it, hook or no hook', () => {
    const m = realMode('hlt');
    m.mem.write32(14 * 4, 0x2000);
    m.mem.bytes.set([0xf4], 0x2000);
    m.cpu.state.cr[2] = 0xdead000;
    m.cpu.faultAddress = 0x1234; // stale from an earlier fault
    m.cpu.injectEvent(3, 14, 0);
    runTo(m);
    expect(m.cpu.state.cr[2]).toBe(0xdead000);
    expect(m.cpu.state.rip[0]).toBe(0x2001);
  });
});
