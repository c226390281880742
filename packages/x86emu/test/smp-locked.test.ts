/**
 * LOCK'd read-modify-writes, XCHG and CMPXCHG/8B/16B atomic across threads (issue 14): N Cpus,
 * each on its own worker thread over one SharedArrayBuffer, with `Cpu.lockedMemory` set
 * (src/smp/locked-memory.ts), increment shared counters in every way the SDM makes atomic, and
 * the totals are exact. Runs the built package (the workers load dist/).
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { asm } from './asm.js';
import { identityMap64, runThreads } from './smp-threads.js';

const CODE = 0x1000;
const DATA = 0x10000;
const ITER = 10_000;
const TIMEOUT = 60_000;
const THREADS = 4;

// Every counter incremented ITER times per CPU: LOCK INC, LOCK XADD, a LOCK CMPXCHG loop, a plain
// INC under an XCHG spinlock released by a plain byte store (as Linux's qspinlock), CMPXCHG8B on
// a 64-bit counter, LOCK ADD on a word and a byte, and LOCK INC of a dword split across a page
// boundary (the lock word path).
const PROGRAM32 = `
  mov ebp, ecx
l1: lock inc dword ptr [${DATA}]
  dec ecx
  jnz l1
  mov ecx, ebp
l2: mov eax, 1
  lock xadd dword ptr [${DATA + 4}], eax
  dec ecx
  jnz l2
  mov ecx, ebp
l3: mov eax, dword ptr [${DATA + 8}]
r3: lea edx, [eax + 1]
  lock cmpxchg dword ptr [${DATA + 8}], edx
  jnz r3
  dec ecx
  jnz l3
  mov ecx, ebp
l4: mov al, 1
  xchg al, byte ptr [${DATA + 0xc}]
  test al, al
  jz got4
  pause
  jmp l4
got4: inc dword ptr [${DATA + 0x10}]
  mov byte ptr [${DATA + 0xc}], 0
  dec ecx
  jnz l4
  mov ecx, ebp
l5: mov eax, dword ptr [${DATA + 0x18}]
  mov edx, dword ptr [${DATA + 0x1c}]
r5: mov ebx, eax
  mov edi, edx
  add ebx, 1
  adc edi, 0
  mov esi, ecx
  mov ecx, edi
  lock cmpxchg8b qword ptr [${DATA + 0x18}]
  mov ecx, esi
  jnz r5
  dec ecx
  jnz l5
  mov ecx, ebp
l6: lock add word ptr [${DATA + 0x20}], 1
  lock add byte ptr [${DATA + 0x24}], 1
  lock inc dword ptr [${DATA + 0xffe}]
  dec ecx
  jnz l6
  hlt
`;

// The 64-bit forms: LOCK INC qword, LOCK XADD qword, LOCK ADD of a value with both halves set,
// a LOCK CMPXCHG16B loop on a 128-bit counter, LOCK BTS/BTR of a bit lock around a plain INC.
const PROGRAM64 = `
  mov rbp, rcx
  mov rbx, 0x100000001
l1: lock inc qword ptr [${DATA}]
  mov rax, 1
  lock xadd qword ptr [${DATA + 8}], rax
  lock add qword ptr [${DATA + 0x10}], rbx
  dec rcx
  jnz l1
  mov rsi, rbp
l2: mov rax, qword ptr [${DATA + 0x20}]
  mov rdx, qword ptr [${DATA + 0x28}]
r2: mov rbx, rax
  mov rcx, rdx
  add rbx, 1
  adc rcx, 0
  lock cmpxchg16b xmmword ptr [${DATA + 0x20}]
  jnz r2
  dec rsi
  jnz l2
  mov rsi, rbp
l3: lock bts qword ptr [${DATA + 0x30}], 0
  jc l3
  inc qword ptr [${DATA + 0x38}]
  lock btr qword ptr [${DATA + 0x30}], 0
  dec rsi
  jnz l3
  hlt
`;

function ramWith(code: Uint8Array): SharedArrayBuffer {
  const ram = new SharedArrayBuffer(4 << 20);
  new Uint8Array(ram).set(code, CODE);
  return ram;
}

const twoCores = availableParallelism() >= 2;
/** The reason in a skipped test's name: the threads must really run at once for the race. */
const oneCore = twoCores ? '' : ' (skipped: one host CPU, so the threads never run at once)';

describe('LOCK across threads on shared RAM (Cpu.lockedMemory)', () => {
  it.skipIf(!twoCores)(
    `32-bit: every locked form of increment totals exactly N × iterations${oneCore}`,
    async () => {
      const ram = ramWith(asm(PROGRAM32, { bits: 32, origin: CODE }));
      const out = await runThreads(
        ram,
        Array.from({ length: THREADS }, () => ({ rip: CODE, gpr: { 1: ITER } })),
      );
      const d = new DataView(ram);
      const total = THREADS * ITER;
      for (const r of out) expect(r.stop).toBe(1); // HLT
      expect(d.getUint32(DATA, true)).toBe(total); // LOCK INC
      expect(d.getUint32(DATA + 4, true)).toBe(total); // LOCK XADD
      expect(d.getUint32(DATA + 8, true)).toBe(total); // LOCK CMPXCHG loop
      expect(d.getUint32(DATA + 0x10, true)).toBe(total); // XCHG spinlock, plain INC
      expect(d.getUint8(DATA + 0xc)).toBe(0);
      expect(d.getBigUint64(DATA + 0x18, true)).toBe(BigInt(total)); // CMPXCHG8B
      expect(d.getUint16(DATA + 0x20, true)).toBe(total & 0xffff);
      expect(d.getUint8(DATA + 0x24)).toBe(total & 0xff);
      expect(d.getUint32(DATA + 0xffe, true)).toBe(total); // split lock
      // The split one went through the lock word, the aligned ones through Atomics.
      const stats = out.map((r) => r.locked);
      for (const st of stats) {
        expect(st?.splitLocks).toBeGreaterThanOrEqual(ITER);
        expect(st?.atomic).toBeGreaterThanOrEqual(6 * ITER);
      }
    },
    TIMEOUT,
  );

  it.skipIf(!twoCores)(
    `64-bit: LOCK INC/XADD/ADD qword, CMPXCHG16B and a BTS/BTR lock total exactly${oneCore}`,
    async () => {
      const ram = ramWith(asm(PROGRAM64, { bits: 64, origin: CODE }));
      const cr3 = identityMap64(ram, 0x100000);
      const out = await runThreads(
        ram,
        Array.from({ length: THREADS }, () => ({ rip: CODE, gpr: { 1: ITER } })),
        { mode: 64, cr3 },
      );
      const d = new DataView(ram);
      const total = BigInt(THREADS * ITER);
      for (const r of out) expect(r.stop).toBe(1);
      expect(d.getBigUint64(DATA, true)).toBe(total);
      expect(d.getBigUint64(DATA + 8, true)).toBe(total);
      expect(d.getBigUint64(DATA + 0x10, true)).toBe(total * 0x100000001n);
      expect(d.getBigUint64(DATA + 0x20, true)).toBe(total); // CMPXCHG16B's low quadword
      expect(d.getBigUint64(DATA + 0x28, true)).toBe(0n);
      expect(d.getBigUint64(DATA + 0x38, true)).toBe(total); // under the BTS lock
      expect(d.getBigUint64(DATA + 0x30, true)).toBe(0n);
    },
    TIMEOUT,
  );
});
