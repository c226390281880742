// Kernel addresses → `symbol+0xoff`, from the System.map fetch.mjs --symbols writes (`nm -n` of
// Debian's debug vmlinux: Debian's own /boot/System.map is a placeholder). Only code symbols
// (t/T/w/W) are kept: the addresses asked about are RIPs.

import { existsSync, readFileSync } from 'node:fs';

/** A lookup over `path`, or one that answers '' when the file is absent. */
export function loadSymbols(path) {
  if (!existsSync(path)) return { available: false, lookup: () => '' };
  const addrs = [];
  const names = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{16}) ([tTwW]) (\S+)/.exec(line);
    if (m === null) continue;
    addrs.push(BigInt(`0x${m[1]}`));
    names.push(m[3]);
  }
  const lookup = (addr) => {
    let lo = 0;
    let hi = addrs.length - 1;
    if (hi < 0 || addr < addrs[0]) return '';
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (addrs[mid] <= addr) lo = mid;
      else hi = mid - 1;
    }
    return `${names[lo]}+0x${(addr - addrs[lo]).toString(16)}`;
  };
  return { available: true, lookup };
}
