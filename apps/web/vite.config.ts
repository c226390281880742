import { defineConfig } from 'vite';

/**
 * SharedArrayBuffer (guest RAM, qemu-lite's control block) exists only in a cross-origin isolated
 * page: both servers send COOP/COEP; a production host must too (public/_headers, README).
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  // Relative URLs: the built folder works from any path on any static server.
  base: './',
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
});
