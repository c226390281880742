// The guest profiler (bare-boot.mjs --guest-prof): which guest code a boot's instructions and the
// host's time go to, by kernel function, and how the engine ran them (interpreted, compiled
// blocks, REP string iterations).
//
// It needs nothing from x86emu but the run loop's own calls: it wraps the block compiler's front,
// `Jit.enter` (an own property of the CPU's `Jit` shadowing the method), which the run loop calls
// at every instruction boundary where a block could run, and records segments between those
// calls:
//   - a compiled segment: the `enter` call that ran blocks (the chain it followed, the lookups
//     between them, a compile at the threshold), from its RIP;
//   - an interpreted segment: from an `enter` that declined (the interpreter steps that decode,
//     its straight run follows: cpu/straight-run.ts), or from the end of a compiled one, to the
//     next `enter` call: the interpreter's steps, straight runs, event deliveries, and the
//     machine's work between slices (devices, the PIT);
//   - a REP segment: an interpreted segment whose first instruction is a REP string instruction
//     (the step runs its iterations, up to the budget; no straight run follows one).
// A segment's instructions (exact: the CPU's retired count at both ends) and time go to the
// function at its first RIP. A chain of blocks or a straight run can cross into another function
// (a CALL or RET in the same page, a linked block after a call), so a callee's share can land on
// its caller: the figures are per entry point of a segment. With the compiler off (X86EMU_JIT=0)
// `Cpu.step` is wrapped instead: one segment per step and its straight run.
//
// Time: performance.now() costs ~60 ns here, more than a short segment, so one segment in
// `timeEvery` (a random countdown, mean `timeEvery`) is timed, and the sums are scaled by the
// segments counted over the segments timed; the report turns those wall-clock estimates into
// shares of the process's CPU time between attach() and report(). Kernel code is found in
// System.map (a table of 16-byte granules over the kernel's text, a binary search where a
// symbol starts inside a granule); module code (the kernel's module area) goes by 4 KiB page,
// user code (RIP[63:47] clear) to one bucket.

import { readFileSync } from 'node:fs';
import { OPCODE_TABLE } from '../../../packages/x86emu/dist/index.js';

const MODES = ['interp', 'compiled', 'rep'];
const INTERP = 0;
const COMPILED = 1;
const REP = 2;
/** Per function: for each mode, [instructions, sampled wall ms, segments]. */
const FIELDS = 3;
const STRIDE = MODES.length * FIELDS;
/** Blocks of one chain tracked one by one (the rest go to the last). */
const CHAIN = 1024;
const GRANULE_SHIFT = 4;
/** Granule table: no owning symbol (-1), several symbols start inside it (-2: binary search). */
const NONE = -1;
const SPLIT = -2;

/** Rows of REP string instructions (MOVS, STOS, ...): with a REP prefix, their iterations. */
const STRING_ROW = new Uint8Array(OPCODE_TABLE.length);
for (let i = 0; i < OPCODE_TABLE.length; i++)
  if (/^(MOVS|STOS|CMPS|SCAS|LODS|INS|OUTS)$/.test(OPCODE_TABLE[i].mnemonic)) STRING_ROW[i] = 1;

/** Kernel code symbols of `path` (System.map): low 32 bits of each address (all in the top 2 GiB), names. */
function readKernelSymbols(path) {
  const addrs = [];
  const names = [];
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { addrs: new Float64Array(0), names };
  }
  for (const line of text.split('\n')) {
    const m = /^ffffffff([0-9a-f]{8}) ([tTwW]) (\S+)/.exec(line);
    if (m === null) continue;
    addrs.push(Number.parseInt(m[1], 16));
    names.push(m[3]);
  }
  // nm -n sorts already; keep the table's order by address whatever the file's.
  const order = addrs.map((_, i) => i).sort((a, b) => addrs[a] - addrs[b]);
  return { addrs: Float64Array.from(order, (i) => addrs[i]), names: order.map((i) => names[i]) };
}

