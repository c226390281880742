/** `x/i`'s disassembler: x86emu's decoder, printed in Intel syntax, in each decode mode. */
import { describe, expect, it } from 'vitest';
import { disassemble } from '../../src/monitor/disassemble.js';

const at = (bytes: number[]) => (a: bigint, n: number) => {
  const off = Number(a - 0x1000n);
  return off >= 0 && off + n <= bytes.length ? Uint8Array.from(bytes.slice(off, off + n)) : null;
};
const LONG = { def32: false, long64: true };

describe('x/i disassembly', () => {
  it('prints address, bytes and Intel-syntax operands, with conditions and branch targets resolved', () => {
    // push rbx; mov rbx, rdi; je +0x18; mov eax, [rax+0x10]; lock add [rbx], ecx
    const code = [0x53, 0x48, 0x89, 0xfb, 0x74, 0x18, 0x8b, 0x40, 0x10, 0xf0, 0x01, 0x0b];
    expect(disassemble(0x1000n, 5, LONG, at(code))).toBe(
      [
        '0x0000000000001000:  53                       push rbx',
        '0x0000000000001001:  48 89 fb                 mov rbx, rdi',
        '0x0000000000001004:  74 18                    je 0x101e',
        '0x0000000000001006:  8b 40 10                 mov eax, [rax+0x10]',
        '0x0000000000001009:  f0 01 0b                 lock add [rbx], ecx',
        '',
      ].join('\n'),
    );
  });

  it('decodes by the mode: the same bytes are 16-bit in real mode', () => {
    // 66 b8 34 12 00 00: mov eax, 0x1234 in real mode; b8 34 12: mov ax, 0x1234
    const code = [0x66, 0xb8, 0x34, 0x12, 0x00, 0x00, 0xb8, 0x34, 0x12];
    expect(disassemble(0x1000n, 2, { def32: false, long64: false }, at(code))).toBe(
      '0x0000000000001000:  66 b8 34 12 00 00        mov eax, 0x1234\n0x0000000000001006:  b8 34 12                 mov ax, 0x1234\n',
    );
  });

  it('stops at memory it cannot read and marks bytes that are no instruction', () => {
    expect(disassemble(0x1000n, 2, LONG, at([0x0f, 0x0b]))).toMatch(/^0x0000000000001000: {2}0f 0b\s+ud2\n/);
    expect(disassemble(0x1000n, 1, LONG, at([0x06]))).toBe(
      '0x0000000000001000:  06                       (bad)\n',
    );
    expect(disassemble(0x2000n, 1, LONG, at([0x90]))).toBe('Cannot access memory at 0x2000\n');
  });
});
