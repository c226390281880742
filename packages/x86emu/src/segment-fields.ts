/**
 * A segment's hidden attributes as one field per descriptor bit (the shape of KVM's
 * `struct kvm_segment`) and as the VMX access-rights word x86emu keeps in `CpuState.segAttr`
 * (SDM Vol. 3C 24.4.1, Table 24-2: type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15,
 * unusable 16). The mapping is bit for bit, in both directions, as KVM's
 * `vmx_segment_access_rights` and `vmx_get_segment` convert between the two, except that an
 * unusable segment keeps its other bits here (x86emu and its callers round-trip them).
 */
import { SegAttr } from './state.js';

/** The descriptor bits of a segment (each 0 or 1, `type` 0–15, `dpl` 0–3). */
export interface SegmentFields {
  type: number;
  s: number;
  dpl: number;
  present: number;
  avl: number;
  l: number;
  db: number;
  g: number;
  unusable: number;
}

/** The VMX access-rights word (`SegAttr` bits) of `f`. */
export function segmentFieldsToAttr(f: SegmentFields): number {
  return (
    (f.type & SegAttr.TYPE_MASK) |
    (f.s ? SegAttr.S : 0) |
    ((f.dpl & 3) << SegAttr.DPL_SHIFT) |
    (f.present ? SegAttr.P : 0) |
    (f.avl ? SegAttr.AVL : 0) |
    (f.l ? SegAttr.L : 0) |
    (f.db ? SegAttr.DB : 0) |
    (f.g ? SegAttr.G : 0) |
    (f.unusable ? SegAttr.UNUSABLE : 0)
  );
}

/**
 * Writes the descriptor bits of the access-rights word `attr` into `out` (bits the word does not
 * define are dropped); no allocation, for callers that keep one segment object.
 */
export function attrIntoSegmentFields(attr: number, out: SegmentFields): void {
  out.type = attr & SegAttr.TYPE_MASK;
  out.s = attr & SegAttr.S ? 1 : 0;
  out.dpl = (attr & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT;
  out.present = attr & SegAttr.P ? 1 : 0;
  out.avl = attr & SegAttr.AVL ? 1 : 0;
  out.l = attr & SegAttr.L ? 1 : 0;
  out.db = attr & SegAttr.DB ? 1 : 0;
  out.g = attr & SegAttr.G ? 1 : 0;
  out.unusable = attr & SegAttr.UNUSABLE ? 1 : 0;
}

/** The descriptor bits of the access-rights word `attr`, as a new object. */
export function attrToSegmentFields(attr: number): SegmentFields {
  const out: SegmentFields = { type: 0, s: 0, dpl: 0, present: 0, avl: 0, l: 0, db: 0, g: 0, unusable: 0 };
  attrIntoSegmentFields(attr, out);
  return out;
}
