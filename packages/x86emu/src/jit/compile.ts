/**
 * The block compiler: a run of decoded instructions of one physical page (from the decode cache,
 * so every one of them has already run in the interpreter) becomes one JavaScript function.
 * Specialised instructions are inlined (emit.ts); any other allowed instruction calls the
 * interpreter's own handler with RIP and `startEip` set as `Cpu.step` sets them. Exactness:
 * - a fault or intercept exit unwinds through the function's catch, which stores the pending
 *   flags, points `startEip` at the faulting instruction and counts the ones before it, so
 *   `Cpu.run`'s handler restores RIP and delivers exactly as after `step()`; a #PF of an inline
 *   memory operand's slow path does the same without a throw (`unwinding` set, the tail after
 *   label U, then `Cpu.run`'s `finishUnwind`);
 * - after any instruction that touched memory or ran a handler, the block leaves (RIP at the next
 *   instruction) when an interrupt check is due (`irqCheck`: MMIO, a stop request) or when its
 *   own code page lost its decodes (a write into the block, or to its page: fetch.ts);
 * - the run loop's own checks are made at block entry (jit.ts).
 */
import { TP_SR, TP_SW, TP_UR, TP_UW } from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { PageCode } from '../cpu/fetch.js';
import type { Handler } from '../cpu/handler.js';
import { PARITY } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import { OPCODE_TABLE } from '../decoder/opcode-table.js';
import { BAILED, JitBlock } from './block.js';
import { type EmitCtx, emitInsn, exitLink, segConsts } from './emit.js';
import { sseConsts, xmmViews } from './emit-sse.js';
import { flagsDeadAfter } from './flag-liveness.js';
import { FLUSH_DYN, flushFlags, PEND_DYN } from './flags.js';
import { eaExact } from './mem64.js';
import type { RegionBlock } from './region.js';
import { ROW_KIND, repInBlock } from './rows.js';

/** The code of one block of a function, and what the function's preamble must provide. */
interface Generated {
  body: string;
  /** Registers read or written (loaded into locals at entry). */
  used: number;
  /** Registers the body writes in its locals. */
  written: number;
  /** It jumps to a block of its function. */
  loops: boolean;
}

/**
 * The code of one block: `insns` from EIP `eip`, numbered from `k0` in the function (`k`, the
 * index of EIPS and KOFF). `region` maps the EIPs of the function's blocks to [index, length].
 * `headRegs` is 0 where the block is all the function is and nothing jumps to it; else the
 * registers the function's blocks write, and the head is compiled for every way in: from the run
 * loop (flags in the CPU, registers clean) and from a block's jump (flags maybe pending in the
 * locals, those registers maybe not yet stored), so a jump needs neither stores nor a flag flush:
 * the flags' place is `fp` (PEND_DYN) and the registers' is `dm` until something settles them.
 */
