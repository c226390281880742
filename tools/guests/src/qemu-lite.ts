/** Loads qemu-lite lazily (a devDependency: the manifest and the report parser work without it). */
type QemuLite = typeof import('qemu-lite');

let cached: Promise<QemuLite> | undefined;

export function loadQemuLite(): Promise<QemuLite> {
  cached ??= import('qemu-lite');
  return cached;
}
