#!/usr/bin/env node
// The divergence finder: Debian's kernel on two bare x86emu machines (bare/machine.mjs) in one
// process, side A with a compiler (the wasm backend by default), side B the reference (the
// interpreter by default), run slice by slice with the same budgets (bare/run.mjs `bareSlice`:
// time is the instruction count, so two machines in the same state take the same slices). After
// every slice it compares the stop reason, the instruction count, RIP, RFLAGS, the sixteen
// registers, CR0/CR2/CR3/CR4, the selectors, the idle time, the console and all of RAM (a
// memcmp of the two buffers). At the first difference it replays both from the start to the last
// slice that agreed and runs on in smaller steps (4,096, then 64 instructions), so that the
// difference is pinned to a step of a few blocks; it then replays once more and runs that last
// step on B one instruction at a time, printing each instruction (RIP, kernel symbol, bytes,
// mnemonic, the registers it changed), the registers and RAM bytes that differ after it, and the
// wasm modules A compiled for that code page (saved with --dump DIR, to read with wasm2wat).
//
// Usage: node tools/linux/lockstep.mjs [options]
//   --a SIDE, --b SIDE  wasm | js | interp (default: --a wasm --b interp); wasm puts RAM in a
//                       WasmGuestMemory (64-bit regions to the wasm backend), js and interp a flat one
//   --hot N             the compilers' threshold (default X86EMU_JIT_HOT, else 20000)
//   --max-insns N       stop after N instructions (default 4e8)
//   --from N            start the fine steps at instruction N (skips the coarse scan)
//   --dump DIR          write the wasm modules of the diverging page to DIR
//   --append TEXT       kernel command line (default: boot-marker.mjs's BARE_CMDLINE)
// Environment: whatever x86emu reads (X86EMU_JIT_WASM64, ...) applies to both sides.
// Needs qemu-lite and x86emu built and the kernel fetched (tools/linux/README.md). Time: about
// the two machines' own (the memcmp of 256 MiB per slice adds ~10 %), and once more per replay.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecodeStatus, decode, Insn, OPCODE_TABLE, wasmBackend } from '../../packages/x86emu/dist/index.js';
import { applyEntryState, stateToSregs } from '../guests/dist/index.js';
import { LinuxBareMachine } from './bare/machine.mjs';
import { bareCpuid, bareSlice, readLinear } from './bare/run.mjs';
import { loadSymbols } from './bare/symbols.mjs';
import * as linux from './boot-marker.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const qemuLiteDist = join(here, '..', '..', 'apps', 'qemu-lite', 'dist', 'index.js');

/** The machines a side names: RAM kind and `CpuOptions.jit`. */
const SIDES = {
  interp: { memory: 'flat', jit: null },
  js: { memory: 'flat', jit: { backend: 'js' } },
  wasm: { memory: 'wasm', jit: { backend: 'wasm' } },
};

const REG = [
  'RAX',
  'RCX',
  'RDX',
  'RBX',
  'RSP',
  'RBP',
  'RSI',
  'RDI',
  'R8',
  'R9',
  'R10',
  'R11',
  'R12',
  'R13',
  'R14',
  'R15',
];
const hex = (n) => `0x${n.toString(16)}`;
const q = (s, r) => (BigInt(s.gprHigh[r] >>> 0) << 32n) | BigInt(s.gpr[r] >>> 0);
const ripOf = (s) => (BigInt(s.rip[1] >>> 0) << 32n) | BigInt(s.rip[0] >>> 0);

function parseArgs(argv) {
  const envHot = Number(process.env.X86EMU_JIT_HOT);
  const o = {
    a: 'wasm',
    b: 'interp',
    hot: Number.isFinite(envHot) && envHot > 0 ? envHot : 20000,
    maxInsns: 4e8,
    from: undefined,
    dump: undefined,
    append: linux.BARE_CMDLINE,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--a') o.a = next();
    else if (a === '--b') o.b = next();
    else if (a === '--hot') o.hot = Number(next());
    else if (a === '--max-insns') o.maxInsns = Number(next());
    else if (a === '--from') o.from = Number(next());
    else if (a === '--dump') o.dump = next();
    else if (a === '--append') o.append = next();
    else throw new Error(`unknown option ${a}`);
  }
  for (const s of [o.a, o.b]) if (!(s in SIDES)) throw new Error(`unknown side ${s} (wasm, js, interp)`);
  return o;
}

