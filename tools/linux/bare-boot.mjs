#!/usr/bin/env node
// The early-warning boot: Debian's kernel (tools/linux/cache, from fetch.mjs) on a bare x86emu
// Cpu with qemu-lite's devices (bare/), no hypervisor. It shows what the software engine will
// meet before the engine can run long mode: the console as it comes, a progress line every 10 s
// (instructions, MIPS, RIP and kernel symbol), then how the run ended and the unexpected
// exceptions on the way (#UD at an instruction x86emu lacks, ...), each with its RIP, bytes and
// symbol (symbols need `node tools/linux/fetch.mjs --symbols`).
//
// Usage: node tools/linux/bare-boot.mjs [options]
//   --claim          report Linux's required CPUID bits (FPU, SSE, SSE2, ...) even where x86emu
//                    lacks them, to see what breaks after verify_cpu
//   --entry E        kernel (default: payload decompressed on the host, vmlinux's startup_64),
//                    decompressor (the bzImage's 64-bit entry) or protocol32 (its 32-bit entry)
//   --append TEXT    kernel command line (default: boot-marker.mjs's BARE_CMDLINE)
//   --timeout S      wall-clock limit (default 600)
//   --max-insns N    stop after N instructions
//   --findings FILE  append the result, dated, to FILE (markdown)
//   --quiet          no console echo
//   --wasm-memory    guest RAM in a WebAssembly.Memory (x86emu's WasmGuestMemory), for the wasm
//                    backend (X86EMU_JIT_BACKEND=wasm; X86EMU_JIT_HOT sets the threshold)
//   --guest-prof FILE  profile the guest (bare/guest-prof.mjs): instructions and host CPU time by
//                    kernel function and by boot phase, interpreted / compiled / REP; the tables
//                    (markdown) go to FILE
//   --prof-top N     rows of the function table (default 40)
//   --prof-initcalls also each initcall on its own (the kernel command line gets initcall_debug
//                    ignore_loglevel; a table of the initcalls by CPU time, with their top
//                    functions)
//   --prof-sites     also the RIPs where interpreted segments start (where cold code enters the
//                    interpreter; by instructions and by segments; slower)
//   --exit-census    why the wasm backend's 64-bit functions left (Jcc, JMP, CALL, RET… to the
//                    same page or another; x86emu src/jit/wasm/exit-census.ts), the chain's hops,
//                    and the instructions they called a handler for (X86EMU_JIT_CENSUS=1)
// Needs qemu-lite and x86emu built (`pnpm exec turbo run build --filter=qemu-lite...`).

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmBackend } from '../../packages/x86emu/dist/index.js';
import { GuestProfiler } from './bare/guest-prof.mjs';
import { bootOnBareCpu, missingRequiredFeatures } from './bare/run.mjs';
import { loadSymbols } from './bare/symbols.mjs';
import * as linux from './boot-marker.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const qemuLiteDist = join(here, '..', '..', 'apps', 'qemu-lite', 'dist', 'index.js');

