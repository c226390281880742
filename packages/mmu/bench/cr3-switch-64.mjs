// The 64-bit context-switch workload: N long-mode address spaces switched round-robin, each a
// process (text, heap, libraries, stack in the lower half) with the kernel mapped in the upper
// half through one PDPT shared by every PML4, as Linux does. Cache on (the default) against
// cache off (the first KVM release), side by side in the same run. Also what the MMU allocates
// on its hot paths: JavaScript heap bytes per CR3 switch and per page fault, in steady state.
//
//   pnpm --filter @kvm/mmu bench            (after a build)
//   BENCH_ROUNDS=50 node bench/cr3-switch-64.mjs
import { PerformanceObserver, performance } from 'node:perf_hooks';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  kvmMmuCreate,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
} from '../dist/index.js';
import { FakeHost, G_A, G_D, G_P, G_U, G_W, GuestPageTables } from '../dist/testing.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const PAGES_PER_REGION = 8;
// Lower half: text, heap, a shared library, the stack. Upper half: 0xffff888000000000 (the
// direct map) and 0xffffffff81000000 (kernel text), as 48-bit linear addresses.
const USER_REGIONS = [0x400000, 0x2000000, 0x7f0000000000, 0x7ffffffde000 - PAGES_PER_REGION * 4096];
const KERNEL_REGIONS = [0x888000000000, 0xffff81000000];
const PF_W = 2;
const PF_U = 4;

/** What the silicon would do: a 4-level walk of the shadow tables; true if `gva` allows `need` (bits of P|W|U). */
function siliconAllows(host, rootHpa, gva, need) {
  let table = rootHpa;
  for (let level = 4; level >= 1; level--) {
    const e = host.readHost64(table + (Math.floor(gva / 2 ** (12 + 9 * (level - 1))) % 512) * 8);
    if (e === null || (e.lo & need) !== need) return false;
    table = (e.hi & 0xfffff) * 2 ** 32 + (e.lo & 0xfffff000);
  }
  return true;
}

function build(nSpaces) {
  const host = new FakeHost({ ramBytes: 64 << 20, maxHostPages: 1 << 16 });
  const spaces = [];
  let kernelPml4e = null;
  for (let i = 0; i < nSpaces; i++) {
    const gt = new GuestPageTables(host, 'paging64', 0x100000 + i * 0x20000);
    const gvas = [];
    USER_REGIONS.forEach((base, r) => {
      for (let j = 0; j < PAGES_PER_REGION; j++) {
        const gva = base + j * 4096;
        const frame = 0x1000000 + ((i * USER_REGIONS.length + r) * PAGES_PER_REGION + j) * 4096;
        gt.map(gva, frame, G_P | G_W | G_U | G_A | G_D);
        gvas.push({ gva, need: 7, access: PF_U | PF_W });
      }
    });
    // The kernel half: built once, then every PML4 points at the same PDPT (one entry per region).
    for (const base of KERNEL_REGIONS) {
      const slot = gt.cr3 + (Math.floor(base / 2 ** 39) % 512) * 8;
      if (i === 0) {
        for (let j = 0; j < PAGES_PER_REGION; j++) {
          gt.map(base + j * 4096, 0x3000000 + j * 4096, G_P | G_W | G_A | G_D, { dirFlags: G_P | G_W });
        }
      } else {
        const e = kernelPml4e.get(base);
        host.write64(slot, e.lo, e.hi);
      }
      for (let j = 0; j < PAGES_PER_REGION; j++) gvas.push({ gva: base + j * 4096, need: 3, access: PF_W });
    }
    if (i === 0) {
      kernelPml4e = new Map(
        KERNEL_REGIONS.map((base) => [base, gt.readEntry(gt.cr3 + (Math.floor(base / 2 ** 39) % 512) * 8)]),
      );
    }
    spaces.push({ gt, gvas });
  }
  host.paging.cr0 = X86_CR0_PG | X86_CR0_WP | 1;
  host.paging.cr4 = X86_CR4_PAE;
  host.paging.efer = EFER_LME | EFER_LMA | EFER_NX;
  host.paging.cr3 = spaces[0].gt.cr3;
  return { host, spaces };
}

