/**
 * Debian's kernel in the page, in headless Chromium: tools/linux's vmlinuz and initramfs dropped
 * on the page's file inputs, the xz payload decompressed by the page's TypeScript LZMA2 decoder,
 * the kernel booted on -accel vmx in the page's Web Worker to init's busybox shell, and a
 * command typed into the xterm.js terminal run there (its answer in the terminal, then the
 * power-off it asks for). Minutes of guest time, so opt-in: WEB_LINUX=1, as the same boot
 * through the machine module under Node (worker-node.test.ts). WEB_LINUX_TIMEOUT_S bounds the
 * boot to the shell (default 1200).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveStats } from '../src/machine/protocol.js';
import { LINUX_CMDLINE } from '../src/ui/guests.js';
import { browserSkip, openPageHost, type PageHost, waitForTerminal, webRoot } from './browser.js';

const cache = fileURLToPath(new URL('../../../tools/linux/cache/', import.meta.url));
const skip =
  browserSkip ??
  (!existsSync(`${cache}vmlinuz`) || !existsSync(`${cache}initramfs.cpio.gz`)
    ? 'no tools/linux/cache (node tools/linux/fetch.mjs)'
    : process.env.WEB_LINUX !== '1'
      ? 'WEB_LINUX=1 not set'
      : undefined);
if (skip) console.warn(`linux.browser.test.ts skipped: ${skip}`);

const shellTimeoutMs = Number(process.env.WEB_LINUX_TIMEOUT_S ?? 1200) * 1000;

describe.skipIf(skip !== undefined)("Debian's kernel in the page in headless Chromium", () => {
  let host: PageHost;

  beforeAll(async () => {
    host = await openPageHost(5300 + (process.pid % 500));
  }, 60_000);

  afterAll(async () => {
    await host?.close();
  });

  it('boots to the busybox shell, where a command typed into the terminal runs', async () => {
    const page = await host.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(host.url);
    await page.setInputFiles('#kernel-file', {
      name: 'vmlinuz',
      mimeType: 'application/octet-stream',
      buffer: readFileSync(`${cache}vmlinuz`),
    });
    await page.setInputFiles('#initrd-file', {
      name: 'initramfs.cpio.gz',
      mimeType: 'application/octet-stream',
      buffer: readFileSync(`${cache}initramfs.cpio.gz`),
    });
    await page.waitForFunction(() => document.getElementById('dropped')!.textContent!.includes('initrd'));
    expect(await page.textContent('#dropped')).toBe('kernel vmlinuz, initrd initramfs.cpio.gz');
    await page.selectOption('#accel', 'vmx');
    await page.selectOption('#memory', String(256 * 1024 * 1024));
    // The page's own -append for a dropped bzImage: the kernel's quiet boot (guests.ts).
    expect(await page.inputValue('#cmdline')).toBe(LINUX_CMDLINE);
    const t0 = Date.now();
    await page.click('#start');
    // init's banner, then busybox's prompt ("/ # ") as the terminal's last line.
    await page.waitForFunction(
      () => {
        const t = (window as unknown as { kvmTs: { terminal: import('@xterm/xterm').Terminal } }).kvmTs
          .terminal;
        const b = t.buffer.active;
        let text = '';
        for (let i = 0; i < b.length; i++) text += `${b.getLine(i)?.translateToString(true) ?? ''}\n`;
        return text.includes('busybox shell on the serial console') && /\/ # \n*$/.test(text);
      },
      null,
      { timeout: shellTimeoutMs, polling: 1000 },
    );
    const shellS = (Date.now() - t0) / 1000;
    const atShell = (await page.evaluate(
      () => (window as unknown as { kvmTs: { lastStats: unknown } }).kvmTs.lastStats,
    )) as LiveStats;
    expect(await page.textContent('#status')).toMatch(/^running: Linux bzImage.*xz payload decompressed/);
    await page.click('#terminal');
    await page.keyboard.type('echo hi-$((6*7)); poweroff -f\n');
    // The command line as echoed, then its answer on a line of its own, then the power-off.
    const text = await waitForTerminal(page, /reboot: Power down/, 300_000);
    await page.waitForFunction(
      () => document.getElementById('status')!.textContent!.startsWith('ended'),
      null,
      {
        timeout: 300_000,
      },
    );
    mkdirSync(`${webRoot}test-results`, { recursive: true });
    await page.screenshot({ path: `${webRoot}test-results/page-linux.png` });
    console.log(
      `Linux in Chromium: the shell after ${shellS.toFixed(0)} s (${(atShell.instructions / 1e6).toFixed(0)} M guest instructions), the power-off after ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    expect(text).toContain('/ # echo hi-$((6*7)); poweroff -f');
    expect(text).toMatch(/^hi-42$/m);
    expect(await page.textContent('#status')).toBe('ended: poweroff');
    expect(await page.isHidden('#error')).toBe(true);
    expect(errors).toEqual([]);
  }, 1_800_000);
});
