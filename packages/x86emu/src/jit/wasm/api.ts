/**
 * The part of the WebAssembly JS API the wasm backend uses, typed here: the project compiles
 * against ES2022 without the DOM library, whose declarations hold the full one. Present in Node and
 * in every browser the web app targets.
 */
export interface WasmMemory {
  /** A SharedArrayBuffer for a shared memory (`wasmArenaMemory`'s `shared`). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
export type WasmImports = Record<string, Record<string, unknown>>;
/** A table of functions (chain.ts): grown as regions are compiled, a slot set to a region's function. */
export interface WasmTable {
  readonly length: number;
  grow(delta: number): number;
  set(index: number, value: unknown): void;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Table: new (d: { initial: number; element: 'anyfunc' }) => WasmTable;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: WasmImports) => { exports: Record<string, unknown> };
}
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * Whether `m` is a shared memory: the modules that import it must say so (encode.ts
 * `memoryImport`), or instantiating them fails.
 */
export function isSharedMemory(m: WasmMemory): boolean {
  return typeof SharedArrayBuffer === 'function' && m.buffer instanceof SharedArrayBuffer;
}
