/** The remote protocol's framing: checksums, acknowledgements, Ctrl-C, binary escapes, hex. */
import { describe, expect, it } from 'vitest';
import {
  checksum,
  encodePacket,
  escapeBinary,
  fromHex,
  type PacketEvent,
  PacketReader,
  toHex,
  unescapeBinary,
} from '../../src/gdbstub/packet.js';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function read(...chunks: string[]): PacketEvent[] {
  const reader = new PacketReader();
  const events: PacketEvent[] = [];
  for (const c of chunks) reader.feed(bytes(c), (e) => events.push(e));
  return events;
}

describe('gdb packets', () => {
  it('frames a payload with its byte sum mod 256 in two lower-case hex digits', () => {
    expect(encodePacket('OK')).toBe('$OK#9a');
    expect(encodePacket('')).toBe('$#00');
    expect(checksum('qSupported')).toBe(0x37);
  });

  it('reads packets split anywhere across chunks, with acks, nacks and Ctrl-C between them', () => {
    const cs = checksum('m100,4').toString(16);
    expect(read('+$g#6', '7', '-\x03$m100,4#', cs)).toEqual([
      { kind: 'ack' },
      { kind: 'packet', payload: 'g' },
      { kind: 'nack' },
      { kind: 'interrupt' },
      { kind: 'packet', payload: 'm100,4' },
    ]);
  });

  it('reports a packet whose checksum does not match instead of its payload', () => {
    expect(read('$g#00')).toEqual([{ kind: 'bad-checksum' }]);
    // Upper-case checksum digits are accepted too.
    expect(read(`$vCont?#${checksum('vCont?').toString(16).toUpperCase()}`)).toEqual([
      { kind: 'packet', payload: 'vCont?' },
    ]);
  });

  it('escapes #, $, } and * in binary data as } then the byte XOR 0x20, and undoes it', () => {
    expect(escapeBinary('a#b$c}d*e')).toBe('a}\x03b}\x04c}]d}\x0ae');
    expect(Array.from(unescapeBinary('a}\x03}]'))).toEqual([0x61, 0x23, 0x7d]);
  });

  it('converts hex both ways and rejects odd or non-hex text', () => {
    expect(toHex(Uint8Array.of(0, 0xab, 0x10))).toBe('00ab10');
    expect(Array.from(fromHex('00AB10') ?? [])).toEqual([0, 0xab, 0x10]);
    expect(fromHex('abc')).toBeNull();
    expect(fromHex('zz')).toBeNull();
  });
});
