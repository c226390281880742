/**
 * Where RDRAND and RDSEED take their bits from (`RandomOps`). A processor's generator is not
 * reproducible, and neither is the default here: the host's cryptographic generator, read 64 words
 * at a time. A harness that must run the same guest twice the same way (lockstep against the
 * interpreter, instruction counts compared across runs, a test) gives a seed instead, as QEMU's
 * `-seed` makes its RDRAND reproducible: then the words come from xoshiro128** (Blackman and
 * Vigna), not suitable for cryptography and not meant to be.
 */
import type { RandomOps } from '../api/platform.js';

const POOL_WORDS = 64;

interface WebCrypto {
  getRandomValues(a: Uint32Array): Uint32Array;
}

/**
 * The host's cryptographic generator (Node 20 and browsers: `globalThis.crypto`); on a host
 * without one, a sequence seeded from the clock (never a throw in the middle of a guest's run).
 */
export function hostRandom(): RandomOps {
  const crypto = (globalThis as { crypto?: WebCrypto }).crypto;
  if (crypto === undefined) return seededRandom(Date.now());
  const pool = new Uint32Array(POOL_WORDS);
  let next = POOL_WORDS;
  return {
    random32() {
      if (next === POOL_WORDS) {
        crypto.getRandomValues(pool);
        next = 0;
      }
      return pool[next++];
    },
  };
}

/** A reproducible sequence from `seed` (any number; its low 32 bits and the next 32 are used). */
export function seededRandom(seed: number): RandomOps {
  // SplitMix32 spreads the seed over the four state words (never all zero).
  let x = (seed >>> 0) ^ Math.floor(seed / 4294967296);
  const mix = (): number => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = mix();
  let s1 = mix();
  let s2 = mix();
  let s3 = mix() | 1;
  return {
    random32() {
      const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      return r;
    },
  };
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}

/**
 * A `Cpu`'s generator when `CpuOptions.random` is not given: `seededRandom(X86EMU_RANDOM_SEED)`
 * when that environment variable holds a number (a reproducible run of the engines, whose guest
 * CPUs qemu-lite does not construct itself), else `hostRandom()`.
 */
export function defaultRandom(): RandomOps {
  const env = typeof process !== 'undefined' ? process.env?.X86EMU_RANDOM_SEED : undefined;
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return seededRandom(Number(env));
  return hostRandom();
}
