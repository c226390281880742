import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostDecompress as nodeDecompress } from 'qemu-lite';
import { describe, expect, it } from 'vitest';
import { bundleForWorker } from './bundle.js';

const vmlinuz = fileURLToPath(new URL('../../../tools/linux/cache/vmlinuz', import.meta.url));

type Browser = typeof import('qemu-lite/portable');

async function browserBuild(): Promise<Browser> {
  const file = await bundleForWorker(
    fileURLToPath(new URL('./fixtures/browser-decompress.ts', import.meta.url)),
  );
  return (await import(file)) as Browser;
}

describe('bzImage payloads in a browser bundle', () => {
  it('decompress xz, not gzip (no synchronous gunzip there), where Node does both', async () => {
    const b = await browserBuild();
    expect(b.hostDecompresses('xz')).toBe(true);
    expect(b.hostDecompresses('gzip')).toBe(false);
    expect(b.hostDecompress('gzip', new Uint8Array([0x1f, 0x8b, 8, 0]))).toBeUndefined();
  });

  it.skipIf(!existsSync(vmlinuz))(
    "decompress Debian's kernel (tools/linux/fetch.mjs) byte for byte as Node's native decoder does",
    async () => {
      const b = await browserBuild();
      const image = new Uint8Array(readFileSync(vmlinuz));
      const hdr = b.parseBzImageHeader(image);
      const payload = image.subarray(hdr.payloadOffset, hdr.payloadOffset + hdr.payloadLength);
      expect(b.payloadFormat(payload)).toBe('xz');
      const t0 = performance.now();
      const inBrowser = b.hostDecompress('xz', payload)!;
      const ms = performance.now() - t0;
      const onNode = nodeDecompress('xz', payload)!;
      console.log(
        `Debian's payload: ${(payload.length / 1e6).toFixed(1)} MB xz → ${(inBrowser.length / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms (TypeScript LZMA2)`,
      );
      expect(inBrowser.length).toBe(onNode.length);
      expect(Buffer.from(inBrowser).equals(Buffer.from(onNode))).toBe(true);
    },
    120_000,
  );
});
