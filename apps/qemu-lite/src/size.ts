/**
 * QEMU's size spelling for -m: a number with an optional suffix K, M, G, T (powers of 1024,
 * case-insensitive, optional trailing B); a bare number means MiB, as QEMU's -m does.
 */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/i.exec(text.trim());
  if (!m) throw new RangeError(`'${text}' is not a size (examples: 256M, 1G, 512)`);
  const scale: Record<string, number> = { '': 2 ** 20, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const bytes = Math.round(Number(m[1]) * scale[m[2].toLowerCase()]);
  return bytes;
}
