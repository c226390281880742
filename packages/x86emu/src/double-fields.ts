/**
 * Number fields that V8 is to store as doubles from the start.
 *
 * V8 gives each field of an object's shape (its map) a representation, chosen from the values
 * stored so far: a small integer (a Smi: 31 bits, signed), a double, or any value. A field that
 * has only held small integers is a Smi field, and the first value outside that range (a uint32
 * address or result at or above 2^31, a count past 2^31 - 1, a fraction) generalizes it: the
 * shape is replaced, and every optimized function that relied on the old one is thrown away at
 * once (V8's "wrong map" deoptimizations) and compiled again by TurboFan while the code runs
 * unoptimized. In Debian's boot on the software engine the CPU's, the vCPU's and the VMCS's
 * shapes changed this way a dozen times after the first two seconds, when their code was
 * optimized (the first kernel address in `faultAddress`, the first lazy-flag result with bit 31
 * set, …), each time throwing away functions of the interpreter and the exit path; and
 * bench-int32 on `-accel vmx` lost ~5 % of its run to one such change, `instructionsRetired`
 * passing 2^31 (`node --log-maps` logs each change as a `map,Deprecate` event at the line that
 * stored the value).
 *
 * `holdAsDoubles` gives the named fields the double representation before any code has run
 * against them: it stores a fraction, then the field's value back. A field that holds such values
 * sooner or later costs nothing more this way (it ends up a double field anyway); one that never
 * does should not be named (a Smi field is read without unboxing).
 */
export function holdAsDoubles(obj: object, keys: readonly string[]): void {
  const o = obj as Record<string, unknown>;
  for (const k of keys) {
    const v = o[k];
    // A name that is not a number field of `obj` would add a field: a new shape, the opposite.
    if (typeof v !== 'number') throw new TypeError(`holdAsDoubles: ${k} is not a number field`);
    o[k] = 0.5;
    o[k] = v;
  }
}
