// Types for entry-state.mjs (used from the TypeScript tests): kvm_sregs-shaped objects.
export interface BareSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  s: number;
  dpl: number;
  present: number;
  avl: number;
  l: number;
  db: number;
  g: number;
  unusable: number;
}
export type BareSregs = Record<'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'ldt' | 'tr', BareSegment> & {
  gdt: { base: bigint; limit: number };
  idt: { base: bigint; limit: number };
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: bigint[];
};
export declare function stateToSregs(state: unknown): BareSregs;
export declare function applyEntryState(cpu: unknown, sregs: BareSregs, regs: Record<string, bigint>): void;
