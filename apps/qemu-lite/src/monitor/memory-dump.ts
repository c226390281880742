/**
 * `x` and `xp`'s output: QEMU's `/NFU` format (count N, format x d u o c i, unit b h w g), lines
 * led by the address as QEMU prints them. Memory comes through a reader (virtual or physical).
 */

export interface DumpFormat {
  count: number;
  format: string;
  /** Unit bytes: 1, 2, 4, 8. */
  size: number;
}

/** Parses `/NFU` (each part optional; the default is one word in hex, as QEMU's first use). */
export function parseFormat(text: string, last: DumpFormat): DumpFormat {
  const m = /^\/(\d*)([xduocist]?)([bhwg]?)([xduocist]?)$/.exec(text);
  if (!m) throw new Error(`invalid format '${text}'`);
  const format = m[2] || m[4] || last.format;
  const unit = m[3];
  const size = unit
    ? { b: 1, h: 2, w: 4, g: 8 }[unit as 'b' | 'h' | 'w' | 'g']
    : format === 'c'
      ? 1
      : last.size;
  return { count: m[1] ? Number(m[1]) : 1, format, size };
}

function value(bytes: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

function formatOne(v: bigint, f: DumpFormat): string {
  const bits = BigInt(f.size * 8);
  switch (f.format) {
    case 'd':
      return BigInt.asIntN(Number(bits), v).toString();
    case 'u':
      return v.toString();
    case 'o':
      return `0${v.toString(8)}`;
    case 'c': {
      const c = Number(v & 0xffn);
      return c >= 0x20 && c < 0x7f
        ? `'${String.fromCharCode(c)}'`
        : `'\\x${c.toString(16).padStart(2, '0')}'`;
    }
    default:
      return `0x${v.toString(16).padStart(f.size * 2, '0')}`;
  }
}

/**
 * The dump of `f.count` units at `addr`: per line the address, then up to 16 bytes' worth of units
 * (8 for `c`), as QEMU's `memory_dump`. `read` returns null where memory cannot be read.
 */
export function dumpMemory(
  addr: bigint,
  f: DumpFormat,
  read: (addr: bigint, length: number) => Uint8Array | null,
): string {
  const total = f.count * f.size;
  const bytes = read(addr, total);
  if (!bytes) return `Cannot access memory at 0x${addr.toString(16)}\n`;
  const perLine = f.format === 'c' ? 8 : Math.max(1, 16 / f.size);
  let out = '';
  for (let i = 0; i < f.count; i += perLine) {
    out += `${(addr + BigInt(i * f.size)).toString(16).padStart(16, '0')}:`;
    for (let j = i; j < Math.min(f.count, i + perLine); j++)
      out += ` ${formatOne(value(bytes, j * f.size, f.size), f)}`;
    out += '\n';
  }
  return out;
}