function parseArgs(argv) {
  const o = { claim: false, entry: 'kernel', append: linux.BARE_CMDLINE, timeout: 600, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--claim') o.claim = true;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--wasm-memory') process.env.X86EMU_WASM_MEMORY = '1';
    else if (a === '--entry') o.entry = next();
    else if (a === '--append') o.append = next();
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--max-insns') o.maxInsns = Number(next());
    else if (a === '--findings') o.findings = next();
    else if (a === '--guest-prof') o.guestProf = next();
    else if (a === '--prof-top') o.profTop = Number(next());
    else if (a === '--prof-sites') o.profSites = true;
    else if (a === '--prof-initcalls') o.profInitcalls = true;
    else if (a === '--exit-census') process.env.X86EMU_JIT_CENSUS = '1';
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const hex = (n) => `0x${n.toString(16)}`;

/**
 * The phases of a guest profile: console lines of the bare boot in the order they come (the
 * kernel's own messages, then /init's sections: modules loaded by `=== uname`, busybox's
 * sha256sum and sort between their headers).
 */
export const PROFILE_PHASES = [
  { name: 'kernel banner', re: /Linux version \d/ },
  { name: 'mm_init (Memory:)', re: /Memory: \d+K/ },
  { name: 'TSC calibrated', re: /tsc: Detected|tsc: Fast TSC calibration|Calibrating delay/ },
  { name: 'initcalls (Freeing unused kernel image)', re: /Freeing unused kernel image/ },
  { name: 'userspace marker', re: new RegExp(linux.MARKER) },
  { name: 'modules loaded (=== uname)', re: /=== uname/ },
  { name: 'to === sha256sum', re: /=== sha256sum/ },
  { name: 'sha256sum (to === sort)', re: /=== sort/ },
  { name: 'sort (to === smp)', re: /=== smp/ },
  { name: 'devices (to === end)', re: /=== end/ },
];

/**
 * `--prof-initcalls`: the kernel's `initcall_debug` lines ("calling  chr_dev_init+0x0/0xab @ 1",
 * "initcall chr_dev_init+0x0/0xab returned 0 after 9012 usecs") start and end a span of the
 * profile each.
 */
function initcallSpan(prof, line) {
  if (/\] calling {2}\S+ @ \d+/.test(line)) {
    prof.span(null);
    return;
  }
  const m = /\] initcall (\S+?)\+0x[0-9a-f]+\/0x[0-9a-f]+ returned/.exec(line);
  if (m !== null) prof.span(m[1]);
}

/** `--exit-census`: the 64-bit functions' exits by kind, the chain's hops, the handler calls by form. */
function formatCensus(be) {
  const census = be.exitCensus();
  if (census === null) return ['- exit census: off'];
  const total = census.exits.reduce((n, e) => n + e.count, 0);
  const share = (n, of) => `${((100 * n) / Math.max(1, of)).toFixed(1)} %`;
  const lines = [
    `- exits of 64-bit functions: ${total}, of which hops through the dispatch loop ${be.chain?.hops ?? 0}`,
  ];
  for (const e of census.exits)
    if (e.count > 0) lines.push(`  - ${e.kind}: ${e.count} (${share(e.count, total)})`);
  const calls = census.handlers.reduce((n, h) => n + h.count, 0);
  lines.push(`- handler calls of 64-bit functions: ${calls}`);
  for (const h of census.handlers.slice(0, 15))
    lines.push(`  - ${h.form}: ${h.count} (${share(h.count, calls)})`);
  return lines;
}

