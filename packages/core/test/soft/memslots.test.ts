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

describe('memory slot validation (the cases __kvm_set_memory_region refuses)', () => {
  const errnoOf = (fn: () => unknown): number | undefined => {
    try {
      fn();
    } catch (e) {
      if (e instanceof KvmError) return e.errno;
      throw e;
    }
    return undefined;
  };

  it('refuses a slot past the MMU’s last gfn (52-bit guest-physical addresses) with EINVAL', () => {
    const { slots, m } = setup();
    expect(errnoOf(() => slots.set(region(1, 1n << 60n, 0x1000n, m.userspaceAddr)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => slots.set(region(1, 1n << 52n, 0x1000n, m.userspaceAddr)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => slots.set(region(1, (1n << 52n) - 0x1000n, 0x2000n, m.userspaceAddr)))).toBe(
      Errno.EINVAL,
    );
    expect(slots.set(region(1, (1n << 52n) - 0x1000n, 0x1000n, m.userspaceAddr))).toBe(true);
    // Overlap is checked first, as in Linux: EEXIST, not EINVAL.
    expect(errnoOf(() => slots.set(region(2, (1n << 52n) - 0x1000n, 0x2000n, m.userspaceAddr)))).toBe(
      Errno.EEXIST,
    );
  });

  it('checks access_ok on a delete too: EINVAL for a kernel userspace_addr, the slot kept', () => {
    const { slots, m } = setup();
    slots.set(region(3, 0n, 0x1000n, m.userspaceAddr));
    expect(errnoOf(() => slots.set(region(3, 0n, 0n, 0xffff_8000_0000_0000n)))).toBe(Errno.EINVAL);
    expect(slots.list().map((s) => s.id)).toEqual([3]);
    // Any user address will do for a delete: Linux ignores it once it passes access_ok.
    slots.set(region(3, 0n, 0n, 0x1000n));
    expect(slots.list()).toEqual([]);
  });

  it('creates a slot of 2^27 pages (512 GiB) at once, backed only where memory is mapped', () => {
    const { slots, hpm, m } = setup();
    const started = performance.now();
    slots.set(region(0, 0n, 0x800_0000n * 0x1000n, m.userspaceAddr));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(slots.gfnToHpfn(3)).toBeGreaterThan(0); // the 16 KiB mapping
    expect(slots.gfnToHpfn(4)).toBe(GFN_UNBACKED); // the guard page after it
    slots.set(region(0, 0n, 0n, m.userspaceAddr));
    expect(hpm.frameLimit).toBe(1); // every frame given back
  });

  it('gives the frames back when every slot is cleared (the VM closed)', () => {
    const { slots, hpm, m } = setup();
    slots.set(region(0, 0n, 0x4000n, m.userspaceAddr));
    slots.set(region(1, 0x100000n, 0x4000n, m.userspaceAddr));
    const hpfn = slots.gfnToHpfn(0);
    slots.clear();
    expect(slots.list()).toEqual([]);
    expect(hpm.pageView(hpfn)).toBeNull();
    expect(hpm.frameLimit).toBe(1);
  });
});
