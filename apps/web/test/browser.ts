/**
 * What the headless-Chromium tests share: Debian's `chromium` (CHROMIUM_PATH) driven by
 * playwright-core against `vite preview` of the built folder (the production headers), and the
 * terminal's text as xterm.js holds it. `browserSkip` says why a browser test cannot run here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type PreviewServer, preview } from 'vite';

export const webRoot = fileURLToPath(new URL('..', import.meta.url));
export const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const browserSkip = !existsSync(executablePath)
  ? `no chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`
  : !existsSync(`${webRoot}dist/index.html`)
    ? 'apps/web/dist is not built (pnpm --filter web build)'
    : undefined;

export interface PageHost {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

/** `vite preview` of dist on a free port near `port`, and a headless Chromium. */
export async function openPageHost(port: number): Promise<PageHost> {
  const server: PreviewServer = await preview({
    root: webRoot,
    preview: { port, strictPort: false },
    logLevel: 'silent',
  });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  return {
    url: server.resolvedUrls!.local[0]!,
    browser,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    },
  };
}

/** The terminal's text, from xterm.js's buffer (the page exposes its terminal as window.kvmTs). */
export function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const t = (window as unknown as { kvmTs: { terminal: import('@xterm/xterm').Terminal } }).kvmTs.terminal;
    const b = t.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  });
}

/**
 * Waits until the terminal's text matches `pattern`. xterm.js parses what `write` gave it
 * asynchronously, so the page's status may say `ended` before the guest's last bytes are in the
 * buffer: a test reads the terminal through this, never right after the status.
 */
export async function waitForTerminal(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  await page.waitForFunction(
    ([source, flags]) => {
      const t = (window as unknown as { kvmTs: { terminal: import('@xterm/xterm').Terminal } }).kvmTs
        .terminal;
      const b = t.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
      return new RegExp(source!, flags).test(lines.join('\n'));
    },
    [pattern.source, pattern.flags],
    { timeout: timeoutMs, polling: 250 },
  );
  return terminalText(page);
}
