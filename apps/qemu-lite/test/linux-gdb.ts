/**
 * Debian's gdb against the GDB stub on one of the shared Linux boots (linux.soft.test.ts): the
 * boot starts held (`-S`, the stub on a loopback port), gdb attaches first, sets a hardware
 * breakpoint (`hbreak`, DR0 through KVM_GUESTDBG_USE_HW_BP) on `start_kernel`, continues to it,
 * reads the registers and the backtrace, deletes it and detaches, and the boot goes on to the
 * shell and its other checks. The address is `start_kernel`'s in tools/linux/cache/System.map
 * (`fetch.mjs --symbols`: `nm` of Debian's debug vmlinux; the kernel is booted with nokaslr, so
 * that is where it runs); gdb has no symbols of it (the debug vmlinux is not kept), so it names
 * the address, not the function.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';

/** The engine whose boot gdb debugs (one boot per engine: the other runs without the stub). */
export const GDB_ACCEL = 'svm';

/** `start_kernel`'s address (hex, no 0x), or why the gdb check cannot run. */
export function gdbPlan(): { startKernel: string } | { skip: string } {
  try {
    execFileSync('gdb', ['--version'], { stdio: 'ignore' });
  } catch {
    return { skip: 'gdb is not installed (apt-get install gdb)' };
  }
  if (!existsSync(linux.systemMapPath))
    return { skip: 'tools/linux/cache/System.map is missing (node tools/linux/fetch.mjs --symbols)' };
  // `nm -n` lines: ADDRESS TYPE NAME.
  const m = /^([0-9a-f]{16}) [Tt] start_kernel$/m.exec(readFileSync(linux.systemMapPath, 'utf8'));
  if (!m) return { skip: 'System.map has no start_kernel' };
  return { startKernel: m[1] };
}

/**
 * gdb's session, started before the boot's stub listens: `target remote` retries for up to two
 * minutes (gdb's tcp auto-retry), so gdb is the first to attach, while the vCPU is still held.
 * The stub answers from the machine's thread, which may still be loading the kernel when gdb
 * connects: a long `remotetimeout` keeps gdb from sending its next packet before the answer (it
 * then takes the late qSupported reply for the answer to vMustReplyEmpty).
 */
export function runGdbSession(port: number, startKernel: string, timeoutMs: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qemu-lite-linux-gdb-'));
  const script = join(dir, 'session.gdb');
  writeFileSync(
    script,
    `set pagination off
set confirm off
set tcp auto-retry on
set tcp connect-timeout 120
set remotetimeout 120
target remote 127.0.0.1:${port}
hbreak *0x${startKernel}
continue
info registers rip cs
bt 1
delete
detach
`,
  );
  return new Promise((resolve) => {
    execFile('gdb', ['-nx', '-batch', '-x', script], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve(`${stdout}${stderr}${error && !stdout ? `\n(gdb failed: ${error.message})` : ''}`);
    });
  });
}

/** The session stopped at start_kernel with the hardware breakpoint, in 64-bit kernel code, and detached. */
export function checkGdbStartKernel(out: string, startKernel: string, context: string): void {
  const at = `0x${startKernel}`;
  const ctx = `gdb's output:\n${out}\n${context}`;
  expect(out, ctx).toContain(`Hardware assisted breakpoint 1 at ${at}`);
  expect(out, ctx).toMatch(new RegExp(`Breakpoint 1, ${at} in \\?\\? \\(\\)`));
  expect(out, ctx).toMatch(new RegExp(`rip\\s+${at}\\s`));
  // __KERNEL_CS: 64-bit kernel code.
  expect(out, ctx).toMatch(/cs\s+0x10\s+16/);
  expect(out, ctx).toMatch(new RegExp(`#0\\s+${at} in \\?\\? \\(\\)`));
  expect(out, ctx).toMatch(/Inferior 1 \(Remote target\) detached/);
}
