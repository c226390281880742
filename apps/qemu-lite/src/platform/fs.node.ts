/**
 * The file calls qemu-lite's portable modules make (drives, debugcon), on Node: `node:fs` itself.
 * `#platform/fs` resolves here everywhere but in a browser bundle (see `fs.browser.ts`).
 */
export {
  closeSync,
  fdatasyncSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
export { basename, dirname, join } from 'node:path';