function generate(
  insns: Insn[],
  eip: number,
  off: number,
  k0: number,
  region: Map<number, [number, number]>,
  long: boolean,
  hi: number,
  headRegs: number,
): Generated {
  const n = insns.length;
  const ctx: EmitCtx = {
    pend: headRegs !== 0 ? PEND_DYN : 0,
    eip,
    next: eip,
    length: n,
    region,
    loops: false,
    sync: '',
    long,
    hi,
    page0: eip - off,
    flagsDead: false,
  };
  let body = '';
  let ended = false;
  // Registers: `used` are loaded into locals at entry; `dirty` (statically) differ from the CPU's;
  // `maybe` may, as the runtime mask `dm` says (at a block's head).
  let used = 0;
  let dirty = 0;
  let maybe = headRegs & 0xffff;
  let written = 0;
  // A register's high half: 0 after a 32-bit write outside 64-bit mode; a local of its own there.
  const hiOf = (r: number): string => (long ? `rh${r}` : '0');
  const syncCode = (): string => {
    let c = '';
    for (let r = 0; r < 16; r++) {
      const store = `g[${r}] = rg${r}; gh[${r}] = ${hiOf(r)};`;
      if (dirty & (1 << r)) c += `${store} `;
      else if (maybe & (1 << r)) c += `if (dm & ${1 << r}) { ${store} } `;
    }
    return c;
  };
  const sync = (): string => {
    const c = syncCode();
    dirty = 0;
    maybe = 0;
    return c === '' ? '' : `${c}dm = 0;`;
  };
  for (let j = 0; j < n; j++) {
    const i = insns[j];
    const k = k0 + j;
    const row = OPCODE_TABLE[i.row];
    ctx.eip = ctx.next;
    ctx.next = ctx.eip + i.length;
    // A branch writes no register: its ways out store the ones the locals hold.
    ctx.sync = syncCode();
    ctx.flagsDead = flagsDeadAfter(insns, j);
    const e = emitInsn(i, row, ctx);
    if (e !== null) {
      for (const m of e.code.matchAll(/\br[gh](\d+)\b/g)) used |= 1 << Number(m[1]);
      // An inline form that does not cover the case at hand (emit-sse.ts) leaves the block before
      // the instruction, which the interpreter then runs: registers and flags stored, RIP at it.
      const code = e.code.replaceAll(
        '/*BAIL*/',
        `${syncCode()} ${flushFlags(ctx.pend)} rip[0] = ${ctx.eip}; cpu.runCount += ${j}; return BAILED;`,
      );
      body += `k = ${k}; ${code}\n`;
      for (const m of e.code.matchAll(/\br[gh](\d+) = /g)) dirty |= 1 << Number(m[1]);
      written |= dirty;
      if (e.branch) {
        // Every way out of a branch returns (or jumps to a block of the function) itself.
        ended = true;
      } else if (e.memory) {
        // Only the slow paths of Cpu.read/write (`ck`) can reach a device (an interrupt, a stop
        // request) or a code frame: the inline TLB hit cannot (code frames have no write right
        // in the TLB).
        const exit = syncCode();
        body += `if (ck !== 0) { ck = 0; if (cpu.irqCheck || cpu.codePage !== PC) { ${exit} ${flushFlags(ctx.pend)} rip[0] = ${ctx.next}; cpu.runCount += ${j + 1}; return; } }\n`;
      }
      continue;
    }
    // The interpreter's handler, entered as Cpu.step enters it, with the CPU's registers current
    // and the locals reloaded after it (it may write any register).
    if (repInBlock(i.rep, i.row)) {
      // A REP MOVS/STOS (rows.ts REP_IN_BLOCK) with `runCount` at it, so that its quota
      // (`Cpu.repQuota`) is exact; its iterations beyond the first come off `runLimit`
      // (`chargeIterations`) as in the interpreter. The block goes on after it unless it yielded
      // half done (RIP at it, `repInsn` set), events are due, the page was written, or the rest
      // of the block no longer fits the budget.
      body += `${sync()} ${flushFlags(ctx.pend)} k = ${k}; cpu.startEip = ${ctx.eip}; rip[0] = ${ctx.next}; inH = 1; cpu.runCount += ${j}; try { H[${k}](cpu, I[${k}]); } finally { cpu.runCount -= ${j}; } inH = 0; /*RELOAD*/\n`;
      ctx.pend = 0;
      body += `if (cpu.repInsn !== null || cpu.irqCheck || cpu.codePage !== PC || cpu.runLimit - cpu.runCount < ${n}) { cpu.runCount += ${j + 1}; return; }\n`;
      continue;
    }
    body += `${sync()} ${flushFlags(ctx.pend)} k = ${k}; cpu.startEip = ${ctx.eip}; rip[0] = ${ctx.next}; inH = 1; H[${k}](cpu, I[${k}]); inH = 0; /*RELOAD*/\n`;
    ctx.pend = 0;
    if (ROW_KIND[i.row] === 2) {
      body += `cpu.runCount += ${n}; return;\n`;
      ended = true;
    } else {
      body += `if (cpu.irqCheck || cpu.codePage !== PC) { cpu.runCount += ${j + 1}; return; }\n`;
    }
  }
  if (!ended) {
    // Cut short before the next instruction (length bound, or one that may not be in a block).
    const b = region.get(ctx.next);
    if (b === undefined)
      body += `${sync()} ${flushFlags(ctx.pend)} rip[0] = ${ctx.next}; cpu.runCount += ${n}; return ${exitLink(ctx, ctx.next, true)};\n`;
    else {
      ctx.loops = true;
      body += `cpu.runCount += ${n}; if (cpu.runLimit - cpu.runCount < ${b[1]}) { ${syncCode()} ${flushFlags(ctx.pend)} rip[0] = ${ctx.next}; return ${exitLink(ctx, ctx.next, true)}; } bb = ${b[0]}; continue;\n`;
    }
  }
  return { body, used, written, loops: ctx.loops };
}

/**
 * Compiles the region `blocks` (region.ts; the entry first), running from decode page `page`, into
 * one function. In 64-bit mode (`long`) `hi` is RIP[63:32], the same for every block: they lie in
 * one page and `collect` stops before RIP[31:0] would carry.
 */
