/** 64-bit debug registers and #AC for 8-byte operands in IA-32e mode (issue 10). */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { gate64, longMode, r64, toUser } from './long.js';

describe('debug registers in 64-bit mode', () => {
  it('DR0–DR3 hold 64 bits; MOV from DR6/DR7 zero-extends', () => {
    const m = longMode(`
      mov rax, 0xffff800012345678
      mov dr1, rax
      mov rbx, dr1
      mov rcx, -1
      mov rcx, dr7
      hlt
    `);
    m.cpu.run(10);
    expect(r64(m, Reg.RBX)).toBe(0xffff800012345678n);
    expect(r64(m, Reg.RCX)).toBe(0x400n);
  });

  it('a 1 in bits 63:32 of DR6 or DR7 is #GP(0); DR8 (REX.R) is #UD', () => {
    for (const dr of ['dr6', 'dr7']) {
      const m = longMode(`mov rax, 0x100000000; mov ${dr}, rax`, { captureExceptions: true });
      m.cpu.run(5);
      expect(m.exceptions[0], dr).toMatchObject({ vector: 13, errorCode: 0 });
    }
    const m = longMode('.byte 0x44, 0x0f, 0x23, 0xc0', { captureExceptions: true }); // mov dr8, rax
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 6 });
  });

  it('an instruction breakpoint compares all 64 bits of RIP', () => {
    // The same low half above 4 GiB does not match; the exact RIP does.
    const m = longMode(
      `
      lea rax, [rip + target]
      mov rdx, 0x100000000
      or rdx, rax
      mov dr0, rdx
      mov rbx, 1
      mov dr7, rbx
      nop
    target:
      nop
      mov dr0, rax
      jmp target
    `,
      { captureExceptions: true },
    );
    m.cpu.run(20);
    expect(m.exceptions[0]).toMatchObject({ vector: 1 });
    expect(m.cpu.state.dr[6] & 0xf).toBe(1);
    expect(r64(m, Reg.RAX)).toBe(BigInt(m.cpu.state.rip[0]));
  });
});

describe('#AC for 8-byte operands at CPL 3', () => {
  it('a qword on a 4-byte boundary faults with CR0.AM and RFLAGS.AC set; an aligned one does not', () => {
    const m = longMode('', { captureExceptions: true });
    m.mem.bytes.set([0x48, 0x8b, 0x03, 0x48, 0x8b, 0x43, 0x04, 0xf4], 0x10000); // mov rax, [rbx]; mov rax, [rbx+4]
    gate64(m.mem, 17, 0x10000);
    toUser(m);
    const s = m.cpu.state;
    s.cr[0] |= 1 << 18; // CR0.AM
    s.rflags[0] |= 1 << 18; // RFLAGS.AC
    s.gpr[Reg.RBX] = 0x20000;
    s.gpr[Reg.RSP] = 0x9000;
    m.cpu.stateChanged();
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 17, errorCode: 0 });
    expect(s.rip[0]).toBe(0x10003);
  });

  it('PUSH of a qword to a stack misaligned by 4 faults too', () => {
    const m = longMode('', { captureExceptions: true });
    m.mem.bytes.set([0x50, 0xf4], 0x10000); // push rax
    toUser(m);
    const s = m.cpu.state;
    s.cr[0] |= 1 << 18;
    s.rflags[0] |= 1 << 18;
    s.gpr[Reg.RSP] = 0x9004;
    m.cpu.stateChanged();
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 17, errorCode: 0 });
  });

  it('a read-modify-write operand misaligned on a not-present page is #AC, not #PF, as a load or store (the CPU)', () => {
    // shl dword [rbx], 1 / add [rbx], eax / bts [rbx], eax / btr qword [rbx], 5: RBX past the
    // 16 MiB the tables map. The long64 garbage difftest found #PF here where the CPU gives #AC(0).
    for (const code of [
      [0xd1, 0x23],
      [0x01, 0x03],
      [0x0f, 0xab, 0x03],
      [0x48, 0x0f, 0xba, 0x33, 0x05],
    ]) {
      for (const [rbx, vector] of [
        [0x1000001, 17],
        [0x1000000, 14],
      ]) {
        const m = longMode('', { captureExceptions: true });
        m.mem.bytes.set([...code, 0xf4], 0x10000);
        toUser(m);
        const s = m.cpu.state;
        s.cr[0] |= 1 << 18; // CR0.AM
        s.rflags[0] |= 1 << 18; // RFLAGS.AC
        s.gpr[Reg.RBX] = rbx;
        s.gpr[Reg.RAX] = 0;
        s.gpr[Reg.RSP] = 0x9000;
        m.cpu.stateChanged();
        m.cpu.run(5);
        expect(
          m.exceptions[0]?.vector,
          `${code.map((b) => b.toString(16)).join(' ')} at ${rbx.toString(16)}`,
        ).toBe(vector);
      }
    }
  });
});
