/**
 * A WebAssembly binary writer, just what the wasm backend emits (WebAssembly Core Specification
 * 2.0, chapter 5 "Binary Format"): LEB128 numbers, the opcodes it uses, structured control with
 * named labels (a `br` names its target and the writer counts the depth), and a module of
 * functions that share one imported memory and one table of imported functions (the import hub's).
 */

/** Value types (spec 5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
/** The 128-bit vector type of the SIMD proposal, standard since WebAssembly 2.0 (spec 5.3.1). */
export const V128 = 0x7b;
/** Block type "no result" (spec 5.4.1). */
const EMPTY = 0x40;

/** Opcodes (spec 5.4). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  f64Load: 0x2b,
  i32Load8U: 0x2d,
  i32Load16U: 0x2f,
  i64Load8U: 0x31,
  i64Load16U: 0x33,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i64Store8: 0x3c,
  i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtU: 0x54,
  i64LeU: 0x58,
  i32Popcnt: 0x69,
  i64Clz: 0x79,
  i64Ctz: 0x7a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32Rotl: 0x77,
  i32Rotr: 0x78,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i64Rotl: 0x89,
  i64Rotr: 0x8a,
  f64Eq: 0x61,
  f64Ne: 0x62,
  f64Lt: 0x63,
  f64Gt: 0x64,
  i32TruncF64S: 0xaa,
  f32ConvertI32S: 0xb2,
  f64ConvertI32S: 0xb7,
  f64PromoteF32: 0xbb,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  i32Extend8S: 0xc0,
  i32Extend16S: 0xc1,
  i64Extend32S: 0xc4,
} as const;

/**
 * SIMD instructions (spec 5.4.8: the 0xFD prefix, then the opcode as a u32 LEB128), the ones the
 * SSE forms use (emit-sse.ts). Node 20's V8 implements them all (SSE4.1 at least on x64 hosts).
 */
export const Simd = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  i8x16Swizzle: 0x0e,
  i32x4Splat: 0x11,
  i32x4ExtractLane: 0x1b,
  i32x4ReplaceLane: 0x1c,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  i64x2ExtractLane: 0x1d,
  i64x2ReplaceLane: 0x1e,
  f64x2ExtractLane: 0x21,
  f64x2ReplaceLane: 0x22,
  i8x16Eq: 0x23,
  i32x4Eq: 0x37,
  f32x4Eq: 0x41,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Ge: 0x46,
  f32x4Le: 0x45,
  f64x2Eq: 0x47,
  f64x2Ne: 0x48,
  f64x2Lt: 0x49,
  f64x2Le: 0x4b,
  f64x2Ge: 0x4c,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Or: 0x50,
  v128Xor: 0x51,
  v128AnyTrue: 0x53,
  v128Load32Zero: 0x5c,
  v128Load64Zero: 0x5d,
  v128Store64Lane: 0x5b,
  f64x2PromoteLowF32x4: 0x5f,
  i8x16Bitmask: 0x64,
  i8x16GtS: 0x27,
  i16x8Eq: 0x2d,
  i16x8GtS: 0x31,
  i32x4GtS: 0x3b,
  i8x16Add: 0x6e,
  i8x16Sub: 0x71,
  i8x16MinU: 0x77,
  i8x16MaxU: 0x79,
  i16x8Add: 0x8e,
  i16x8Sub: 0x91,
  i32x4Shl: 0xab,
  i32x4ShrS: 0xac,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  i64x2Shl: 0xcb,
  i64x2ShrU: 0xcd,
  i64x2Add: 0xce,
  i64x2Sub: 0xd1,
  i64x2Mul: 0xd5,
  i64x2ExtmulLowI32x4U: 0xde,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f64x2Abs: 0xec,
  f64x2Neg: 0xed,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  i32x4TruncSatF32x4S: 0xf8,
  f32x4ConvertI32x4S: 0xfa,
  f64x2ConvertLowI32x4S: 0xfe,
} as const;