function run(nSpaces, shadowCache, maxShadowPages) {
  const { host, spaces } = build(nSpaces);
  const mmu = kvmMmuCreate(host, { shadowCache, maxShadowPages });
  mmu.kvmMmuSetup();
  const round = () => {
    for (const { gt, gvas } of spaces) {
      mmu.kvmSetCr3(gt.cr3);
      for (const { gva, need, access } of gvas) {
        while (!siliconAllows(host, mmu.rootHpa, gva, need)) {
          const r = mmu.pageFault(gva, access);
          if (r.kind !== 'fixed') throw new Error(`unexpected ${r.kind} at ${gva.toString(16)}`);
        }
      }
    }
  };
  round(); // warm-up
  const s0 = { ...mmu.stats };
  const t0 = performance.now();
  const rounds = Math.max(ROUNDS, Math.ceil(640 / nSpaces));
  for (let r = 0; r < rounds; r++) round();
  const ms = performance.now() - t0;
  const switches = mmu.stats.cr3Switches - s0.cr3Switches;
  const audit = mmu.audit();
  if (audit.length > 0) throw new Error(`audit: ${audit[0]}`);
  return {
    pages: (mmu.stats.shadowPagesCreated - s0.shadowPagesCreated) / switches,
    faults: (mmu.stats.pageFaults - s0.pageFaults) / switches,
    evictions: mmu.stats.zapEvict - s0.zapEvict,
    usPerSwitch: (ms * 1000) / switches,
  };
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

/**
 * Heap bytes allocated per call of `op`: the growth of the used heap over `n` calls, from runs
 * during which no garbage collection ran (then it is every byte allocated), the least of five
 * after a warm-up (the JIT's own first allocations are not the path's).
 */
function bytesPerCall(op, n) {
  for (let i = 0; i < 4 * n; i++) op(i);
  let least = Number.NaN;
  for (let attempt = 0; attempt < 10; attempt++) {
    const g = gcs;
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) op(i);
    const h1 = process.memoryUsage().heapUsed;
    if (gcs !== g) continue;
    const b = Math.max(0, (h1 - h0) / n);
    if (!(b >= least)) least = b;
  }
  return least;
}

