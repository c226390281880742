/**
 * ELF executables of either class (System V gABI, "ELF Header", "Program Header", "Note
 * Section"; the i386 and x86-64 supplements): the loadable segments at their physical addresses
 * and the notes of the PT_NOTE segments, every field checked against the file's real length. Every
 * loader that takes an ELF reads it here: PVH (kernels of both classes: Linux's vmlinux is ELF64,
 * a 32-bit kernel's ELF32), multiboot (ELF32, refusing ELF64 in its own words) and the bzImage's
 * decompressed payload (vmlinux, ELF64).
 */
import { LoaderError } from './types.js';

const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_NOTE = 4;

export interface ElfSegment {
  /** Index in the program header table, for messages. */
  readonly index: number;
  readonly offset: number;
  /** Where a boot loader puts it: p_paddr. */
  readonly paddr: number;
  /**
   * The address the segment is linked at (p_vaddr), exact in either class (a 64-bit kernel links
   * at 0xffffffff8xxxxxxx, beyond a number's 2^53); differs from paddr in higher-half kernels.
   */
  readonly vaddr: bigint;
  readonly filesz: number;
  readonly memsz: number;
  /** p_flags: PF_X 1, PF_W 2, PF_R 4. */
  readonly flags: number;
}

/** One note: its owner's name (without the NUL), type and descriptor bytes. */
export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

export interface ElfImage {
  readonly elfClass: 32 | 64;
  readonly entry: number;
  /** The PT_LOAD segments with bytes in memory (p_memsz > 0). */
  readonly segments: readonly ElfSegment[];
  /** The notes of every PT_NOTE segment, in file order. */
  readonly notes: readonly ElfNote[];
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** Whether the image starts with ELF's magic (what the loaders probe by). */
export function isElf(image: Uint8Array): boolean {
  return (
    image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46
  );
}

/** Field offsets of the two classes' headers (gABI figures 4-3 and 5-1). */
const LAYOUT = {
  32: {
    ehdr: 52,
    phdr: 32,
    entry: 24,
    phoff: 28,
    phentsize: 42,
    phnum: 44,
    offset: 4,
    vaddr: 8,
    paddr: 12,
    filesz: 16,
    memsz: 20,
    flags: 24,
  },
  64: {
    ehdr: 64,
    phdr: 56,
    entry: 24,
    phoff: 32,
    phentsize: 54,
    phnum: 56,
    flags: 4,
    offset: 8,
    vaddr: 16,
    paddr: 24,
    filesz: 32,
    memsz: 40,
  },
} as const;

/**
 * Reads an x86 ELF executable (ELFCLASS32 with EM_386 or ELFCLASS64 with EM_X86_64, little
 * endian, ET_EXEC). Throws `LoaderError` under `format` naming the first thing wrong, after
 * `subject` where the file is not what the user named (`bzImage: the decompressed kernel: ...`).
 * Physical addresses, offsets and sizes of an ELF64 must lie below 2^53 (a PC's do).
 */
export function readElf(image: Uint8Array, format: string, subject?: string): ElfImage {
  const fail = (why: string): never => {
    throw new LoaderError(format, subject === undefined ? why : `${subject}: ${why}`);
  };
  if (!isElf(image)) fail('not an ELF file (no \\x7fELF magic)');
  if (image.length < 16) fail(`ELF header truncated: the file has ${image.length} bytes`);
  const elfClass =
    image[4] === ELFCLASS32 ? 32 : image[4] === ELFCLASS64 ? 64 : fail(`unknown ELF class ${image[4]}`);
  if (image[5] !== ELFDATA2LSB) fail('a big-endian ELF; x86 kernels are little-endian');
  const L = LAYOUT[elfClass];
  if (image.length < L.ehdr)
    fail(`ELF header truncated: the file has ${image.length} of its ${L.ehdr} bytes`);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const word = (at: number): number => {
    if (elfClass === 32) return dv.getUint32(at, true);
    const high = dv.getUint32(at + 4, true);
    if (high >= 0x200000) fail(`a 64-bit field at file offset ${hex(at)} is beyond 2^53`);
    return high * 0x100000000 + dv.getUint32(at, true);
  };
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== ET_EXEC) fail(`ELF type ${type} is not an executable (ET_EXEC = 2)`);
  const wantMachine = elfClass === 32 ? EM_386 : EM_X86_64;
  if (machine !== wantMachine)
    fail(
      `ELF machine ${machine} is not ${elfClass === 32 ? 'i386 (EM_386 = 3)' : 'x86-64 (EM_X86_64 = 62)'}`,
    );
  const entry = word(L.entry);
  const phoff = word(L.phoff);
  const phentsize = dv.getUint16(L.phentsize, true);
  const phnum = dv.getUint16(L.phnum, true);
  if (phnum === 0) fail('the ELF has no program headers');
  if (phentsize < L.phdr)
    fail(`program header size ${phentsize} is smaller than Elf${elfClass}_Phdr (${L.phdr})`);
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > image.length)
    fail(
      `program headers at ${hex(phoff)}..${hex(tableEnd)} lie past the end of the ${image.length}-byte file (truncated?)`,
    );
  const segments: ElfSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const ptype = dv.getUint32(at, true);
    if (ptype !== PT_LOAD && ptype !== PT_NOTE) continue;
    const s = {
      index: i,
      offset: word(at + L.offset),
      paddr: word(at + L.paddr),
      vaddr: elfClass === 32 ? BigInt(dv.getUint32(at + L.vaddr, true)) : dv.getBigUint64(at + L.vaddr, true),
      filesz: word(at + L.filesz),
      memsz: word(at + L.memsz),
      flags: dv.getUint32(at + L.flags, true),
    };
    if (s.offset + s.filesz > image.length)
      fail(
        `segment ${i}: file bytes ${hex(s.offset)}..${hex(s.offset + s.filesz)} lie past the end of the ${image.length}-byte file (truncated?)`,
      );
    if (ptype === PT_NOTE) {
      readNotes(image.subarray(s.offset, s.offset + s.filesz), i, notes, fail);
      continue;
    }
    if (s.memsz < s.filesz)
      fail(`segment ${i}: memory size ${hex(s.memsz)} is smaller than file size ${hex(s.filesz)}`);
    if (s.memsz > 0) segments.push(s);
  }
  if (segments.length === 0) fail('the ELF has no loadable (PT_LOAD) segment');
  return { elfClass, entry, segments, notes };
}

/**
 * The notes of one PT_NOTE segment: each a 12-byte header (namesz, descsz, type), the name and
 * then the descriptor, each padded to 4 bytes (what both classes' x86 toolchains and Linux's
 * ELFNOTE macro emit).
 */
function readNotes(bytes: Uint8Array, index: number, into: ElfNote[], fail: (why: string) => never): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pad4 = (n: number): number => (n + 3) & ~3;
  let at = 0;
  while (at + 12 <= bytes.length) {
    const namesz = dv.getUint32(at, true);
    const descsz = dv.getUint32(at + 4, true);
    const type = dv.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + pad4(namesz);
    const next = descAt + pad4(descsz);
    if (namesz > bytes.length || descsz > bytes.length || next > bytes.length)
      fail(`segment ${index}: a note at offset ${hex(at)} runs past the end of its PT_NOTE segment`);
    const nameBytes = bytes.subarray(nameAt, nameAt + namesz);
    const nul = nameBytes.indexOf(0);
    const name = String.fromCharCode(...(nul >= 0 ? nameBytes.subarray(0, nul) : nameBytes));
    into.push({ name, type, desc: bytes.subarray(descAt, descAt + descsz) });
    at = next;
  }
}