/** A growable byte buffer (plain arrays of numbers measured slower to fill and to copy). */
export class Bytes {
  buf: Uint8Array;
  length = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }
  /** The buffer, with room for `n` bytes more at `length` (a writer's reserve before it writes). */
  room(n: number): Uint8Array {
    if (this.length + n <= this.buf.length) return this.buf;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
    return b;
  }
  push(b: number): void {
    if (this.length === this.buf.length) this.room(1);
    this.buf[this.length++] = b;
  }
  append(o: Bytes): void {
    this.room(o.length).set(o.buf.subarray(0, o.length), this.length);
    this.length += o.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Writes `v` (u32) as unsigned LEB128 into `b` at `p` (room for 5 bytes made); returns the end. */
function ulebAt(b: Uint8Array, p: number, v: number): number {
  let x = v >>> 0;
  while (x >= 0x80) {
    b[p++] = (x & 0x7f) | 0x80;
    x >>>= 7;
  }
  b[p++] = x;
  return p;
}

/** Writes `v` (i32) as signed LEB128 into `b` at `p` (room for 5 bytes made); returns the end. */
function slebAt(b: Uint8Array, p: number, v: number): number {
  let x = v | 0;
  for (;;) {
    const y = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (y & 0x40) === 0) || (x === -1 && (y & 0x40) !== 0)) {
      b[p++] = y;
      return p;
    }
    b[p++] = y | 0x80;
  }
}

function uleb(out: Bytes, v: number): void {
  out.length = ulebAt(out.room(5), out.length, v);
}

function sleb(out: Bytes, v: number): void {
  out.length = slebAt(out.room(5), out.length, v);
}

/** The body of one function: its locals and its instructions, with named labels. */
export class FuncWriter {
  /** Its code (1 KiB at first: a 64-bit region's averaged ~900 bytes on Debian's boot). */
  readonly code = new Bytes(1024);
  private labels: string[] = [];
  /** Local types after the parameters. */
  readonly locals: number[] = [];

  constructor(readonly params: number) {}

  /** A new local of type `t`, returning its index. */
  local(t: number = I32): number {
    this.locals.push(t);
    return this.params + this.locals.length - 1;
  }
  /** Opcode `a` (and a second byte `b`, for the 0xFC prefix's). */
  op(a: number, b = -1): this {
    const c = this.code;
    const buf = c.room(2);
    buf[c.length++] = a;
    if (b >= 0) buf[c.length++] = b;
    return this;
  }
  i32(v: number): this {
    const c = this.code;
    const buf = c.room(6);
    buf[c.length] = Op.i32Const;
    c.length = slebAt(buf, c.length + 1, v);
    return this;
  }
  /** An i64 constant from its halves (`lo` unsigned 32-bit, `hi` any 32-bit): no BigInt. */
  i64(lo: number, hi: number): this {
    const c = this.code;
    const buf = c.room(11);
    let p = c.length;
    buf[p++] = Op.i64Const;
    let l = lo >>> 0;
    let h = hi | 0;
    for (;;) {
      const b = l & 0x7f;
      l = ((l >>> 7) | ((h & 0x7f) << 25)) >>> 0;
      h >>= 7;
      if ((h === 0 && l === 0 && (b & 0x40) === 0) || (h === -1 && l === 0xffffffff && (b & 0x40) !== 0)) {
        buf[p++] = b;
        c.length = p;
        return this;
      }
      buf[p++] = b | 0x80;
    }
  }
  get(l: number): this {
    return this.opU(Op.localGet, l);
  }
  set(l: number): this {
    return this.opU(Op.localSet, l);
  }
  tee(l: number): this {
    return this.opU(Op.localTee, l);
  }
  /** Opcode `a` with the u32 immediate `v`. */
  private opU(a: number, v: number): this {
    const c = this.code;
    const buf = c.room(6);
    buf[c.length] = a;
    c.length = ulebAt(buf, c.length + 1, v);
    return this;
  }
  /** A memory access `opcode` at constant `offset` from the address on the stack (alignment hint 1 byte). */
  mem(opcode: number, offset: number): this {
    const c = this.code;
    const buf = c.room(7);
    buf[c.length] = opcode;
    buf[c.length + 1] = 0;
    c.length = ulebAt(buf, c.length + 2, offset);
    return this;
  }
  /** SIMD instruction `op` (`Simd`) with no immediate. */
  simd(op: number): this {
    this.code.push(0xfd);
    uleb(this.code, op);
    return this;
  }
  /** A SIMD memory access `op` at constant `offset` (alignment hint 1 byte). */
  simdMem(op: number, offset: number): this {
    this.simd(op);
    this.code.push(0);
    uleb(this.code, offset);
    return this;
  }
  /** A SIMD lane instruction `op` on lane `lane` (extract/replace). */
  lane(op: number, lane: number): this {
    this.simd(op);
    this.code.push(lane);
    return this;
  }
  /** `v128.const` of four 32-bit lanes. */
  v128(a: number, b: number, c: number, d: number): this {
    this.simd(Simd.v128Const);
    for (const v of [a, b, c, d]) for (let k = 0; k < 4; k++) this.code.push((v >>> (8 * k)) & 0xff);
    return this;
  }
  /** `i8x16.shuffle` of the two vectors on the stack: byte k of the result = byte `lanes[k]` (0…31). */
  shuffle(lanes: readonly number[]): this {
    this.simd(Simd.i8x16Shuffle);
    for (const b of lanes) this.code.push(b);
    return this;
  }
  call(f: number): this {
    this.code.push(Op.call);
    uleb(this.code, f);
    return this;
  }
  /**
   * A call of import `k` of a module `buildModule` made: `call_indirect` of type `k` (the imports'
   * types come first) through slot `k` of the hub's table, the module's only table.
   */
  callImport(k: number): this {
    return this.i32(k).callIndirect(k);
  }
  /** `call_indirect` of type `type` through table 0 (spec 5.4.1), the index on the stack. */
  callIndirect(type: number): this {
    this.code.push(0x11);
    uleb(this.code, type);
    this.code.push(0);
    return this;
  }
  /** Opens `block`/`loop`/`if` (no result unless `type`) under label `name`. */
  open(kind: number, name = '', type: number = EMPTY): this {
    const c = this.code;
    const buf = c.room(2);
    buf[c.length++] = kind;
    buf[c.length++] = type;
    this.labels.push(name);
    return this;
  }
  else(): this {
    this.code.push(Op.else);
    return this;
  }
  end(): this {
    this.code.push(Op.end);
    this.labels.pop();
    return this;
  }
  private depth(name: string): number {
    const at = this.labels.lastIndexOf(name);
    if (at < 0) throw new Error(`wasm: no label ${name}`);
    return this.labels.length - 1 - at;
  }
  br(name: string): this {
    return this.opU(Op.br, this.depth(name));
  }
  brIf(name: string): this {
    return this.opU(Op.brIf, this.depth(name));
  }
  /** br_table over `names` (by the index on the stack), the last one the default. */
  brTable(names: string[]): this {
    this.code.push(Op.brTable);
    uleb(this.code, names.length - 1);
    for (const n of names) uleb(this.code, this.depth(n));
    return this;
  }
}

