/**
 * Memory operands of compiled 64-bit-mode code: the effective address as `Cpu.ea64` computes it
 * (a signed number, exact wherever the address can be canonical; SDM Vol. 1 3.7.5), from the
 * block's register locals `rg`/`rh` (low/high halves), and `Cpu.read`/`read64`/`write`/`write64`'s
 * TLB fast path inlined for a canonical address in a segment without a base (64-bit mode ignores
 * the bases of ES, CS, SS and DS: SDM Vol. 3 3.4.4); everything else (FS/GS, non-canonical
 * addresses, misses, MMIO, page splits, #PF) goes through the CPU's own path.
 */
import { SF_FLAT, SF_LONG, SF_R, SF_W, TLB_MASK } from '../cpu/consts.js';
import type { Insn } from '../decoder/insn.js';

const TWO32 = 4294967296;
const TWO47 = 140737488355328;
const TWO48 = 281474976710656;

/**
 * `Cpu.ea64`'s exact path (its `eaHalves`) over explicit halves: the generated code calls this
 * (as `EAX`) when a base or index register's high half is outside ±2^15, where the fast sum could
 * round.
 */
export function eaExact(disp: number, bl: number, bh: number, xl: number, xh: number, scale: number): number {
  let lo = (disp >>> 0) + bl + xl * (1 << scale);
  let hi = (disp < 0 ? -1 : 0) + bh + (xh << scale);
  const carry = Math.floor(lo / TWO32);
  lo -= carry * TWO32;
  hi = (hi + carry) >>> 0;
  return (hi | 0) * TWO32 + lo;
}

/** Memory operands compiled inline in 64-bit mode: 64-bit address size (RIP-relative too). */
export function memOk64(i: Insn): boolean {
  return i.adSize === 8;
}

/**
 * Statements defining const `a_<name>`: the effective address of `i` (64-bit address size) as
 * `Cpu.ea64` returns it. RIP-relative addresses are constants (`next`: RIP of the next
 * instruction, `hi` its high half).
 */
export function ea64(i: Insn, name: string, next: number, hi: number): string {
  const a = `a_${name}`;
  if (i.ripRel) return `const ${a} = ${(hi | 0) * TWO32 + next + i.disp};`;
  if (i.base < 0 && i.index < 0) return `const ${a} = ${i.disp};`;
  const bl = i.base >= 0 ? `rg${i.base}` : '0';
  const bh = i.base >= 0 ? `rh${i.base}` : '0';
  const xl = i.index >= 0 ? `rg${i.index}` : '0';
  const xh = i.index >= 0 ? `rh${i.index}` : '0';
  let fast = `${i.disp}`;
  if (i.base >= 0) fast += ` + (${bh} | 0) * ${TWO32} + ${bl}`;
  if (i.index >= 0) fast += ` + ((${xh} | 0) * ${TWO32} + ${xl}) * ${1 << i.scale}`;
  const wide: string[] = [];
  if (i.base >= 0) wide.push(`((${bh} + 0x8000) >>> 0) >= 0x10000`);
  if (i.index >= 0) wide.push(`((${xh} + 0x8000) >>> 0) >= 0x10000`);
  return `const ${a} = ${wide.join(' || ')} ? EAX(${i.disp}, ${bl}, ${bh}, ${xl}, ${xh}, ${i.scale}) : ${fast};`;
}

/**
 * Statements defining the TLB slot `x`, page offset `o` and view `w` of the access at `a`, from
 * its linear address folded to 48 bits as `Cpu.linear64` folds it (`l`).
 */
function slot(a: string, l: string, x: string, o: string, w: string): string {
  return `const ${l} = ${a} < 0 ? ${a} + ${TWO48} : ${a}; const ${x} = (${l} >>> 12) & ${TLB_MASK}; const ${o} = ${l} & 0xfff; const ${w} = tv[${x}];`;
}

/**
 * The fast-path test for `size` bytes at `a` (folded `l`) with TLB slot `x`, offset `o`, view
 * `w`: canonical as `Cpu.linear64` checks it, inside one page, a TLB hit (tag as `tlbTagOf`) with
 * the right at the block's CPL.
 */
function hit(
  seg: number,
  size: number,
  a: string,
  l: string,
  x: string,
  o: string,
  w: string,
  write: boolean,
): string {
  const need = (write ? SF_W : SF_R) | SF_FLAT | SF_LONG;
  return `${a} >= ${-TWO47} && ${a} <= ${TWO47 - size} && (sf[${seg}] & ${need}) === ${need} && tt[${x}] === (${l} <= 4294967295 ? ${l} >>> 24 : Math.floor(${l} / 16777216)) && ${o} <= ${4096 - size} && (tp[${x}] & ${write ? 'WP' : 'RP'}) !== 0 && ${w} !== null`;
}

