/**
 * The wasm backend (src/jit/wasm): regions compiled to WebAssembly leave the CPU exactly as the
 * interpreter does, in lockstep at budgets that stop inside blocks, at a #PF in the middle of a
 * block, after a write into the running block; memory operands take the inline TLB path in wasm
 * memory, and forms the backend does not compile go to the JS backend.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, CpuState, Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { WA } from '../src/jit/wasm/api.js';
import type { WasmGuestMemory } from '../src/jit/wasm/arena.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { LockedMemory } from '../src/smp/locked-memory.js';
import { lockstep, PATCH_OWN_BLOCK } from './jit-lockstep.js';
import { longMode } from './long.js';
import { inWasmMemory, type Machine } from './machine.js';
import { CODE, pagedProtectedMode, protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61, 10_000];
const WASM = { hot: 2, backend: 'wasm' } as const;

const stats = (m: Machine) => wasmBackend(m.cpu).stats;

// Every form the backend compiles, in a loop nest of one page (a region of three blocks).
const FORMS = `
  mov ecx, 200
  mov esi, 0x100000
  xor eax, eax
  mov ebx, 0x12345678
outer:
  mov edx, ecx
  and edx, 0x3f
  add eax, [esi + edx*4]
  imul eax, eax, 33
  imul ebp, eax
  xor eax, ecx
  mov [esi + edx*4], eax
  lea edi, [eax + ecx*2 + 5]
  movzx ebp, al
  movsx edi, ah
  movzx edx, word ptr [esi + 8]
  movsx edx, byte ptr [esi + edx]
  or ebp, 0x80
  sub ebp, ebx
  cmp ebp, [esi]
  test eax, 0x100
  test [esi + 4], ebx
  test ebx, 0x10000
  cmp [esi], ebp
  add eax, 0x12345
  shl ebx, 1
  movzx ebp, bx
  movsx edx, word ptr [esi + 6]
  imul ebp, [esi + 4]
  nop
  mov dword ptr [esi + 12], 0x55
  shl ebx, 3
  sar ebx, 1
  shr ebx, cl
  ror ebx, 0
  mov edi, 4
inner:
  add ebx, edi
  rol ebx, 0
  shr eax, cl
  inc edx
  sub edi, 1
  jnz inner
  cmp eax, ebx
  jb below
  add eax, 3
below:
  dec ecx
  jnz outer
  hlt`;

describe('wasm backend: lockstep with the interpreter', () => {
  it('the bench loop, paging off and on, at every budget stop', () => {
    const loop = `
      mov ecx, 3000
      mov esi, 0x100000
    top:
      mov edx, ecx
      and edx, 0x3ff
      add eax, [esi + edx*4]
      imul eax, eax, 33
      xor eax, ecx
      mov [esi + edx*4], eax
      dec ecx
      jnz top
      hlt`;
    for (const make of [
      () => inWasmMemory(protectedMode(loop)),
      () => inWasmMemory(pagedProtectedMode(loop)),
    ]) {
      const r = lockstep(make, BUDGETS, WASM);
      expect(stats(r.jit).compiled).toBeGreaterThan(0);
      expect(stats(r.jit).rejected).toBe(0);
      expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(10_000);
      // 2 × 3000 accesses, nearly all on the inline TLB path (misses and code-page stores aside).
      expect(stats(r.jit).slowAccesses).toBeLessThan(100);
    }
  });

  it('every compiled form, a region of nested loops with shifts by CL and flags read across blocks', () => {
    const noRot = FORMS.replace(/\n\s*ro[lr] ebx, 0/g, '');
    const q = lockstep(() => inWasmMemory(protectedMode(noRot)), BUDGETS, WASM);
    expect(stats(q.jit).compiled).toBeGreaterThan(0);
    expect(stats(q.jit).rejected).toBe(0);
    expect(q.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
    // ROL/ROR are not compiled inline: their handlers are called from the wasm function.
    const r = lockstep(() => inWasmMemory(protectedMode(FORMS)), BUDGETS, WASM);
    expect(stats(r.jit).rejected).toBe(0);
    expect(stats(r.jit).handlerSites).toBeGreaterThan(0);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
  });

  it('keeps the registers in wasm memory, where compiled code, handlers, the interpreter and state copies all see them', () => {
    // Upper halves left by an earlier long mode: a 32-bit write clears its register's, the rest stay.
    const high = (m: Machine): Machine => {
      for (let r = 0; r < 16; r++) m.cpu.state.gprHigh[r] = 0xdead0000 + r;
      return m;
    };
    for (const make of [() => high(inWasmMemory(protectedMode(FORMS))), () => high(protectedMode(FORMS))]) {
      const r = lockstep(make, BUDGETS, WASM);
      const cpu = r.jit.cpu;
      const buf = wasmBackend(cpu).memory.buffer;
      expect(stats(r.jit).handlerSites).toBeGreaterThan(0);
      expect(cpu.state.gpr.buffer).toBe(buf);
      expect(cpu.state.gprHigh.buffer).toBe(buf);
      expect(cpu.gpr).toBe(cpu.state.gpr);
      expect(cpu.gprHigh).toBe(cpu.state.gprHigh);
      expect(cpu.state.gprHigh[8]).toBe(0xdead0008);
      // A snapshot of the moved state, and a state copied into it, carry the registers.
      const copy = new CpuState();
      copy.copyFrom(cpu.state);
      expect([...copy.gpr, ...copy.gprHigh]).toEqual([...cpu.state.gpr, ...cpu.state.gprHigh]);
      copy.gpr[3] = 0x1234;
      copy.gprHigh[9] = 0x5678;
      cpu.state.copyFrom(copy);
      expect(cpu.state.gpr.buffer).toBe(buf);
      expect([cpu.gpr[3], cpu.gprHigh[9]]).toEqual([0x1234, 0x5678]);
    }
  });

  it("runs on a shared WebAssembly.Memory (a page's guest RAM), its modules importing the memory as shared", () => {
    const r = lockstep(() => inWasmMemory(protectedMode(FORMS), true), BUDGETS, WASM);
    expect(r.jit.mem.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
    // 64-bit regions, and the chain's dispatch module, on a shared memory: a call and a return
    // between two pages, chained in wasm.
    const calls = `
  mov ecx, 2000
  xor eax, eax
top:
  call f1
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  lea rax, [rax + rcx * 2 + 1]
  ret
`;
    const q = lockstep(() => inWasmMemory(longMode(calls), true), BUDGETS, WASM);
    expect(q.jit.cpu.state.gpr[Reg.RAX]).toBe(q.interp.cpu.state.gpr[Reg.RAX]);
    expect(q.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
  });

  it('runs on RAM outside wasm memory too, every access through Cpu.read/write', () => {
    const r = lockstep(() => protectedMode(FORMS.replace(/\n\s*ro[lr] ebx, 0/g, '')), BUDGETS, WASM);
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(3000);
  });
});

/**
 * Every condition code after every kind of flag record the backend keeps (ADD, SUB, logic, INC,
 * DEC, a shift's and IMUL's built flags, and a shift by CL whose count may be 0), counting the
 * branches taken in EBP: operands from a xorshift sequence, so that every flag takes both values.
 */
