/**
 * `holdAsDoubles` (src/double-fields.ts): a CPU's shape (V8's map) stays the same when its fields
 * take the values a 64-bit guest gives them (a kernel address, a result with bit 31 set, a count
 * past 2^31). A changed shape throws away every optimized function that relied on the old one.
 * V8's own `%HaveSameMap` is the witness, enabled for this file's functions only.
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { holdAsDoubles } from '../src/double-fields.js';
import { Cpu, FlatPhysicalMemory } from '../src/index.js';

setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

function newCpu(): Cpu {
  return new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: false });
}

class Plain {
  count = 0;
  address = -1;
}

class Held {
  count = 0;
  address = -1;
  constructor() {
    holdAsDoubles(this, ['count', 'address']);
  }
}

describe('holdAsDoubles', () => {
  it("keeps a CPU's shape when its fields take 64-bit guests' values", () => {
    const a = newCpu();
    const b = newCpu();
    expect(haveSameMap(a, b)).toBe(true);
    b.instructionsRetired = 2 ** 31 + 5;
    b.faultAddress = 0xffff_8000_0000 + 0x1000;
    b.lfRes = 0x8000_0000;
    b.startEip = 0x8100_0000;
    b.codeLpn = 0xf_ffff_8100;
    b.runLimit = 123.5;
    expect(haveSameMap(a, b)).toBe(true);
  });

  it('without it, a value at 2^31 changes a small-integer field and the shape with it', () => {
    // The witness itself: V8 replaces the map of an object whose Smi field gets a double.
    const a = new Plain();
    const b = new Plain();
    expect(haveSameMap(a, b)).toBe(true);
    b.count = 2 ** 31;
    expect(haveSameMap(a, b)).toBe(false);
    const c = new Held();
    const d = new Held();
    d.count = 2 ** 31;
    d.address = 0.5;
    expect(haveSameMap(c, d)).toBe(true);
  });

  it('leaves the values as they were and refuses a name that is not a number field', () => {
    const h = new Held();
    expect(h.count).toBe(0);
    expect(Object.is(h.count, 0)).toBe(true);
    expect(h.address).toBe(-1);
    expect(() => holdAsDoubles(h, ['missing'])).toThrow(TypeError);
    expect(() => holdAsDoubles({ s: 'text' }, ['s'])).toThrow(/not a number field/);
    expect(Object.keys(h)).toEqual(['count', 'address']);
  });
});