/**
 * After a memory operand's slow path (`Cpu.readOrFault`/`writeOrFault`): a #PF there (a demand
 * fault, a shadow-MMU fault, a write to a write-protected page table: the common one) set
 * `unwinding` instead of throwing, and the function leaves through its unwind tail (compile.ts:
 * label U), which does what its catch does for a thrown fault. A throw out of compiled code costs
 * V8 microseconds (two frames unwound, the catch's rethrow): about 8 % of a shadow-MMU CR3
 * switch (packages/mmu/README.md). `ck` is set only on a slow path, so a TLB hit tests one local.
 */
export const UNWIND = ' if (ck !== 0 && cpu.unwinding !== 0) break U;';

/** FS and GS keep their bases in 64-bit mode: always through the CPU. */
function based(seg: number): boolean {
  return seg === 4 || seg === 5;
}

const dword = (w: string, o: string, k = 0) =>
  `(${w}[${o} + ${k}] | (${w}[${o} + ${k + 1}] << 8) | (${w}[${o} + ${k + 2}] << 16) | (${w}[${o} + ${k + 3}] << 24)) >>> 0`;

/** Statements reading `size` (1, 2, 4) bytes of the memory operand into const `name`. */
export function memRead64m(i: Insn, size: number, name: string, next: number, hi: number): string {
  const seg = i.memSeg;
  const [a, l, x, o, w] = [`a_${name}`, `l_${name}`, `x_${name}`, `o_${name}`, `w_${name}`];
  const addr = ea64(i, name, next, hi);
  if (based(seg)) return `${addr} ck = 1; const ${name} = cpu.readOrFault(${seg}, ${a}, ${size});${UNWIND}`;
  const load = size === 4 ? dword(w, o) : size === 2 ? `${w}[${o}] | (${w}[${o} + 1] << 8)` : `${w}[${o}]`;
  return `${addr} ${slot(a, l, x, o, w)}
const ${name} = ${hit(seg, size, a, l, x, o, w, false)} ? ${load} : ((ck = 1), cpu.readOrFault(${seg}, ${a}, ${size}));${UNWIND}`;
}

/** Statements reading 8 bytes of the memory operand into `<name>l` and `<name>h`. */
export function memRead8(i: Insn, name: string, next: number, hi: number): string {
  const seg = i.memSeg;
  const [a, l, x, o, w] = [`a_${name}`, `l_${name}`, `x_${name}`, `o_${name}`, `w_${name}`];
  const addr = ea64(i, name, next, hi);
  const slow = `ck = 1; cpu.read64OrFault(${seg}, ${a});${UNWIND} ${name}l = cpu.lo64; ${name}h = cpu.hi64;`;
  if (based(seg)) return `${addr} let ${name}l = 0; let ${name}h = 0; ${slow}`;
  return `${addr} ${slot(a, l, x, o, w)} let ${name}l = 0; let ${name}h = 0;
if (${hit(seg, 8, a, l, x, o, w, false)}) { ${name}l = ${dword(w, o)}; ${name}h = ${dword(w, o, 4)}; } else { ${slow} }`;
}

/** Statements writing `lo` (and `hi` for 8 bytes) to the memory operand. */
export function memWrite64m(
  i: Insn,
  size: 1 | 4 | 8,
  lo: string,
  hi: string,
  next: number,
  rhi: number,
): string {
  const seg = i.memSeg;
  const addr = ea64(i, 'w', next, rhi);
  const slow =
    size === 8
      ? `{ ck = 1; cpu.write64OrFault(${seg}, a_w, vl, vh);${UNWIND} }`
      : `{ ck = 1; cpu.writeOrFault(${seg}, a_w, ${size}, vl);${UNWIND} }`;
  const vals = `const vl = ${lo}; const vh = ${size === 8 ? hi : 0};`;
  if (based(seg)) return `{ ${addr} ${vals} ${slow} }`;
  const store =
    size === 1
      ? 'w[o] = vl;'
      : 'w[o] = vl; w[o + 1] = vl >>> 8; w[o + 2] = vl >>> 16; w[o + 3] = vl >>> 24;' +
        (size === 8
          ? ' w[o + 4] = vh; w[o + 5] = vh >>> 8; w[o + 6] = vh >>> 16; w[o + 7] = vh >>> 24;'
          : '');
  return `{ ${addr} ${vals} ${slot('a_w', 'l', 'x', 'o', 'w')}
if (${hit(seg, size, 'a_w', 'l', 'x', 'o', 'w', true)}) { ${store} } else ${slow} }`;
}

/** The TLB slot of a 64-bit-mode address (`slot`) and the fast path's test (`hit`), for emit-sse.ts. */
export const memSlot64 = slot;
export const memHit64 = hit;
