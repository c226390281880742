/**
 * `Cpu` is split by concern: each file of this folder that holds `Cpu` methods (the run loop,
 * memory access, flags, segments, …) writes them in a class of its own with `this: Cpu`, and
 * cpu.ts copies them onto `Cpu.prototype` here and declares them on `Cpu` (interface merging).
 * The methods end up exactly where the class body would have put them (one prototype,
 * non-enumerable, no wrapper call in between), so every call site stays `cpu.read(...)`, and V8
 * sees the same single receiver map and inlines the same functions as before the split.
 */
export function installMethods(target: { prototype: object }, source: { prototype: object }): void {
  const to = target.prototype;
  const from = source.prototype;
  for (const name of Object.getOwnPropertyNames(from)) {
    if (name === 'constructor') continue;
    // Two concerns defining one name would silently keep the later one.
    if (Object.hasOwn(to, name)) throw new Error(`installMethods: ${name} is defined twice`);
    Object.defineProperty(to, name, Object.getOwnPropertyDescriptor(from, name) as PropertyDescriptor);
  }
}
