// What the software engine (`-accel vmx` / `-accel svm`) must offer before Debian's kernel can
// boot on it, asked of the engine itself, and qemu-lite's message when it stops at long mode.
// Shared by the boot test (apps/qemu-lite/test/linux.soft.test.ts) and the bench, so that both
// skip for the same named reasons.

/**
 * CPUID bits an x86-64 kernel requires that the software engine may not have yet: leaf 1 EDX
 * FPU, FXSR, SSE, SSE2 (REQUIRED_MASK0, arch/x86/include/asm/required-features.h: verify_cpu
 * halts without them, fpu__init_system gives up) and leaf 0x80000001 EDX.LM.
 */
const REQUIRED = [
  [1, 0, 'fpu', 'x87/SSE, issue 11'],
  [1, 24, 'fxsr', 'x87/SSE, issue 11'],
  [1, 25, 'sse', 'x87/SSE, issue 11'],
  [1, 26, 'sse2', 'x87/SSE, issue 11'],
  [0x80000001, 29, 'lm', 'long mode, issue 12'],
];

/**
 * Why `accel`'s KVM_GET_SUPPORTED_CPUID cannot boot an x86-64 kernel, or undefined when it has
 * what the kernel requires. `ql` is qemu-lite's module (its engine table).
 */
export function cpuidGap(ql, accel) {
  const kvm = ql.engineByName(accel).open();
  let entries;
  try {
    entries = kvm.getSupportedCpuid();
  } finally {
    kvm.close?.();
  }
  const edx = (fn) => entries.find((e) => e.function === fn && e.index === 0)?.edx ?? 0;
  const missing = REQUIRED.filter(([fn, bit]) => ((edx(fn) >>> bit) & 1) === 0);
  if (missing.length === 0) return undefined;
  return (
    `-accel ${accel}'s CPUID (KVM_GET_SUPPORTED_CPUID, x86emu's) lacks ` +
    `${missing.map(([, , name, owner]) => `${name} (${owner})`).join(', ')}, which an x86-64 kernel ` +
    'requires (verify_cpu, fpu__init_system)'
  );
}

/** qemu-lite's line when the engine stops a guest at long mode (src/vcpu/exit-handler.ts). */
export const NO_LONG_MODE = /the software engine does not run long mode yet[^\n]*/;
