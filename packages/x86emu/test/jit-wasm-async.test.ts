/**
 * The wasm backend's modules compiled off the vCPU thread (`JitTuning.asyncCompile`,
 * src/jit/wasm/async-compile.ts): the block start is marked pending, the interpreter runs on, and the
 * block is installed when the compile worker's module comes back, only if the code it was made from
 * is unchanged. Whatever the moment a module arrives, the guest must see exactly what the
 * interpreter does: each test runs a machine with the asynchronous compiler next to an interpreting
 * one, compares the whole state after every run, and makes modules arrive at chosen points
 * (`Jit.drainCompiles`) or whenever the worker is done.
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { Jit, type JitOptions } from '../src/jit/jit.js';
import { WA } from '../src/jit/wasm/api.js';
import { compileQueue } from '../src/jit/wasm/async-compile.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { type Lockstep, lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
import { protectedMode } from './pm.js';

const ASYNC: JitOptions = { hot: 8, backend: 'wasm', asyncCompile: true };

/** `m` with its 64-bit regions compiled to wasm (`WasmBackend.long`; test machines have flat RAM). */
function long(m: Machine): Machine {
  wasmBackend(m.cpu).long = true;
  return m;
}

/**
 * `lockstep` (jit-lockstep.ts) with an asynchronous `Jit` (`options`, default `ASYNC`): the
 * first machine compiles through the worker, the second interprets; `between(n, jit, interp)`
 * runs after run `n` of both. The channel to the worker is closed at the end.
 */
function asyncLockstep(
  make: () => Machine,
  budgets: number[],
  between: (n: number, jit: Machine, interp: Machine) => void = () => {},
  options: JitOptions = ASYNC,
): Lockstep {
  const r = lockstep(make, budgets, options, 1_000_000, between);
  (r.jit.cpu.jit as Jit).close();
  return r;
}

const jitOf = (m: Machine) => m.cpu.jit as Jit;

/** A loop nest (inner loop, a call, flags across blocks) whose result pins down every iteration. */
const LOOP32 = `
  mov ecx, 600
outer:
  mov edx, 5
inner:
  add eax, edx
  xor ebx, eax
  call f
  dec edx
  jnz inner
  adc esi, ebx
  dec ecx
  jnz outer
  hlt
f:
  rol ebx, 3
  add edi, ebx
  ret`;

const LOOP64 = `
  mov ecx, 600
outer:
  mov edx, 5
inner:
  add rax, rdx
  xor rbx, rax
  call f
  dec edx
  jnz inner
  adc rsi, rbx
  dec ecx
  jnz outer
  hlt
f:
  rol rbx, 3
  add rdi, rbx
  ret`;

/**
 * `mov eax, 0x11223344` in a hot loop: the immediate's physical address in `m` (the test rewrites
 * it from outside, as a DMA or the VMM would, and says so: `Cpu.invalidateCode`).
 */
const PATCHED = `
  mov ecx, 3000
top:
  mov eax, 0x11223344
  add ebx, eax
  dec ecx
  jnz top
  hlt`;
function immediateAt(m: Machine): number {
  const b = m.mem.bytes;
  for (let a = 0; a < b.length - 4; a++)
    if (b[a] === 0x44 && b[a + 1] === 0x33 && b[a + 2] === 0x22 && b[a + 3] === 0x11) return a;
  throw new Error('immediate not found');
}
function rewrite(m: Machine, value: number): void {
  const a = immediateAt(m);
  m.mem.write32(a, value);
  m.cpu.invalidateCode(a, 4);
}

