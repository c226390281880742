/**
 * A LOCK'd read-modify-write that loses its race on shared RAM (src/smp/locked-memory.ts) runs
 * again from its read: RIP back at it, its registers untouched (XADD writes its source register
 * only once the store succeeded), interpreted and inside a compiled block alike. The race is
 * another thread's store made deterministic: every `every`th compare-exchange, 100 is added to the
 * counter first, as a store from another vCPU between the instruction's read and its write.
 */
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../src/cpu/cpu.js';
import { StopReason } from '../src/index.js';
import { LockedMemory } from '../src/smp/locked-memory.js';
import { longMode } from './long.js';
import { protectedMode } from './pm.js';

const DATA = 0x20000;

class RacingLockedMemory extends LockedMemory {
  calls = 0;
  injected = 0;
  constructor(
    cpu: Cpu,
    private readonly ram: DataView,
    private readonly every: number,
  ) {
    super(cpu, new Int32Array(1));
  }
  override cmpxchg(lin: number, size: number, oLo: number, oHi: number, nLo: number, nHi: number): boolean {
    if (++this.calls % this.every === 0) {
      this.ram.setUint32(lin, this.ram.getUint32(lin, true) + 100, true);
      this.injected++;
    }
    return super.cmpxchg(lin, size, oLo, oHi, nLo, nHi);
  }
}

function runToHlt(cpu: Cpu): void {
  for (let i = 0; i < 100; i++) {
    const r = cpu.run(1_000_000);
    if (r === StopReason.Hlt) return;
    expect(r).toBe(StopReason.Budget);
  }
  throw new Error('no HLT');
}

const ITER = 3000; // past the compiler's threshold (1,000 visits): most iterations run compiled

describe.each([
  ['interpreted', false],
  ['compiled', true],
])('a lost LOCK race reruns the instruction (%s)', (_name, jit) => {
  it('32-bit LOCK XADD and LOCK INC: every increment lands once, XADD returns the value it added to', () => {
    const m = protectedMode(`
      mov ecx, ${ITER}
      xor ebx, ebx
    l: mov eax, 1
      lock xadd dword ptr [${DATA}], eax
      add ebx, eax
      lock inc dword ptr [${DATA + 4}]
      dec ecx
      jnz l
      hlt
    `);
    if (!jit) m.cpu.jit = null;
    const ram = new DataView(m.mem.bytes.buffer);
    const racing = new RacingLockedMemory(m.cpu, ram, 7);
    m.cpu.lockedMemory = racing;
    runToHlt(m.cpu);
    // The counters hold every increment plus every injected store, none lost, none doubled.
    const xadds = ram.getUint32(DATA, true);
    const incs = ram.getUint32(DATA + 4, true);
    expect(racing.injected).toBeGreaterThan((2 * ITER) / 7 - 2);
    expect(racing.stats.retries).toBe(racing.injected);
    expect(xadds + incs).toBe(2 * ITER + 100 * racing.injected);
    // XADD's source register got the old value only on the successful store: EAX is the
    // counter's value just before this CPU's last increment.
    expect(m.cpu.state.gpr[0]).toBe(xadds - 1);
    // The sum of every old value: 0 + 1 + … with the injected hundreds in between; at least the
    // plain triangle, and never counting a failed attempt's register write.
    expect(m.cpu.state.gpr[3]).toBeGreaterThanOrEqual((ITER * (ITER - 1)) / 2);
    expect(m.cpu.state.gpr[1]).toBe(0);
  });

  it('64-bit LOCK XADD qword, LOCK ADD qword and LOCK BTS: none lost under injected races', () => {
    const m = longMode(`
      mov ecx, ${ITER}
      mov rbx, 0x100000001
    l: mov eax, 1
      lock xadd qword ptr [${DATA}], rax
      lock add qword ptr [${DATA + 8}], rbx
      lock bts qword ptr [${DATA + 16}], 40
      dec ecx
      jnz l
      hlt
    `);
    if (!jit) m.cpu.jit = null;
    const ram = new DataView(m.mem.bytes.buffer);
    const racing = new RacingLockedMemory(m.cpu, ram, 5);
    m.cpu.lockedMemory = racing;
    runToHlt(m.cpu);
    expect(racing.stats.retries).toBe(racing.injected);
    const a = ram.getBigUint64(DATA, true);
    const b = ram.getBigUint64(DATA + 8, true);
    const c = ram.getBigUint64(DATA + 16, true);
    // Each injected 100 went into the low dword of one of the three; BTS's bit 40 stays set.
    const injectedTotal = BigInt(100 * racing.injected);
    expect(c & (1n << 40n)).toBe(1n << 40n);
    expect(a - BigInt(ITER) + (b - BigInt(ITER) * 0x100000001n) + (c - (1n << 40n))).toBe(injectedTotal);
    expect(m.cpu.state.gpr[1]).toBe(0);
  });
});