/** One booted machine of side `side`, at the kernel's entry; `modules` collects its wasm. */
function makeSide(env, side) {
  const spec = SIDES[side];
  const box = { side, console: '', modules: [] };
  // Compiled here, at the visit that reaches the threshold (no compile worker): runs repeat exactly.
  const jit = spec.jit === null ? false : { ...spec.jit, hot: env.o.hot, asyncCompile: false };
  const m = new LinuxBareMachine(env.ql, {
    ramSize: 256 << 20,
    cpuid: bareCpuid(false),
    memory: spec.memory,
    jit,
    onSerial: (b) => {
      box.console += String.fromCharCode(b);
    },
  });
  box.m = m;
  const loaded = env.load(env.image, m.loaderMachine(env.ql), { cmdline: env.o.append, initrd: env.initrd });
  applyEntryState(m.cpu.state, loaded.entry.sregs(stateToSregs(m.cpu.state)), loaded.entry.regs);
  m.cpu.stateChanged();
  if (spec.jit?.backend === 'wasm')
    wasmBackend(m.cpu).onModule = (bytes, regions) => box.modules.push({ bytes: bytes.slice(), regions });
  return box;
}

/** What differs between the two machines (empty: nothing). `ram` compares RAM too. */
function differences(A, B, ram) {
  const out = [];
  const a = A.m.cpu;
  const b = B.m.cpu;
  const sa = a.state;
  const sb = b.state;
  if (a.instructionsRetired !== b.instructionsRetired)
    out.push(`instructions ${a.instructionsRetired} vs ${b.instructionsRetired}`);
  if (ripOf(sa) !== ripOf(sb)) out.push(`RIP ${hex(ripOf(sa))} vs ${hex(ripOf(sb))}`);
  if (sa.rflags[0] !== sb.rflags[0]) out.push(`RFLAGS ${hex(sa.rflags[0])} vs ${hex(sb.rflags[0])}`);
  for (let r = 0; r < 16; r++)
    if (q(sa, r) !== q(sb, r)) out.push(`${REG[r]} ${hex(q(sa, r))} vs ${hex(q(sb, r))}`);
  for (const c of [0, 2, 3, 4])
    if (sa.cr[c] !== sb.cr[c]) out.push(`CR${c} ${hex(sa.cr[c])} vs ${hex(sb.cr[c])}`);
  for (let s = 0; s < 6; s++)
    if (sa.segSel[s] !== sb.segSel[s]) out.push(`selector ${s} ${sa.segSel[s]} vs ${sb.segSel[s]}`);
  if (A.m.idleNs !== B.m.idleNs) out.push(`idle ns ${A.m.idleNs} vs ${B.m.idleNs}`);
  if (A.console !== B.console)
    out.push(`console differs after ${commonPrefix(A.console, B.console)} characters`);
  if (ram) {
    const pages = ramPagesDiffering(A.m.ram, B.m.ram);
    if (pages.length > 0)
      out.push(
        `RAM differs in ${pages.length} page(s): ${pages
          .slice(0, 8)
          .map((p) => hex(p * 4096))
          .join(' ')}`,
      );
  }
  return out;
}

