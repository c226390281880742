/**
 * Parses the report every guest prints on its serial console (guest/lib/report.c):
 *   GUEST <name>
 *   PASS <check>
 *   FAIL <check>: <detail>          e.g. "expected 0x5 got 0x7"
 *   SKIP <check>: <why>
 *   SUMMARY <guest>: <p> passed, <f> failed, <s> skipped
 * Anything else (banners, the demo's task lines) is ignored.
 */
export interface FailedCheck {
  readonly name: string;
  readonly detail: string;
}
export interface SkippedCheck {
  readonly name: string;
  readonly reason: string;
}
export interface ParsedReport {
  readonly guest?: string;
  readonly passed: string[];
  readonly failed: FailedCheck[];
  readonly skipped: SkippedCheck[];
  /** The SUMMARY line's counts, when the guest got that far. */
  readonly summary?: { passed: number; failed: number; skipped: number };
}

const SUMMARY = /^SUMMARY (\S+): (\d+) passed, (\d+) failed, (\d+) skipped$/;

function splitDetail(rest: string): { name: string; detail: string } {
  const i = rest.indexOf(': ');
  return i < 0 ? { name: rest, detail: '' } : { name: rest.slice(0, i), detail: rest.slice(i + 2) };
}

export function parseReport(serial: string): ParsedReport {
  let guest: string | undefined;
  const passed: string[] = [];
  const failed: FailedCheck[] = [];
  const skipped: SkippedCheck[] = [];
  let summary: ParsedReport['summary'];
  for (const raw of serial.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('GUEST ')) guest = line.slice(6).trim();
    else if (line.startsWith('PASS ')) passed.push(line.slice(5));
    else if (line.startsWith('FAIL ')) failed.push(splitDetail(line.slice(5)));
    else if (line.startsWith('SKIP ')) {
      const { name, detail } = splitDetail(line.slice(5));
      skipped.push({ name, reason: detail });
    } else {
      const m = SUMMARY.exec(line);
      if (m) summary = { passed: Number(m[2]), failed: Number(m[3]), skipped: Number(m[4]) };
    }
  }
  return { guest, passed, failed, skipped, summary };
}
