import { describe, expect, it } from 'vitest';
import { judge, parseReport } from '../src/index.js';

const sample = [
  'GUEST mmu',
  'PASS mmu.4level.wp0.l1.ur.sup-read.pf-error-code',
  'FAIL mmu.4level.wp1.l1.ur.sup-write.pf-error-code: expected 0x3 got 0xffffffffffffffff',
  'SKIP mmu.4level.smep-smap: no SMEP/SMAP in CPUID',
  'some banner line',
  'SUMMARY mmu: 1 passed, 1 failed, 1 skipped',
  '',
].join('\r\n');

describe('parseReport', () => {
  it('splits PASS, FAIL (name and detail), SKIP and SUMMARY lines and ignores the rest', () => {
    const r = parseReport(sample);
    expect(r.guest).toBe('mmu');
    expect(r.passed).toEqual(['mmu.4level.wp0.l1.ur.sup-read.pf-error-code']);
    expect(r.failed).toEqual([
      { name: 'mmu.4level.wp1.l1.ur.sup-write.pf-error-code', detail: 'expected 0x3 got 0xffffffffffffffff' },
    ]);
    expect(r.skipped).toEqual([{ name: 'mmu.4level.smep-smap', reason: 'no SMEP/SMAP in CPUID' }]);
    expect(r.summary).toEqual({ passed: 1, failed: 1, skipped: 1 });
  });

  it('has no summary when the guest died before printing one', () => {
    const r = parseReport('GUEST x\nPASS a\n');
    expect(r.summary).toBeUndefined();
    expect(r.passed).toEqual(['a']);
  });
});

describe('judge', () => {
  const clean = parseReport('PASS a\nSUMMARY x: 1 passed, 0 failed, 0 skipped\n');
  const failing = parseReport('FAIL a: expected 0x1 got 0x2\n');
  it('accepts a pass only as debug-exit status 1 with no failures', () => {
    expect(judge('pass', 'debug-exit', 1, clean)).toBe(true);
    expect(judge('pass', 'debug-exit', 3, failing)).toBe(false);
    expect(judge('pass', 'debug-exit', 1, failing)).toBe(false);
    expect(judge('pass', 'shutdown', 0, clean)).toBe(false);
    expect(judge('pass', 'timeout', 124, clean)).toBe(false);
  });
  it('accepts a shutdown only as a shutdown', () => {
    expect(judge('shutdown', 'shutdown', 0, clean)).toBe(true);
    expect(judge('shutdown', 'debug-exit', 1, clean)).toBe(false);
    expect(judge('shutdown', 'failure', 2, clean)).toBe(false);
  });
  it('accepts a poweroff only as an ACPI power-off with no failures', () => {
    expect(judge('poweroff', 'poweroff', 0, clean)).toBe(true);
    expect(judge('poweroff', 'poweroff', 0, failing)).toBe(false);
    expect(judge('poweroff', 'debug-exit', 1, clean)).toBe(false);
    expect(judge('poweroff', 'shutdown', 0, clean)).toBe(false);
  });
});