function commonPrefix(x, y) {
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

/** The 4 KiB frames whose bytes differ (memcmp of the whole RAM first, then page by page). */
function ramPagesDiffering(x, y) {
  const bx = Buffer.from(x.buffer, x.byteOffset, x.length);
  const by = Buffer.from(y.buffer, y.byteOffset, y.length);
  if (bx.equals(by)) return [];
  const pages = [];
  for (let p = 0; p * 4096 < x.length; p++)
    if (bx.compare(by, p * 4096, p * 4096 + 4096, p * 4096, p * 4096 + 4096) !== 0) pages.push(p);
  return pages;
}

/**
 * Runs a fresh pair: slices of up to `coarse` instructions before instruction `fine.from`, of up
 * to `fine.step` after it, compared after each; stops at the first difference, at `until`, or
 * when either machine's run ends. Returns the pair, the last instruction count where the two
 * agreed (`good`), and the differences (empty: none by `until`).
 */
function replay(env, { until, from = Number.POSITIVE_INFINITY, step = 1 << 20, onBefore }) {
  const A = makeSide(env, env.o.a);
  const B = makeSide(env, env.o.b);
  let good = 0;
  let nextNote = 5e7;
  for (;;) {
    const n = B.m.cpu.instructionsRetired;
    if (n >= until) return { A, B, good, diffs: [] };
    if (A.m.stopCause !== undefined || B.m.stopCause !== undefined)
      return { A, B, good, diffs: [], ended: `reset at ${n}` };
    if (n >= nextNote) {
      console.error(`lockstep: ${(n / 1e6).toFixed(0)} M instructions agree`);
      nextNote += 5e7;
    }
    const cap = n < from ? Math.min(1 << 20, from - n, until - n) : Math.min(step, until - n);
    onBefore?.(A, B, cap);
    const ra = bareSlice(A.m, cap);
    const rb = bareSlice(B.m, cap);
    const diffs = differences(A, B, true);
    if (ra.why !== rb.why) diffs.unshift(`stop reason ${ra.why} vs ${rb.why}`);
    if (diffs.length > 0) return { A, B, good, diffs };
    if (ra.ending !== undefined) return { A, B, good, diffs: [], ended: ra.ending };
    good = B.m.cpu.instructionsRetired;
  }
}

/** The instruction at B's RIP, decoded: [bytes, 'MNEMONIC operands']. */
function insnAt(B) {
  const s = B.m.cpu.state;
  const text = readLinear(B.m, ripOf(s), 15);
  const bytes = text === '' ? [] : text.split(' ').map((h) => Number.parseInt(h, 16));
  const insn = new Insn();
  const long = (s.efer[0] & 0x400) !== 0 && B.m.cpu.long64;
  let len = 0;
  try {
    if (decode({ fetchByte: (i) => bytes[i] ?? 0 }, insn, true, long) === DecodeStatus.Ok) len = insn.length;
  } catch {
    len = 0;
  }
  const row = len > 0 ? OPCODE_TABLE[insn.row] : undefined;
  return [
    bytes
      .slice(0, len > 0 ? len : 15)
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(' '),
    row ? `${row.mnemonic} ${row.operands}` : '?',
  ];
}

/** Runs the last step again on B one instruction at a time (A in one slice), printing each. */
function traceStep(env, good, step) {
  const { A, B } = replay(env, { until: good, from: good, step });
  const sym = env.symbols.lookup;
  const pagesTouched = new Set();
  const lines = [];
  const target = good + step;
  // A's compiled blocks, each run logged (entry, exit, instructions, registers changed).
  const blockLog = [];
  const sa = A.m.cpu.state;
  for (const owner of A.m.cpu.jit?.owners ?? []) {
    const blk = owner.jitBlock;
    if (blk === null || blk.lockstepRun !== undefined) continue;
    blk.lockstepRun = blk.run;
    blk.run = (cpu) => {
      const before = [...Array(16).keys()].map((r) => q(sa, r));
      const rip = ripOf(sa);
      const n0 = cpu.instructionsRetired + cpu.runCount;
      const next = blk.lockstepRun(cpu);
      const changed = before
        .map((v, r) => (q(sa, r) !== v ? `${REG[r]}=${hex(q(sa, r))}` : ''))
        .filter((x) => x !== '')
        .join(' ');
      blockLog.push(
        `  ${n0} block ${hex(rip)} ${sym(rip) || ''} → ${hex(ripOf(sa))}, ${cpu.instructionsRetired + cpu.runCount - n0} insns${changed ? `  → ${changed}` : ''} fl=${hex(sa.rflags[0] & 0x8d5)} lfOp=${cpu.lfOp}`,
      );
      return next;
    };
  }
  bareSlice(A.m, step);
  const end = A.m.cpu.instructionsRetired;
  while (B.m.cpu.instructionsRetired < Math.min(target, end)) {
    const s = B.m.cpu.state;
    const before = [...Array(16).keys()].map((r) => q(s, r));
    const rip = ripOf(s);
    pagesTouched.add(`${s.rip[1]}:${s.rip[0] >>> 12}`);
    const [bytes, what] = insnAt(B);
    const n = B.m.cpu.instructionsRetired;
    bareSlice(B.m, 1);
    const changed = before
      .map((v, r) => (q(s, r) !== v ? `${REG[r]}=${hex(q(s, r))}` : ''))
      .filter((x) => x !== '')
      .join(' ');
    lines.push(
      `  ${n} ${hex(rip)} ${sym(rip) || ''} [${bytes}] ${what}${changed ? `  → ${changed}` : ''} fl=${hex(s.rflags[0] & 0x8d5)}`,
    );
  }
  console.log(`B (${env.o.b}) instruction by instruction from ${good}:`);
  for (const l of lines) console.log(l);
  console.log(`A (${env.o.a}): its compiled blocks that ran (the rest interpreted):`);
  for (const l of blockLog) console.log(l);
  console.log(`after them, A (${env.o.a}) vs B:`);
  for (const d of differences(A, B, true)) console.log(`  ${d}`);
  const pages = ramPagesDiffering(A.m.ram, B.m.ram);
  for (const p of pages.slice(0, 4)) {
    const at = [];
    for (let i = p * 4096; i < p * 4096 + 4096 && at.length < 16; i++)
      if (A.m.ram[i] !== B.m.ram[i])
        at.push(`${hex(i)}: ${A.m.ram[i].toString(16)} vs ${B.m.ram[i].toString(16)}`);
    console.log(`  RAM ${at.join(', ')}`);
  }
  // The wasm A compiled for the code pages B went through (one function per region).
  const mods = A.modules.filter((mod) =>
    mod.regions.some((r) => pagesTouched.has(`${r.hi}:${r.eip >>> 12}`)),
  );
  console.log(`A's wasm modules for those code pages: ${mods.length}`);
  mods.forEach((mod, n) => {
    const regions = mod.regions
      .map((r, f) => `f${f} ${hex(r.hi)}:${hex(r.eip)} (${r.insns} insns${r.long ? ', 64-bit' : ''})`)
      .join('; ');
    console.log(`  module ${n}: ${mod.bytes.length} bytes: ${regions}`);
    if (env.o.dump !== undefined) {
      mkdirSync(env.o.dump, { recursive: true });
      writeFileSync(join(env.o.dump, `module-${n}.wasm`), mod.bytes);
    }
  });
  if (env.o.dump !== undefined && mods.length > 0) console.log(`  written to ${env.o.dump}/module-*.wasm`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const files = linux.linuxFiles();
  if (!files.ok) {
    console.error(`lockstep: ${files.why}`);
    process.exit(2);
  }
  const ql = await import(qemuLiteDist);
  const env = {
    o,
    ql,
    image: new Uint8Array(readFileSync(linux.kernelPath)),
    initrd: new Uint8Array(readFileSync(linux.initramfsPath)),
    load: linux.bareLoader(ql, 'kernel'),
    symbols: loadSymbols(linux.systemMapPath),
  };
  console.error(`lockstep: A ${o.a}, B ${o.b}, threshold ${o.hot}, up to ${o.maxInsns} instructions`);
  let good = o.from ?? 0;
  let step = 1 << 20;
  if (o.from === undefined) {
    const r = replay(env, { until: o.maxInsns });
    if (r.diffs.length === 0) {
      console.log(
        `lockstep: no difference in ${r.B.m.cpu.instructionsRetired} instructions${r.ended ? ` (${r.ended})` : ''}`,
      );
      return;
    }
    console.log(`lockstep: first difference in the slice after ${r.good} instructions:`);
    for (const d of r.diffs) console.log(`  ${d}`);
    good = r.good;
  }
  for (const fine of [4096, 64]) {
    const r = replay(env, { until: good + step, from: good, step: fine });
    if (r.diffs.length === 0) {
      console.log(
        `lockstep: in steps of ${fine} from ${good} no difference by ${good + step}: the step of ${step} stays the finest`,
      );
      break;
    }
    console.log(`lockstep: in steps of ${fine}, first difference after ${r.good}:`);
    for (const d of r.diffs) console.log(`  ${d}`);
    good = r.good;
    step = fine;
  }
  if (step <= 4096) traceStep(env, good, step);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