export class GuestProfiler {
  /**
   * @param systemMapPath System.map (`fetch.mjs --symbols`); without it every kernel RIP goes by page
   * @param opts.timeEvery one segment in this many is timed (mean; default 16)
   */
  constructor(systemMapPath, { timeEvery = 16, sampleEvery = 1 << 14, sites = false } = {}) {
    const { addrs, names } = readKernelSymbols(systemMapPath);
    this.symAddrs = addrs;
    this.names = names.slice();
    this.symbolCount = names.length;
    // The text the granule table covers: the kernel's symbols from the first, at most 256 MiB.
    this.textBase = addrs.length > 0 ? addrs[0] : 0;
    const span = addrs.length > 0 ? Math.min(addrs[addrs.length - 1] + 0x10000 - this.textBase, 1 << 28) : 0;
    this.textEnd = this.textBase + span;
    const granules = new Int32Array(Math.ceil(span / (1 << GRANULE_SHIFT))).fill(NONE);
    for (let i = 0; i < addrs.length; i++) {
      const off = addrs[i] - this.textBase;
      if (off >= span) break;
      const g = off >>> GRANULE_SHIFT;
      // A symbol at a granule's start owns it; one starting inside it makes the granule split.
      if ((off & ((1 << GRANULE_SHIFT) - 1)) === 0 && granules[g] !== SPLIT) granules[g] = i;
      else granules[g] = SPLIT;
      // It owns the granules after it up to the next symbol's.
      const nextOff = i + 1 < addrs.length ? Math.min(addrs[i + 1] - this.textBase, span) : span;
      for (let k = g + 1; k < nextOff >>> GRANULE_SHIFT; k++) granules[k] = i;
    }
    this.granules = granules;
    /** Buckets past the symbols: user code, then kernel pages without a symbol (modules), by page. */
    this.pageIds = new Map();
    this.acc = new Float64Array(this.names.length * STRIDE + 4096 * STRIDE);
    /** RIP samples per function (`sample`: one every `sampleEvery` instructions, on average). */
    this.samples = new Float64Array(this.names.length + 4096);
    this.timeEvery = Math.max(1, timeEvery);
    /**
     * With `sites`: RIP (folded to 48 bits) → [segments, instructions] of the interpreted segments
     * starting there: where cold code enters the interpreter, and why it is not compiled.
     */
    this.sites = sites ? new Map() : null;
    /** Segments opened, and of those timed (the time estimates' scale). */
    this.opens = 0;
    this.timedOpens = 0;
    this.sampleEvery = Math.max(1, sampleEvery);
    this.countdown = 1;
    this.seed = 0x9e3779b9;
    // The open segment.
    this.segStart = 0;
    this.segId = -1;
    this.segMode = INTERP;
    this.segT0 = -1;
    this.cpu = null;
    this.cpu0 = null;
    this.marks = [];
    /**
     * Spans (`span`): each one's summary, kept small; the totals the open span started from; and
     * the functions it touched, each with its sums when first touched (`touch`), so that closing a
     * span costs what it touched, not a pass over every kernel symbol.
     */
    this.spans = [];
    this.spanFrom = null;
    this.spanBase = null;
    /** Host ms spent closing spans, taken out of the segment it fell in and of the CPU totals. */
    this.overheadMs = 0;
  }

  /** @private Before `id`'s sums change: its sums at the open span's start, when first touched. */
  touch(id) {
    const base = this.spanBase;
    if (base === null || base.has(id)) return;
    const b = new Float64Array(STRIDE + 1);
    b.set(this.acc.subarray(id * STRIDE, id * STRIDE + STRIDE));
    b[STRIDE] = this.samples[id];
    base.set(id, b);
  }

  /** @private */
  addName(name) {
    this.names.push(name);
    return this.names.length - 1;
  }

  /** The function (bucket) id of RIP `lo`/`hi` (its 32-bit halves). */
  funcId(lo, hi) {
    if (hi === 0xffffffff) {
      if (lo >= this.textBase && lo < this.textEnd) {
        const g = this.granules[(lo - this.textBase) >>> GRANULE_SHIFT];
        if (g >= 0) return g;
        if (g === SPLIT) return this.search(lo);
      }
    }
    return this.pageId(lo, hi);
  }

  /** The last symbol at or below `lo`. */
  search(lo) {
    const a = this.symAddrs;
    let l = 0;
    let h = a.length - 1;
    while (l < h) {
      const mid = (l + h + 1) >> 1;
      if (a[mid] <= lo) l = mid;
      else h = mid - 1;
    }
    return l;
  }

