/**
 * PUSH r64 and POP r64 (50+r, 58+r; 64-bit operand size, the default there: SDM Vol. 1 6.2.5) in
 * compiled 64-bit-mode code, as exec/long/stack64.ts push64/pop64 do them: the slot is SS:RSP-8
 * (PUSH) or SS:RSP (POP) through mem64.ts's TLB fast path, else `Cpu.write64`/`read64` with SS
 * (which raise #SS(0) for a non-canonical stack address, as the interpreter does); RSP moves only
 * after the access, so a fault leaves it as it was. PUSH RSP pushes RSP's old value; POP RSP
 * leaves the popped value in RSP (it is written after the increment: SDM Vol. 2 POP).
 *
 * Near CALL rel32 and RET (imm16) the same way (exec/long/control64.ts CALL64, makeRet64): a
 * branch that ends the block, its return address pushed or popped inline; the block then returns
 * the decode at the new RIP when it lies in the block's page (jit.ts chains to the block there
 * without a lookup), as a direct jump does.
 */
import type { Insn } from '../decoder/insn.js';
import type { EmitCtx, Emitted } from './emit.js';
import { setReg64 } from './emit64.js';
import { flushFlags } from './flags.js';
import { memRead8, memWrite64m } from './mem64.js';

const TWO32 = 4294967296;

/** A memory operand [RSP + disp] in SS (64-bit address size), for mem64.ts's helpers. */
function rspOperand(disp: number): Insn {
  return { ripRel: false, base: 4, index: -1, disp, scale: 0, memSeg: 2, adSize: 8 } as unknown as Insn;
}

/** RSP += `d` over its two halves (the carry or borrow into RSP[63:32]). */
function rspAdd(d: number): string {
  return `{ const l = rg4 + ${d}; const c = Math.floor(l / 4294967296); rg4 = l - c * 4294967296; rh4 = (rh4 + c) >>> 0; dm |= 16; }`;
}

/** PUSH/POP of register `i.rm` with 64-bit operand size, or null (another form: its handler). */
export function emitStack64(i: Insn, m: string, ops: string, next: number, hi: number): Emitted | null {
  if (ops !== 'Zv' || i.opSize !== 8) return null;
  const r = i.rm;
  if (m === 'PUSH')
    return {
      code: `{ ${memWrite64m(rspOperand(-8), 8, `rg${r}`, `rh${r}`, next, hi)} ${rspAdd(-8)} }`,
      memory: true,
      branch: false,
    };
  if (m === 'POP')
    return {
      code: `{ ${memRead8(rspOperand(0), 'p', next, hi)} ${rspAdd(8)} ${setReg64(r, 'pl', 'ph')} }`,
      memory: true,
      branch: false,
    };
  return null;
}

/**
 * CALL rel32 in 64-bit mode: the target is a constant (RIP + rel, sign-extended); a non-canonical
 * one (#GP(0) before the push, SDM Vol. 2 CALL) is left to the handler. The return address, RIP
 * of the next instruction, is pushed as PUSH does it (a fault leaves RSP as it was, RIP at the
 * CALL); then the block leaves for the target. A push that took the slow path may have written
 * the block's own code page (its decodes dropped: fetch.ts invalidateCodePage), so the link is
 * returned only while the CPU still fetches from that page.
 */
export function emitCall64(i: Insn, ctx: EmitCtx): Emitted | null {
  if (i.opSize !== 8) return null;
  const lo = ctx.next + i.imm;
  const carry = Math.floor(lo / TWO32);
  const tLo = lo - carry * TWO32;
  const tHi = (ctx.hi + carry) >>> 0;
  const h = tHi | 0;
  if (h >= 0x8000 || h < -0x8000) return null;
  const o = tLo - ctx.page0;
  const link =
    tHi === ctx.hi && o >= 0 && o < 4096
      ? `ck !== 0 && cpu.codePage !== PC ? undefined : PC.insns[${o}]`
      : 'undefined';
  const push = memWrite64m(rspOperand(-8), 8, `${ctx.next}`, `${ctx.hi}`, ctx.next, ctx.hi);
  // ctx.sync stores what was written before this instruction: RSP is stored here.
  const code = `{ ${push} ${rspAdd(-8)} g[4] = rg4; gh[4] = rh4; } cpu.runCount += ${ctx.length}; ${ctx.sync} ${flushFlags(ctx.pend)} rip[0] = ${tLo};${tHi === ctx.hi ? '' : ` rip[1] = ${tHi};`} return ${link};`;
  ctx.pend = 0;
  return { code, memory: false, branch: true };
}

/**
 * RET and RET imm16 in 64-bit mode: the return address popped as POP does it, #GP(0) at the RET
 * with nothing changed when it is not canonical (makeRet64's order), RSP moved past it and the
 * immediate; then the block leaves for it, returning the decode there when the address lies in
 * the block's page (a return to a caller in the same page chains without a lookup).
 */
export function emitRet64(i: Insn, ops: string, ctx: EmitCtx): Emitted | null {
  if (i.opSize !== 8) return null;
  const n = 8 + (ops === 'Iw' ? i.imm & 0xffff : 0);
  const pop = memRead8(rspOperand(0), 'p', ctx.next, ctx.hi);
  const code = `{ ${pop} if (((ph | 0) >= 0x8000 || (ph | 0) < -0x8000)) cpu.gp0(); ${rspAdd(n)} g[4] = rg4; gh[4] = rh4; cpu.runCount += ${ctx.length}; ${ctx.sync} ${flushFlags(ctx.pend)} rip[0] = pl; rip[1] = ph; const o = pl - ${ctx.page0}; return ph === ${ctx.hi} && o >= 0 && o < 4096 && !(ck !== 0 && cpu.codePage !== PC) ? PC.insns[o] : undefined; }`;
  ctx.pend = 0;
  return { code, memory: false, branch: true };
}
