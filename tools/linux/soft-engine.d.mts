// Types for soft-engine.mjs (used from the TypeScript tests).
/** Why `accel`'s CPUID cannot boot an x86-64 kernel, or undefined. `ql` is qemu-lite's module. */
export declare function cpuidGap(ql: unknown, accel: 'vmx' | 'svm'): string | undefined;
export declare const NO_LONG_MODE: RegExp;
