/**
 * The reviewed list of known x86emu mismatches (KNOWN-MISMATCHES.md explains each; the data is
 * known-mismatches.json beside it). Shrinking the list is the x86emu author's job: the test fails
 * when a mismatch outside the list appears AND when a listed one stops reproducing.
 */
import { readFileSync } from 'node:fs';
import type { KnownMismatch } from './difftest.js';

/** The package's known-mismatch file (works from src/ under vitest and from dist/). */
export const KNOWN_MISMATCHES_URL = new URL('../known-mismatches.json', import.meta.url);

export function loadKnownMismatches(url: URL = KNOWN_MISMATCHES_URL): KnownMismatch[] {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as KnownMismatch[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
