/**
 * Just enough of ELF32 (System V gABI, "ELF Header" and "Program Header") to find the loadable
 * segments of an i386 executable, with every field checked against the file's real length.
 */
import { LoaderError } from './types.js';

export const PT_LOAD = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELF32_EHDR_SIZE = 52;
const ELF32_PHDR_SIZE = 32;

export interface Elf32Segment {
  /** Index in the program header table, for messages. */
  index: number;
  offset: number;
  /** Load address: the physical one (p_paddr), where a boot loader puts it. */
  paddr: number;
  /** The address the segment is linked at (p_vaddr); differs from paddr in higher-half kernels. */
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface Elf32Image {
  entry: number;
  segments: Elf32Segment[];
}

export function isElf(image: Uint8Array): boolean {
  return (
    image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46
  );
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** Parses an ELF32 i386 executable's load segments; `format` prefixes the errors. */
export function parseElf32(image: Uint8Array, format: string): Elf32Image {
  if (!isElf(image)) throw new LoaderError(format, 'not an ELF file (no \\x7fELF magic)');
  if (image.length < ELF32_EHDR_SIZE) {
    throw new LoaderError(format, `ELF header truncated: the file has ${image.length} of its 52 bytes`);
  }
  if (image[4] === ELFCLASS64) {
    throw new LoaderError(format, 'a 64-bit ELF (ELFCLASS64); multiboot v1 loads 32-bit ELF kernels only');
  }
  if (image[4] !== ELFCLASS32) throw new LoaderError(format, `unknown ELF class ${image[4]}`);
  if (image[5] !== ELFDATA2LSB)
    throw new LoaderError(format, 'a big-endian ELF; x86 kernels are little-endian');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== ET_EXEC) throw new LoaderError(format, `ELF type ${type} is not an executable (ET_EXEC = 2)`);
  if (machine !== EM_386) throw new LoaderError(format, `ELF machine ${machine} is not i386 (EM_386 = 3)`);
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phnum === 0) throw new LoaderError(format, 'the ELF has no program headers');
  if (phentsize < ELF32_PHDR_SIZE) {
    throw new LoaderError(format, `program header size ${phentsize} is smaller than Elf32_Phdr (32)`);
  }
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > image.length) {
    throw new LoaderError(
      format,
      `program headers at ${hex(phoff)}..${hex(tableEnd)} lie past the end of the ${image.length}-byte file (truncated?)`,
    );
  }
  const segments: Elf32Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (dv.getUint32(at, true) !== PT_LOAD) continue;
    const segment: Elf32Segment = {
      index: i,
      offset: dv.getUint32(at + 4, true),
      vaddr: dv.getUint32(at + 8, true),
      paddr: dv.getUint32(at + 12, true),
      filesz: dv.getUint32(at + 16, true),
      memsz: dv.getUint32(at + 20, true),
      flags: dv.getUint32(at + 24, true),
    };
    if (segment.memsz < segment.filesz) {
      throw new LoaderError(
        format,
        `segment ${i}: memory size ${hex(segment.memsz)} is smaller than file size ${hex(segment.filesz)}`,
      );
    }
    if (segment.offset + segment.filesz > image.length) {
      throw new LoaderError(
        format,
        `segment ${i}: file bytes ${hex(segment.offset)}..${hex(segment.offset + segment.filesz)} lie past the end of the ${image.length}-byte file (truncated?)`,
      );
    }
    if (segment.memsz > 0) segments.push(segment);
  }
  if (segments.length === 0) throw new LoaderError(format, 'the ELF has no loadable (PT_LOAD) segment');
  return { entry, segments };
}
