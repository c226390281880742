import { describe, expect, it } from 'vitest';
import { Errno, KvmError } from '../../src/api/errors.js';
import { HostPhysicalMemory } from '../../src/soft/host-physical.js';
import { HvaSpace } from '../../src/soft/hva-space.js';
import { GFN_NO_SLOT, GFN_UNBACKED, MemorySlots } from '../../src/soft/memslots.js';

function setup() {
  const hva = new HvaSpace();
  const hpm = new HostPhysicalMemory();
  const slots = new MemorySlots(hva, hpm);
  const m = hva.allocate(0x4000);
  return { hva, hpm, slots, m };
}

const region = (slot: number, gpa: bigint, size: bigint, addr: bigint, flags = 0) => ({
  slot,
  flags,
  guestPhysAddr: gpa,
  memorySize: size,
  userspaceAddr: addr,
});

describe('memory slots', () => {
  it('maps guest frames onto the VMM buffer, byte for byte', () => {
    const { slots, hpm, m } = setup();
    slots.set(region(0, 0x10000n, 0x4000n, m.userspaceAddr));
    m.bytes[0x1234] = 0x5a;
    const hpfn = slots.gfnToHpfn(0x11);
    expect(hpm.read8(hpfn * 4096 + 0x234)).toBe(0x5a);
    expect(slots.gfnToHpfn(0x14)).toBe(GFN_NO_SLOT);
  });

  it('reports an unmapped userspace address as unbacked (KVM_RUN then fails with EFAULT)', () => {
    const { slots } = setup();
    slots.set(region(1, 0x100000n, 0x1000n, 0x1000n));
    expect(slots.gfnToHpfn(0x100)).toBe(GFN_UNBACKED);
  });

  it('leaves the slot map untouched when preparing a slot fails (ENOMEM)', () => {
    const { slots, m } = setup();
    slots.set(region(0, 0n, 0x4000n, m.userspaceAddr));
    const generation = slots.generation;
    const fail = (): Uint32Array => {
      throw new KvmError('KVM_SET_USER_MEMORY_REGION', Errno.ENOMEM, 'test');
    };
    // Moving slot 0 with dirty logging needs a bitmap: its allocation fails before anything changes.
    expect(() => slots.set(region(0, 0x100000n, 0x4000n, m.userspaceAddr, 1), fail)).toThrow(KvmError);
    expect(slots.generation).toBe(generation);
    expect(slots.list().map((s) => [s.id, s.baseGfn, s.flags])).toEqual([[0, 0, 0]]);
    expect(slots.gfnToHpfn(0)).toBeGreaterThan(0);
    expect(slots.gfnToHpfn(0x100)).toBe(GFN_NO_SLOT);
  });
});
