/**
 * The block compiler: a run of decoded instructions of one physical page (from the decode cache,
 * so every one of them has already run in the interpreter) becomes one JavaScript function.
 * Specialised instructions are inlined (emit.ts); any other allowed instruction calls the
 * interpreter's own handler with RIP and `startEip` set as `Cpu.step` sets them. Exactness:
 * - a fault or intercept exit unwinds through the function's catch, which stores the pending
 *   flags, points `startEip` at the faulting instruction and counts the ones before it, so
 *   `Cpu.run`'s handler restores RIP and delivers exactly as after `step()`;
 * - after any instruction that touched memory or ran a handler, the block leaves (RIP at the next
 *   instruction) when an interrupt check is due (`irqCheck`: MMIO, a stop request) or when its
 *   own code page lost its decodes (a write into the block, or to its page: fetch.ts);
 * - the run loop's own checks are made at block entry (jit.ts).
 */
import { TP_SR, TP_SW, TP_UR, TP_UW } from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { PageCode } from '../cpu/fetch.js';
import type { Handler } from '../cpu/handler.js';
import { LF_ARITH64, PARITY } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import { OPCODE_TABLE } from '../decoder/opcode-table.js';
import { JitBlock } from './block.js';
import { type EmitCtx, emitInsn } from './emit.js';
import { flushFlags } from './flags.js';
import { eaExact } from './mem64.js';
import { ROW_KIND } from './rows.js';

/** Longest block, in instructions. */
export const MAX_BLOCK = 48;

/**
 * The instructions of a block starting at `first` (EIP `eip`, page offset `off` of `page`): up
 * to a branch, an instruction not allowed in blocks, one not decoded yet, or the page end.
 */
export function collect(page: PageCode, first: Insn, eip: number, off: number): Insn[] {
  const out: Insn[] = [];
  let insn: Insn | undefined = first;
  let e = eip;
  let o = off;
  while (insn !== undefined && out.length < MAX_BLOCK) {
    const kind = insn.row >= 0 ? ROW_KIND[insn.row] : 0;
    if (kind === 0 || insn.rep !== 0 || insn.modeKey !== first.modeKey) break;
    // EIP past 2^32 wraps in the interpreter's RIP store (carries into RIP[63:32] in 64-bit
    // mode): leave such code to it.
    if (e + insn.length > 0xffffffff) break;
    out.push(insn);
    if (kind === 2) break;
    e += insn.length;
    o += insn.length;
    if (o >= 4096) break;
    insn = page.insns[o];
  }
  return out;
}

/**
 * Compiles the block `insns` starting at EIP `eip`, running from decode page `page`. In 64-bit
 * mode (`long`) `hi` is RIP[63:32], the same for the whole block: it lies in one page and
 * `collect` stops before RIP[31:0] would carry.
 */
