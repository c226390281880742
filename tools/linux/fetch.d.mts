// Types for fetch.mjs (used from the TypeScript tests).
export declare const cacheDir: string;
export declare const paths: {
  kernel: string;
  config: string;
  initramfs: string;
  manifest: string;
  vmlinux: string;
  systemMap: string;
  modules: string;
};
/**
 * The gzipped newc initramfs: busybox, /init and the device nodes the kernel needs early, and
 * `modules` (load order) as /lib/modules/NAME.ko with the order in /etc/modules.
 */
export declare function buildInitramfs(
  busybox: Uint8Array,
  init: Uint8Array,
  modules?: readonly { name: string; bytes: Uint8Array }[],
): Buffer;
/** Lines of /etc/sort-input.txt. */
export declare const SORT_LINES: number;
/** /etc/sort-input.txt, the file /init sorts (deterministic). */
export declare function sortInput(): Buffer;
