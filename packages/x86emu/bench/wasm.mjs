// The block compiler's two backends side by side in one run (issue 18: "JavaScript functions — or
// WebAssembly, as v86 does; measure both on a prototype and choose"), CPU seconds:
//  1. steady state: the integer loop of bench/loops.mjs (32-bit, paging on and off) on the
//     interpreter, the JS backend and the wasm backend (src/jit/wasm), with guest RAM in a plain
//     ArrayBuffer and in a WebAssembly.Memory (WasmGuestMemory, where the wasm backend's inline TLB
//     path needs it), rounds alternated; and tools/guests' bench-int32 on the bare runner both ways
//     when that package and qemu-lite are built;
//  2. compile cost and cold code: distinct straight-line blocks (12 instructions of the forms both
//     backends compile) compiled by each backend — wasm one module per block and batched — and the
//     time of their first 1, 10, 100, 1,000, 10,000 runs, compile included (V8's tiers: Ignition,
//     Sparkplug, TurboFan for JS; Liftoff, then TurboFan for hot wasm functions).
//   node bench/wasm.mjs      (after building; X86EMU_BENCH_ITER, X86EMU_BENCH_ROUNDS, X86EMU_BENCH_BLOCKS)
import { existsSync, readFileSync } from 'node:fs';
import { Cpu, FlatPhysicalMemory, SegAttr, StopReason, WasmGuestMemory, wasmBackend } from '../dist/index.js';
import { compileJs, compileWasmBatched, regionAt, setFlatProtectedMode } from '../dist/testing.js';
import { CODE, cpuSeconds, DATA, ITER, LOOP } from './loops.mjs';

const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
/** Which parts run (X86EMU_BENCH_PARTS=1,1b,2: all). */
const PARTS = new Set((process.env.X86EMU_BENCH_PARTS ?? '1,1b,2').split(','));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// ---------------------------------------------------------------- 1. steady state

/** bench/loops.mjs machine32 over `memory`: LOOP in flat 32-bit mode, 32-bit paging or not. */
function machine32(paging, jit, memory) {
  memory.bytes.set(LOOP, CODE);
  const cpu = new Cpu({ memory, jit });
  const s = cpu.state;
  s.cr[0] = 0x11;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  if (paging) {
    const pd = 0x400000;
    for (let t = 0; t < 2; t++) {
      memory.write32(pd + t * 4, (pd + 0x1000 + t * 0x1000) | 3);
      for (let i = 0; i < 1024; i++)
        memory.write32(pd + 0x1000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 4096) | 3);
    }
    s.cr[3] = pd;
    s.cr[0] |= 0x80000000;
  }
  s.rip[0] = CODE;
  s.gpr[1] = ITER;
  s.gpr[6] = DATA;
  cpu.stateChanged();
  // The interpreter over the wasm memory probes its TLB there too, as with the wasm backend.
  if (memory instanceof WasmGuestMemory) wasmBackend(cpu);
  return cpu;
}

const CONFIGS = {
  'interpreter, ArrayBuffer RAM ': [false, false],
  'interpreter, wasm-memory RAM ': [false, true],
  'JS backend, ArrayBuffer RAM  ': [{ backend: 'js' }, false],
  'JS backend, wasm-memory RAM  ': [{ backend: 'js' }, true],
  'wasm backend, wasm-memory RAM': [{ backend: 'wasm' }, true],
};

function loopRun(paging, jit, wasmRam) {
  const mem = wasmRam ? new WasmGuestMemory(8 << 20) : new FlatPhysicalMemory(8 << 20);
  const cpu = machine32(paging, jit, mem);
  const c0 = process.cpuUsage();
  let n = 0;
  for (;;) {
    const before = cpu.instructionsRetired;
    const r = cpu.run(1_000_000);
    n += cpu.instructionsRetired - before;
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  return { ips: n / cpuSeconds(c0), eax: cpu.state.gpr[0], cpu };
}

console.log(`uptime: ${readUptime()}`);
if (PARTS.has('1'))
  console.log(
    `1. the integer loop (${ITER} iterations × 8 instructions), median of ${ROUNDS} alternated rounds, M instructions per CPU second`,
  );
for (const paging of PARTS.has('1') ? [false, true] : []) {
  const got = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]));
  let eax = null;
  let last = null;
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, [jit, wasmRam]] of Object.entries(CONFIGS)) {
      const x = loopRun(paging, jit, wasmRam);
      if (eax !== null && x.eax !== eax) throw new Error(`results differ: ${name} ${x.eax} ${eax}`);
      eax = x.eax;
      got[name].push(x.ips);
      if (jit && jit.backend === 'wasm') last = x.cpu;
    }
  console.log(`  paging ${paging ? 'on (4 KiB)' : 'off'}`);
  for (const [name, xs] of Object.entries(got))
    console.log(`    ${name}  ${(median(xs) / 1e6).toFixed(1).padStart(7)}`);
  const st = wasmBackend(last).stats;
  console.log(
    `    (wasm: ${st.compiled} regions in ${st.modules} modules, ${st.bytes} bytes, ${st.compileMs.toFixed(2)} ms; ${st.rejected} left to JS; ${st.slowAccesses} accesses through Cpu.read/write)`,
  );
}

