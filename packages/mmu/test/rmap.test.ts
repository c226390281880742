import { describe, expect, it } from 'vitest';
import { MmuMemoryCaches } from '../src/memory-caches.js';
import {
  collectParentPtes,
  firstParentPte,
  mmuPageAddParentPte,
  mmuPageRemoveParentPte,
} from '../src/parent-ptes.js';
import { Rmap } from '../src/rmap.js';
import { ShadowPage } from '../src/shadow-page.js';
import { FakeHost } from '../src/testing/index.js';

function caches(): MmuMemoryCaches {
  const c = new MmuMemoryCaches(new FakeHost());
  c.mmuTopupMemoryCaches();
  return c;
}

/** Deterministic pseudo-random sequence. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
}

describe('reverse map', () => {
  it('holds one mapping inline and a chain of descriptors when more', () => {
    const rmap = new Rmap(caches());
    rmap.add(7, 100);
    expect(rmap.isChained(7)).toBe(false);
    for (let i = 1; i < 10; i++) rmap.add(7, 100 + i);
    expect(rmap.isChained(7)).toBe(true);
    const out: number[] = [];
    expect(rmap.collect(7, out)).toBe(10);
    expect(out.slice(0, 10).sort((a, b) => a - b)).toEqual([...Array(10)].map((_, i) => 100 + i));
    for (let i = 0; i < 9; i++) expect(rmap.remove(7, 100 + i)).toBe(true);
    expect(rmap.isChained(7)).toBe(false);
    expect(rmap.collect(7, out)).toBe(1);
    expect(out[0]).toBe(109);
    expect(rmap.remove(7, 109)).toBe(true);
    expect(rmap.size).toBe(0);
    expect(rmap.remove(7, 109)).toBe(false);
  });

  it('stays equal to a set model under random adds and removes', () => {
    const rmap = new Rmap(caches());
    const model = new Map<number, Set<number>>();
    const rnd = lcg(42);
    for (let step = 0; step < 5000; step++) {
      const hpfn = rnd() % 5;
      const set = model.get(hpfn) ?? new Set<number>();
      model.set(hpfn, set);
      if (set.size > 0 && rnd() % 3 === 0) {
        const victim = [...set][rnd() % set.size];
        expect(rmap.remove(hpfn, victim)).toBe(true);
        set.delete(victim);
      } else {
        let ref = rnd() % 100000;
        while (set.has(ref)) ref++;
        rmap.add(hpfn, ref);
        set.add(ref);
      }
      const out: number[] = [];
      const n = rmap.collect(hpfn, out);
      expect(new Set(out.slice(0, n))).toEqual(set);
    }
  });
});

describe('parent pte chains', () => {
  it('one parent inline; a second makes the page multimapped; removal goes back inline', () => {
    const c = caches();
    const page = new ShadowPage();
    mmuPageAddParentPte(c, page, 11);
    expect(page.parentPte).toBe(11);
    expect(page.parentPtes).toBeNull();
    mmuPageAddParentPte(c, page, 12);
    expect(page.parentPte).toBe(-1);
    expect(page.parentPtes).not.toBeNull();
    for (let i = 13; i < 30; i++) mmuPageAddParentPte(c, page, i);
    const out: number[] = [];
    expect(collectParentPtes(page, out)).toBe(19);
    for (let i = 11; i < 29; i++) expect(mmuPageRemoveParentPte(c, page, i)).toBe(true);
    expect(page.parentPtes).toBeNull();
    expect(page.parentPte).toBe(29);
    expect(firstParentPte(page)).toBe(29);
    expect(mmuPageRemoveParentPte(c, page, 5)).toBe(false);
    expect(mmuPageRemoveParentPte(c, page, 29)).toBe(true);
    expect(firstParentPte(page)).toBe(-1);
  });

  it('stays equal to a set model under random adds and removes', () => {
    const c = caches();
    const page = new ShadowPage();
    const model = new Set<number>();
    const rnd = lcg(7);
    for (let step = 0; step < 3000; step++) {
      if (model.size > 0 && rnd() % 2 === 0) {
        const victim = [...model][rnd() % model.size];
        expect(mmuPageRemoveParentPte(c, page, victim)).toBe(true);
        model.delete(victim);
      } else {
        let ref = rnd() % 50000;
        while (model.has(ref)) ref++;
        mmuPageAddParentPte(c, page, ref);
        model.add(ref);
      }
      const out: number[] = [];
      const n = collectParentPtes(page, out);
      expect(new Set(out.slice(0, n))).toEqual(model);
      expect(page.parentPtes === null).toBe(model.size <= 1);
    }
  });
});
