/**
 * The host-physical wasm arena (`HostPhysicalMemory`'s `wasmArenaBytes`): the VMM's RAM comes from
 * one WebAssembly.Memory, a memory slot over it maps the arena's frames in place (frame hpfn at
 * `RAM + hpfn * 4096`, what x86emu's wasm backend probes inline), and everything else —
 * hypervisor pages, a slot over an ArrayBuffer — lies above the arena.
 */
import { isWasmPhysicalMemory } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { HostPhysicalMemory, siliconHostMemory } from '../../src/soft/host-physical.js';
import { ARENA_HVA, HvaSpace, PAGE_SIZE } from '../../src/soft/hva-space.js';
import { GFN_UNBACKED, MemorySlots } from '../../src/soft/memslots.js';

/** Where frame `hpfn` of the arena lies in its wasm memory (x86emu's arena.ts `RAM`). */
const RAM = 0x80000;

function setup(arenaBytes: number) {
  const hpm = new HostPhysicalMemory(undefined, arenaBytes);
  const hva = new HvaSpace(undefined, false, hpm);
  return { hpm, hva, slots: new MemorySlots(hva, hpm) };
}

function slot(id: number, gpa: number, size: number, hva: number) {
  return {
    slot: id,
    flags: 0,
    guestPhysAddr: BigInt(gpa),
    memorySize: BigInt(size),
    userspaceAddr: BigInt(hva),
  };
}

describe('the host-physical wasm arena', () => {
  it("is x86emu's WasmPhysicalMemory only when asked for, and only with the wasm backend", () => {
    expect(isWasmPhysicalMemory(new HostPhysicalMemory())).toBe(false);
    const hpm = new HostPhysicalMemory(undefined, 1 << 20);
    expect(isWasmPhysicalMemory(hpm)).toBe(true);
    // Frame 0 stays a hole; 1 MiB of RAM is 256 frames after it, rounded to 64 KiB.
    expect(hpm.wasmFrames).toBe(272);
    expect(hpm.arenaFreeFrames).toBe(271);
    expect(isWasmPhysicalMemory(siliconHostMemory(true, 'wasm', 1 << 20))).toBe(true);
    expect(isWasmPhysicalMemory(siliconHostMemory(true, 'js', 1 << 20))).toBe(false);
    expect(isWasmPhysicalMemory(siliconHostMemory(false, 'wasm', 1 << 20))).toBe(false);
  });

  it('hands the VMM its RAM inside the wasm memory, and a slot over it uses the frames in place', () => {
    const { hpm, hva, slots } = setup(1 << 20);
    const m = hva.allocate(64 * 1024);
    expect(m.hva).toBe(ARENA_HVA + PAGE_SIZE);
    expect(m.buffer).toBe(hpm.wasm!.buffer);
    expect(m.byteOffset).toBe(RAM + PAGE_SIZE);
    slots.set(slot(0, 0, 64 * 1024, m.hva));
    const wasmBytes = new Uint8Array(hpm.wasm!.buffer);
    for (const gfn of [0, 5, 15]) {
      const hpfn = slots.gfnToHpfn(gfn);
      expect(hpfn).toBe(1 + gfn);
      // The frame the TLB will hold is the VMM's byte at RAM + hpfn * 4096 of the wasm memory.
      m.bytes[gfn * PAGE_SIZE + 7] = 0x5a + gfn;
      expect(wasmBytes[RAM + hpfn * PAGE_SIZE + 7]).toBe(0x5a + gfn);
      expect(hpm.pageView(hpfn)![7]).toBe(0x5a + gfn);
      expect(hpm.read8(hpfn * PAGE_SIZE + 7)).toBe(0x5a + gfn);
    }
  });

  it('puts hypervisor pages and slots over other memory above the arena, where the wasm code takes the imports', () => {
    const { hpm, hva, slots } = setup(1 << 20);
    const frames = hpm.wasmFrames!;
    const page = hpm.allocPage();
    expect(page).toBeGreaterThanOrEqual(frames);
    // RAM the arena has no room for is an ArrayBuffer, its slot's frames fresh ones above the arena.
    const big = hva.allocate(2 << 20);
    expect(big.buffer).not.toBe(hpm.wasm!.buffer);
    expect(big.byteOffset).toBeUndefined();
    slots.set(slot(1, 0x100000, 2 << 20, big.hva));
    const hpfn = slots.gfnToHpfn(0x100);
    expect(hpfn).toBeGreaterThanOrEqual(frames);
    big.bytes[3] = 0x77;
    expect(hpm.read8(hpfn * PAGE_SIZE + 3)).toBe(0x77);
  });

  it('leaves frames of the arena never handed out unbacked (EFAULT), and keeps an aliased frame when one slot goes', () => {
    const { hpm, hva, slots } = setup(1 << 20);
    const m = hva.allocate(8 * PAGE_SIZE);
    // A slot reaching past the VMM's allocation: its pages beyond it have no memory behind them.
    slots.set(slot(0, 0, 16 * PAGE_SIZE, m.hva));
    expect(slots.gfnToHpfn(7)).toBe(8);
    expect(slots.gfnToHpfn(8)).toBe(GFN_UNBACKED);
    // A second slot aliasing the same host memory (allowed, as in KVM) maps the same frames.
    slots.set(slot(1, 0x100000, 8 * PAGE_SIZE, m.hva));
    expect(slots.gfnToHpfn(0x100)).toBe(1);
    slots.set(slot(0, 0, 0, m.hva));
    expect(slots.gfnToHpfn(0x100)).toBe(1);
    expect(hpm.pageView(1)).not.toBeNull();
    // Deleting a slot gave no arena frame to the allocator.
    expect(hpm.allocPage()).toBeGreaterThanOrEqual(hpm.wasmFrames!);
  });

  it('hands out zeroed memory (frames never handed out before), and refuses to back a shared hva space', () => {
    const { hpm, hva } = setup(1 << 20);
    const a = hva.allocate(2 * PAGE_SIZE);
    expect(a.bytes.every((b) => b === 0)).toBe(true);
    a.bytes.fill(0xa5);
    // The next allocation takes frames after the first's: what the VMM wrote there is not seen.
    const b = hva.allocate(2 * PAGE_SIZE);
    expect(b.hva).toBeGreaterThanOrEqual(a.hva + 2 * PAGE_SIZE);
    expect(b.bytes.every((x) => x === 0)).toBe(true);
    expect(() => new HvaSpace(undefined, true, hpm)).toThrow(TypeError);
  });

  it('backs a shared hva space when it is a shared memory (the browser page): RAM another thread can take, in the arena', () => {
    const hpm = new HostPhysicalMemory(undefined, 1 << 20, true);
    expect(hpm.wasm?.buffer).toBeInstanceOf(SharedArrayBuffer);
    const hva = new HvaSpace(undefined, true, hpm);
    const m = hva.allocate(4 * PAGE_SIZE);
    expect(m.hva).toBe(ARENA_HVA + PAGE_SIZE);
    expect(m.bytes.buffer).toBe(hpm.wasm?.buffer);
    m.bytes[5] = 0x5a;
    expect(hpm.pageView(1)?.[5]).toBe(0x5a);
  });
});