// ------------------------------------------------------------- 1b. bench-int32 (tools/guests)

const guestsDist = new URL('../../../tools/guests/dist/index.js', import.meta.url);
const qlDist = new URL('../../../apps/qemu-lite/dist/index.js', import.meta.url);
const imageUrl = new URL('../../../tools/guests/out/bench-int32.elf', import.meta.url);
const INT32_ITER = Number(process.env.X86EMU_BENCH_INT32_ITER ?? 2000);

/** bench-int32 on the bare runner (tools/guests' BareMachine), RAM as `wasmRam` says. */
async function benchInt32(backend, wasmRam, paging) {
  const g = await import(guestsDist.href);
  const ql = await import(qlDist.href);
  const ramSize = 64 << 20;
  const jit = backend === null ? false : { backend };
  const m = new g.BareMachine(ql, { ramSize, jit });
  if (wasmRam) {
    // The same machine with its RAM in a WebAssembly.Memory: a new Cpu over it with the old one's devices.
    const w = new WasmGuestMemory(ramSize);
    const old = m.cpu;
    m.memory = w;
    m.ram = w.bytes;
    m.cpu = new Cpu({
      memory: w,
      io: old.io,
      interrupts: old.interrupts,
      msr: old.msr,
      cpuid: old.cpuidOps,
      ferr: old.ferr,
      jit,
    });
  }
  const loaded = ql.loadMultiboot(
    new Uint8Array(readFileSync(imageUrl)),
    { ram: m.ram, ramSize, e820: ql.buildE820(ramSize) },
    { cmdline: `iterations=${INT32_ITER} paging=${paging ? 1 : 0}` },
  );
  const cpu = m.cpu;
  g.applyEntryState(cpu.state, loaded.entry.sregs(g.stateToSregs(cpu.state)), loaded.entry.regs);
  cpu.stateChanged();
  const c0 = process.cpuUsage();
  while (m.exitStatus === undefined) {
    const now = m.nowNs();
    m.pit.poll(now);
    const untilIrq = Math.ceil((m.pit.nextDeadline() - now) / g.NS_PER_INSTRUCTION);
    const r = cpu.run(Math.max(1, Math.min(1 << 20, untilIrq)));
    if (r !== StopReason.Budget && r !== StopReason.Requested && r !== StopReason.Hlt)
      throw new Error(`bench-int32 stopped with ${r}`);
    if (r === StopReason.Hlt && m.exitStatus === undefined) throw new Error('bench-int32 halted');
  }
  const secs = cpuSeconds(c0);
  return {
    mips: cpu.instructionsRetired / secs / 1e6,
    n: cpu.instructionsRetired,
    serial: m.serialText(),
    cpu,
  };
}

if (!PARTS.has('1b')) {
} else if (existsSync(guestsDist) && existsSync(qlDist) && existsSync(imageUrl)) {
  console.log(
    `1b. tools/guests' bench-int32 on the bare runner, iterations=${INT32_ITER}, median of ${ROUNDS} alternated rounds, MIPS per CPU second (start-up included)`,
  );
  for (const paging of [false, true]) {
    const rows = [
      ['JS backend, ArrayBuffer RAM  ', 'js', false],
      ['JS backend, wasm-memory RAM  ', 'js', true],
      ['wasm backend, wasm-memory RAM', 'wasm', true],
    ];
    const got = rows.map(() => []);
    let n = null;
    let serial = null;
    let wasmCpu = null;
    for (let r = 0; r < ROUNDS; r++)
      for (const [k, [, be, wr]] of rows.entries()) {
        const x = await benchInt32(be, wr, paging);
        if (n !== null && (x.n !== n || x.serial !== serial))
          throw new Error(
            `runs differ: ${x.n} ${n} instructions, console ${JSON.stringify([x.serial, serial])}`,
          );
        n = x.n;
        serial = x.serial;
        got[k].push(x.mips);
        if (be === 'wasm') wasmCpu = x.cpu;
      }
    console.log(`  paging ${paging ? 'on (2-level)' : 'off'}, ${n} instructions`);
    for (const [k, [name]] of rows.entries())
      console.log(`    ${name}  ${median(got[k]).toFixed(1).padStart(7)}`);
    const st = wasmBackend(wasmCpu).stats;
    const j = wasmCpu.jit.stats;
    console.log(
      `    (wasm: ${st.compiled} regions to wasm, ${st.rejected} left to JS; ${j.instructions} of ${n} instructions compiled; ${st.slowAccesses} slow accesses)`,
    );
  }
} else console.log('1b. bench-int32: skipped (build tools/guests and qemu-lite first)');

