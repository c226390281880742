/**
 * The wasm backend's TLB probe (jit/wasm/arena.ts, emit.ts `probe`): per TLB index and privilege
 * class a read tag, a write tag and an addend in wasm memory, kept in step with the interpreter's
 * TLB by cpu/tlb.ts. Every case the interpreter's inline path refuses must miss there too: a write
 * to a read-only page, a write to a page with compiled code, an access crossing a page, an access
 * at CPL 3 to a supervisor page the same function reached at CPL 0, INVLPG and CR3 between blocks,
 * the first write to a clean page (the walk sets D), MMIO. Each runs in lockstep with the
 * interpreter (state after every budget stop, exceptions, page tables and data), and after every
 * stop the wasm side is audited against the interpreter's entries.
 */
import { describe, expect, it } from 'vitest';
import { TLB_SIZE, TP_SR, TP_SW, TP_UR, TP_UW } from '../src/cpu/consts.js';
import { type Cpu, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { RAM } from '../src/jit/wasm/arena.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { PATCH_OWN_BLOCK, snapshot } from './jit-lockstep.js';
import { inWasmMemory, type Machine } from './machine.js';
import { protectedMode, SEL } from './pm.js';

const WASM = { hot: 2, backend: 'wasm' } as const;
const PD = 0x380000;
const PT = 0x381000;
/** Pages of the map: read-only (user), supervisor-only (read/write), and one beyond RAM (MMIO). */
const RO = 0x200000;
const SUP = 0x201000;
const MMIO = 0x3ff000;

/**
 * `protectedMode(src)` (exceptions captured) on RAM in a WebAssembly.Memory, under 2-level paging
 * with 4 KiB pages and CR0.WP: linear 0–4 MiB identity-mapped (the tables too), user and writable, accessed and
 * dirty bits clear, except RO (read-only), SUP (supervisor) and MMIO (mapped to 0xFEC00000,
 * beyond RAM: no host view, every access through `Cpu.read`/`write`).
 */
function paged(src: string): Machine {
  const m = inWasmMemory(protectedMode(src, { captureExceptions: true }));
  const w = m.mem;
  w.write32(PD, PT | 7);
  for (let i = 0; i < 1024; i++) w.write32(PT + i * 4, (i << 12) | 7);
  w.write32(PT + (RO >>> 12) * 4, RO | 5);
  w.write32(PT + (SUP >>> 12) * 4, SUP | 3);
  w.write32(PT + (MMIO >>> 12) * 4, 0xfec00000 | 7);
  const s = m.cpu.state;
  s.cr[3] = PD;
  s.cr[0] |= 0x80010000; // PG | WP
  m.cpu.stateChanged();
  return m;
}

/**
 * Checks the wasm side against the interpreter's TLB, entry by entry: a tag per class and access
 * exactly where the interpreter's inline path would take that access (the right, a host view, a
 * frame in wasm memory), holding the page address, with the addend to the frame; -1 elsewhere.
 */
function audit(cpu: Cpu): void {
  const w = cpu.tlbWasm;
  // None until the first region compiles (the backend is made then).
  if (w === null) return;
  const frames = cpu.tlbWasmFrames;
  for (let idx = 0; idx < TLB_SIZE; idx++) {
    const tag = cpu.tlbTag[idx];
    const perm = cpu.tlbPerm[idx];
    const pfn = cpu.tlbPfn[idx];
    const inline = tag >= 0 && cpu.tlbView[idx] !== null && pfn < frames;
    const page = ((tag * TLB_SIZE + idx) * 4096) | 0;
    const slots: [number, number][] = [
      [idx * 2, TP_SR],
      [idx * 2 + 2 * TLB_SIZE, TP_UR],
      [idx * 2 + 4 * TLB_SIZE, TP_SW],
      [idx * 2 + 6 * TLB_SIZE, TP_UW],
    ];
    for (const [at, right] of slots) {
      const want = inline && (perm & right) !== 0 ? page : -1;
      expect(w[at], `entry ${idx} right ${right}`).toBe(want);
      if (want !== -1) {
        expect(w[at + 1]).toBe(0);
        expect((w[idx * 2 + 8 * TLB_SIZE] + page) >>> 0).toBe(RAM + pfn * 4096);
      }
    }
  }
}

/**
 * Lockstep of the wasm backend against the interpreter (as ./jit-lockstep.ts), auditing the wasm
 * side after every stop; at the end the page tables and the data pages must be equal too.
 */
function lockstepAudited(src: string, budgets: number[]): { jit: Machine; interp: Machine } {
  const a = paged(src);
  const b = paged(src);
  a.cpu.jit = new Jit(WASM);
  for (let n = 0; n < 100_000; n++) {
    const budget = budgets[n % budgets.length];
    const ra = a.cpu.run(budget);
    const rb = b.cpu.run(budget);
    expect(ra, `run ${n} stop reason`).toBe(rb);
    expect(snapshot(a.cpu), `run ${n} state`).toEqual(snapshot(b.cpu));
    expect(a.exceptions).toEqual(b.exceptions);
    audit(a.cpu);
    if (ra !== StopReason.Budget) break;
  }
  expect(a.cpu.tlbWasm).not.toBe(null);
  expect(
    Buffer.from(a.mem.bytes.subarray(PT, PT + 4096)).equals(Buffer.from(b.mem.bytes.subarray(PT, PT + 4096))),
  ).toBe(true);
  expect(
    Buffer.from(a.mem.bytes.subarray(0x100000, 0x300000)).equals(
      Buffer.from(b.mem.bytes.subarray(0x100000, 0x300000)),
    ),
  ).toBe(true);
  return { jit: a, interp: b };
}

const BUDGETS = [1, 7, 61, 10_000];
const stats = (m: Machine) => wasmBackend(m.cpu).stats;
const pte = (m: Machine, lin: number): number => m.mem.read32(PT + (lin >>> 12) * 4);

describe('wasm backend: the TLB probe', () => {
  it('reads a read-only page inline and faults on the first write to it, at that instruction', () => {
    const r = lockstepAudited(
      `
      mov ecx, 500
      mov esi, ${RO}
    top:
      add eax, [esi + 8]
      mov [0x100010], eax
      dec ecx
      jnz top
      mov [esi + 4], eax
      hlt`,
      BUDGETS,
    );
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 3, faultAddress: RO + 4 }]);
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
    expect(stats(r.jit).slowAccesses).toBeLessThan(40);
  });

  it('sets the accessed bit on the walk, and the dirty bit on the first write after reads', () => {
    const r = lockstepAudited(
      `
      mov ecx, 400
      mov esi, 0x120000
    top:
      add eax, [esi]
      cmp ecx, 200
      jne skip
      mov [esi + 0x10], eax
    skip:
      mov [esi + 0x1000], ecx
      dec ecx
      jnz top
      hlt`,
      BUDGETS,
    );
    expect(pte(r.jit, 0x120000) & 0x60).toBe(0x60);
    expect(pte(r.jit, 0x121000) & 0x60).toBe(0x60);
    expect(pte(r.jit, 0x122000) & 0x60).toBe(0);
    expect(stats(r.jit).slowAccesses).toBeLessThan(40);
  });

  it('takes the slow path for an access crossing a page, and faults on the read-only half of a write', () => {
    const r = lockstepAudited(
      `
      mov ecx, 300
      mov esi, ${RO - 2}
    top:
      add eax, [esi]
      movzx edx, word ptr [esi + 1]
      add ebx, edx
      mov [0xffffe], eax
      dec ecx
      jnz top
      mov [esi], eax
      hlt`,
      BUDGETS,
    );
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 3, faultAddress: RO }]);
    expect(r.jit.mem.read32(0xffffe)).toBe(r.jit.cpu.state.gpr[0]);
    expect(stats(r.jit).slowAccesses).toBeGreaterThan(500);
  });

  it('a function that reached a supervisor page at CPL 0 faults on it at CPL 3', () => {
    // One loop run twice: at CPL 0 (compiled, the supervisor page inline), then at CPL 3 by IRET,
    // where the same function's first access to it must fault (error code 5: user read, present).
    const r = lockstepAudited(
      `
      xor edi, edi
      mov esi, ${SUP}
    again:
      mov ecx, 300
    top:
      add eax, [esi + 4]
      mov [esi + 8], eax
      mov [0x100000], ecx
      dec ecx
      jnz top
      test edi, edi
      jnz done
      inc edi
      mov edx, ${SEL.DATA3}
      mov ds, dx
      mov es, dx
      push ${SEL.DATA3}
      push 0x8f00
      pushfd
      push ${SEL.CODE3}
      push offset again
      iretd
    done:
      hlt`,
      BUDGETS,
    );
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 5, faultAddress: SUP + 4 }]);
    expect(r.jit.cpu.state.cpl).toBe(3);
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
  });

  it('sees a remapped page after INVLPG and after a CR3 load between blocks', () => {
    // Linear 0x180000 is remapped to 0x190000's frame (INVLPG), then the PTE is put back and CR3
    // reloaded: the sums of each phase read the frame the page maps then.
    const r = lockstepAudited(
      `
      mov dword ptr [0x180000], 3
      mov dword ptr [0x190000], 5
      mov esi, 0x180000
      mov ebx, ${PT + 0x180 * 4}
      xor edx, edx
      mov ecx, 200
    a:
      add eax, [esi]
      mov [esi + 4], ecx
      dec ecx
      jnz a
      mov dword ptr [ebx], 0x190007
      invlpg [esi]
      mov ecx, 200
    b:
      add edx, [esi]
      mov [esi + 4], ecx
      dec ecx
      jnz b
      mov dword ptr [ebx], 0x180007
      mov ebp, cr3
      mov cr3, ebp
      mov ecx, 200
    c:
      add edi, [esi]
      mov [esi + 8], ecx
      dec ecx
      jnz c
      hlt`,
      BUDGETS,
    );
    const g = r.jit.cpu.state.gpr;
    expect([g[0], g[2], g[7]]).toEqual([600, 1000, 600]);
    expect(r.jit.exceptions).toEqual([]);
  });

  it('stores into a page holding compiled code take the path that drops its blocks', () => {
    const r = lockstepAudited(PATCH_OWN_BLOCK, [1000, 7, 100_000]);
    expect(r.jit.cpu.state.gpr[3]).toBe(1500 + 500 * 7);
    expect(r.jit.cpu.stats.codeInvalidations).toBeGreaterThan(0);
  });

  it('MMIO (a frame beyond RAM) never gets a tag: every access goes through Cpu.read/write', () => {
    const r = lockstepAudited(
      `
      mov ecx, 300
    top:
      add eax, [${MMIO}]
      mov [${MMIO} + 4], ecx
      mov [0x100000], eax
      dec ecx
      jnz top
      hlt`,
      BUDGETS,
    );
    expect(r.jit.cpu.state.gpr[0]).toBe(2 ** 32 - 300);
    expect(stats(r.jit).slowAccesses).toBeGreaterThan(500);
  });
});
