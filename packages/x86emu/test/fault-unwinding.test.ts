/**
 * Faults and exits that end an instruction without a JS throw (`Cpu.unwinding`): a #PF of MOV
 * and the common intercept exits leave the CPU exactly as the thrown path does (RIP at the
 * instruction, registers and memory untouched, no single-step trap), in the interpreter and in a
 * compiled block; INVLPG drops every 4 KiB part of a large page, and only then scans.
 */
import { describe, expect, it } from 'vitest';
import { Unwind } from '../src/cpu/cpu.js';
import { InterceptKind, Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { inWasmMemory, runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

const PF = 14;
const TF = 1 << 8;

/** Identity-maps the first 16 MiB with 4 KiB pages (page tables at 0x400000, PD at 0x3ff000). */
function paging(m: ReturnType<typeof protectedMode>): void {
  const pd = 0x3ff000;
  for (let t = 0; t < 4; t++) {
    m.mem.write32(pd + t * 4, (0x400000 + t * 0x1000) | 7);
    for (let i = 0; i < 1024; i++)
      m.mem.write32(0x400000 + t * 0x1000 + i * 4, ((t * 1024 + i) * 0x1000) | 7);
  }
  const s = m.cpu.state;
  s.cr[3] = pd;
  s.cr[0] |= 0x80010000; // PG | WP
  m.cpu.stateChanged();
}
const pteAddr = (lin: number): number => 0x400000 + (lin >>> 12) * 4;

describe('a #PF through the memory access path (no throw)', () => {
  it('readOrFault/writeOrFault record the #PF and return: nothing written, unwinding = Fault', () => {
    const m = protectedMode('hlt');
    paging(m);
    m.mem.write32(pteAddr(0x500000), 0x500005); // present, user, read-only
    const cpu = m.cpu;
    m.mem.write32(0x500010, 0x12345678);
    expect(() => cpu.writeOrFault(3, 0x500010, 4, 0xdeadbeef)).not.toThrow();
    expect(cpu.unwinding).toBe(Unwind.Fault);
    expect(cpu.faultVector).toBe(PF);
    expect(cpu.faultError).toBe(3); // present | write (WP = 1)
    expect(cpu.faultAddress).toBe(0x500010);
    expect(m.mem.read32(0x500010)).toBe(0x12345678);
    cpu.unwinding = Unwind.None;
    // A read of the same page succeeds; of a not-present one records error 0.
    expect(cpu.readOrFault(3, 0x500010, 4)).toBe(0x12345678);
    expect(cpu.unwinding).toBe(Unwind.None);
    m.mem.write32(pteAddr(0x600000), 0);
    expect(cpu.readOrFault(3, 0x600ffc, 4)).toBe(0);
    expect(cpu.unwinding).toBe(Unwind.Fault);
    expect([cpu.faultError, cpu.faultAddress]).toEqual([0, 0x600ffc]);
  });

  it('a faulting MOV load leaves EAX and RIP as they were; with TF = 1 no #DB is left pending', () => {
    const m = protectedMode(
      'mov eax, 0x11; pushfd; or dword ptr [esp], 0x100; popfd; mov eax, [0x600ffc]; hlt',
      {
        captureExceptions: true,
      },
    );
    paging(m);
    m.mem.write32(pteAddr(0x600000), 0);
    // Stop on #DB too: the single-step traps of the instructions before the MOV are delivered.
    const r = m.cpu.run(1000);
    const s = m.cpu.state;
    // POPFD sets TF: the next instruction (the MOV) starts with TF = 1 and faults.
    expect(r).toBe(StopReason.Exception);
    expect(m.exceptions.at(-1)).toEqual({ vector: PF, errorCode: 0, faultAddress: 0x600ffc });
    expect(s.gpr[Reg.RAX]).toBe(0x11);
    expect(s.rflags[0] & TF).toBe(TF);
    expect(s.rip[0]).toBe(CODE + 5 + 1 + 7 + 1);
    // A fault is not a completed instruction: no single-step trap was queued behind it.
    expect(s.pendingType).toBe(-1);
    expect(m.cpu.unwinding).toBe(Unwind.None);
  });

  it('CMPS with both operands on not-present pages faults on ES:[EDI], read first as on the real CPU', () => {
    const m = protectedMode('mov esi, 0x600010; mov edi, 0x700020; cmpsd; hlt', { captureExceptions: true });
    paging(m);
    m.mem.write32(pteAddr(0x600000), 0);
    m.mem.write32(pteAddr(0x700000), 0);
    expect(m.cpu.run(1000)).toBe(StopReason.Exception);
    expect(m.exceptions.at(-1)).toEqual({ vector: PF, errorCode: 0, faultAddress: 0x700020 });
    // Only the source missing: the fault is then the source's.
    m.mem.write32(pteAddr(0x700000), 0x700007);
    const s = m.cpu.state;
    s.rip[0] = CODE;
    expect(m.cpu.run(1000)).toBe(StopReason.Exception);
    expect(m.exceptions.at(-1)).toEqual({ vector: PF, errorCode: 0, faultAddress: 0x600010 });
    expect([s.gpr[Reg.RSI], s.gpr[Reg.RDI]]).toEqual([0x600010, 0x700020]);
  });

  it('a faulting MOV store to a write-protected page writes nothing and reports P | W', () => {
    const m = protectedMode('mov ebx, 0x55; mov [0x500ff0], ebx; hlt', { captureExceptions: true });
    paging(m);
    m.mem.write32(pteAddr(0x500000), 0x500005);
    m.mem.write32(0x500ff0, 0xaaaa);
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 3, faultAddress: 0x500ff0 });
    expect(m.mem.read32(0x500ff0)).toBe(0xaaaa);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
  });

  it('compiled blocks stop at a faulting MOV exactly where the interpreter does', () => {
    // The store faults on the 40th iteration (its pte is cleared then), in a hot loop.
    const src = `
      mov ecx, 0
    top:
      inc ecx
      mov edx, ecx
      shl edx, 12
      add edx, 0x500000
      mov [edx], ecx
      mov eax, [edx]
      cmp ecx, 60
      jne top
      hlt`;
    const make = () => {
      const m = protectedMode(src, { captureExceptions: true });
      paging(m);
      m.mem.write32(pteAddr(0x500000 + 40 * 0x1000), 0);
      return m;
    };
    const r = lockstep(make, [1, 7, 1000]);
    expect(r.jit.exceptions[0]).toEqual({ vector: PF, errorCode: 2, faultAddress: 0x528000 });
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(40);
  });

  it.each([
    ['js', false],
    ['wasm', true],
  ] as const)(
    "a compiled block's store that faults leaves the block with unwinding set, not a throw (%s backend)",
    (backend, wasm) => {
      // The same loop; the 40th page read-only (a shadow MMU's write-protected page table faults so).
      const built = protectedMode(
        'mov ecx, 0; top: inc ecx; mov edx, ecx; shl edx, 12; add edx, 0x500000; mov [edx], ecx; mov eax, [edx]; cmp ecx, 60; jne top; hlt',
        { captureExceptions: true },
      );
      paging(built);
      built.mem.write32(pteAddr(0x528000), 0x528005);
      built.mem.write32(0x528000, 0xaaaa);
      const m = wasm ? inWasmMemory(built) : built;
      const cpu = m.cpu;
      const jit = new Jit({ hot: 2, backend });
      cpu.jit = jit;
      cpu.run(40);
      while (cpu.state.rip[0] !== CODE + 5) cpu.run(1); // at \`top\`, where the compiled loop starts
      expect(jit.stats.compiled).toBeGreaterThan(0);
      // Entered as Cpu.run enters a block: budget room, the decode at RIP fetched first.
      cpu.runCount = 0;
      cpu.runLimit = 100_000;
      let entered = false;
      expect(() => {
        entered = jit.enter(cpu, cpu.fetchFirst());
      }).not.toThrow();
      expect(entered).toBe(true);
      expect(cpu.unwinding).toBe(Unwind.Fault);
      expect([cpu.faultVector, cpu.faultError, cpu.faultAddress]).toEqual([PF, 3, 0x528000]);
      // At the store: ECX and EDX of its iteration stored from the block's locals, nothing written.
      expect(cpu.startEip).toBe(CODE + 5 + 1 + 2 + 3 + 6);
      expect(cpu.state.gpr[Reg.RCX]).toBe(40);
      expect(cpu.state.gpr[Reg.RDX]).toBe(0x528000);
      expect(m.mem.read32(0x528000)).toBe(0xaaaa);
      // The run loop's finishUnwind delivers it there, as for the interpreter's readOrFault.
      expect(cpu.finishUnwind()).toBe(StopReason.Exception);
      expect(m.exceptions[0]).toEqual({ vector: PF, errorCode: 3, faultAddress: 0x528000 });
    },
  );
});

