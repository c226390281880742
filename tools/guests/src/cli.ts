#!/usr/bin/env node
/**
 * kvm-guests: run guests and print their reports.
 *   node dist/cli.js <guest|all|tests|bench> [--accel kvm|vmx|svm] [--vmm qemu-lite|qemu] [-v]
 *   node dist/cli.js list
 * Exit status 0 when every guest run ended as its manifest entry expects, 1 otherwise.
 */
import { GUESTS, type GuestInfo } from './manifest.js';
import { type GuestReport, runGuestReport } from './runner.js';

function usage(): never {
  process.stderr.write(
    'usage: kvm-guests <guest|all|tests|bench|list> [--accel kvm|vmx|svm] [--vmm qemu-lite|qemu] [--timeout ms] [-v]\n',
  );
  process.exit(2);
}

function select(what: string): GuestInfo[] {
  if (what === 'all') return [...GUESTS];
  if (what === 'tests') return GUESTS.filter((g) => g.kind === 'test');
  if (what === 'bench') return GUESTS.filter((g) => g.kind === 'bench');
  const names = what.split(',');
  const picked = GUESTS.filter((g) => names.includes(g.name));
  if (picked.length !== names.length) {
    process.stderr.write(`unknown guest in ${what}; try: kvm-guests list\n`);
    process.exit(2);
  }
  return picked;
}

function print(r: GuestReport, verbose: boolean): void {
  const head = `${r.ok ? 'ok  ' : 'BAD '} ${r.guest.padEnd(14)} ${r.accel}/${r.vmm}: ${r.ending} status ${r.status}`;
  const counts = `${r.passed.length} passed, ${r.failed.length} failed, ${r.skipped.length} skipped`;
  process.stdout.write(`${head}, ${counts} (expected ${r.expected}, ${r.wallMs.toFixed(0)} ms)\n`);
  if (r.detail) process.stdout.write(`     ${r.detail}\n`);
  for (const f of r.failed) process.stdout.write(`     FAIL ${f.name}: ${f.detail}\n`);
  if (verbose) for (const s of r.skipped) process.stdout.write(`     SKIP ${s.name}: ${s.reason}\n`);
  if (verbose || r.passed.length + r.failed.length === 0) {
    const lines = r.serial.split('\n').filter((l) => !/^(PASS|FAIL|SKIP) /.test(l));
    for (const l of lines) if (l.trim()) process.stdout.write(`     | ${l}\n`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let accel = 'kvm';
  let vmm: 'qemu-lite' | 'qemu' = 'qemu-lite';
  let timeoutMs: number | undefined;
  let verbose = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--accel') accel = argv[++i] ?? usage();
    else if (a === '--vmm') {
      const v = argv[++i];
      if (v !== 'qemu' && v !== 'qemu-lite') usage();
      vmm = v;
    } else if (a === '--timeout') timeoutMs = Number(argv[++i]);
    else if (a === '-v' || a === '--verbose') verbose = true;
    else if (a.startsWith('-')) usage();
    else rest.push(a);
  }
  if (rest.length !== 1) usage();
  if (rest[0] === 'list') {
    for (const g of GUESTS)
      process.stdout.write(
        `${g.name.padEnd(14)} ${g.kind.padEnd(5)} ${g.bits}-bit expect ${g.expect}: ${g.description}\n`,
      );
    return;
  }
  let bad = 0;
  for (const g of select(rest[0])) {
    const r = await runGuestReport(g, { accel, vmm, timeoutMs });
    print(r, verbose);
    if (g.kind === 'bench') {
      const line = r.serial.split('\n').find((l) => l.startsWith(`${g.name}:`));
      process.stdout.write(`     ${line ?? '(no result line)'}; wall ${r.wallMs.toFixed(0)} ms\n`);
    }
    if (!r.ok) bad++;
  }
  process.exitCode = bad ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`kvm-guests: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