// ------------------------------------------------------------------- 2. compile cost, cold code

const BLOCKS = Number(process.env.X86EMU_BENCH_BLOCKS ?? 200);

/**
 * A pseudo-random block of 12 instructions both backends compile (registers EAX ECX EDX EBX EBP;
 * memory at ESI and EDI), then JNZ to the next byte, HLT.
 */
function makeBlock(rand) {
  const reg = () => [0, 1, 2, 3, 5][rand() % 5];
  const out = [];
  for (let n = 0; n < 12; n++) {
    const a = reg();
    const b = reg();
    const d8 = (rand() % 32) * 4;
    switch (rand() % 10) {
      case 0:
        out.push(0x89, 0xc0 | (b << 3) | a); // MOV r, r
        break;
      case 1:
        out.push([0x01, 0x09, 0x21, 0x29, 0x31, 0x39][rand() % 6], 0xc0 | (b << 3) | a); // ALU r, r
        break;
      case 2:
        out.push(0x83, 0xc0 | ([0, 1, 4, 5, 6, 7][rand() % 6] << 3) | a, rand() & 0x7f); // ALU r, imm8
        break;
      case 3:
        out.push(0x8b, 0x40 | (a << 3) | 6, d8); // MOV r, [ESI + d8]
        break;
      case 4:
        out.push(0x89, 0x40 | (a << 3) | 7, d8); // MOV [EDI + d8], r
        break;
      case 5:
        out.push(0x03, 0x40 | (a << 3) | 6, d8); // ADD r, [ESI + d8]
        break;
      case 6:
        out.push(0x6b, 0xc0 | (a << 3) | b, (rand() % 60) + 3); // IMUL r, r, imm8
        break;
      case 7:
        out.push(0x8d, 0x44 | (a << 3), (1 << 6) | (b << 3) | reg(), rand() & 0x7f); // LEA r, [r + r*2 + d8]
        break;
      case 8:
        out.push(0xc1, 0xc0 | ((rand() & 1 ? 4 : 5) << 3) | a, (rand() % 31) + 1); // SHL/SHR r, imm8
        break;
      default:
        out.push((rand() & 1 ? 0x40 : 0x48) + a); // INC/DEC r
    }
  }
  out.push(0x75, 0x00, 0xf4); // JNZ +0 (to the HLT either way), HLT
  return out;
}

/** `count` distinct blocks decoded by the interpreter on one CPU: [cpu, regions]. */
function decodedBlocks(count, seed, wasmRam) {
  let x = seed >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const mem = wasmRam ? new WasmGuestMemory(16 << 20) : new FlatPhysicalMemory(16 << 20);
  const cpu = new Cpu({ memory: mem, jit: false });
  setFlatProtectedMode(cpu.state, 0, 0x8000);
  cpu.stateChanged();
  // All the code first: bytes written behind the CPU's back after it decoded their page would
  // leave stale decodes.
  const starts = [];
  let at = 0x200000;
  for (let b = 0; b < count; b++) {
    const code = makeBlock(rand);
    // Not in a page's last 15 bytes: the decode cache does not keep what could cross the page.
    if ((at & 0xfff) + code.length > 4096 - 15) at = (at | 0xfff) + 1;
    mem.bytes.set(code, at);
    starts.push(at);
    at += code.length;
  }
  const regions = [];
  for (const eip of starts) {
    const s = cpu.state;
    s.rip[0] = eip;
    s.gpr[6] = 0x100000;
    s.gpr[7] = 0x180000;
    s.halted = false;
    if (cpu.run(100) !== StopReason.Hlt) throw new Error('block did not reach its HLT');
    const r = regionAt(cpu, eip);
    if (r === null || r.blocks[0].insns.length !== 13) throw new Error('block not decoded whole');
    regions.push(r);
  }
  s0(cpu);
  return [cpu, regions];
}

/** Ready to call compiled blocks directly: room in the budget, ESI/EDI at RAM. */
function s0(cpu) {
  // A small integer: a double would be boxed on its way into the wasm function at every call.
  cpu.runLimit = 1e9;
  cpu.runCount = 0;
  cpu.state.gpr[6] = 0x100000;
  cpu.state.gpr[7] = 0x180000;
}

