import { describe, expect, it } from 'vitest';
import { EscapeDecoder } from '../../src/cli/terminal.js';

function decoder() {
  const input: number[] = [];
  const events: string[] = [];
  const d = new EscapeDecoder({
    input: (b) => input.push(...b),
    quit: () => events.push('quit'),
    help: () => events.push('help'),
  });
  return { d, input, events };
}

const bytes = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

describe('Ctrl-A escapes', () => {
  it('passes ordinary bytes through, Ctrl-C included (the guest gets it in raw mode)', () => {
    const { d, input, events } = decoder();
    d.feed(bytes('ls\x03\r'));
    expect(input).toEqual([...bytes('ls\x03\r')]);
    expect(events).toEqual([]);
  });

  it('quits on Ctrl-A x and drops what follows', () => {
    const { d, input, events } = decoder();
    d.feed(bytes('ab\x01xcd'));
    expect(input).toEqual([...bytes('ab')]);
    expect(events).toEqual(['quit']);
  });

  it('handles an escape split across reads', () => {
    const { d, events } = decoder();
    d.feed(bytes('\x01'));
    expect(events).toEqual([]);
    d.feed(bytes('h'));
    expect(events).toEqual(['help']);
  });

  it('sends a literal Ctrl-A for Ctrl-A Ctrl-A and swallows unknown escapes', () => {
    const { d, input } = decoder();
    d.feed(bytes('\x01\x01z\x01qy'));
    expect(input).toEqual([1, ...bytes('zy')]);
  });
});
