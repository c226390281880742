/**
 * The Differentiated System Description Table ("DSDT", ACPI 6.4 5.2.11.1): a header and AML.
 * Ours holds one object, the \_S5 sleep-state package an OS needs to power off
 * (ACPI 6.4 7.4.2): `Name (_S5, Package (4) { SLP_TYPa, SLP_TYPb, 0, 0 })`, with the value
 * QEMU's PIIX4 DSDT gives S5 (0), which is what `AcpiPm` turns into a power-off.
 *
 * AML encodings (ACPI 6.4 20.2): NameOp 0x08 NameString DataRefObject; PackageOp 0x12
 * PkgLength NumElements PackageElementList; ZeroOp 0x00, OneOp 0x01, BytePrefix 0x0A.
 */
import { finishSdt, SDT_HEADER_SIZE, startSdt } from './sdt.js';

/** Revision 2: AML integers are 64 bits (ACPI 6.4 5.2.11.1). */
export const DSDT_REVISION = 2;
/** SLP_TYP for S5 (soft off), as QEMU's PIIX4 power management decodes it. */
export const SLP_TYP_S5 = 0;

const AML_NAME_OP = 0x08;
const AML_PACKAGE_OP = 0x12;
const AML_ZERO_OP = 0x00;
const AML_ONE_OP = 0x01;
const AML_BYTE_PREFIX = 0x0a;

/** An AML integer constant of at most a byte: ZeroOp, OneOp or BytePrefix n. */
export function amlByteInteger(value: number): number[] {
  if (value === 0) return [AML_ZERO_OP];
  if (value === 1) return [AML_ONE_OP];
  return [AML_BYTE_PREFIX, value & 0xff];
}

/**
 * PkgLength (ACPI 6.4 20.2.4): the length of what follows the opcode, itself included; one
 * byte up to 63, otherwise a lead byte whose bits 7:6 count the extra bytes.
 */
export function amlPkgLength(contentLength: number): number[] {
  if (contentLength + 1 <= 0x3f) return [contentLength + 1];
  const total = contentLength + 2;
  if (total > 0xfff) throw new RangeError(`AML package of ${contentLength} bytes needs a longer PkgLength`);
  return [0x40 | (total & 0x0f), total >> 4];
}

/** `Name (NAME, Package () { values })` with byte-sized integer elements. */
export function amlNamePackage(name: string, values: readonly number[]): number[] {
  if (name.length !== 4) throw new RangeError(`AML NameSeg must be 4 characters: '${name}'`);
  const elements = values.flatMap(amlByteInteger);
  const body = [values.length, ...elements];
  return [
    AML_NAME_OP,
    ...[...name].map((c) => c.charCodeAt(0)),
    AML_PACKAGE_OP,
    ...amlPkgLength(body.length),
    ...body,
  ];
}

export function buildDsdt(): Uint8Array {
  const aml = amlNamePackage('_S5_', [SLP_TYP_S5, SLP_TYP_S5, 0, 0]);
  const w = startSdt('DSDT', SDT_HEADER_SIZE + aml.length, DSDT_REVISION);
  w.bytes.set(aml, SDT_HEADER_SIZE);
  return finishSdt(w);
}