function conditions(): string {
  const producers = [
    'add edx, ebx',
    'sub edx, ebx',
    'and edx, ebx',
    'inc edx',
    'dec edx',
    'shl edx, 3',
    'imul edx, ebx',
    'shr edx, cl',
  ];
  let src = `
  mov ecx, 400
  mov eax, 0x9e3779b9
  mov ebx, 0x7f4a7c15
top:
  mov edx, eax
  shl edx, 13
  xor eax, edx
  mov edx, eax
  shr edx, 17
  xor eax, edx
  mov edx, eax
  shl edx, 5
  xor eax, edx
  xor ebx, eax
`;
  let n = 0;
  for (const p of producers)
    for (const cc of 'o no b ae e ne be a s ns p np l ge le g'.split(' ')) {
      src += `  mov edx, eax\n  ${p}\n  j${cc} t${n}\n  inc ebp\nt${n}:\n`;
      n++;
    }
  return `${src}  dec ecx\n  jnz top\n  hlt`;
}

describe('wasm backend: flags', () => {
  it('every condition code after every kind of flag record', () => {
    const r = lockstep(() => inWasmMemory(protectedMode(conditions())), [1, 17, 100_000], WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(stats(r.jit).compiled).toBeGreaterThan(100);
    expect(stats(r.jit).rejected).toBe(0);
  });
});

describe('wasm backend: exactness', () => {
  it('a #PF in the middle of a block is reported at that instruction, with the registers and flags before it', () => {
    const src = `
      mov esi, 0x3f0000
    top:
      add ebx, 0x11
      mov eax, [esi]
      add esi, 0x1000
      cmp ecx, 0
      jmp top`;
    const r = lockstep(() => inWasmMemory(pagedProtectedMode(src)), [1000], WASM);
    const m = r.jit;
    expect(stats(m).compiled).toBe(1);
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x400000 }]);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5 + 3);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 17);
    expect(m.cpu.state.rflags[0] & 0x8d5).toBe(0x4);
  });

  it('a write into the running block takes effect at the next instruction', () => {
    // At ECX = 500 the store (a slow path: code frames have no write right) hits the immediate
    // of the MOV that follows it in the same block.
    const r = lockstep(() => inWasmMemory(protectedMode(PATCH_OWN_BLOCK)), [1000, 7, 100_000], WASM);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500 + 500 * 7);
    expect(stats(r.jit).compiled).toBeGreaterThanOrEqual(2);
  });

  it('a branch beyond the CS limit raises #GP at the branch', () => {
    const src = `
      mov ecx, 50
    top:
      add eax, ecx
      dec ecx
      jz 0x20000
      jmp top`;
    const make = () => {
      const m = inWasmMemory(protectedMode(src, { captureExceptions: true }));
      m.cpu.state.segLimit[1] = 0x1ffff;
      m.cpu.stateChanged();
      return m;
    };
    const r = lockstep(make, [1, 5, 1000], WASM);
    expect(stats(r.jit).compiled).toBe(1);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([13]);
  });
});

