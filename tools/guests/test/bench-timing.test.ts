/**
 * The bench's rows (src/bench-timing.ts): every row timed the same way, in steady state (the best
 * N-iteration run minus the best N/2 run, alternated), and the x86emu-wasm row really running
 * x86emu's WebAssembly backend over wasm memory and printing the JS backend's checksum. The
 * figures are `pnpm bench`'s; this checks the method and the row with a short loop.
 */
import { existsSync } from 'node:fs';
import { WasmGuestMemory } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { BareMachine } from '../src/bare/machine.js';
import {
  accelOf,
  bareOf,
  eptOf,
  jitBackendOf,
  nptOf,
  type RowPlan,
  shortRun,
  time,
  timeInRounds,
  type Workload,
} from '../src/bench-timing.js';
import { engineAvailability } from '../src/engines.js';
import { imagePath } from '../src/manifest.js';
import { loadQemuLite } from '../src/qemu-lite.js';

const image = imagePath('bench-int32');
const why = existsSync(image) ? undefined : `${image} is not built`;

const workload: Workload = {
  key: 'int32-unpaged',
  title: 'bench-int32 paging=0',
  guest: 'bench-int32',
  needs: [],
  append: (n) => `iterations=${n} paging=0`,
  n: 4,
};

describe('bench rows', () => {
  const plan = (engine: RowPlan['engine'], n: number, failure?: string): RowPlan => ({
    engine,
    guest: 'bench-int32',
    w: workload,
    n,
    startMs: 100,
    clock: 'cpu',
    long: Number.POSITIVE_INFINITY,
    short: Number.POSITIVE_INFINITY,
    shortWorst: 0,
    failure,
  });

  it('measures the rows in rounds over all of them, not one row after the other', async () => {
    // The schedule alone (the runs are `measureRound`'s, timed in the tests below): each round
    // one long and one short run of every row, each row keeping its best.
    const order: string[] = [];
    const times: Record<string, number[]> = { x86emu: [900, 700, 800], vmx: [1000, 1100, 1050] };
    const round = async (p: RowPlan) => {
      const k = order.filter((e) => e === p.engine).length;
      order.push(p.engine);
      p.long = Math.min(p.long, times[p.engine][k] + 500);
      p.short = Math.min(p.short, times[p.engine][k]);
      p.shortWorst = Math.max(p.shortWorst, times[p.engine][k]);
    };
    const [bare, vmx, failed] = await timeInRounds(
      [plan('x86emu', 40), plan('vmx', 40), plan('svm', 40, 'did not boot')],
      3,
      1,
      round,
    );
    expect(order).toEqual(['x86emu', 'vmx', 'x86emu', 'vmx', 'x86emu', 'vmx']);
    expect(bare.seconds).toBeCloseTo(0.5);
    expect(bare.jitterS).toBeCloseTo(0.2);
    expect(vmx.seconds).toBeCloseTo(0.5);
    expect(vmx.n0).toBe(shortRun(40));
    expect(failed.failure).toBe('did not boot');
  });

  it('scales a row whose measured half came out short and measures it again alone', async () => {
    const order: string[] = [];
    const round = async (p: RowPlan) => {
      order.push(`${p.engine}:${p.n}`);
      // 1 ms per iteration: 20 iterations' half is 0.01 s, under a third of the 1 s target.
      p.long = Math.min(p.long, 50 + p.n);
      p.short = Math.min(p.short, 50 + shortRun(p.n));
    };
    const [slow, fast] = await timeInRounds([plan('x86emu', 20), plan('vmx', 4000)], 1, 1, round);
    // x86emu's 20 iterations took 0.01 s: scaled to 2,000 for the 1 s target, measured alone.
    expect(order).toEqual(['x86emu:20', 'vmx:4000', 'x86emu:2000']);
    expect(fast.seconds).toBeCloseTo(2);
    expect(slow.n).toBe(2000);
    expect(slow.seconds).toBeCloseTo(1);
  });

  it('the x86emu-wasm machine runs the wasm backend over wasm memory', async () => {
    const ql = await loadQemuLite();
    const m = new BareMachine(ql, { ramSize: 4 << 20, backend: 'wasm' });
    expect(m.memory).toBeInstanceOf(WasmGuestMemory);
    expect(m.cpu.jit?.backend).toBe('wasm');
    const js = new BareMachine(ql, { ramSize: 4 << 20 });
    expect(js.memory).not.toBeInstanceOf(WasmGuestMemory);
    // With the compiler off, wasm memory alone (the interpreter over it), no compiler.
    expect(new BareMachine(ql, { ramSize: 4 << 20, backend: 'wasm', jit: false }).cpu.jit).toBeFalsy();
  });

  it.skipIf(why !== undefined)(
    `x86emu and x86emu-wasm rows in steady state, the same checksum${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      const js = await time('x86emu', 'bench-int32', workload, 1, 0.05);
      const wasm = await time('x86emu-wasm', 'bench-int32', workload, 1, 0.05);
      for (const t of [js, wasm]) {
        expect(t.failure).toBeUndefined();
        // The short run is half the long one, so it runs at least as many iterations as the
        // measured stretch: a fresh worker's warm-up is over before it ends (a quarter left it in
        // the engine rows), and both ran the loop.
        expect(t.n0).toBe(shortRun(t.n));
        expect(t.n0).toBeGreaterThanOrEqual(t.n - t.n0 - 1);
        expect(t.n0).toBeGreaterThanOrEqual(1);
        expect(t.n).toBeGreaterThan(t.n0);
        expect(t.seconds).toBeGreaterThan(0);
        expect(t.startS).toBeGreaterThan(0);
        expect(Number.isFinite(t.warmupS)).toBe(true);
        expect(t.jitterS).toBeGreaterThanOrEqual(0);
        // In-process rows are timed in CPU seconds, the clock least disturbed by the load.
        expect(t.clock).toBe('cpu');
      }
      expect(js.checksum).toMatch(/^[0-9a-fx]+$/i);
      expect(wasm.checksum).toBe(js.checksum);
    },
    120_000,
  );

  it.skipIf(why !== undefined)(
    `the kvm row runs on the host engine, which takes no jit= (it used to stop the bench)${why ? ` (skipped: ${why})` : ''}`,
    async (ctx) => {
      const host = await engineAvailability('kvm');
      if (!host.available) ctx.skip(`the host engine: ${host.reason}`);
      const t = await time('kvm', 'bench-int32', { ...workload, n: 1 }, 1, 0.01);
      expect(t.failure).toBeUndefined();
      expect(t.checksum).toMatch(/^[0-9a-fx]+$/i);
    },
    180_000,
  );

  it.skipIf(why !== undefined)(
    `the vmx and svm rows (qemu-lite's default code generator, wasm) and the vmx-js and svm-js rows (-accel vmx|svm,jit=js) print x86emu's checksum for the paged loop${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      expect([accelOf('vmx-js'), accelOf('svm-js')]).toEqual(['vmx', 'svm']);
      expect(jitBackendOf('vmx-js')).toBe('js');
      expect(jitBackendOf('vmx')).toBeUndefined();
      // Each judged against the bare row of its own code generator.
      expect([bareOf('vmx'), bareOf('svm-npt'), bareOf('vmx-js')]).toEqual([
        'x86emu-wasm',
        'x86emu-wasm',
        'x86emu',
      ]);
      // The shadow MMU, as the vmx and svm rows they compare with.
      expect([nptOf('svm-js'), eptOf('vmx-js')]).toEqual([false, false]);
      const paged: Workload = { ...workload, append: (n) => `iterations=${n}`, n: 2 };
      const bare = await time('x86emu', 'bench-int32', paged, 1, 0.02);
      for (const e of ['vmx', 'svm', 'vmx-js', 'svm-js'] as const) {
        const t = await time(e, 'bench-int32', paged, 1, 0.02);
        expect(t.failure, e).toBeUndefined();
        expect(t.clock).toBe('cpu');
        expect(t.checksum, e).toBe(bare.checksum);
      }
    },
    180_000,
  );

  it.skipIf(why !== undefined)(
    `the svm-npt row (-accel svm,npt=on) prints x86emu's checksum for the paged loop${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      expect(accelOf('svm-npt')).toBe('svm');
      // qemu-lite's -accel svm pages with NPT by default: the svm rows ask for the shadow MMU.
      expect([nptOf('svm-npt'), nptOf('svm'), nptOf('svm/off'), nptOf('vmx')]).toEqual([
        true,
        false,
        false,
        undefined,
      ]);
      expect((await engineAvailability(accelOf('svm-npt'))).available).toBe(true);
      const paged: Workload = { ...workload, append: (n) => `iterations=${n}`, n: 2 };
      const bare = await time('x86emu', 'bench-int32', paged, 1, 0.02);
      const npt = await time('svm-npt', 'bench-int32', paged, 1, 0.02);
      expect(npt.failure).toBeUndefined();
      expect(npt.clock).toBe('cpu');
      expect(npt.checksum).toBe(bare.checksum);
    },
    180_000,
  );

  it.skipIf(why !== undefined)(
    `the vmx-ept row (-accel vmx,ept=on) prints x86emu's checksum for the paged loop${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      expect(accelOf('vmx-ept')).toBe('vmx');
      const paged: Workload = { ...workload, append: (n) => `iterations=${n}`, n: 2 };
      const bare = await time('x86emu', 'bench-int32', paged, 1, 0.02);
      const ept = await time('vmx-ept', 'bench-int32', paged, 1, 0.02);
      expect(ept.failure).toBeUndefined();
      expect(ept.clock).toBe('cpu');
      expect(ept.checksum).toBe(bare.checksum);
    },
    180_000,
  );
});
