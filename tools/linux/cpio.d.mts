// Types for cpio.mjs (used from the TypeScript tests).
export declare const S_IFDIR: number;
export declare const S_IFREG: number;
export declare const S_IFLNK: number;
export declare const S_IFCHR: number;
export interface CpioEntry {
  name: string;
  mode: number;
  data?: Uint8Array;
  rdevMajor?: number;
  rdevMinor?: number;
  mtime?: number;
}
export declare function newcArchive(entries: CpioEntry[]): Buffer;
export declare function readNewcArchive(
  bytes: Uint8Array,
): { name: string; mode: number; data: Uint8Array; rdevMajor: number; rdevMinor: number }[];
