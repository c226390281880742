import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../../src/devices/virtio/guest-memory.js';
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  Virtqueue,
  VirtqueueError,
} from '../../../src/devices/virtio/virtqueue.js';

const RAM = 0x10000;
const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const SIZE = 8;

function setup(size = SIZE) {
  const ram = new Uint8Array(RAM);
  const view = new DataView(ram.buffer);
  const mem = new GuestMemory(ram);
  const q = new Virtqueue(mem, size);
  q.descAddr = DESC;
  q.driverAddr = AVAIL;
  q.deviceAddr = USED;
  q.enabled = true;
  let availIdx = 0;
  const desc = (table: number, i: number, addr: number, len: number, flags: number, next = 0) => {
    const at = table + 16 * i;
    view.setUint32(at, addr % 0x100000000, true);
    view.setUint32(at + 4, Math.floor(addr / 0x100000000), true);
    view.setUint32(at + 8, len, true);
    view.setUint16(at + 12, flags, true);
    view.setUint16(at + 14, next, true);
  };
  const offer = (head: number) => {
    view.setUint16(AVAIL + 4 + 2 * (availIdx % size), head, true);
    availIdx = (availIdx + 1) & 0xffff;
    view.setUint16(AVAIL + 2, availIdx, true);
  };
  return { ram, view, q, desc, offer };
}

