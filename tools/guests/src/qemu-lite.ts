/**
 * Loads qemu-lite lazily (a devDependency: the manifest and the report parser work without it).
 * Its package.json may not map the bare name to dist yet, so the dist entry is the fallback.
 */
type QemuLite = typeof import('qemu-lite/dist/index.js');

let cached: Promise<QemuLite> | undefined;

export function loadQemuLite(): Promise<QemuLite> {
  cached ??= (async () => {
    const bare: string = 'qemu-lite';
    try {
      return (await import(bare)) as QemuLite;
    } catch {
      return await import('qemu-lite/dist/index.js');
    }
  })();
  return cached;
}
