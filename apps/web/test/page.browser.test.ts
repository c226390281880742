/**
 * The page end to end in a real browser: Debian's `chromium`, headless, driven by playwright-core
 * with its executable path, against `vite preview` of the built folder (the production headers).
 * The page loads cross-origin isolated, the demo boots in the worker, its output reaches the
 * xterm.js terminal, the MIPS figure and exit table fill in, keys typed into the terminal reach
 * a dropped echo guest and its answer comes back; screenshots go to test-results/.
 * Skips, saying why, where there is no chromium (CHROMIUM_PATH, or /usr/bin/chromium) or no build.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  webRoot as here,
  openPageHost,
  type PageHost,
  browserSkip as skip,
  waitForTerminal,
} from './browser.js';
import { echoGuest } from './fixtures/echo-guest.js';

if (skip) console.warn(`page.browser.test.ts skipped: ${skip}`);

describe.skipIf(skip !== undefined)('the page in headless Chromium', () => {
  let host: PageHost;
  let url: string;
  const newPage = (options?: Parameters<PageHost['browser']['newPage']>[0]): Promise<Page> =>
    host.browser.newPage(options);

  beforeAll(async () => {
    host = await openPageHost(4300 + (process.pid % 500));
    url = host.url;
  }, 60_000);

  afterAll(async () => {
    await host?.close();
  });

  it('is cross-origin isolated, boots the demo into the terminal and shows MIPS and the exit table', async () => {
    const page = await newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.waitForFunction(
      () => (document.getElementById('guest') as HTMLSelectElement).options.length > 1,
    );
    expect(await page.inputValue('#guest')).toBe('demo');
    await page.click('#start');
    await page.waitForFunction(
      () => document.getElementById('status')!.textContent!.startsWith('ended'),
      null,
      {
        timeout: 60_000,
      },
    );
    expect(await page.textContent('#status')).toBe('ended: the guest wrote 0 to isa-debug-exit (status 1)');
    const text = await waitForTerminal(page, /all \d+ tasks finished/);
    expect(text).toContain('qemu-lite demo guest: a tiny multitasking kernel');
    expect(text).toMatch(/all \d+ tasks finished after \d+ turns each; shutting down/);
    expect(await page.textContent('#mips-value')).toMatch(/^\d+\.\d \(run\)$/);
    expect(await page.textContent('#exits')).toMatch(
      /Exit reason[\s\S]*IO[\s\S]*Total[\s\S]*guest instructions [\d,]+ in/,
    );
    expect(await page.isHidden('#error')).toBe(true);
    mkdirSync(`${here}test-results`, { recursive: true });
    await page.screenshot({ path: `${here}test-results/page-demo.png` });
    expect(errors).toEqual([]);
  }, 90_000);

  it('says what is wrong with a dropped file that is no kernel, without starting', async () => {
    const page = await newPage();
    await page.goto(url);
    await page.setInputFiles('#kernel-file', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('hello'),
    });
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/notes\.txt: no kernel/);
    expect(await page.textContent('#status')).toMatch(/^idle/);
  }, 30_000);

  it('takes a dropped kernel and sends keys typed into the terminal to the guest, whose echo appears', async () => {
    const page = await newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.setInputFiles('#kernel-file', {
      name: 'echo.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(echoGuest()),
    });
    await page.waitForFunction(
      () => (document.getElementById('guest') as HTMLSelectElement).value === 'dropped',
    );
    expect(await page.textContent('#dropped')).toBe('kernel echo.bin');
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('running'));
    await page.click('#terminal');
    await page.keyboard.type('hello from chromium');
    await page.waitForFunction(
      () => {
        const t = (window as unknown as { kvmTs: { terminal: import('@xterm/xterm').Terminal } }).kvmTs
          .terminal;
        return t.buffer.active.getLine(0)?.translateToString(true) === 'HELLO FROM CHROMIUM';
      },
      null,
      { timeout: 30_000 },
    );
    mkdirSync(`${here}test-results`, { recursive: true });
    await page.screenshot({ path: `${here}test-results/page-echo.png` });
    await page.keyboard.type('q');
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('ended'));
    expect(await page.textContent('#status')).toBe('ended: the guest wrote 0 to isa-debug-exit (status 1)');
  }, 60_000);
});