/** Steady state: CR3 switches between cached spaces, and faults that rebuild a dropped leaf spte. */
function allocations() {
  const { host, spaces } = build(8);
  // The fake host records every single-address flush in an array; that is its allocation, not the MMU's.
  host.flushTlbGva = () => {};
  const mmu = kvmMmuCreate(host, {});
  mmu.kvmMmuSetup();
  for (const { gt, gvas } of spaces) {
    mmu.kvmSetCr3(gt.cr3);
    for (const { gva, access } of gvas) mmu.pageFault(gva, access);
  }
  const { gvas } = spaces[spaces.length - 1];
  const unmapped = Array.from({ length: 64 }, (_, i) => 0x500000000000 + i * 4096);
  // What the measuring loop itself costs (reading the workload's arrays), subtracted below.
  let sink = 0;
  const harness = bytesPerCall((i) => {
    sink = (sink + gvas[i % gvas.length].access + (unmapped[i % 64] & 1)) | 0;
  }, 20000);
  const perSwitch = bytesPerCall((i) => mmu.kvmSetCr3(spaces[i % spaces.length].gt.cr3), 20000) - harness;
  mmu.kvmSetCr3(spaces[spaces.length - 1].gt.cr3);
  const perFault =
    bytesPerCall((i) => {
      const { gva, access } = gvas[i % gvas.length];
      mmu.invlpg(gva); // drop the leaf spte, so the fault walks the guest and sets it again
      mmu.pageFault(gva, access);
    }, 20000) - harness;
  const perGuestFault = bytesPerCall((i) => mmu.pageFault(unmapped[i % 64], PF_U), 20000) - harness;
  // Emulated 8-byte writes of leaf ptes (same value: the spte is rebuilt), one table after
  // another so that no page sees a flood.
  const { gt } = spaces[spaces.length - 1];
  const ptes = [];
  for (let j = 0; j < PAGES_PER_REGION; j++) {
    for (let r = 0; r < gvas.length / PAGES_PER_REGION; r++)
      ptes.push(gt.entryGpa(gvas[r * PAGES_PER_REGION + j].gva, 1));
  }
  const perPteWrite = bytesPerCall((i) => mmu.kvmMmuPteWrite(ptes[i % ptes.length], 8), 20000) - harness;
  if (mmu.stats.floods !== 0) throw new Error('the pte-write workload flooded');
  if (sink === 0 || process.env.BENCH_DEBUG) console.log(`harness ${harness} bytes per call`);
  const clamp = (x) => Math.max(0, x);
  const nsPer = (op) => {
    const n = 100000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) op(i);
    return ((performance.now() - t0) * 1e6) / n;
  };
  const nsSwitch = nsPer((i) => mmu.kvmSetCr3(spaces[i % spaces.length].gt.cr3));
  mmu.kvmSetCr3(spaces[spaces.length - 1].gt.cr3);
  const nsFault = nsPer((i) => {
    const { gva, access } = gvas[i % gvas.length];
    mmu.invlpg(gva);
    mmu.pageFault(gva, access);
  });
  return {
    perSwitch: clamp(perSwitch),
    perFault: clamp(perFault),
    perGuestFault: clamp(perGuestFault),
    perPteWrite: clamp(perPteWrite),
    nsSwitch,
    nsFault,
  };
}

const fmt = (x, d = 1) => x.toFixed(d).padStart(8);

function best(n, shadowCache, max) {
  const runs = [run(n, shadowCache, max), run(n, shadowCache, max), run(n, shadowCache, max)];
  return { ...runs[0], usPerSwitch: Math.min(...runs.map((r) => r.usPerSwitch)) };
}

run(8, true, 256);
run(8, false, 256);
console.log(
  `@kvm/mmu cr3-switch-64: >= ${ROUNDS} rounds and >= 640 switches, 4-level guest, 32 user + 16 kernel pages per address space (kernel PDPT shared)`,
);
console.log(
  'per CR3 switch            |        cache on (default)         | cache off (baseline: KVM 1st release)',
);
console.log(' spaces  max shadow pages | shadow pg   faults     µs   evict |  shadow pg   faults     µs');
for (const [n, max] of [
  [2, 256],
  [8, 256],
  [16, 256],
  [32, 256],
  [32, 1024],
  [64, 1024],
]) {
  const on = best(n, true, max);
  const off = best(n, false, max);
  console.log(
    `${String(n).padStart(7)} ${String(max).padStart(17)} | ${fmt(on.pages)} ${fmt(on.faults)} ${fmt(on.usPerSwitch)} ${String(on.evictions).padStart(7)} | ` +
      `${fmt(off.pages)} ${fmt(off.faults)} ${fmt(off.usPerSwitch)}`,
  );
}
const a = allocations();
console.log(
  `heap bytes allocated per call, steady state: CR3 switch ${a.perSwitch.toFixed(1)}, ` +
    `fault (invlpg + refill) ${a.perFault.toFixed(1)}, fault reflected to the guest ${a.perGuestFault.toFixed(1)}, ` +
    `emulated pte write ${a.perPteWrite.toFixed(1)}`,
);
console.log(
  `time per call, steady state: CR3 switch ${a.nsSwitch.toFixed(0)} ns, fault (invlpg + 4-level walk + refill) ${a.nsFault.toFixed(0)} ns`,
);
console.log('(counts are exact; µs is the best of 3 runs and only indicative on a shared machine)');
