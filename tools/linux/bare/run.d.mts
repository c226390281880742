// Types for bare/run.mjs (used from the TypeScript tests).
export interface BareException {
  vector: number;
  name: string;
  errorCode: number | undefined;
  rip: bigint;
  symbol: string;
  bytes: string;
  atInstruction: number;
  count: number;
}

export interface BareBootReport {
  /** 'reset' | 'console' | 'stalled' | 'instruction limit' | 'timeout' | 'halted' | 'triple fault' | 'failure' */
  ending: string;
  detail: string | undefined;
  console: string;
  instructions: number;
  virtualNs: number;
  wallMs: number;
  rip: bigint;
  ripSymbol: string;
  ripBytes: string;
  sregs: {
    cs: { l: number; db: number; selector: number };
    cr0: bigint;
    cr3: bigint;
    cr4: bigint;
    efer: bigint;
  };
  exceptions: BareException[];
  unknownMsrs: { index: number; count: number }[];
  cpuStats: Record<string, number>;
  description: string;
  /** When each `opts.milestones` entry first matched (wall ms from the start, instructions). */
  milestones: Record<string, { ms: number; instructions: number }>;
}

export interface BareBootOptions {
  cmdline: string;
  initrd?: Uint8Array;
  load?: unknown;
  ramSize?: number;
  claimFeatures?: boolean;
  timeoutMs?: number;
  maxInstructions?: number;
  quietVirtualS?: number;
  symbols?: { lookup(addr: bigint): string };
  stopOn?: RegExp;
  onSerial?: (text: string) => void;
  onProgress?: (line: string) => void;
  progressMs?: number;
  /** Patterns matched against each console line as it ends. */
  milestones?: { name: string; re: RegExp }[];
  /** Called when a milestone first matches. */
  onMilestone?: (name: string) => void;
  /** Called once the kernel is loaded, before its first instruction (bare/guest-prof.mjs attaches there). */
  onStart?: (cpu: unknown) => void;
  /** RIP samples: the run stops after `interval()` instructions, calls `sample(cpu)`, and so on. */
  sampler?: { interval(): number; sample(cpu: unknown): void };
  /** 'wasm' or 'flat' RAM (bare/machine.mjs; default from X86EMU_WASM_MEMORY). */
  memory?: 'wasm' | 'flat';
  /** x86emu's `CpuOptions.jit` (default: its own, from the environment). */
  jit?: boolean | { hot?: number; backend?: 'js' | 'wasm' };
}

export declare const LINUX_REQUIRED_CPUID1_EDX: [number, string][];
export declare function missingRequiredFeatures(edx?: number): string[];
export declare function bootOnBareCpu(
  ql: unknown,
  image: Uint8Array,
  opts: BareBootOptions,
): Promise<BareBootReport>;
/** One turn of the run loop (a slice of at most `cap` instructions); `ending` when the run is over. */
export declare function bareSlice(m: unknown, cap: number): { why: number; ending?: string; detail?: string };
