/** ShutdownSignals (src/cli/signals.ts): QEMU's one request per signal, timeout(1)'s pair, force. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REPEAT_GRACE_MS, ShutdownSignals } from '../../src/cli/signals.js';

function harness(forceAfterMs = 60_000) {
  let now = 0;
  const signals = new ShutdownSignals(() => now, forceAfterMs);
  const requests: number[] = [];
  const forced: number[] = [];
  return {
    signals,
    requests,
    forced,
    advance: (ms: number) => {
      now += ms;
    },
    attach: () => signals.attach({ request: (n) => requests.push(n), force: (n) => forced.push(n) }),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ShutdownSignals', () => {
  it('keeps a signal that came before the guest ran and serves it on attach', () => {
    const h = harness();
    h.signals.deliver(15);
    expect(h.requests).toEqual([]);
    h.attach();
    expect(h.requests).toEqual([15]);
    expect(h.signals.received).toBe(15);
  });

  it("takes timeout(1)'s second SIGTERM, microseconds later, as the same request", () => {
    const h = harness();
    h.attach();
    h.signals.deliver(15);
    h.signals.deliver(15);
    h.advance(REPEAT_GRACE_MS - 1);
    h.signals.deliver(2);
    expect(h.requests).toEqual([15]);
    expect(h.forced).toEqual([]);
  });

  it('forces the exit on a repeat after the grace period', () => {
    const h = harness();
    h.attach();
    h.signals.deliver(2);
    h.advance(REPEAT_GRACE_MS);
    h.signals.deliver(2);
    expect(h.requests).toEqual([2]);
    expect(h.forced).toEqual([2]);
  });

  it('forces the exit when the guest has not stopped by the watchdog', () => {
    vi.useFakeTimers();
    const h = harness(500);
    h.attach();
    h.signals.deliver(15);
    vi.advanceTimersByTime(499);
    expect(h.forced).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(h.forced).toEqual([15]);
  });
});
