/**
 * The 16/32-bit guests on a bare x86emu `Cpu` (`runOnBareCpu`: no hypervisor, qemu-lite's
 * UART, PIC, PIT, CMOS and debug-exit around it, deterministic virtual time). Each must end
 * as its manifest entry says, and print exactly what the referee printed: the host engine
 * where it can run the guest (on kvm-pvm only the unpaged, exception-free ones), else the
 * software engine's vmx backend. Known differences are listed in bare-deviations.ts and
 * asserted exactly (both ways).
 */
import { describe, expect, it } from 'vitest';
import {
  type BareReport,
  engineAvailability,
  engineQuirks,
  GUESTS,
  type GuestInfo,
  type GuestReport,
  hostKvmFlavor,
  hostQuirks,
  runGuestReport,
  runOnBareCpu,
} from '../src/index.js';
import { BARE_DEVIATIONS } from './bare-deviations.js';

// The bare machine has no ACPI, no pc-testdev and no port 0x61 over an in-kernel PIT ('pc-platform').
const BARE_GUESTS = GUESTS.filter(
  (g) => g.bits === 32 && !g.needs.includes('long-mode') && !g.needs.includes('pc-platform'),
);
const kvm = await engineAvailability('kvm');
const vmx = await engineAvailability('vmx');

/** The engine that referees a guest here, or why there is none. */
function refereeFor(g: GuestInfo): { accel?: 'kvm' | 'vmx' | 'svm'; why: string } {
  const unmet = g.needs.find((n) => hostQuirks().unsupported[n] !== undefined);
  if (kvm.available && unmet === undefined) return { accel: 'kvm', why: 'the host engine' };
  const hostWhy = kvm.available ? `${hostKvmFlavor()}: ${hostQuirks().unsupported[unmet!]}` : kvm.reason;
  // svm where vmx deviates like the hardware it models (fpuerr: VMX keeps CR0.NE = 1).
  const soft = engineQuirks('vmx').deviations[g.name] === undefined ? 'vmx' : 'svm';
  if (vmx.available)
    return { accel: soft, why: `${soft} (the host engine cannot: ${(hostWhy ?? '').split(':')[0]})` };
  return { why: `neither the host engine (${hostWhy}) nor vmx (${vmx.reason}) is available` };
}

/** The console output without the lines of `checks` and without the SUMMARY line (its counts differ). */
function withoutChecks(serial: string, checks: readonly string[]): string {
  const drop = new Set(checks);
  return serial
    .split('\n')
    .filter((line) => {
      const m = /^(?:PASS|FAIL|SKIP) ([^:]+)(?::|$)/.exec(line);
      if (m && drop.has(m[1])) return false;
      return !(checks.length > 0 && line.startsWith('SUMMARY '));
    })
    .join('\n');
}

describe('the 32-bit guests on a bare x86emu Cpu', () => {
  it('covers every guest that needs neither long mode nor a hypervisor', () => {
    expect(BARE_GUESTS.map((g) => g.name)).toEqual(
      expect.arrayContaining(['modes', 'mmu', 'paging', 'interrupts', 'io', 'triplefault']),
    );
    for (const name of Object.keys(BARE_DEVIATIONS)) expect(BARE_GUESTS.map((g) => g.name)).toContain(name);
  });

  for (const g of BARE_GUESTS) {
    const ref = refereeFor(g);
    const dev = BARE_DEVIATIONS[g.name];
    const title = `${g.name} ends with ${g.expect} and prints what ${ref.accel ? ref.why : 'the referee'} prints${
      dev ? ` (except ${dev.checks.length} known deviations: ${dev.reason.split(':')[0]})` : ''
    }`;
    it(title, async () => {
      const bare: BareReport = await runOnBareCpu(g, { timeoutMs: 60_000 });
      const expected = [...(dev?.checks ?? [])].sort();
      expect(
        bare.failed.map((f) => f.name).sort(),
        `${g.name} on the bare Cpu: failed checks\n${bare.serial}`,
      ).toEqual(expected);
      if (g.expect === 'shutdown') {
        expect(bare.ending, bare.serial).toBe('shutdown');
      } else {
        expect(bare.ending, `${bare.detail ?? ''}\n${bare.serial}`).toBe('debug-exit');
        expect(bare.status).toBe((Math.min(expected.length, 255) << 1) | 1);
      }
      expect(bare.ok).toBe(expected.length === 0);
      expect(bare.instructions).toBeGreaterThan(0);

      if (!ref.accel) {
        console.warn(`${g.name}: serial comparison skipped: ${ref.why}`);
        return;
      }
      const r: GuestReport = await runGuestReport(g, { accel: ref.accel, timeoutMs: 60_000 });
      // The referee fails nothing, except where it shares the bug: vmx runs guests on x86emu too.
      const refFailed = r.failed.map((f) => f.name);
      expect(
        refFailed.filter((n) => !expected.includes(n)),
        `the referee (${ref.accel}) fails ${g.name} itself\n${r.serial}`,
      ).toEqual([]);
      expect(r.ending, r.serial).toBe(bare.ending);
      if (dev?.serialDiffers) {
        // Everything up to the first deviating line is still identical.
        const from = dev.differsFrom ?? `^(PASS|FAIL) ${dev.checks[0]}\\b`;
        const upTo = (s: string) => s.slice(0, s.search(new RegExp(from, 'm')));
        expect(upTo(bare.serial), dev.serialDiffers).toBe(upTo(r.serial));
        return;
      }
      expect(withoutChecks(bare.serial, expected)).toBe(withoutChecks(r.serial, expected));
      if (r.summary && bare.summary) {
        expect(bare.summary.passed + bare.summary.failed).toBe(r.summary.passed + r.summary.failed);
        expect(bare.summary.skipped).toBe(r.summary.skipped);
      }
    }, 180_000);
  }

  it('is deterministic: the same guest retires the same instructions and takes its IRQs at the same places', async () => {
    const a = await runOnBareCpu('interrupts');
    const b = await runOnBareCpu('interrupts');
    expect(a.ok).toBe(true);
    expect(b.instructions).toBe(a.instructions);
    expect(b.virtualNs).toBe(a.virtualNs);
    expect(b.cpuStats.interrupts).toBe(a.cpuStats.interrupts);
    expect(a.cpuStats.interrupts).toBeGreaterThan(5);
  });

  it('ends a guest at the instruction limit with ending timeout', async () => {
    const r = await runOnBareCpu('interrupts', { maxInstructions: 100_000 });
    expect(r.ending).toBe('timeout');
    expect(r.ok).toBe(false);
    expect(r.instructions).toBe(100_000);
  });
});
