/**
 * The host never throws for anything a guest does: random instruction bytes in real mode,
 * protected mode (CPL 0 and 3) and with paging must only ever produce guest-visible outcomes.
 */
import { describe, expect, it } from 'vitest';
import {
  Cpu,
  CpuState,
  Emulator,
  FlatPhysicalMemory,
  SegAttr,
  StopReason,
  type X86EmulateOps,
  X86EmulStatus,
} from '../src/index.js';

/** Deterministic xorshift32, so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function machine(mode: 'real' | 'pm0' | 'pm3' | 'paged', seed: number): Cpu {
  const mem = new FlatPhysicalMemory(1 << 20);
  const r = rng(seed);
  for (let i = 0; i < mem.bytes.length; i += 4) mem.write32(i, r());
  const cpu = new Cpu({ memory: mem });
  const s = cpu.state;
  s.rip[0] = 0x1000;
  s.segBase[1] = 0;
  s.gpr[4] = 0x8000;
  if (mode !== 'real') {
    // A GDT with flat ring-0/ring-3 code and data, an IDT of random gates, a TSS: all inside the random memory.
    const gdt = 0x500;
    const put = (a: number, lo: number, hi: number) => {
      mem.write32(a, lo >>> 0);
      mem.write32(a + 4, hi >>> 0);
    };
    put(gdt, 0, 0);
    put(gdt + 8, 0x0000ffff, 0x00cf9a00);
    put(gdt + 16, 0x0000ffff, 0x00cf9200);
    put(gdt + 24, 0x0000ffff, 0x00cffa00);
    put(gdt + 32, 0x0000ffff, 0x00cff200);
    s.cr[0] = 0x11;
    s.dtBase[0] = gdt;
    s.dtLimit[0] = 0x27;
    s.dtBase[1] = 0x600;
    s.dtLimit[1] = 0x7ff;
    const dpl = mode === 'pm3' ? 3 : 0;
    for (let seg = 0; seg < 6; seg++) {
      s.segSel[seg] = seg === 1 ? (dpl ? 0x1b : 0x08) : dpl ? 0x23 : 0x10;
      s.segBase[seg] = 0;
      s.segLimit[seg] = 0xffffffff;
      s.segAttr[seg] = (seg === 1 ? 0xb : 3) | SegAttr.S | (dpl << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
    }
    s.cpl = dpl;
    s.segBase[7] = 0x3000;
    s.segLimit[7] = 0x67;
    s.segAttr[7] = 0x8b;
    if (mode === 'paged') {
      s.cr[3] = 0x80000 + (r() & 0x7f000);
      s.cr[4] = r() & 0xb0;
      s.cr[0] |= 0x80000000;
    }
  }
  cpu.stateChanged();
  return cpu;
}

describe('random instruction streams', () => {
  for (const mode of ['real', 'pm0', 'pm3', 'paged'] as const) {
    it(`never throw in ${mode}`, () => {
      const reasons = new Map<number, number>();
      for (let seed = 1; seed <= 40; seed++) {
        const cpu = machine(mode, seed * 7919 + mode.length);
        let r: StopReason = StopReason.Budget;
        for (let k = 0; k < 20 && r === StopReason.Budget; k++) {
          try {
            r = cpu.run(500);
          } catch (e) {
            throw new Error(`seed ${seed} in ${mode}: ${(e as Error).stack}`);
          }
          if (r === StopReason.Hlt) {
            cpu.state.halted = false;
            r = StopReason.Budget;
          }
        }
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
      expect([...reasons.keys()].every((k) => k >= 0 && k <= 5)).toBe(true);
    });
  }
});

describe('emulate() on random bytes with random op outcomes', () => {
  it('always returns one of the four result kinds', () => {
    const emu = new Emulator();
    const seen = new Set<number>();
    for (let seed = 1; seed <= 3000; seed++) {
      const r = rng(seed * 31);
      const s = new CpuState();
      if (seed & 1) {
        s.cr[0] = 0x11;
        for (let g = 0; g < 6; g++) {
          s.segBase[g] = 0;
          s.segLimit[g] = 0xffffffff;
          s.segAttr[g] = (g === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
        }
        s.cpl = seed & 2 ? 3 : 0;
      }
      for (let g = 0; g < 8; g++) s.gpr[g] = r();
      const status = () => {
        const v = r() & 15;
        return v < 12 ? X86EmulStatus.Ok : v < 13 ? X86EmulStatus.Userspace : X86EmulStatus.Unhandleable;
      };
      const ops: X86EmulateOps = {
        fetch: (_g, d) => {
          d[0] = r() & 0xff;
          return X86EmulStatus.Ok;
        },
        read: (g, d, ctx) => {
          if ((r() & 15) === 0) {
            ctx.raise(14, 0, true, g);
            return X86EmulStatus.Exception;
          }
          for (let i = 0; i < d.length; i++) d[i] = r() & 0xff;
          return status();
        },
        write: () => status(),
        cmpxchg: (_g, e) => {
          if (r() & 1) e[0] ^= 1;
          return X86EmulStatus.Ok;
        },
        pioIn: (_p, _s, _n, d) => {
          d.fill(r() & 0xff);
          return status();
        },
        pioOut: () => status(),
      };
      const bytes = new Uint8Array(15).map(() => r() & 0xff);
      const res = emu.emulate({ state: s, insnBytes: bytes.subarray(0, r() % 16) }, ops);
      seen.add(res.kind);
    }
    expect([...seen].every((k) => k >= 0 && k <= 3)).toBe(true);
    expect(seen.size).toBe(4);
  });
});