  /**
   * A bucket for the 4 KiB page of a RIP outside the kernel's symbols: user code (busybox is
   * stripped) and module code (the kernel's module area).
   */
  pageId(lo, hi) {
    const page = hi * 0x100000 + (lo >>> 12);
    let id = this.pageIds.get(page);
    if (id === undefined) {
      const va = `0x${hi === 0 ? '' : hi.toString(16)}${((lo & ~0xfff) >>> 0).toString(16).padStart(hi === 0 ? 1 : 8, '0')}`;
      id = this.addName(hi < 0x8000 ? `[user ${va}]` : `[kernel page ${va}]`);
      this.pageIds.set(page, id);
      if ((id + 1) * STRIDE > this.acc.length) {
        const grown = new Float64Array(this.acc.length * 2);
        grown.set(this.acc);
        this.acc = grown;
        const samples = new Float64Array(this.samples.length * 2);
        samples.set(this.samples);
        this.samples = samples;
      }
    }
    return id;
  }

  /** A random whole number, uniform in 1 … 2·mean−1 (xorshift32): so that no loop's period lines up with it. */
  draw(mean) {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return 1 + (this.seed % (2 * mean - 1));
  }

  /** Opens a segment at instruction count `n`, for function `id`; timed one time in `timeEvery`. */
  open(n, id, mode, now) {
    if (this.sites !== null) {
      const rip = this.cpu.state.rip;
      // RIP folded to 48 bits (a double holds it exactly; 64 bits would round to 2 KiB).
      this.segRip = (rip[1] & 0xffff) * 4294967296 + rip[0];
    }
    this.segStart = n;
    this.segId = id;
    this.segMode = mode;
    this.opens++;
    if (--this.countdown === 0) {
      this.countdown = this.draw(this.timeEvery);
      this.segT0 = now >= 0 ? now : performance.now();
      this.timedOpens++;
    } else this.segT0 = -1;
  }

  /** Closes the open segment at instruction count `n`; returns the time read (or -1). */
  close(n) {
    const id = this.segId;
    if (id < 0) return -1;
    const at = id * STRIDE + this.segMode * FIELDS;
    const acc = this.acc;
    this.touch(id);
    if (n > this.segStart) {
      acc[at] += n - this.segStart;
      acc[at + 2]++;
      if (this.sites !== null && this.segMode === INTERP) {
        const site = this.sites.get(this.segRip);
        if (site === undefined) this.sites.set(this.segRip, [1, n - this.segStart]);
        else {
          site[0]++;
          site[1] += n - this.segStart;
        }
      }
    }
    if (this.segT0 < 0) return -1;
    const t = performance.now();
    acc[at + 1] += t - this.segT0;
    return t;
  }

  /**
   * Closes the open segment, a chain of compiled blocks, at instruction count `n`: each block's
   * instructions to its function (`ids[i]`, from count `starts[i]` to the next block's), its time,
   * when timed, shared out in proportion to them (the lookup before the first block included).
   * Returns the time read (or -1).
   */
  closeChain(n, ids, starts, len) {
    const acc = this.acc;
    const total = n - this.segStart;
    const dt = this.segT0 >= 0 ? performance.now() - this.segT0 : -1;
    if (len === 0 || total <= 0) {
      this.segMode = COMPILED;
      const at = this.segId * STRIDE + COMPILED * FIELDS;
      this.touch(this.segId);
      if (total > 0) {
        acc[at] += total;
        acc[at + 2]++;
      }
      if (dt >= 0) acc[at + 1] += dt;
    } else {
      for (let i = 0; i < len; i++) {
        const insns = (i + 1 < len ? starts[i + 1] : n) - starts[i];
        if (insns <= 0) continue;
        const at = ids[i] * STRIDE + COMPILED * FIELDS;
        this.touch(ids[i]);
        acc[at] += insns;
        acc[at + 2]++;
        if (dt >= 0) acc[at + 1] += (dt * insns) / total;
      }
    }
    this.segId = -1;
    return dt >= 0 ? this.segT0 + dt : -1;
  }