describe('intercept exits without a throw (interceptExits)', () => {
  it('an intercepted MOV to CR3 stops with RIP at the instruction and CR3 unchanged', () => {
    const lengths: number[] = [];
    const m = protectedMode(
      'mov eax, 0x123000; mov cr3, eax; hlt',
      {},
      {
        mask: 1 << InterceptKind.CrWrite,
        instruction: (kind, x) => {
          lengths.push(kind, x.cr, x.gpr, x.instructionLength);
          return true;
        },
      },
    );
    const r = m.cpu.run(100);
    expect(r).toBe(StopReason.Intercept);
    expect(lengths).toEqual([InterceptKind.CrWrite, 3, Reg.RAX, 3]);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
    expect(m.cpu.state.cr[3]).toBe(0);
    expect(m.cpu.instructionsRetired).toBe(2);
    expect(m.cpu.unwinding).toBe(Unwind.None);
  });

  it('a CPUID exit in a compiled loop stops where the interpreter stops', () => {
    // The hook asks to exit on the 30th CPUID only; CPUID keeps ESI.
    const src = 'xor esi, esi; top: inc esi; cpuid; cmp esi, 50; jne top; hlt';
    // The hook reads the machine it belongs to: lockstep builds two, one after the other.
    const machines: ReturnType<typeof protectedMode>[] = [];
    const r = lockstep(() => {
      const x = protectedMode(
        src,
        {},
        {
          mask: 1 << InterceptKind.Cpuid,
          instruction: () => x.cpu.state.gpr[Reg.RSI] === 30,
        },
      );
      machines.push(x);
      return x;
    }, [1000]);
    expect(machines).toHaveLength(2);
    expect(r.jit.cpu.state.gpr[Reg.RSI]).toBe(30);
    expect(r.jit.cpu.state.rip[0]).toBe(r.interp.cpu.state.rip[0]);
    expect(r.jit.cpu.jit?.stats.compiled).toBeGreaterThan(0);
  });
});