describe('wasm backend: handlers called from wasm', () => {
  it('CALL/RET, PUSH/POP, CMOVcc, ADC and a #DE from DIV in the middle of a block, exactly', () => {
    // Forms emit.ts leaves to the interpreter's handler; the DIV faults when EBX reaches 0, after
    // the ADD before it left its flags pending in the locals.
    const src = `
      mov ecx, 300
      mov esi, 0x100000
      mov ebx, 250
    top:
      push ecx
      call sub
      pop ecx
      add edi, 3
      mov eax, 1000
      xor edx, edx
      div ebx
      dec ebx
      adc ebp, eax
      cmp eax, 100
      cmovb edi, eax
      dec ecx
      jnz top
      hlt
    sub:
      mov edx, [esi + 8]
      add edx, ecx
      mov [esi + 8], edx
      ret`;
    const r = lockstep(() => inWasmMemory(protectedMode(src, { captureExceptions: true })), BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([0]);
    expect(stats(r.jit).compiled).toBeGreaterThan(0);
    expect(stats(r.jit).handlerSites).toBeGreaterThan(5);
    // Compiled functions called (the run that faults never returns to count its instructions).
    expect(r.jit.cpu.jit?.stats.runs).toBeGreaterThan(300);
  });
});

describe('wasm backend: the imports', () => {
  it('a module imports no function, only the memory and the import hub table its handlers and slow paths are called through', () => {
    // V8 compiles a wrapper per imported function signature at every module's compile: the
    // imports live in one table, made once per backend (encode.ts buildImportHub).
    const src = `
      mov ecx, 300
      mov esi, 0x100000
    top:
      push ecx
      mov eax, [esi + ecx*4]
      rol eax, 3
      mov [esi + ecx*4], eax
      pop ecx
      dec ecx
      jnz top
      hlt`;
    const modules: Uint8Array[] = [];
    const r = lockstep(
      () => {
        const m = inWasmMemory(pagedProtectedMode(src));
        wasmBackend(m.cpu).onModule = (bytes) => void modules.push(bytes.slice());
        return m;
      },
      BUDGETS,
      WASM,
    );
    expect(stats(r.jit).handlerSites).toBeGreaterThan(0);
    expect(modules.length).toBeGreaterThan(0);
    const api = (globalThis as unknown as { WebAssembly: { Module: { imports(m: object): unknown[] } } })
      .WebAssembly;
    for (const bytes of modules)
      expect(api.Module.imports(new WA.Module(bytes))).toEqual([
        { module: 'env', name: 'm', kind: 'memory' },
        { module: 'env', name: 'it', kind: 'table' },
      ]);
  });
});

/** Every 7th locked compare-exchange loses its race: another vCPU's +100 lands first (smp-retry.test.ts). */
class RacingLockedMemory extends LockedMemory {
  calls = 0;
  injected = 0;
  constructor(
    cpu: Cpu,
    private readonly ram: DataView,
  ) {
    super(cpu, new Int32Array(1));
  }
  override cmpxchg(lin: number, size: number, oLo: number, oHi: number, nLo: number, nHi: number): boolean {
    if (++this.calls % 7 === 0) {
      this.ram.setUint32(lin, this.ram.getUint32(lin, true) + 100, true);
      this.injected++;
    }
    return super.cmpxchg(lin, size, oLo, oHi, nLo, nHi);
  }
}

describe('wasm backend: a handler that runs its instruction again', () => {
  it('a lost LOCK race leaves the function at the instruction, which runs again: no increment lost or doubled', () => {
    const m = inWasmMemory(
      protectedMode(`
      mov ecx, 3000
    l:
      mov eax, 1
      lock xadd dword ptr [0x20000], eax
      add ebx, eax
      lock inc dword ptr [0x20004]
      dec ecx
      jnz l
      hlt`),
    );
    m.cpu.jit = new Jit(WASM);
    const ram = new DataView(m.mem.bytes.buffer, m.mem.bytes.byteOffset);
    const racing = new RacingLockedMemory(m.cpu, ram);
    m.cpu.lockedMemory = racing;
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    expect(stats(m).compiled).toBeGreaterThan(0);
    expect(racing.stats.retries).toBe(racing.injected);
    expect(ram.getUint32(0x20000, true) + ram.getUint32(0x20004, true)).toBe(
      2 * 3000 + 100 * racing.injected,
    );
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(ram.getUint32(0x20000, true) - 1);
  });
});

describe('wasm backend: one memory, two CPUs', () => {
  it('the second CPU over the same wasm RAM keeps its own TLB and goes through Cpu.read/write', () => {
    const a = inWasmMemory(protectedMode('hlt'));
    const w = a.cpu.memory as WasmGuestMemory;
    const b = new Cpu({ memory: w, jit: false });
    expect(wasmBackend(a.cpu).ramPages).toBe(w.pages);
    expect(a.cpu.tlbWasm?.buffer === w.wasm.buffer).toBe(true);
    expect(wasmBackend(b).ramPages).toBe(0);
    expect(b.tlbWasm).toBe(null);
  });
});

describe('wasm backend: where wasm code cannot be made', () => {
  it('the JS backend compiles every region, exactly, when the embedder refuses to compile wasm', () => {
    const wa = (globalThis as unknown as { WebAssembly: { Module: unknown } }).WebAssembly;
    const module = wa.Module;
    wa.Module = function refused() {
      throw new Error('WebAssembly.Module(): Wasm code generation disallowed by embedder');
    };
    try {
      const src = `
        mov ecx, 3000
        mov esi, 0x100000
      top:
        add eax, [esi]
        dec ecx
        jnz top
        hlt`;
      const r = lockstep(() => inWasmMemory(protectedMode(src)), BUDGETS, WASM);
      const be = wasmBackend(r.jit.cpu);
      expect(be.unavailable).toMatch(/disallowed/);
      expect(be.stats.compiled).toBe(0);
      expect(r.jit.cpu.jit?.stats.compiled).toBeGreaterThan(0);
      expect(r.jit.cpu.jit?.unavailable).toBe(null);
    } finally {
      wa.Module = module;
    }
  });
});

describe('wasm backend: selection', () => {
  it('is chosen by JitTuning.backend, else by X86EMU_JIT_BACKEND, else the JS backend', () => {
    const saved = process.env.X86EMU_JIT_BACKEND;
    try {
      delete process.env.X86EMU_JIT_BACKEND;
      expect(new Jit().backend).toBe('js');
      expect(new Jit({ backend: 'wasm' }).backend).toBe('wasm');
      process.env.X86EMU_JIT_BACKEND = 'wasm';
      expect(new Jit().backend).toBe('wasm');
      expect(new Jit({ backend: 'js' }).backend).toBe('js');
    } finally {
      if (saved === undefined) delete process.env.X86EMU_JIT_BACKEND;
      else process.env.X86EMU_JIT_BACKEND = saved;
    }
  });
});