  /** Starts profiling `cpu` (a bare-boot machine's): wraps `cpu.jit.enter`, or `cpu.step` without a compiler. */
  attach(cpu) {
    this.cpu = cpu;
    this.cpu0 = process.cpuUsage();
    this.wall0 = performance.now();
    const prof = this;
    const count = () => cpu.instructionsRetired + cpu.runCount;
    const s = cpu.state;
    const jit = cpu.jit;
    if (jit !== null) {
      // The blocks a chain ran, in order: their functions and the instruction count at each.
      const chainIds = new Int32Array(CHAIN);
      const chainStarts = new Float64Array(CHAIN);
      let chainLen = 0;
      const enter = jit.enter;
      jit.enter = function profiledEnter(c, pre) {
        const n = count();
        const t = prof.close(n);
        chainLen = 0;
        prof.open(n, prof.funcId(s.rip[0], s.rip[1]), INTERP, t);
        const ran = enter.call(this, c, pre);
        if (ran) {
          const n2 = count();
          const t2 = prof.closeChain(n2, chainIds, chainStarts, chainLen);
          prof.open(n2, prof.funcId(s.rip[0], s.rip[1]), INTERP, t2);
        } else if (pre.rep !== 0 && STRING_ROW[pre.row] === 1) prof.segMode = REP;
        return ran;
      };
      // Each compiled function, as it is made, wrapped to note its start in the chain: a chain
      // crosses functions (a call, the return thunk), and its instructions go to each block's
      // function, not to the chain's first. The block's function is known when it is wrapped.
      const compile = jit.compile;
      const wrapped = new WeakSet();
      const wrapBlock = (b) => {
        if (b === null || wrapped.has(b)) return;
        wrapped.add(b);
        const run = b.run;
        const id = prof.funcId(b.eip, b.ripHi);
        b.run = (c) => {
          if (chainLen < CHAIN) {
            chainIds[chainLen] = id;
            chainStarts[chainLen] = count();
            chainLen++;
          }
          return run(c);
        };
      };
      jit.compile = function profiledCompile(...args) {
        compile.apply(this, args);
        // The block compiled at this decode, and a wasm batch's riders (the owners list's tail).
        for (let i = this.owners.length - 1; i >= 0 && !wrapped.has(this.owners[i].jitBlock); i--)
          wrapBlock(this.owners[i].jitBlock);
      };
    } else {
      const step = cpu.step;
      cpu.step = function profiledStep(pre) {
        const n = count();
        const t = prof.close(n);
        prof.open(n, prof.funcId(s.rip[0], s.rip[1]), INTERP, t);
        const insn = step.call(this, pre);
        if (insn.rep !== 0 && STRING_ROW[insn.row] === 1) prof.segMode = REP;
        return insn;
      };
    }
  }

  /**
   * Instructions to the next RIP sample (the bare run loop stops the CPU there: bootOnBareCpu's
   * `sampler`): random, mean `sampleEvery`. A run stopped at a budget is exact (x86emu's lockstep
   * tests), so sampling changes no instruction; at most one block per sample runs interpreted.
   */
  interval() {
    return this.draw(this.sampleEvery);
  }

  /** A RIP sample: the function the CPU stopped in. */
  sample(cpu) {
    const id = this.funcId(cpu.state.rip[0], cpu.state.rip[1]);
    this.touch(id);
    this.samples[id]++;
  }

  /** A phase ends here (a console milestone): its name, and a copy of the sums so far. */
  mark(name) {
    this.marks.push(this.snapshot(name));
  }

  /**
   * A span ends (with `name`) or starts (`name` null) here: the bare boot's `--prof-initcalls`
   * makes one of each initcall, from its "calling" line to its "returned" line. Only the span's
   * summary is kept (totals by mode, its top functions), not a copy of the sums as a mark keeps,
   * so that a thousand spans cost no more memory than one.
   */
  span(name) {
    const t0 = performance.now();
    const totals = this.totals(name ?? '');
    const base = this.spanBase;
    if (name !== null && this.spanFrom !== null && base !== null) {
      // The touched functions only, as two small marks over them (summarize's a and b).
      const ids = [...base.keys()];
      const k = ids.length;
      const a = {
        ...this.spanFrom,
        acc: new Float64Array(k * STRIDE),
        samples: new Float64Array(k),
        names: k,
      };
      const b = { ...totals, acc: new Float64Array(k * STRIDE), samples: new Float64Array(k), names: k };
      ids.forEach((id, i) => {
        const from = base.get(id);
        a.acc.set(from.subarray(0, STRIDE), i * STRIDE);
        a.samples[i] = from[STRIDE];
        b.acc.set(this.acc.subarray(id * STRIDE, id * STRIDE + STRIDE), i * STRIDE);
        b.samples[i] = this.samples[id];
      });
      const p = this.summarize(
        a,
        b,
        ids.map((id) => this.names[id]),
      );
      this.spans.push({
        name,
        insns: p.insns,
        cpuS: p.cpuS,
        modes: p.modes,
        top: p.funcs.slice(0, 4).map((f) => `${f.name} ${f.cpuS.toFixed(3)}`),
      });
    }
    this.spanFrom = totals;
    this.spanBase = new Map();
    // Out of the open segment's time and of the CPU totals: the profiler's own work.
    const dt = performance.now() - t0;
    this.overheadMs += dt;
    if (this.segT0 >= 0) this.segT0 += dt;
  }

