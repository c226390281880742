// Types for fetch.mjs (used from the TypeScript tests).
export declare const cacheDir: string;
export declare const paths: {
  kernel: string;
  config: string;
  initramfs: string;
  manifest: string;
  vmlinux: string;
  systemMap: string;
};
/** The gzipped newc initramfs: busybox, /init and the device nodes the kernel needs early. */
export declare function buildInitramfs(busybox: Uint8Array, init: Uint8Array): Buffer;
/** Lines of /etc/sort-input.txt. */
export declare const SORT_LINES: number;
/** /etc/sort-input.txt, the file /init sorts (deterministic). */
export declare function sortInput(): Buffer;
