/**
 * The GDB remote serial protocol's framing (gdb manual, "Overview" of the remote protocol):
 * `$payload#cs` with `cs` the payload's byte sum mod 256 in two hex digits, `+`/`-` as
 * acknowledgements (until QStartNoAckMode), 0x03 alone as the interrupt request, `}` escaping
 * `#$}*` (XOR 0x20) in binary data. Run-length encoding is only ever used in replies, and this
 * stub never sends it. Pure: bytes in, events out.
 */

export type PacketEvent =
  | { kind: 'packet'; payload: string }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' }
  /** A packet whose checksum did not match: the reader has answered nothing; send `-`. */
  | { kind: 'bad-checksum' };

const enum ReadState {
  Idle,
  Payload,
  Check1,
  Check2,
}

/** The checksum of a payload: its bytes (latin1) summed mod 256. */
export function checksum(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) sum = (sum + payload.charCodeAt(i)) & 0xff;
  return sum;
}

/** `$payload#cs` for a payload of latin1 characters (already escaped where binary). */
export function encodePacket(payload: string): string {
  return `$${payload}#${checksum(payload).toString(16).padStart(2, '0')}`;
}

/** Escapes binary data for `qXfer`/`x` replies: `#`, `$`, `}` and `*` become `}` then byte ^ 0x20. */
export function escapeBinary(data: string): string {
  let out = '';
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x23 || c === 0x24 || c === 0x7d || c === 0x2a) out += `}${String.fromCharCode(c ^ 0x20)}`;
    else out += data[i];
  }
  return out;
}

/** The bytes of an `X` packet's escaped binary data. */
export function unescapeBinary(data: string): Uint8Array {
  const out = new Uint8Array(data.length);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x7d && i + 1 < data.length) out[n++] = data.charCodeAt(++i) ^ 0x20;
    else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Hex text of bytes, two lower-case digits each. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}

/** Bytes of hex text; null when it is not an even run of hex digits. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Latin1 text of bytes (one char per byte), the protocol's own alphabet. */
export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Splits a byte stream from gdb into protocol events. Bytes between packets other than +, - and 0x03 are ignored. */
export class PacketReader {
  private state = ReadState.Idle;
  private payload = '';
  private sum = 0;
  private check = 0;

  feed(bytes: Uint8Array, emit: (event: PacketEvent) => void): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      switch (this.state) {
        case ReadState.Idle:
          if (b === 0x24) {
            this.state = ReadState.Payload;
            this.payload = '';
            this.sum = 0;
          } else if (b === 0x03) emit({ kind: 'interrupt' });
          else if (b === 0x2b) emit({ kind: 'ack' });
          else if (b === 0x2d) emit({ kind: 'nack' });
          break;
        case ReadState.Payload:
          if (b === 0x23) this.state = ReadState.Check1;
          else {
            this.payload += String.fromCharCode(b);
            this.sum = (this.sum + b) & 0xff;
          }
          break;
        case ReadState.Check1:
          this.check = hexDigit(b) << 4;
          this.state = ReadState.Check2;
          break;
        case ReadState.Check2: {
          this.state = ReadState.Idle;
          const check = this.check | hexDigit(b);
          if (check === this.sum) emit({ kind: 'packet', payload: this.payload });
          else emit({ kind: 'bad-checksum' });
          break;
        }
      }
    }
  }
}

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return 0x100; // never matches a checksum
}
