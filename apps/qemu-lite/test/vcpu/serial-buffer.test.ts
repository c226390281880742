import { describe, expect, it } from 'vitest';
import { HOLD_BYTES, HOLD_NS, SerialBuffer } from '../../src/vcpu/serial-buffer.js';

/** A buffer on a clock the test moves, recording each write as a string. */
function setup() {
  let now = 1_000_000_000;
  const writes: string[] = [];
  const buffer = new SerialBuffer(
    (bytes) => writes.push(new TextDecoder().decode(bytes)),
    () => now,
  );
  const print = (text: string) => {
    for (const c of text) buffer.put(c.charCodeAt(0));
  };
  return { buffer, writes, print, advance: (ns: number) => (now += ns) };
}

describe('SerialBuffer', () => {
  it('holds output between KVM_RUNs until the oldest byte has waited HOLD_NS', () => {
    const { buffer, writes, print, advance } = setup();
    print('Linux ');
    buffer.flush(true);
    advance(HOLD_NS / 2);
    print('version');
    buffer.flush(true);
    expect(writes).toEqual([]);
    // The first byte's age counts, not the last one's.
    advance(HOLD_NS / 2);
    buffer.flush(true);
    expect(writes).toEqual(['Linux version']);
    buffer.flush(true);
    expect(writes).toEqual(['Linux version']);
  });

  it('writes everything at once before the loop waits or stops', () => {
    const { buffer, writes, print } = setup();
    print('login: ');
    buffer.flush(true);
    expect(writes).toEqual([]);
    buffer.flush();
    expect(writes).toEqual(['login: ']);
    buffer.flush();
    expect(writes).toEqual(['login: ']);
  });

  it('writes without waiting once HOLD_BYTES have gathered, and loses no byte past them', () => {
    const { buffer, writes, print } = setup();
    const text = 'x'.repeat(HOLD_BYTES - 1);
    print(text);
    buffer.flush(true);
    expect(writes).toEqual([]);
    print('yz');
    buffer.flush(true);
    expect(writes).toEqual([`${text}yz`]);
  });

  it('starts the next hold at the next byte, not at the last write', () => {
    const { buffer, writes, print, advance } = setup();
    print('a');
    advance(HOLD_NS);
    buffer.flush(true);
    advance(10 * HOLD_NS);
    print('b');
    buffer.flush(true);
    expect(writes).toEqual(['a']);
    advance(HOLD_NS);
    buffer.flush(true);
    expect(writes).toEqual(['a', 'b']);
  });
});
