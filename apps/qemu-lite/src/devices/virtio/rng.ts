/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue whose buffers are all
 * device-writable; the device fills each with random bytes from the host. No features, no
 * configuration. The bytes come from the host's CSPRNG (Web Crypto's getRandomValues: Node's
 * is OpenSSL's RAND_bytes), where QEMU's default rng-random backend reads /dev/urandom.
 */
import type { GuestMemory } from './guest-memory.js';
import type { VirtioDeviceOps } from './virtio-pci.js';
import type { VirtqChain } from './virtqueue.js';

export const VIRTIO_ID_RNG = 4;
/** PCI_CLASS_OTHERS, QEMU's class for virtio-rng-pci. */
export const PCI_CLASS_OTHERS = 0xff0000;
/** QEMU's queue size for virtio-rng. */
const QUEUE_SIZE = 8;
/** getRandomValues fills at most 65536 bytes a call (Web Crypto's QuotaExceededError). */
const CHUNK = 65536;
/** At most this much per request: a guest asking for gigabytes gets it in pieces, as QEMU's rate limit does. */
const MAX_REQUEST = 1 << 20;

export class VirtioRng implements VirtioDeviceOps {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly classCode = PCI_CLASS_OTHERS;
  readonly features: [number, number] = [0, 0];
  readonly queueSizes = [QUEUE_SIZE];
  readonly config = new Uint8Array(0);
  /** Random bytes handed to the guest, for tests. */
  bytesGiven = 0;

  constructor(private readonly fill: (into: Uint8Array) => void = (into) => crypto.getRandomValues(into)) {}

  handle(_queue: number, chain: VirtqChain, mem: GuestMemory): number {
    let done = 0;
    for (const s of chain.writable) {
      let left = Math.min(s.length, MAX_REQUEST - done);
      let gpa = s.gpa;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        this.fill(mem.slice(gpa, n));
        gpa += n;
        left -= n;
        done += n;
      }
      if (done >= MAX_REQUEST) break;
    }
    this.bytesGiven += done;
    return done;
  }
}