export function compileRegion(blocks: RegionBlock[], page: PageCode, long = false, hi = 0): JitBlock {
  const insns: Insn[] = [];
  const eips: number[] = [];
  const koff: number[] = [];
  const k0: number[] = [];
  const region = new Map<number, [number, number]>();
  let end = 0;
  blocks.forEach((b, n) => {
    region.set(b.eip, [n, b.insns.length]);
    k0.push(insns.length);
    let e = b.eip;
    b.insns.forEach((i, j) => {
      insns.push(i);
      eips.push(e);
      koff.push(j);
      e += i.length;
    });
    end = Math.max(end, e);
  });
  const pass = (headRegs: number) =>
    blocks.map((b, n) => generate(b.insns, b.eip, b.off, k0[n], region, long, hi, headRegs));
  let gen = pass(0);
  // Blocks that jump to each other: again, every head compiled for the ways in from the others
  // (bit 16 keeps that so where the blocks write no register in their locals).
  const jumps = gen.some((g) => g.loops);
  if (jumps) {
    const written = gen.reduce((w, g) => w | g.written, 0);
    gen = pass(written | (1 << 16));
  }
  const used = gen.reduce((u, g) => u | g.used, 0);
  let load = '';
  let reload = '';
  let spill = '';
  for (let r = 0; r < 16; r++) {
    if (!(used & (1 << r))) continue;
    load += long ? `let rg${r} = g[${r}]; let rh${r} = gh[${r}]; ` : `let rg${r} = g[${r}]; `;
    reload += long ? `rg${r} = g[${r}]; rh${r} = gh[${r}]; ` : `rg${r} = g[${r}]; `;
    spill += `if (dm & ${1 << r}) { g[${r}] = rg${r}; gh[${r}] = ${long ? `rh${r}` : '0'}; } `;
  }
  // One block that loops: its body in a loop (its jumps set `bb` to 0 and continue); more: a switch.
  const code = !jumps
    ? gen[0].body
    : blocks.length === 1
      ? `let bb = 0;\nfor (;;) {\n${gen[0].body}}`
      : `let bb = 0;\nfor (;;) {\nswitch (bb) {\n${gen.map((g, n) => `case ${n}: {\n${g.body}}\n`).join('')}}\n}`;
  const body = code.replaceAll('/*RELOAD*/', reload);
  const eip = blocks[0].eip;
  const src = `return function block_${eip.toString(16)}(cpu) {
const s = cpu.state; const g = s.gpr; const gh = s.gprHigh; const rip = s.rip;
const tt = cpu.tlbTag; const tp = cpu.tlbPerm; const tv = cpu.tlbView; const sf = cpu.segFlags;
const RP = cpu.acEnabled ? 0 : s.cpl === 3 ? ${TP_UR} : ${TP_SR}; const WP = cpu.acEnabled ? 0 : s.cpl === 3 ? ${TP_UW} : ${TP_SW};
${segConsts(body)}${sseConsts(body)}
let k = 0; let fp = 0; let fo = 0; let fd = 0; let fs = 0; let fr = 0; let frh = 0; let fa = 0; let dm = 0; let inH = 0; let ck = 0;
${load}
try {
U: {
${body}
}
// A #PF from a memory operand's slow path (mem64.ts UNWIND; every other way out returns): as the
// catch below, with \`unwinding\` set instead of a throw (Cpu.run's finishUnwind delivers it; the
// faulting instruction counted here, as Cpu.run's catch counts it and as after a handler's unwind).
${spill}
${FLUSH_DYN}
cpu.startEip = EIPS[k]; cpu.startRipHi = ${hi}; cpu.runCount += KOFF[k] + 1;
return;
} catch (err) {
  // Registers written since the CPU's copy was last made current (not while a handler runs: it
  // works on the CPU's copy itself).
  if (inH === 0) { ${spill} }
  ${FLUSH_DYN}
  cpu.startEip = EIPS[k]; cpu.startRipHi = ${hi}; cpu.runCount += KOFF[k];
  throw err;
}
};`;
  const factory = new Function('H', 'I', 'EIPS', 'KOFF', 'PC', 'PARITY', 'EAX', 'XMMV', 'BAILED', src);
  const handlers: Handler[] = insns.map((i) => i.exec);
  const run = factory(
    handlers,
    insns,
    Uint32Array.from(eips),
    Uint16Array.from(koff),
    page,
    PARITY,
    eaExact,
    xmmViews,
    BAILED,
  ) as (cpu: Cpu) => Insn | undefined;
  return new JitBlock(eip, hi, end, blocks[0].insns.length, run, src.length, blocks.length);
}
