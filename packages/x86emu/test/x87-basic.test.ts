/**
 * The x87 stack, status word and exception delivery on a bare Cpu (32-bit protected mode):
 * register-stack mechanics, stack faults, #MF versus FERR#, #NM under CR0.EM/TS.
 */
import { describe, expect, it } from 'vitest';
import { Cr0, DecodeStatus, decode, Insn, StopReason } from '../src/index.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

const DATA = 0x20000;

function f64At(m: ReturnType<typeof protectedMode>, a: number): number {
  return new DataView(m.mem.bytes.buffer).getFloat64(a, true);
}

describe('x87 on a bare Cpu', () => {
  it('computes with the register stack and stores doubles (fld1, fldpi, faddp, fstp m64)', () => {
    const m = protectedMode(
      `fninit; fld1; fldpi; faddp st(1), st; fst qword ptr [${DATA}]; fsqrt; fstp qword ptr [${DATA + 8}]; hlt`,
    );
    runTo(m);
    expect(f64At(m, DATA)).toBe(1 + Math.PI);
    expect(f64At(m, DATA + 8)).toBe(Math.sqrt(1 + Math.PI));
    const s = m.cpu.state;
    expect((s.fpuStatus[0] >>> 11) & 7).toBe(0); // TOP back at 0
    expect(s.fpuTag[0]).toBe(0xffff); // all empty again
  });

  it('loads and stores every integer width and BCD', () => {
    const m = protectedMode(
      `fninit; fild word ptr [${DATA}]; fild dword ptr [${DATA + 4}]; fild qword ptr [${DATA + 8}]; faddp st(1), st; faddp st(1), st; fistp qword ptr [${DATA + 16}]; fld1; fbstp tbyte ptr [${DATA + 32}]; hlt`,
    );
    const v = new DataView(m.mem.bytes.buffer);
    v.setInt16(DATA, -7, true);
    v.setInt32(DATA + 4, 100000, true);
    v.setBigInt64(DATA + 8, 1n << 40n, true);
    runTo(m);
    expect(v.getBigInt64(DATA + 16, true)).toBe((1n << 40n) + 100000n - 7n);
    expect([...m.mem.bytes.subarray(DATA + 32, DATA + 42)]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('FCOMI sets ZF/PF/CF and FCMOV reads them', () => {
    const m = protectedMode(
      `fninit; fld1; fldz; fcomi st, st(1); fcmovb st, st(1); fstp dword ptr [${DATA}]; hlt`,
    );
    runTo(m);
    expect(m.cpu.state.rflags[0] & 0x45).toBe(0x01); // 0 < 1: CF
    expect(new DataView(m.mem.bytes.buffer).getFloat32(DATA, true)).toBe(1);
  });

  it('a stack underflow with IE masked gives the indefinite, IE and SF, C1 = 0', () => {
    const m = protectedMode(`fninit; fadd st, st(1); fnstsw ax; fstp qword ptr [${DATA}]; hlt`);
    runTo(m);
    expect(m.cpu.state.gpr[0] & 0x7f).toBe(0x41); // SF | IE
    expect(m.cpu.state.gpr[0] & 0x200).toBe(0);
    expect(new DataView(m.mem.bytes.buffer).getUint32(DATA + 4, true)).toBe(0xfff80000);
  });

  it('an unmasked exception is pending until the next waiting instruction: #MF with CR0.NE = 1', () => {
    const src = `fninit; fnstcw [${DATA}]; and word ptr [${DATA}], 0xfffb; fldcw [${DATA}]; fld1; fldz; fdivp st(1), st; fnstsw ax; fwait; hlt`;
    const m = protectedMode(src, { captureExceptions: true });
    m.cpu.state.cr[0] |= Cr0.NE;
    expect(m.cpu.run(100)).toBe(StopReason.Exception);
    expect(m.exceptions.map((e) => e.vector)).toEqual([16]);
    const s = m.cpu.state;
    expect(s.gpr[0] & 0x80ff).toBe(0x8084); // B, ES, ZE
    // FDIVP did not complete: nothing popped, ST(1) is still 1.
    expect((s.fpuStatus[0] >>> 11) & 7).toBe(6);
    expect(s.fpuIp[0]).toBeGreaterThan(0);
  });

  it('with CR0.NE = 0 the pending exception asserts FERR# instead, and FNCLEX drops it', () => {
    const src = `fninit; fnstcw [${DATA}]; and word ptr [${DATA}], 0xfffb; fldcw [${DATA}]; fld1; fldz; fdivp st(1), st; fwait; fld1; fnclex; fwait; hlt`;
    const m = protectedMode(src, { captureExceptions: true });
    const levels: boolean[] = [];
    m.cpu.ferr = (a) => levels.push(a);
    runTo(m);
    expect(m.exceptions).toEqual([]);
    // Asserted at each waiting instruction while pending (FWAIT, FLD1), dropped by FNCLEX.
    expect(levels).toEqual([true, true, false]);
  });

  it('raises #NM under CR0.EM or CR0.TS, and WAIT only under MP with TS', () => {
    for (const [cr0, src, vec] of [
      [Cr0.EM, 'fld1', 7],
      [Cr0.TS, 'fninit', 7],
      [Cr0.TS, 'fwait', -1],
      [Cr0.TS | Cr0.MP, 'fwait', 7],
      [Cr0.EM, 'fwait', -1],
    ] as const) {
      const m = protectedMode(`${src}; hlt`, { captureExceptions: true });
      m.cpu.state.cr[0] |= cr0;
      m.cpu.run(10);
      expect(m.exceptions.map((e) => e.vector)).toEqual(vec < 0 ? [] : [vec]);
    }
  });

  it('which instructions wait for a pending exception (measured on the host CPU): FLDCW, FLDENV, FRSTOR, FWAIT do; FN*, FXSAVE/FXRSTOR do not', () => {
    const pending = `fninit; mov word ptr [${DATA}], 0x37b; fldcw [${DATA}]; fldz; fld1; fdiv st, st(1)`;
    for (const [insn, mf] of [
      [`fldcw [${DATA}]`, true],
      [`fldenv [${DATA + 0x100}]`, true],
      [`frstor [${DATA + 0x100}]`, true],
      ['fwait', true],
      ['fld1', true],
      [`fnstenv [${DATA + 0x100}]`, false],
      [`fnsave [${DATA + 0x100}]`, false],
      [`fxsave [${DATA + 0x200}]`, false],
      [`fxrstor [${DATA + 0x200}]`, false],
      ['fnclex', false],
    ] as const) {
      const m = protectedMode(`${pending}; ${insn}; hlt`, { captureExceptions: true });
      m.cpu.state.cr[0] |= Cr0.NE;
      m.cpu.run(100);
      expect([insn, m.exceptions.map((e) => e.vector)]).toEqual([insn, mf ? [16] : []]);
    }
  });

  it('a store stopped by an unmasked exception still checks its destination: the #GP comes first', () => {
    // FISTP m16 of 1e30 is IE; with IE unmasked nothing is stored, but the write to DS:FFFH
    // (limit FFFH, 2 bytes) is still checked, as the CPU checks it (long64 difftest).
    const m = protectedMode(
      `fninit; mov word ptr [${DATA}], 0x37e; fldcw [${DATA}]; fld qword ptr [${DATA + 8}]; mov ax, 0x38; mov ds, ax; fistp word ptr [0xfff]; hlt`,
      { captureExceptions: true },
    );
    new DataView(m.mem.bytes.buffer).setFloat64(DATA + 8, 1e30, true);
    m.cpu.run(100);
    expect(m.exceptions.map((e) => e.vector)).toEqual([13]);
    expect(m.cpu.state.fpuStatus[0] & 0xff).toBe(0); // IE not recorded: the instruction faulted
  });

  it('a store that faults (#GP past the segment limit) leaves the stack and the status word as they were', () => {
    // DS = selector 38H: base 1 MiB, limit FFFH; an 8-byte FSTP at FFCH runs past it.
    const m = protectedMode('fninit; fld1; fldpi; mov ax, 0x38; mov ds, ax; fstp qword ptr [0xffc]; hlt', {
      captureExceptions: true,
    });
    m.cpu.run(100);
    expect(m.exceptions.map((e) => e.vector)).toEqual([13]);
    const s = m.cpu.state;
    expect((s.fpuStatus[0] >>> 11) & 7).toBe(6); // nothing popped
    expect(s.fpuStatus[0] & 0x3fff & ~0x3800).toBe(0); // no flag, C1 untouched
  });

  it('decodes as #UD exactly the x87 register forms the host CPU refuses (SIGILL, measured), and the rest', () => {
    // Every D8–DF ModRM C0–FF run natively on the referee host: these raised #UD, all others ran
    // (the blank-in-the-SDM aliases D9 D8+i, DC D0+i/D8+i, DD C8+i, DE D0+i, DF C0+i…DF D8+i too).
    const ud = new Set<string>();
    const range = (op: number, from: number, to: number) => {
      for (let m = from; m <= to; m++) ud.add(`${op.toString(16)} ${m.toString(16)}`);
    };
    range(0xd9, 0xd1, 0xd7);
    for (const m of [0xe2, 0xe3, 0xe6, 0xe7, 0xef]) range(0xd9, m, m);
    range(0xda, 0xe0, 0xe8);
    range(0xda, 0xea, 0xff);
    range(0xdb, 0xe5, 0xe7);
    range(0xdb, 0xf8, 0xff);
    range(0xdd, 0xf0, 0xff);
    range(0xde, 0xd8, 0xd8);
    range(0xde, 0xda, 0xdf);
    range(0xdf, 0xe1, 0xe7);
    range(0xdf, 0xf8, 0xff);
    const insn = new Insn();
    const bad: string[] = [];
    for (let op = 0xd8; op <= 0xdf; op++)
      for (let m = 0xc0; m <= 0xff; m++) {
        const bytes = [op, m];
        const st = decode({ fetchByte: (k: number) => bytes[k] }, insn, true, false);
        const key = `${op.toString(16)} ${m.toString(16)}`;
        if ((st === DecodeStatus.Undefined) !== ud.has(key)) bad.push(key);
      }
    // Memory forms: D9 /1, DB /4, DB /6 and DD /5 are #UD on the host CPU, every other one runs.
    const udMem = new Set(['d9/1', 'db/4', 'db/6', 'dd/5']);
    for (let op = 0xd8; op <= 0xdf; op++)
      for (let r = 0; r < 8; r++) {
        const bytes = [op, r << 3];
        const st = decode({ fetchByte: (k: number) => bytes[k] }, insn, true, false);
        const key = `${op.toString(16)}/${r}`;
        if ((st === DecodeStatus.Undefined) !== udMem.has(key)) bad.push(key);
      }
    expect(bad).toEqual([]);
  });
});
