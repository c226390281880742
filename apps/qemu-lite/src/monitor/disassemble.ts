/**
 * `x/Ni`: instructions decoded by x86emu's table-driven decoder (the one the engines execute
 * with) and printed in Intel syntax from the row's mnemonic and SDM operand notation. Operands
 * the notation does not spell out (immediates wider than 32 bits, moffs) are shown as decoded.
 */
import { DecodeStatus, decode, Insn, MAX_INSN_LENGTH, OPCODE_TABLE } from '@kvm/x86emu';

const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const GPR8_REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
/** Condition codes by the low opcode nibble (SDM Vol. 2 B.1.4.7): Jcc, SETcc, CMOVcc. */
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** The row's mnemonic, lower-case, with `cc` replaced by the opcode's condition. */
function mnemonic(name: string, op: number): string {
  const m = name.toLowerCase();
  return m.endsWith('cc') ? `${m.slice(0, -2)}${CC[op & 15]}` : m;
}

/** The decode mode: CS.D and 64-bit mode (CS.L with EFER.LMA). */
export interface DecodeMode {
  def32: boolean;
  long64: boolean;
}

function gpr(n: number, size: number, rex: number): string {
  if (n >= 8) return size === 8 ? `r${n}` : size === 4 ? `r${n}d` : size === 2 ? `r${n}w` : `r${n}b`;
  if (size === 8) return GPR64[n];
  if (size === 4) return `e${GPR64[n].slice(1)}`;
  if (size === 2) return GPR64[n].slice(1);
  return rex ? GPR8_REX[n] : GPR8[n];
}

const hex = (v: number) => (v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

/** The operand size a notation suffix names (SDM Vol. 2 A.2.2). */
function sizeOf(suffix: string, insn: Insn): number {
  switch (suffix) {
    case 'b':
      return 1;
    case 'w':
      return 2;
    case 'd':
      return 4;
    case 'q':
      return 8;
    case 'z':
      return Math.min(insn.opSize, 4);
    case 'y':
      return insn.rex & 8 ? 8 : 4;
    default:
      return insn.opSize;
  }
}

function memory(insn: Insn, addr: bigint): string {
  const parts: string[] = [];
  if (insn.ripRel) {
    const target = addr + BigInt(insn.length) + BigInt(insn.disp);
    return `[rip${insn.disp < 0 ? '-' : '+'}${hex(Math.abs(insn.disp))}] ; 0x${target.toString(16)}`;
  }
  if (insn.base >= 0) parts.push(gpr(insn.base, insn.adSize, 1));
  if (insn.index >= 0) parts.push(`${gpr(insn.index, insn.adSize, 1)}*${1 << insn.scale}`);
  let text = parts.join('+');
  if (insn.disp !== 0 || text === '')
    text += text === '' ? hex(insn.disp >>> 0) : insn.disp < 0 ? `-${hex(-insn.disp)}` : `+${hex(insn.disp)}`;
  const seg = insn.seg >= 0 ? `${SEGS[insn.seg]}:` : '';
  return `${seg}[${text}]`;
}

function operand(token: string, insn: Insn, addr: bigint): string {
  const kind = token[0];
  const suffix = token.slice(1);
  const rmIsReg = insn.mod === 3;
  switch (kind) {
    case 'E':
    case 'M':
    case 'R':
      return rmIsReg ? gpr(insn.rm, sizeOf(suffix, insn), insn.rex) : memory(insn, addr);
    case 'W':
    case 'U':
      return rmIsReg ? `xmm${insn.rm}` : memory(insn, addr);
    case 'Q':
    case 'N':
      return rmIsReg ? `mm${insn.rm & 7}` : memory(insn, addr);
    case 'G':
      return gpr(insn.reg, sizeOf(suffix, insn), insn.rex);
    case 'V':
      return `xmm${insn.reg}`;
    case 'P':
      return `mm${insn.reg & 7}`;
    case 'S':
      return SEGS[insn.ext] ?? `seg${insn.ext}`;
    case 'C':
      return `cr${insn.reg}`;
    case 'D':
      return `dr${insn.reg}`;
    case 'Z':
      return gpr(insn.rm, sizeOf(suffix, insn), insn.rex);
    case 'I':
      return hex(suffix === 'bS' ? insn.imm : insn.imm >>> 0);
    case 'J':
      return `0x${(addr + BigInt(insn.length) + BigInt(insn.imm)).toString(16)}`;
    case 'O':
      return `[${hex(insn.disp >>> 0)}]`;
    case 'A':
      return `${hex(insn.imm2)}:${hex(insn.imm >>> 0)}`;
    default:
      // Fixed operands: AL, eAX (the operand size's accumulator), DX, CL, ST0, STi, 1, …
      if (token === 'STi') return `st(${insn.rm & 7})`;
      if (token.startsWith('e') && token.length === 3)
        return gpr(GPR64.indexOf(`r${token.slice(1).toLowerCase()}`), insn.opSize, 0);
      if (token.startsWith('r') && token.length === 3)
        return gpr(GPR64.indexOf(token.toLowerCase()), insn.opSize === 2 ? 2 : 8, 0);
      return token.toLowerCase();
  }
}

/**
 * `count` instructions from `addr`, one line each: address, bytes, mnemonic and operands.
 * `read` returns the bytes at an address (null past mapped memory); decoding stops there.
 */
export function disassemble(
  addr: bigint,
  count: number,
  mode: DecodeMode,
  read: (addr: bigint, length: number) => Uint8Array | null,
): string {
  let out = '';
  const insn = new Insn();
  for (let i = 0; i < count; i++) {
    let bytes = read(addr, MAX_INSN_LENGTH);
    // Near the end of mapped memory fewer bytes may be readable.
    for (let n = MAX_INSN_LENGTH - 1; !bytes && n > 0; n--) bytes = read(addr, n);
    if (!bytes) return `${out}Cannot access memory at 0x${addr.toString(16)}\n`;
    const src = bytes;
    let status: number;
    try {
      status = decode(
        {
          fetchByte: (k: number) => {
            if (k >= src.length) throw new RangeError('past the readable bytes');
            return src[k];
          },
        },
        insn,
        mode.def32,
        mode.long64,
      );
    } catch {
      status = DecodeStatus.Undefined;
      insn.length = 1;
    }
    const length = status === DecodeStatus.Ok ? insn.length : 1;
    const raw = Array.from(src.subarray(0, length), (b) => b.toString(16).padStart(2, '0')).join(' ');
    let text = '(bad)';
    if (status === DecodeStatus.Ok && insn.row >= 0) {
      const row = OPCODE_TABLE[insn.row];
      const ops = row.operands ? row.operands.split(',').map((t) => operand(t, insn, addr)) : [];
      const rep = insn.rep === 1 ? 'rep ' : insn.rep === 2 ? 'repne ' : '';
      text = `${insn.lock ? 'lock ' : ''}${rep}${mnemonic(row.mnemonic, insn.op)}${ops.length ? ` ${ops.join(', ')}` : ''}`;
    }
    out += `0x${addr.toString(16).padStart(16, '0')}:  ${raw.padEnd(24)} ${text}\n`;
    addr += BigInt(length);
  }
  return out;
}
