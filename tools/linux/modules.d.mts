// Types for modules.mjs (used from the TypeScript tests).
export interface KernelModule {
  name: string;
  bytes: Uint8Array;
}
/** The modules the initramfs loads, by name (their dependencies come along). */
export declare const WANTED_MODULES: readonly string[];
/** A module's name as the kernel knows it: the file name without `.ko`, '-' read as '_'. */
export declare function moduleName(file: string): string;
/** The values of a module's `.modinfo` strings `key=value` for `key`. */
export declare function modinfo(bytes: Uint8Array, key: string): string[];
/** Every `.ko` under dir, by module name → path. */
export declare function indexModules(dir: string): Map<string, string>;
/** The wanted modules and their dependencies, dependencies first; throws naming a missing one. */
export declare function resolveModules(
  wanted: readonly string[],
  read: (name: string) => Uint8Array | undefined,
): KernelModule[];
/** The modules a cache directory holds, in the order its `order` file lists. */
export declare function readCachedModules(dir: string): KernelModule[];