export function compileBlock(insns: Insn[], eip: number, page: PageCode, long = false, hi = 0): JitBlock {
  const handlers: Handler[] = [];
  const eips: number[] = [];
  const n = insns.length;
  const ctx: EmitCtx = { pend: 0, eip, next: eip, start: eip, length: n, loops: false, long, hi };
  let body = '';
  let ended = false;
  // Registers: `used` are loaded into locals at entry, `dirty` (statically) differ from the CPU's.
  let used = 0;
  let dirty = 0;
  // A register's high half: 0 after a 32-bit write outside 64-bit mode; a local of its own there.
  const hiOf = (r: number): string => (long ? `rh${r}` : '0');
  const sync = (): string => {
    let c = '';
    for (let r = 0; r < 16; r++) if (dirty & (1 << r)) c += `g[${r}] = rg${r}; gh[${r}] = ${hiOf(r)}; `;
    dirty = 0;
    return c === '' ? '' : `${c}dm = 0;`;
  };
  for (let k = 0; k < n; k++) {
    const i = insns[k];
    const row = OPCODE_TABLE[i.row];
    ctx.eip = ctx.next;
    ctx.next = ctx.eip + i.length;
    eips.push(ctx.eip);
    handlers.push(i.exec);
    const e = emitInsn(i, row, ctx);
    if (e !== null) {
      for (const m of e.code.matchAll(/\br[gh](\d+)\b/g)) used |= 1 << Number(m[1]);
      // A branch writes no register: the CPU's copy is made current before it (and so before
      // the loop's next iteration, which then starts from clean locals).
      if (e.branch) body += sync();
      body += `k = ${k}; ${e.code}\n`;
      for (const m of e.code.matchAll(/\br[gh](\d+) = /g)) dirty |= 1 << Number(m[1]);
      if (e.branch) {
        body += `cpu.runCount += ${n}; return;\n`;
        ended = true;
      } else if (e.memory) {
        const d = dirty;
        const exit = sync();
        dirty = d;
        body += `if (cpu.irqCheck || cpu.codePage !== PC) { ${exit} ${flushFlags(ctx.pend)} rip[0] = ${ctx.next}; cpu.runCount += ${k + 1}; return; }\n`;
      }
      continue;
    }
    // The interpreter's handler, entered as Cpu.step enters it, with the CPU's registers current
    // and the locals reloaded after it (it may write any register).
    body += `${sync()} ${flushFlags(ctx.pend)} k = ${k}; cpu.startEip = ${ctx.eip}; rip[0] = ${ctx.next}; inH = 1; H[${k}](cpu, I[${k}]); inH = 0; /*RELOAD*/\n`;
    ctx.pend = 0;
    if (ROW_KIND[i.row] === 2) {
      body += `cpu.runCount += ${n}; return;\n`;
      ended = true;
    } else {
      body += `if (cpu.irqCheck || cpu.codePage !== PC) { cpu.runCount += ${k + 1}; return; }\n`;
    }
  }
  if (!ended) body += `${sync()} ${flushFlags(ctx.pend)} rip[0] = ${ctx.next}; cpu.runCount += ${n};\n`;
  let load = '';
  let reload = '';
  let spill = '';
  for (let r = 0; r < 16; r++) {
    if (!(used & (1 << r))) continue;
    load += long ? `let rg${r} = g[${r}]; let rh${r} = gh[${r}]; ` : `let rg${r} = g[${r}]; `;
    reload += long ? `rg${r} = g[${r}]; rh${r} = gh[${r}]; ` : `rg${r} = g[${r}]; `;
    spill += `if (dm & ${1 << r}) { g[${r}] = rg${r}; gh[${r}] = ${hiOf(r)}; } `;
  }
  body = body.replaceAll('/*RELOAD*/', reload);
  const src = `return function block_${eip.toString(16)}(cpu) {
const s = cpu.state; const g = s.gpr; const gh = s.gprHigh; const rip = s.rip;
const tt = cpu.tlbTag; const tp = cpu.tlbPerm; const tv = cpu.tlbView; const sf = cpu.segFlags;
const RP = cpu.acEnabled ? 0 : s.cpl === 3 ? ${TP_UR} : ${TP_SR}; const WP = cpu.acEnabled ? 0 : s.cpl === 3 ? ${TP_UW} : ${TP_SW};
let k = 0; let fp = 0; let fo = 0; let fd = 0; let fs = 0; let fr = 0; let frh = 0; let fa = 0; let dm = 0; let inH = 0;
${load}
try {
${ctx.loops ? `for (;;) {\n${body}}` : body}
} catch (err) {
  // Registers written since the CPU's copy was last made current (not while a handler runs: it
  // works on the CPU's copy itself).
  if (inH === 0) { ${spill} }
  if (fp !== 0) { cpu.lfOp = fo; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfResHi = frh; cpu.lfSize = fo === ${LF_ARITH64} ? 8 : 4; if (fo >= 6) cpu.lfAux = fa; }
  cpu.startEip = EIPS[k]; cpu.startRipHi = ${hi}; cpu.runCount += k;
  throw err;
}
};`;
  const factory = new Function('H', 'I', 'EIPS', 'PC', 'PARITY', 'EAX', src);
  const run = factory(handlers, insns, Uint32Array.from(eips), page, PARITY, eaExact) as (cpu: Cpu) => void;
  return new JitBlock(eip, hi, ctx.next, n, run, src.length);
}