  /** @private The totals so far (CPU less the profiler's own span work), without the sums. */
  totals(name) {
    const cpuUs = process.cpuUsage(this.cpu0);
    return {
      name,
      instructions: this.cpu.instructionsRetired + this.cpu.runCount,
      cpuS: (cpuUs.user + cpuUs.system) / 1e6 - this.overheadMs / 1000,
      wallS: (performance.now() - this.wall0 - this.overheadMs) / 1000,
      opens: this.opens,
      timedOpens: this.timedOpens,
    };
  }

  /** @private The sums so far, for a mark. */
  snapshot(name) {
    return {
      ...this.totals(name),
      acc: this.acc.slice(),
      samples: this.samples.slice(),
      names: this.names.length,
    };
  }

  /**
   * The report as markdown lines: totals by mode, the phases (to each mark), and the functions
   * sorted by estimated CPU time (`top` rows), each with instructions, CPU time, instructions per
   * µs and the share of its instructions interpreted, compiled and in REP strings.
   */
  report({ top = 40, phaseTop = 6, spanTop = 30 } = {}) {
    this.close(this.cpu.instructionsRetired + this.cpu.runCount);
    this.segId = -1;
    this.mark('end');
    const lines = [];
    let prev = {
      name: 'start',
      instructions: 0,
      cpuS: 0,
      wallS: 0,
      acc: new Float64Array(0),
      samples: new Float64Array(0),
      opens: 0,
      timedOpens: 0,
    };
    const whole = this.summarize(prev, this.marks[this.marks.length - 1]);
    const jit = this.cpu.jit;
    lines.push(
      `Guest profile: ${fmtM(whole.insns)} instructions, ${whole.cpuS.toFixed(1)} CPU s ` +
        `(${(whole.insns / whole.cpuS / 1e6).toFixed(1)} MIPS); ${fmtM(whole.segs)} segments, ` +
        `one in ${this.timeEvery} timed (wall ${whole.wallS.toFixed(1)} s, estimated from the timed ${whole.estWallS.toFixed(1)} s); ` +
        `${whole.samples} RIP samples (one per ${this.sampleEvery} instructions on average)` +
        (jit !== null
          ? `; the compiler: ${jit.stats.compiled} blocks compiled in ${(jit.stats.compileMs / 1000).toFixed(2)} s, ` +
            `${jit.stats.flushes} flushes, threshold ${jit.hot}`
          : '; the compiler off'),
      '',
      '| mode | instructions | % | CPU s (est.) | % | instructions/µs | segments | instructions/segment |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (let m = 0; m < MODES.length; m++) {
      const r = whole.modes[m];
      lines.push(
        `| ${MODES[m]} | ${fmtM(r.insns)} | ${pct(r.insns, whole.insns)} | ${r.cpuS.toFixed(2)} | ${pct(r.cpuS, whole.cpuS)} | ` +
          `${rate(r.insns, r.cpuS)} | ${fmtM(r.segs)} | ${(r.insns / Math.max(1, r.segs)).toFixed(1)} |`,
      );
    }
    // Where: the kernel's text, module code, user code.
    lines.push(
      '',
      '| code | instructions | % | CPU s (est.) | % | instructions/µs | interp % (CPU) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [label, test] of [
      ['kernel text (System.map)', (f) => !f.name.startsWith('[')],
      ['kernel, outside the text (modules)', (f) => f.name.startsWith('[kernel page')],
      ['user', (f) => f.name.startsWith('[user')],
    ]) {
      const fs = whole.funcs.filter(test);
      const insns = fs.reduce((t, f) => t + f.insns, 0);
      const cpuS = fs.reduce((t, f) => t + f.cpuS, 0);
      const interp = fs.reduce((t, f) => t + f.modes[INTERP].cpuS, 0);
      lines.push(
        `| ${label} | ${fmtM(insns)} | ${pct(insns, whole.insns)} | ${cpuS.toFixed(2)} | ${pct(cpuS, whole.cpuS)} | ` +
          `${rate(insns, cpuS)} | ${pct(interp, cpuS)} |`,
      );
    }
    lines.push(
      '',
      '| phase (to the console line) | instructions | CPU s | MIPS | interp / compiled / rep (% of instructions) | interp / compiled / rep (CPU s) | top functions by CPU s |',
      '| --- | ---: | ---: | ---: | --- | --- | --- |',
    );
    for (const mk of this.marks) {
      const p = this.summarize(prev, mk);
      const topF = p.funcs
        .slice(0, phaseTop)
        .map((f) => `${f.name} ${f.cpuS.toFixed(2)}`)
        .join(', ');
      lines.push(
        `| ${mk.name} | ${fmtM(p.insns)} | ${p.cpuS.toFixed(2)} | ${(p.insns / p.cpuS / 1e6).toFixed(1)} | ` +
          `${p.modes.map((r) => pct(r.insns, p.insns)).join(' / ')} | ${p.modes.map((r) => r.cpuS.toFixed(2)).join(' / ')} | ${topF} |`,
      );
      prev = mk;
    }
    if (this.spans.length > 0) {
      const cpuS = this.spans.reduce((t, s) => t + s.cpuS, 0);
      const insns = this.spans.reduce((t, s) => t + s.insns, 0);
      lines.push(
        '',
        `Initcalls by CPU time (${this.spans.length}, ${fmtM(insns)} instructions, ${cpuS.toFixed(2)} CPU s in all; each from its "calling" line to its "returned" line, the kworkers that ran meanwhile included):`,
        '',
        '| initcall | instructions | CPU s | MIPS | interp / compiled / rep (% of instructions) | interp / compiled / rep (CPU s) | top functions by CPU s |',
        '| --- | ---: | ---: | ---: | --- | --- | --- |',
      );
      for (const s of [...this.spans].sort((a, b) => b.cpuS - a.cpuS).slice(0, spanTop))
        lines.push(
          `| ${s.name} | ${fmtM(s.insns)} | ${s.cpuS.toFixed(3)} | ${rate(s.insns, s.cpuS)} | ` +
            `${s.modes.map((r) => pct(r.insns, s.insns)).join(' / ')} | ${s.modes.map((r) => r.cpuS.toFixed(3)).join(' / ')} | ${s.top.join(', ')} |`,
        );
    }
    const table = (title, funcs) => {
      lines.push(
        '',
        title,
        '',
        '| # | function | instructions (RIP samples) | % | instructions (segments) | CPU s (est.) | % | instructions/µs | interp / compiled / rep (% of instructions) | interp / compiled / rep (CPU s) | segments | instructions/segment |',
        '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |',
      );
      funcs.slice(0, top).forEach((f, i) => {
        const sampled = whole.samples > 0 ? (f.samples / whole.samples) * whole.insns : 0;
        lines.push(
          `| ${i + 1} | ${f.name} | ${fmtM(sampled)} | ${pct(sampled, whole.insns)} | ${fmtM(f.insns)} | ${f.cpuS.toFixed(2)} | ` +
            `${pct(f.cpuS, whole.cpuS)} | ${rate(f.insns, f.cpuS)} | ${f.modes.map((r) => pct(r.insns, f.insns)).join(' / ')} | ` +
            `${f.modes.map((r) => r.cpuS.toFixed(2)).join(' / ')} | ${fmtM(f.segs)} | ${(f.insns / Math.max(1, f.segs)).toFixed(1)} |`,
        );
      });
    };
    table('Functions by CPU time:', whole.funcs);
    table(
      'Functions by interpreted CPU time:',
      whole.funcs.slice().sort((x, y) => y.modes[INTERP].cpuS - x.modes[INTERP].cpuS),
    );
    table(
      'Functions by instructions (RIP samples):',
      whole.funcs.slice().sort((x, y) => y.samples - x.samples),
    );
    if (this.sites !== null) {
      const siteTable = (title, order) => {
        lines.push(
          '',
          title,
          '',
          '| # | RIP | function | segments | instructions | instructions/segment |',
          '| ---: | --- | --- | ---: | ---: | ---: |',
        );
        [...this.sites.entries()]
          .sort(order)
          .slice(0, top)
          .forEach(([rip, [segs, insns]], i) => {
            const hi16 = Math.floor(rip / 4294967296);
            const lo = rip - hi16 * 4294967296;
            const hi = (hi16 >= 0x8000 ? 0xffff0000 | hi16 : hi16) >>> 0;
            const id = this.funcId(lo, hi);
            const off = id < this.symbolCount ? `+0x${(lo - this.symAddrs[id]).toString(16)}` : '';
            lines.push(
              `| ${i + 1} | 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} | ${this.names[id]}${off} | ${fmtM(segs)} | ` +
                `${fmtM(insns)} | ${(insns / segs).toFixed(1)} |`,
            );
          });
      };
      siteTable(
        'Interpreted segments by the RIP they start at (the whole run):',
        (x, y) => y[1][1] - x[1][1],
      );
      // Short segments cost a boundary each (a block's exit, the run loop, a step, a lookup) for
      // little work: the RIPs that open the most segments are where compiled code keeps stopping.
      siteTable(
        'Interpreted segments by the RIP they start at, most segments first:',
        (x, y) => y[1][0] - x[1][0],
      );
    }
    return lines;
  }

  /**
   * Sums between two marks: per mode and per function, the wall time estimated from the timed
   * segments and scaled to the CPU time between the marks. `names`: the functions' names by index
   * into the marks' sums (a span's marks hold only the functions it touched).
   * @private
   */
  summarize(a, b, names = this.names) {
    const n = b.names;
    let segs = 0;
    let wallMs = 0;
    for (let id = 0; id < n; id++) {
      for (let m = 0; m < MODES.length; m++) {
        const at = id * STRIDE + m * FIELDS;
        segs += b.acc[at + 2] - (a.acc[at + 2] ?? 0);
        wallMs += b.acc[at + 1] - (a.acc[at + 1] ?? 0);
      }
    }
    // Timed wall ms × (segments opened / those timed) = the estimated wall time; each
    // function's share of it is its share of the CPU time between the marks.
    const opens = b.opens - a.opens;
    const timed = b.timedOpens - a.timedOpens;
    const cpuS = b.cpuS - a.cpuS;
    const estWallS = timed > 0 ? (wallMs * opens) / timed / 1000 : 0;
    const toCpuS = estWallS > 0 ? ((cpuS / estWallS) * (opens / timed)) / 1000 : 0;
    const modes = MODES.map(() => ({ insns: 0, cpuS: 0, segs: 0 }));
    const funcs = [];
    let insns = 0;
    let samples = 0;
    for (let id = 0; id < n; id++) {
      const f = { name: names[id], insns: 0, cpuS: 0, segs: 0, samples: 0, modes: [] };
      f.samples = b.samples[id] - (a.samples[id] ?? 0);
      samples += f.samples;
      for (let m = 0; m < MODES.length; m++) {
        const at = id * STRIDE + m * FIELDS;
        const r = {
          insns: b.acc[at] - (a.acc[at] ?? 0),
          cpuS: (b.acc[at + 1] - (a.acc[at + 1] ?? 0)) * toCpuS,
          segs: b.acc[at + 2] - (a.acc[at + 2] ?? 0),
        };
        f.modes.push(r);
        f.insns += r.insns;
        f.cpuS += r.cpuS;
        f.segs += r.segs;
        modes[m].insns += r.insns;
        modes[m].cpuS += r.cpuS;
        modes[m].segs += r.segs;
      }
      insns += f.insns;
      if (f.segs > 0 || f.samples > 0) funcs.push(f);
    }
    funcs.sort((x, y) => y.cpuS - x.cpuS || y.insns - x.insns);
    return { insns, cpuS, wallS: b.wallS - a.wallS, estWallS, segs, samples, modes, funcs };
  }
}

const fmtM = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n}`;
const pct = (x, total) => (total > 0 ? `${((100 * x) / total).toFixed(1)}` : '0');
const rate = (insns, cpuS) => (cpuS > 0 ? (insns / cpuS / 1e6).toFixed(1) : '–');