/** The report as markdown lines: ending, where, exceptions, MSRs, the console's last lines. */
export function formatReport(r, { claim, entry, symbolsAvailable }) {
  const lines = [];
  const where = `RIP ${hex(r.rip)}${r.ripSymbol ? ` (${r.ripSymbol})` : ''}, bytes \`${r.ripBytes || 'unmapped'}\``;
  lines.push(
    `- ended: **${r.ending}**${r.detail ? ` (${r.detail})` : ''} after ${r.instructions} instructions, ` +
      `${(r.wallMs / 1000).toFixed(1)} s (${(r.instructions / r.wallMs / 1000).toFixed(1)} MIPS); ${where}`,
  );
  lines.push(
    `- entry ${entry}; CPUID ${claim ? "with Linux's required bits claimed" : "x86emu's own"}; ${r.description}`,
  );
  const missing = missingRequiredFeatures();
  if (missing.length > 0)
    lines.push(`- x86emu's CPUID lacks what Linux x86-64 requires: ${missing.join(', ')}`);
  const milestones = linux.MILESTONES.filter((m) => m.re.test(r.console)).map((m) => m.name);
  lines.push(`- milestones: ${milestones.join(', ') || 'none'}`);
  if (!symbolsAvailable) lines.push('- (no kernel symbols: run `node tools/linux/fetch.mjs --symbols`)');
  for (const e of r.exceptions.slice(0, 20)) {
    lines.push(
      `- ${e.name}${e.errorCode !== undefined ? `(${hex(e.errorCode)})` : ''} at ${hex(e.rip)}` +
        `${e.symbol ? ` ${e.symbol}` : ''}, bytes \`${e.bytes}\`, ×${e.count}, first after ${e.atInstruction} instructions`,
    );
  }
  if (r.exceptions.length > 20) lines.push(`- … ${r.exceptions.length - 20} more exception sites`);
  if (r.unknownMsrs.length > 0)
    lines.push(
      `- MSRs answered #GP: ${r.unknownMsrs.map(({ index, count }) => `${hex(index)}×${count}`).join(', ')}`,
    );
  lines.push(
    `- x86emu counters: ${Object.entries(r.cpuStats)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  const tail = r.console.replace(/\r/g, '').trimEnd().split('\n').slice(-15).join('\n');
  lines.push('- console, last lines:', '', '```', tail, '```');
  return lines;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const files = linux.linuxFiles();
  if (!files.ok) {
    console.error(`bare-boot: ${files.why}`);
    process.exit(2);
  }
  if (!existsSync(qemuLiteDist)) {
    console.error(`bare-boot: ${qemuLiteDist} is missing: pnpm exec turbo run build --filter=qemu-lite...`);
    process.exit(2);
  }
  const ql = await import(qemuLiteDist);
  const symbols = loadSymbols(linux.systemMapPath);
  const image = new Uint8Array(readFileSync(linux.kernelPath));
  const initrd = new Uint8Array(readFileSync(linux.initramfsPath));
  const load = linux.bareLoader(ql, o.entry);
  const prof =
    o.guestProf !== undefined
      ? new GuestProfiler(linux.systemMapPath, { sites: o.profSites === true })
      : null;
  let cpu = null;
  const r = await bootOnBareCpu(ql, image, {
    milestones: prof !== null ? PROFILE_PHASES : undefined,
    onStart: (c) => {
      cpu = c;
      prof?.attach(c);
    },
    onMilestone: prof !== null ? (name) => prof.mark(name) : undefined,
    onLine: prof !== null && o.profInitcalls ? (line) => initcallSpan(prof, line) : undefined,
    sampler: prof ?? undefined,
    initrd,
    // initcall_debug's lines are KERN_DEBUG: ignore_loglevel puts them on the console.
    cmdline: o.profInitcalls ? `${o.append} initcall_debug ignore_loglevel` : o.append,
    load,
    claimFeatures: o.claim,
    timeoutMs: o.timeout * 1000,
    maxInstructions: o.maxInsns,
    symbols,
    stopOn: linux.POWEROFF_RE,
    onSerial: o.quiet ? undefined : (t) => process.stdout.write(t),
    onProgress: (line) => console.error(`bare-boot: ${line}`),
  });
  if (prof !== null) {
    const head = `# Guest profile of Debian's kernel on a bare x86emu Cpu (${new Date().toISOString()})\n\n`;
    const env = ['X86EMU_JIT', 'X86EMU_JIT_HOT', 'X86EMU_JIT_BACKEND']
      .filter((k) => process.env[k] !== undefined)
      .map((k) => `${k}=${process.env[k]}`);
    const about = `\`bare-boot.mjs ${process.argv.slice(2).join(' ')}\`${env.length > 0 ? `, ${env.join(' ')}` : ''}; ended: ${r.ending} after ${r.instructions} instructions at RIP ${hex(r.rip)}\n\n`;
    writeFileSync(o.guestProf, `${head}${about}${prof.report({ top: o.profTop ?? 40 }).join('\n')}\n`);
    console.error(`bare-boot: guest profile written to ${o.guestProf}`);
  }
  const lines = formatReport(r, { claim: o.claim, entry: o.entry, symbolsAvailable: symbols.available });
  if (process.env.X86EMU_JIT_CENSUS === '1' && cpu?.jit) lines.push(...formatCensus(wasmBackend(cpu)));
  console.error(`\nbare-boot:\n${lines.join('\n')}`);
  if (o.findings) {
    const head = `\n## ${new Date().toISOString()} — Debian's kernel on a bare x86emu Cpu (tools/linux/bare-boot.mjs${
      o.claim ? ' --claim' : ''
    })\n\n`;
    appendFileSync(o.findings, `${head}${lines.join('\n')}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
