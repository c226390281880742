/**
 * AML encoders for the few terms qemu-lite's DSDT uses (ACPI 6.4 20.2, "AML Grammar
 * Definition"), each returning the term's bytes.
 *
 *   ZeroOp 0x00  OneOp 0x01  NameOp 0x08  BytePrefix 0x0A  WordPrefix 0x0B  DWordPrefix 0x0C
 *   ScopeOp 0x10  BufferOp 0x11  PackageOp 0x12  DeviceOp ExtOpPrefix 0x5B 0x82
 */
const AML_ZERO_OP = 0x00;
const AML_ONE_OP = 0x01;
const AML_NAME_OP = 0x08;
const AML_BYTE_PREFIX = 0x0a;
const AML_WORD_PREFIX = 0x0b;
const AML_DWORD_PREFIX = 0x0c;
const AML_SCOPE_OP = 0x10;
const AML_BUFFER_OP = 0x11;
const AML_PACKAGE_OP = 0x12;
const AML_EXT_OP_PREFIX = 0x5b;
const AML_DEVICE_OP = 0x82;
const AML_ROOT_CHAR = 0x5c;

/**
 * PkgLength (ACPI 6.4 20.2.4): the length of what follows the opcode, itself included; one
 * byte up to 63, otherwise a lead byte whose bits 7:6 count the extra bytes and whose bits 3:0
 * are the length's low nibble.
 */
export function amlPkgLength(contentLength: number): number[] {
  if (contentLength + 1 <= 0x3f) return [contentLength + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const bytes = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) bytes.push(Math.floor(total / 2 ** (4 + 8 * i)) & 0xff);
      return bytes;
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes is too long for a PkgLength`);
}

/** An integer constant in the shortest encoding: ZeroOp, OneOp, Byte/Word/DWordPrefix. */
export function amlInteger(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError(`AML integer ${value} is not a 32-bit unsigned value`);
  if (value === 0) return [AML_ZERO_OP];
  if (value === 1) return [AML_ONE_OP];
  if (value <= 0xff) return [AML_BYTE_PREFIX, value];
  if (value <= 0xffff) return [AML_WORD_PREFIX, value & 0xff, value >>> 8];
  return amlDword(value);
}

/** A DWordConst whatever the value (as iasl keeps _PRT addresses). */
export function amlDword(value: number): number[] {
  return [AML_DWORD_PREFIX, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

/** An AML integer constant of at most a byte: ZeroOp, OneOp or BytePrefix n. */
export function amlByteInteger(value: number): number[] {
  return amlInteger(value & 0xff);
}

/** A NameString: a NameSeg (4 characters) or `\` and one NameSeg. */
export function amlNameString(name: string): number[] {
  const root = name.startsWith('\\');
  const seg = root ? name.slice(1) : name;
  if (!/^[A-Z_][A-Z0-9_]{3}$/.test(seg)) throw new RangeError(`AML NameSeg must be 4 characters: '${name}'`);
  return [...(root ? [AML_ROOT_CHAR] : []), ...[...seg].map((c) => c.charCodeAt(0))];
}

/** `Name (NAME, object)`. */
export function amlName(name: string, object: number[]): number[] {
  return [AML_NAME_OP, ...amlNameString(name), ...object];
}

/** `Package () { elements }`: each element already encoded. */
export function amlPackage(elements: readonly number[][]): number[] {
  if (elements.length > 0xff) throw new RangeError('AML package of more than 255 elements');
  const body = [elements.length, ...elements.flat()];
  return [AML_PACKAGE_OP, ...amlPkgLength(body.length), ...body];
}

/** `Name (NAME, Package () { values })` with byte-sized integer elements. */
export function amlNamePackage(name: string, values: readonly number[]): number[] {
  return amlName(name, amlPackage(values.map(amlByteInteger)));
}

/** `Buffer () { bytes }`. */
export function amlBuffer(bytes: readonly number[]): number[] {
  const body = [...amlInteger(bytes.length), ...bytes];
  return [AML_BUFFER_OP, ...amlPkgLength(body.length), ...body];
}

/** `Scope (NAME) { terms }`. */
export function amlScope(name: string, terms: readonly number[][]): number[] {
  const body = [...amlNameString(name), ...terms.flat()];
  return [AML_SCOPE_OP, ...amlPkgLength(body.length), ...body];
}

/** `Device (NAME) { terms }`. */
export function amlDevice(name: string, terms: readonly number[][]): number[] {
  const body = [...amlNameString(name), ...terms.flat()];
  return [AML_EXT_OP_PREFIX, AML_DEVICE_OP, ...amlPkgLength(body.length), ...body];
}

/**
 * `EisaId ("PNP0A03")` (ACPI 6.4 19.6.35): three letters 5 bits each (A = 1) and four hex digits,
 * stored big-endian in a DWordConst.
 */
export function amlEisaId(id: string): number[] {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`not an EISA ID: '${id}'`);
  const letters = [0, 1, 2].map((i) => id.charCodeAt(i) - 0x40);
  const vendor = (letters[0] << 10) | (letters[1] << 5) | letters[2];
  const product = Number.parseInt(id.slice(3), 16);
  return [AML_DWORD_PREFIX, vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
}