describe('INVLPG and large pages', () => {
  it('INVLPG inside a 4 MiB page drops the cached 4 KiB parts of the whole page', () => {
    // PSE: PDE 2 maps 0x800000–0xBFFFFF as one 4 MiB page; two parts are cached, the PDE moved
    // to another frame, INVLPG of the first part: the second part must be walked again too.
    const m = protectedMode(
      'mov eax, [0x800000]; mov ebx, [0x9ff000]; mov dword ptr [0x3ff008], 0xc00087; invlpg [0x800000]; mov ecx, [0x9ff000]; hlt',
    );
    paging(m);
    m.cpu.state.cr[4] |= 0x10; // PSE
    m.mem.write32(0x3ff000 + 2 * 4, 0x800087); // 4 MiB page, present, writable, user
    m.cpu.stateChanged();
    m.mem.write32(0x9ff000, 0x1111);
    m.mem.write32(0xdff000, 0x2222);
    runTo(m);
    const s = m.cpu.state;
    expect([s.gpr[Reg.RBX], s.gpr[Reg.RCX]]).toEqual([0x1111, 0x2222]);
    expect(m.cpu.tlbLargeSpans.size).toBe(1);
  });

  it('with only 4 KiB pages cached INVLPG drops the one translation and keeps the others', () => {
    const m = protectedMode(
      'mov eax, [0x500000]; mov ebx, [0x501000]; mov dword ptr [0x401400], 0x700007; mov dword ptr [0x401404], 0x700007; invlpg [0x500000]; mov ecx, [0x500000]; mov edx, [0x501000]; hlt',
    );
    paging(m);
    m.mem.write32(0x500000, 1);
    m.mem.write32(0x501000, 2);
    m.mem.write32(0x700000, 7);
    runTo(m);
    const s = m.cpu.state;
    // 0x500000 walks again (new frame); 0x501000 still uses its stale entry (no INVLPG for it).
    expect([s.gpr[Reg.RAX], s.gpr[Reg.RBX], s.gpr[Reg.RCX], s.gpr[Reg.RDX]]).toEqual([1, 2, 7, 2]);
    expect(m.cpu.tlbLargeSpans.size).toBe(0);
  });
});