describe('split virtqueue (virtio 1.2 §2.7)', () => {
  it('takes a chain: readable buffers, then writable ones', () => {
    const { q, desc, offer } = setup();
    desc(DESC, 3, 0x4000, 16, VIRTQ_DESC_F_NEXT, 5);
    desc(DESC, 5, 0x5000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
    desc(DESC, 0, 0x6000, 1, VIRTQ_DESC_F_WRITE);
    offer(3);
    expect(q.pop()).toEqual({
      head: 3,
      readable: [{ gpa: 0x4000, length: 16 }],
      writable: [
        { gpa: 0x5000, length: 512 },
        { gpa: 0x6000, length: 1 },
      ],
    });
    expect(q.pop()).toBeUndefined();
  });

  it('follows an indirect table (§2.7.5.3)', () => {
    const { q, desc, offer } = setup();
    const table = 0x8000;
    desc(table, 0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
    desc(table, 1, 0x5000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    desc(table, 2, 0x6000, 1, VIRTQ_DESC_F_WRITE);
    desc(DESC, 2, table, 48, VIRTQ_DESC_F_INDIRECT);
    offer(2);
    const chain = q.pop();
    expect(chain?.readable).toEqual([{ gpa: 0x4000, length: 16 }]);
    expect(chain?.writable.map((s) => s.gpa)).toEqual([0x5000, 0x6000]);
  });

  it('writes used elements and used.idx, wrapping the ring', () => {
    const { q, view, desc, offer } = setup(2);
    desc(DESC, 0, 0x4000, 4, 0);
    desc(DESC, 1, 0x4000, 4, 0);
    for (let i = 0; i < 5; i++) {
      offer(i & 1);
      const chain = q.pop();
      q.push(chain!.head, 100 + i);
    }
    expect(view.getUint16(USED + 2, true)).toBe(5);
    // Element 4 went to slot 4 % 2 = 0.
    expect(view.getUint32(USED + 4, true)).toBe(0);
    expect(view.getUint32(USED + 8, true)).toBe(104);
  });

  const bad: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    [
      'a descriptor loop',
      ({ desc, offer }) => {
        desc(DESC, 0, 0x4000, 4, VIRTQ_DESC_F_NEXT, 1);
        desc(DESC, 1, 0x4000, 4, VIRTQ_DESC_F_NEXT, 0);
        offer(0);
      },
      /loop/,
    ],
    [
      'a chain longer than the queue (a loop through every descriptor)',
      ({ desc, offer }) => {
        for (let i = 0; i < SIZE; i++) desc(DESC, i, 0x4000, 4, VIRTQ_DESC_F_NEXT, (i + 1) % SIZE);
        offer(0);
      },
      /longer than its table/,
    ],
    [
      'a loop inside an indirect table',
      ({ desc, offer }) => {
        desc(0x8000, 0, 0x4000, 4, VIRTQ_DESC_F_NEXT, 0);
        desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT);
        offer(0);
      },
      /loop/,
    ],
    [
      'a buffer outside RAM',
      ({ desc, offer }) => {
        desc(DESC, 0, RAM - 8, 16, 0);
        offer(0);
      },
      /outside RAM/,
    ],
    [
      'a buffer at a 64-bit address',
      ({ desc, offer }) => {
        desc(DESC, 0, 2 ** 40, 16, 0);
        offer(0);
      },
      /outside RAM/,
    ],
    [
      'an indirect table outside RAM',
      ({ desc, offer }) => {
        desc(DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT);
        offer(0);
      },
      /outside RAM/,
    ],
    ['a head outside the queue', ({ offer }) => offer(SIZE), /head 8 is outside/],
    [
      'a next outside the queue',
      ({ desc, offer }) => {
        desc(DESC, 0, 0x4000, 4, VIRTQ_DESC_F_NEXT, 99);
        offer(0);
      },
      /next 99/,
    ],
    [
      'an indirect descriptor inside an indirect table',
      ({ desc, offer }) => {
        desc(0x8000, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT);
        desc(DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT);
        offer(0);
      },
      /inside an indirect table/,
    ],
    [
      'an indirect table whose length is not a multiple of 16',
      ({ desc, offer }) => {
        desc(DESC, 0, 0x8000, 20, VIRTQ_DESC_F_INDIRECT);
        offer(0);
      },
      /multiple of 16/,
    ],
    [
      'INDIRECT together with NEXT',
      ({ desc, offer }) => {
        desc(DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        offer(0);
      },
      /with NEXT/,
    ],
    [
      'a readable descriptor after a writable one',
      ({ desc, offer }) => {
        desc(DESC, 0, 0x4000, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        desc(DESC, 1, 0x4000, 4, 0);
        offer(0);
      },
      /readable descriptor after/,
    ],
    [
      'avail.idx moved by more than the queue size',
      ({ view }) => view.setUint16(AVAIL + 2, SIZE + 1, true),
      /more than the queue size/,
    ],
    [
      'rings outside RAM',
      ({ q, offer }) => {
        offer(0);
        q.driverAddr = RAM - 2;
      },
      /outside RAM/,
    ],
  ];
  for (const [what, arrange, message] of bad) {
    it(`refuses ${what} with a VirtqueueError`, () => {
      const s = setup();
      arrange(s);
      expect(() => s.q.pop()).toThrow(VirtqueueError);
      const again = setup();
      arrange(again);
      expect(() => again.q.pop()).toThrow(message);
    });
  }

  it('asks for an interrupt unless avail.flags has NO_INTERRUPT (no event index)', () => {
    const { q, view } = setup();
    expect(q.needsInterrupt()).toBe(true);
    view.setUint16(AVAIL, 1, true);
    expect(q.needsInterrupt()).toBe(false);
  });

  it('with the event index, interrupts only when used.idx passes used_event, and publishes avail_event', () => {
    const { q, view, desc, offer } = setup();
    q.eventIdx = true;
    desc(DESC, 0, 0x4000, 4, 0);
    const usedEventAt = AVAIL + 4 + 2 * SIZE;
    const step = () => {
      offer(0);
      q.pop();
      q.push(0, 0);
      return q.needsInterrupt();
    };
    expect(step()).toBe(true); // the first is always signalled
    expect(view.getUint16(USED + 4 + 8 * SIZE, true)).toBe(1); // avail_event = next avail index
    view.setUint16(usedEventAt, 3, true); // "interrupt me when used.idx passes 3"
    expect(step()).toBe(false); // used.idx 2
    expect(step()).toBe(false); // 3
    expect(step()).toBe(true); // 4: crossed used_event + 1
    expect(step()).toBe(false);
  });
});
