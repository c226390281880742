import { describe, expect, it } from 'vitest';
import {
  attrIntoSegmentFields,
  attrToSegmentFields,
  SegAttr,
  type SegmentFields,
  segmentFieldsToAttr,
} from '../src/index.js';

/** A flat 64-bit code segment's bits (L = 1, DPL 0, type 0xb: execute/read, accessed). */
const CODE64: SegmentFields = { type: 0xb, s: 1, dpl: 0, present: 1, avl: 0, l: 1, db: 0, g: 1, unusable: 0 };

describe('segment fields <-> VMX access rights (SDM Vol. 3C Table 24-2)', () => {
  it('puts each descriptor bit where the access-rights word has it', () => {
    expect(segmentFieldsToAttr(CODE64)).toBe(0xa09b);
    expect(segmentFieldsToAttr({ ...CODE64, l: 0, db: 1, dpl: 3, avl: 1 })).toBe(0xd0fb);
    expect(segmentFieldsToAttr({ ...CODE64, unusable: 1 })).toBe(0xa09b | SegAttr.UNUSABLE);
  });

  it('reads every bit back, and round-trips each defined bit alone', () => {
    expect(attrToSegmentFields(0xa09b)).toEqual(CODE64);
    const defined = [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16];
    for (const bit of defined) expect(segmentFieldsToAttr(attrToSegmentFields(1 << bit))).toBe(1 << bit);
  });

  it('drops the reserved bits 11:8 and 31:17', () => {
    expect(segmentFieldsToAttr(attrToSegmentFields(0xfffe0f00 | 0x93))).toBe(0x93);
  });

  it('writes the bits into an existing object, leaving its other fields', () => {
    const seg = { selector: 0x10, base: 7, ...CODE64 };
    attrIntoSegmentFields(0x93 | SegAttr.DB | SegAttr.G, seg);
    expect(seg).toEqual({
      selector: 0x10,
      base: 7,
      type: 3,
      s: 1,
      dpl: 0,
      present: 1,
      avl: 0,
      l: 0,
      db: 1,
      g: 1,
      unusable: 0,
    });
  });
});
