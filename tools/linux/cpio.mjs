// The "newc" cpio format (SVR4 without CRC), the one the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
// Written here so building the initramfs needs no cpio binary on the host.
//
// Each entry: a 110-byte ASCII header ("070701" then 13 fields of 8 hex
// digits), the NUL-terminated name padded to a multiple of 4 bytes counted
// from the start of the header, then the data padded to a multiple of 4.
// The archive ends with an entry named "TRAILER!!!".

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

const MAGIC = '070701';

function hex8(value) {
  return (value >>> 0).toString(16).padStart(8, '0');
}

function pad4(length) {
  return (4 - (length % 4)) % 4;
}

/**
 * @typedef {{ name: string, mode: number, data?: Uint8Array, rdevMajor?: number, rdevMinor?: number, mtime?: number }} CpioEntry
 * name: path inside the archive without a leading slash ("bin/busybox");
 * mode: file type bits | permissions (S_IFREG | 0o755); data: file contents
 * or, for a symlink, the link target; rdevMajor/rdevMinor: device numbers of
 * a device node.
 */

/**
 * Builds an uncompressed newc archive.
 * @param {CpioEntry[]} entries in the order the kernel should create them (parents first)
 * @returns {Buffer}
 */
export function newcArchive(entries) {
  const chunks = [];
  let ino = 1;
  const push = (entry) => {
    const nameBytes = Buffer.from(`${entry.name}\0`, 'utf8');
    const data = entry.data ?? new Uint8Array(0);
    const isDir = (entry.mode & 0o170000) === S_IFDIR;
    const fields = [
      entry.name === 'TRAILER!!!' ? 0 : ino++,
      entry.mode,
      0, // uid: root
      0, // gid: root
      isDir ? 2 : 1, // nlink
      entry.mtime ?? 0,
      data.length,
      0, // devmajor of the file system holding the file: irrelevant here
      0,
      entry.rdevMajor ?? 0,
      entry.rdevMinor ?? 0,
      nameBytes.length,
      0, // check: only used by the "070702" CRC variant
    ];
    const header = Buffer.from(MAGIC + fields.map(hex8).join(''), 'ascii');
    chunks.push(header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)));
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.length), Buffer.alloc(pad4(data.length)));
  };
  for (const entry of entries) push(entry);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(chunks);
}

/**
 * Reads a newc archive back (used by the tests to check the writer).
 * @param {Uint8Array} bytes
 * @returns {{ name: string, mode: number, data: Uint8Array, rdevMajor: number, rdevMinor: number }[]}
 */
export function readNewcArchive(bytes) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = [];
  let off = 0;
  for (;;) {
    if (off + 110 > buf.length) throw new Error(`cpio: truncated header at offset ${off}`);
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at offset ${off}`);
    const field = (i) => Number.parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const fileSize = field(6);
    const nameSize = field(11);
    const nameStart = off + 110;
    const name = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + pad4(110 + nameSize);
    if (name === 'TRAILER!!!') return out;
    if (dataStart + fileSize > buf.length) throw new Error(`cpio: ${name}: data runs past the end`);
    out.push({
      name,
      mode,
      data: buf.subarray(dataStart, dataStart + fileSize),
      rdevMajor: field(9),
      rdevMinor: field(10),
    });
    off = dataStart + fileSize + pad4(fileSize);
  }
}