/** CPU µs per block to compile `regions` (`how`: 'js' or a wasm batch size). */
function compileAll(cpu, regions, how) {
  const c0 = process.cpuUsage();
  const blocks = how === 'js' ? regions.map(compileJs) : compileWasmBatched(cpu, regions, how);
  const us = (cpuSeconds(c0) * 1e6) / regions.length;
  if (blocks.some((b) => b === null)) throw new Error('a block was not compiled');
  return [us, blocks];
}

if (PARTS.has('2'))
  console.log(
    `2. ${BLOCKS} distinct blocks of 12 instructions + JNZ (MOV, ALU, loads and stores, IMUL, LEA, shifts, INC/DEC), CPU µs per block`,
  );
let seed = 1;
if (PARTS.has('2')) {
  // Warm-up: both generators (our own JS, which V8 tiers up as any) past their first calls.
  for (const how of ['js', 1, 64]) {
    const [cpu, regions] = decodedBlocks(64, 99, true);
    compileAll(cpu, regions, how);
  }

  const cols = [];
  for (const how of ['js', 1, 16, 64, BLOCKS]) {
    const xs = [];
    for (let r = 0; r < ROUNDS; r++) {
      const [cpu, regions] = decodedBlocks(BLOCKS, seed++, true);
      xs.push(compileAll(cpu, regions, how)[0]);
    }
    cols.push([how === 'js' ? 'JS new Function' : `wasm, ${how} a module`, median(xs)]);
  }
  console.log(
    `  compile (generate + compile + instantiate): ${cols.map(([n, v]) => `${n} ${v.toFixed(1)}`).join(' · ')}`,
  );
}
if (PARTS.has('2')) {
  // First runs: compile, then `runs` calls of each fresh block (13 instructions a call), CPU time
  // of each part per block.
  console.log(
    '  compile, then the first N runs of each fresh block: CPU µs per block (compile + runs), ns per run',
  );
  for (const runs of [1, 10, 100, 1000, 10000]) {
    const cells = [];
    for (const how of ['js', 1, 64]) {
      const cs = [];
      const rs = [];
      for (let r = 0; r < ROUNDS; r++) {
        const [cpu, regions] = decodedBlocks(BLOCKS, seed++, true);
        const [us, blocks] = compileAll(cpu, regions, how);
        const c1 = process.cpuUsage();
        for (const b of blocks) for (let k = 0; k < runs; k++) b.run(cpu);
        cs.push(us);
        rs.push((cpuSeconds(c1) * 1e6) / regions.length);
      }
      const c = median(cs);
      const run = median(rs);
      const name = how === 'js' ? 'JS' : how === 1 ? 'wasm 1/module' : 'wasm 64/module';
      cells.push(`${name} ${c.toFixed(0)} + ${run.toFixed(0)} µs, ${((run * 1000) / runs).toFixed(0)} ns`);
    }
    console.log(`  ${String(runs).padStart(5)} runs: ${cells.join('   ')}`);
  }
  // Warm: 8 of the blocks compiled each way, called in turn (a call site that sees several
  // functions, as Jit.enter's), after 400,000 calls each way.
  {
    const [cpu, regions] = decodedBlocks(8, seed++, true);
    const js = regions.map(compileJs);
    const wa = compileWasmBatched(cpu, regions, 8);
    const res = {};
    for (let round = 0; round < 3; round++)
      for (const [name, bs] of [
        ['JS', js],
        ['wasm', wa],
      ]) {
        const n = round === 0 ? 400_000 : 2_000_000;
        const c0 = process.cpuUsage();
        for (let i = 0; i < n; i++) bs[i & 7].run(cpu);
        res[name] = (cpuSeconds(c0) * 1e9) / n;
      }
    console.log(
      `  warm, per call of a 13-instruction block: JS ${res.JS.toFixed(0)} ns, wasm ${res.wasm.toFixed(0)} ns (the call's register and flag exchange through wasm memory included)`,
    );
  }
  // The interpreter on the same blocks, for scale: µs per block run (13 instructions).
  const [cpu, regions] = decodedBlocks(BLOCKS, seed++, false);
  const c0 = process.cpuUsage();
  for (let k = 0; k < 100; k++)
    for (const r of regions) {
      cpu.state.rip[0] = r.blocks[0].eip;
      cpu.state.halted = false;
      cpu.run(13);
    }
  console.log(
    `  the interpreter, same blocks: ${((cpuSeconds(c0) * 1e9) / (100 * regions.length)).toFixed(0)} ns per block (a Cpu.run(13) each)`,
  );
}

function readUptime() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}