describe('wasm backend: modules compiled off the vCPU thread', () => {
  it('a compile worker is there in Node, and answers a module V8 refuses with its error', () => {
    const q = compileQueue();
    expect(q).not.toBeNull();
    if (q === null) return;
    q.post(1, Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
    q.post(2, Uint8Array.of(1, 2, 3));
    const replies = [];
    while (replies.length < 2) {
      expect(q.wait(10_000)).toBe(true);
      const r = q.take();
      if (r !== undefined) replies.push(r);
    }
    expect(replies[0].id).toBe(1);
    expect(replies[0].module).toBeInstanceOf(WA.Module);
    expect(replies[0].error).toBeNull();
    expect(replies[1].id).toBe(2);
    expect(replies[1].module).toBeNull();
    expect(replies[1].error).toMatch(/CompileError/);
    expect(q.inFlight).toBe(0);
    q.close();
  });

  for (const [mode, make] of [
    ['32-bit', () => protectedMode(LOOP32)],
    ['64-bit', () => long(longMode(LOOP64))],
  ] as const)
    for (const budgets of [[1, 7, 29], [100], [5000]])
      it(`a hot loop nest compiled through the worker runs as the interpreter (${mode}, budgets ${budgets})`, () => {
        // Modules come in where the run loop polls, whenever the worker is done, and after the
        // first run and every 40th all that are in flight (so that some are in before the guest
        // halts however late the worker answers: at 5000 the nest ends within a few runs).
        const r = asyncLockstep(make, budgets, (n, m) => {
          if (n === 0 || n % 40 === 39) jitOf(m).drainCompiles(m.cpu);
        });
        expect(r.jit.cpu.state.halted).toBe(true);
        const st = jitOf(r.jit).stats;
        expect(st.asyncPosted).toBeGreaterThan(0);
        expect(st.asyncInstalled).toBeGreaterThan(0);
        expect(st.compiled).toBeGreaterThan(0);
        // Compiled code ran: more instructions retired in blocks than the interpreter's threshold visits.
        expect(st.instructions).toBeGreaterThan(1000);
        expect(st.asyncFailed).toBe(0);
      });

  it('modules are installed without waiting for them, at the run loop polls', () => {
    const src = LOOP32.replace('mov ecx, 600', 'mov ecx, 100000');
    const m = protectedMode(src);
    const jit = new Jit(ASYNC);
    m.cpu.jit = jit;
    const t0 = performance.now();
    while (jit.stats.asyncInstalled === 0 && performance.now() - t0 < 20_000) {
      expect(m.cpu.run(50)).toBe(StopReason.Budget);
    }
    expect(jit.stats.asyncInstalled).toBeGreaterThan(0);
    expect(jit.compileLatencies.length).toBeGreaterThan(0);
    jit.close();
  });

  it('a region whose code is rewritten while its module is in flight is not installed, and the new code runs', () => {
    let posted = -1;
    const r = asyncLockstep(
      () => protectedMode(PATCHED),
      // Runs of one instruction: the run that posts the module polls no more after it.
      [1],
      (n, a, b) => {
        const jit = jitOf(a);
        if (posted < 0 && jit.stats.asyncPosted > 0) {
          posted = n;
          expect(jit.blocks).toBe(0);
          rewrite(a, 0x22);
          rewrite(b, 0x22);
          // The module comes back: its region's decodes are gone; nothing is installed.
          jit.drainCompiles(a.cpu);
          expect(jit.stats.asyncStale).toBeGreaterThan(0);
          expect(jit.stats.asyncInstalled).toBe(0);
          expect(jit.blocks).toBe(0);
        } else if (n % 20 === 19) jit.drainCompiles(a.cpu);
      },
    );
    expect(posted).toBeGreaterThan(0);
    expect(r.jit.cpu.state.halted).toBe(true);
    // The loop ran the new immediate after the rewrite, compiled again from the new code.
    const st = jitOf(r.jit).stats;
    expect(st.asyncInstalled).toBeGreaterThan(0);
    const eb = r.jit.cpu.state.gpr[3];
    expect(eb).toBe(r.interp.cpu.state.gpr[3]);
    expect(eb).not.toBe(Math.imul(3000, 0x11223344) >>> 0);
  });

  it('a flush while a module is in flight drops it; the code compiles again', () => {
    let flushed = false;
    const r = asyncLockstep(
      () => long(longMode(LOOP64)),
      [1],
      (n, a) => {
        const jit = jitOf(a);
        if (!flushed && jit.stats.asyncPosted > 0) {
          flushed = true;
          jit.flush(a.cpu);
          jit.drainCompiles(a.cpu);
          expect(jit.stats.asyncStale).toBeGreaterThan(0);
          expect(jit.stats.asyncInstalled).toBe(0);
          expect(jit.blocks).toBe(0);
        } else if (n % 20 === 19) jit.drainCompiles(a.cpu);
      },
    );
    expect(flushed).toBe(true);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(jitOf(r.jit).stats.asyncInstalled).toBeGreaterThan(0);
  });

  for (const [mode, make] of [
    ['32-bit', () => protectedMode(LOOP32)],
    ['64-bit', () => long(longMode(LOOP64.replace('rol rbx, 3', 'mov r9, ds\n  add rbx, r9')))],
  ] as const)
    it(`a module that comes back to a full cache is not installed after the flush, whose handler sites it no longer has (${mode})`, () => {
      // A cache of one block: every install after the first flushes it first, which renumbers the
      // handler sites (WasmBackend.dropCode); the module's calls name the old numbers.
      const r = asyncLockstep(
        make,
        [1, 7, 29],
        (n, m) => {
          if (n % 10 === 9) jitOf(m).drainCompiles(m.cpu);
        },
        { ...ASYNC, maxBlocks: 1 },
      );
      expect(r.jit.cpu.state.halted).toBe(true);
      const st = jitOf(r.jit).stats;
      expect(st.flushes).toBeGreaterThan(0);
      expect(st.asyncStale).toBeGreaterThan(0);
      expect(st.asyncInstalled).toBeGreaterThan(0);
      expect(wasmBackend(r.jit.cpu).stats.handlerSites).toBeGreaterThan(0);
    });

  it('a block start is not compiled again while its module is in flight', () => {
    const m = protectedMode(PATCHED);
    const jit = new Jit(ASYNC);
    m.cpu.jit = jit;
    while (jit.stats.asyncPosted === 0) m.cpu.run(1);
    // Hundreds of visits more at the pending start, nothing polled in (the worker may be done).
    const replies = (jit as unknown as { replies: Int32Array | null }).replies;
    (jit as unknown as { replies: Int32Array | null }).replies = null;
    m.cpu.run(2000);
    expect(jit.stats.asyncPosted).toBe(1);
    expect(jit.stats.asyncSync).toBe(0);
    expect(jit.stats.compiled).toBe(0);
    (jit as unknown as { replies: Int32Array | null }).replies = replies;
    expect(jit.drainCompiles(m.cpu)).toBe(true);
    expect(jit.stats.compiled).toBeGreaterThan(0);
    jit.close();
  });

  it('the synchronous compiler is used unless asked: a block compiles at the visit that reaches the threshold', () => {
    const sync = asyncLockstep(() => protectedMode(PATCHED), [3], undefined, { hot: 8, backend: 'wasm' });
    const st = jitOf(sync.jit).stats;
    expect(jitOf(sync.jit).asyncCompile).toBe(false);
    expect(st.asyncPosted).toBe(0);
    expect(st.compiled).toBeGreaterThan(0);
    // Asked for with the JS backend, there is nothing to compile elsewhere.
    expect(new Jit({ backend: 'js', asyncCompile: true }).asyncCompile).toBe(false);
    expect(new Jit({ backend: 'wasm', asyncCompile: true }).asyncCompile).toBe(true);
  });

  it('close() ends compiling elsewhere: the modules in flight are dropped, compiles are made here', () => {
    const m = protectedMode(LOOP32);
    const jit = new Jit(ASYNC);
    m.cpu.jit = jit;
    while (jit.stats.asyncPosted === 0) m.cpu.run(1);
    jit.close();
    expect(jit.asyncCompile).toBe(false);
    expect(jit.stats.asyncStale).toBeGreaterThan(0);
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    expect(jit.stats.compiled).toBeGreaterThan(0);
    expect(jit.stats.asyncPosted).toBe(1);
  });
});
