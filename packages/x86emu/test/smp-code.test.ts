/**
 * Cross-modifying code between threads (SDM Vol. 3 8.1.3, issue 14): one Cpu runs a routine until
 * it is decoded and compiled, another Cpu on another thread patches it in the shared RAM, and the
 * first, after a serializing CPUID (`serializingCpuid`, src/smp/code-sync.ts), runs the new code.
 * Runs the built package (the workers load dist/).
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { asm } from './asm.js';
import { runThreads } from './smp-threads.js';

const EXECUTOR = 0x1000;
const WRITER = 0x2000;
const SITE = 0x3000; // the routine: mov eax, 1; ret
const DATA = 0x10000; // +0 flag A (executor ran the old code), +4 flag B (patched), +8/+12 results

const executor = `
  mov ecx, 3000
warm: call ${SITE}
  dec ecx
  jnz warm
  mov dword ptr [${DATA + 8}], eax
  mov dword ptr [${DATA}], 1
wait: pause
  cmp dword ptr [${DATA + 4}], 1
  jne wait
  xor eax, eax
  cpuid
  call ${SITE}
  mov dword ptr [${DATA + 12}], eax
  hlt
`;
const writer = `
wait: pause
  cmp dword ptr [${DATA}], 1
  jne wait
  mov byte ptr [${SITE + 1}], 2
  mov dword ptr [${DATA + 4}], 1
  hlt
`;
const site = 'mov eax, 1\nret';

function ram(): SharedArrayBuffer {
  const r = new SharedArrayBuffer(1 << 20);
  const b = new Uint8Array(r);
  b.set(asm(executor, { bits: 32, origin: EXECUTOR }), EXECUTOR);
  b.set(asm(writer, { bits: 32, origin: WRITER }), WRITER);
  b.set(asm(site, { bits: 32, origin: SITE }), SITE);
  return r;
}

const twoCores = availableParallelism() >= 2;
/** The reason in a skipped test's name: the threads must really run at once for the race. */
const oneCore = twoCores ? '' : ' (skipped: one host CPU, so the threads never run at once)';
const vcpus = [{ rip: EXECUTOR, gpr: { 4: 0x8000 } }, { rip: WRITER }];

describe('code patched by another thread (cross-modifying code)', () => {
  it.skipIf(!twoCores)(
    `runs new after a serializing CPUID, though it was decoded and compiled old${oneCore}`,
    async () => {
      const r = ram();
      const out = await runThreads(r, vcpus, { serialize: true });
      const d = new DataView(r);
      for (const o of out) expect(o.stop).toBe(1);
      expect(d.getUint32(DATA + 8, true)).toBe(1); // the old routine, 3,000 times
      expect(d.getUint32(DATA + 12, true)).toBe(2); // the patched one
    },
    60_000,
  );

  it.skipIf(!twoCores)(
    `runs stale without the serializing revalidation (what the test above would catch)${oneCore}`,
    async () => {
      const r = ram();
      const out = await runThreads(r, vcpus, { serialize: false });
      const d = new DataView(r);
      for (const o of out) expect(o.stop).toBe(1);
      expect(new Uint8Array(r)[SITE + 1]).toBe(2); // memory holds the new code
      expect(d.getUint32(DATA + 12, true)).toBe(1); // the executor's decode cache the old
    },
    60_000,
  );
});