/** A function type: parameter and result types. */
export interface FuncType {
  params: number[];
  results: number[];
}

function typeBytes(out: Bytes, t: FuncType): void {
  out.push(0x60);
  uleb(out, t.params.length);
  for (const p of t.params) out.push(p);
  uleb(out, t.results.length);
  for (const r of t.results) out.push(r);
}

function section(out: Bytes, id: number, body: Bytes): void {
  out.push(id);
  uleb(out, body.length);
  out.append(body);
}

function name(out: Bytes, s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

/**
 * The import of `env.m`, a memory of at least `minPages` 64 KiB pages (limits flag 0: no maximum);
 * `shared`: a shared memory, whose import must say so and name a maximum (flag 3, spec 5.3.9),
 * here wasm32's 65536 pages, which every memory's own maximum is within.
 */
function memoryImport(imp: Bytes, minPages: number, shared: boolean): void {
  name(imp, 'env');
  name(imp, 'm');
  imp.push(0x02);
  imp.push(shared ? 0x03 : 0x00);
  uleb(imp, minPages);
  if (shared) uleb(imp, 65536);
}

/** `f`'s entry in the code section (spec 5.5.13): its size, its locals as runs of one type, its code. */
function functionBody(code: Bytes, f: FuncWriter): void {
  const body = new Bytes();
  const runs: [number, number][] = [];
  for (const t of f.locals) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  uleb(body, runs.length);
  for (const [n, t] of runs) {
    uleb(body, n);
    body.push(t);
  }
  body.append(f.code);
  body.push(Op.end);
  uleb(code, body.length);
  code.append(body);
}

/**
 * A module: imports `env.m` (a memory of at least `memPages` 64 KiB pages, `shared` or not:
 * `memoryImport`) and `env.it`, the table of the import hub (`buildImportHub` over the same
 * `imports`), defines `funcs` (all of type `type`) and exports them as `f0`, `f1`, … Its types are
 * the imports' in their order, then `type`: import `k` is called as `FuncWriter.callImport(k)`, a
 * `call_indirect` of type `k` through slot `k` of the table. No function is imported: V8 (11.3,
 * Node 20) compiles a wrapper for every imported function's signature when it compiles a module
 * (and again at instantiation where a JS function's arity differs), ~0.3 ms of a module's ~0.45
 * with the eight imports' seven signatures; a table's entries are the hub's, whose wrappers are
 * compiled once (../README.md "What a compile costs V8").
 */
export function buildModule(
  memPages: number,
  imports: { name: string; type: FuncType }[],
  type: FuncType,
  funcs: FuncWriter[],
  shared = false,
): Uint8Array {
  const out = new Bytes();
  for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.push(b);
  const types = new Bytes();
  uleb(types, imports.length + 1);
  for (const im of imports) typeBytes(types, im.type);
  typeBytes(types, type);
  section(out, 1, types);
  const imp = new Bytes();
  uleb(imp, 2);
  memoryImport(imp, memPages, shared);
  tableImport(imp, 'it', imports.length);
  section(out, 2, imp);
  const fn = new Bytes();
  uleb(fn, funcs.length);
  for (let i = 0; i < funcs.length; i++) uleb(fn, imports.length);
  section(out, 3, fn);
  const exp = new Bytes();
  uleb(exp, funcs.length);
  funcs.forEach((_, i) => {
    name(exp, `f${i}`);
    exp.push(0x00);
    uleb(exp, i);
  });
  section(out, 7, exp);
  const code = new Bytes();
  uleb(code, funcs.length);
  for (const f of funcs) functionBody(code, f);
  section(out, 10, code);
  return out.bytes();
}

/**
 * The import hub: imports the functions `imports` (module `env`, their names and types) and
 * exports `it`, a table of exactly those functions in that order (an active element segment at
 * offset 0, spec 5.5.12), which every module `buildModule` makes imports and calls through. Made
 * once per backend: V8 compiles the imports' wrappers here, once.
 */
export function buildImportHub(imports: { name: string; type: FuncType }[]): Uint8Array {
  const out = new Bytes();
  for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.push(b);
  const types = new Bytes();
  uleb(types, imports.length);
  for (const im of imports) typeBytes(types, im.type);
  section(out, 1, types);
  const imp = new Bytes();
  uleb(imp, imports.length);
  imports.forEach((im, n) => {
    name(imp, 'env');
    name(imp, im.name);
    imp.push(0x00);
    uleb(imp, n);
  });
  section(out, 2, imp);
  const tab = new Bytes();
  uleb(tab, 1);
  tab.push(0x70); // funcref
  tab.push(0x01); // min and max
  uleb(tab, imports.length);
  uleb(tab, imports.length);
  section(out, 4, tab);
  exportSection(out, 'it', 0x01, 0);
  const elem = new Bytes();
  uleb(elem, 1);
  elem.push(0x00); // active, table 0, funcref by index
  elem.push(Op.i32Const);
  sleb(elem, 0);
  elem.push(Op.end);
  uleb(elem, imports.length);
  for (let n = 0; n < imports.length; n++) uleb(elem, n);
  section(out, 9, elem);
  return out.bytes();
}

/** An export section of one export: `field`, of kind `kind` (0 function, 1 table: spec 5.5.10), index `index`. */
function exportSection(out: Bytes, field: string, kind: number, index: number): void {
  const exp = new Bytes();
  uleb(exp, 1);
  name(exp, field);
  exp.push(kind);
  uleb(exp, index);
  section(out, 7, exp);
}

/** The import of table `env.<field>` of funcref, at least `min` entries, no maximum (spec 5.5.5). */
function tableImport(imp: Bytes, field: string, min: number): void {
  name(imp, 'env');
  name(imp, field);
  imp.push(0x01);
  imp.push(0x70); // funcref
  imp.push(0x00);
  uleb(imp, min);
}

/**
 * A module of one function `f` of type `type`, exported as `c`, that imports `env.m` (a memory of
 * at least 1 page) and `env.t` (a table of functions, spec 5.3.9), through which it calls
 * functions of type `callee` (`callIndirect(0)`): chain.ts's dispatch loop.
 */
export function buildTableModule(
  callee: FuncType,
  type: FuncType,
  f: FuncWriter,
  shared = false,
): Uint8Array {
  const out = new Bytes();
  for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.push(b);
  const types = new Bytes();
  uleb(types, 2);
  typeBytes(types, callee);
  typeBytes(types, type);
  section(out, 1, types);
  const imp = new Bytes();
  uleb(imp, 2);
  memoryImport(imp, 1, shared);
  tableImport(imp, 't', 0);
  section(out, 2, imp);
  const fn = new Bytes();
  uleb(fn, 1);
  uleb(fn, 1);
  section(out, 3, fn);
  exportSection(out, 'c', 0x00, 0);
  const code = new Bytes();
  uleb(code, 1);
  functionBody(code, f);
  section(out, 10, code);
  return out.bytes();
}
