/**
 * Every x87 instruction form against the host CPU, bit for bit: control, status and tag words,
 * the eight registers, the memory operand, RFLAGS (FCOMI, FCMOVcc) and AX (FNSTSW AX), from
 * random FRSTOR images aimed at the hard cases (test/fpu/gen.ts: zeros, denormals, unsupported
 * encodings, infinities, NaNs, range ends; every rounding and precision control, masked and
 * unmasked exceptions, empty registers for stack faults). Transcendentals: within 1 ulp.
 */
import { describe, expect, it } from 'vitest';
import { Cr0, StopReason } from '../src/index.js';
import { asm } from './asm.js';
import { controlWord, ext80, f32, f64, Rng, word } from './fpu/gen.js';
import { L, longMode } from './long.js';
import {
  type RefCase,
  runNative,
  snippet,
  X87_INSNS,
  X87_REFEREE_MISSING,
  X87_TRANS,
} from './x87-referee.js';

const CASES = Number(process.env.X87_CASES ?? 150);
const ENV = 0x30000;
const MEM = 0x31000;
const SLOT = 64;

function put80(b: Uint8Array, o: number, [se, hi, lo]: [number, number, number]): void {
  const v = new DataView(b.buffer, b.byteOffset);
  v.setUint32(o, lo, true);
  v.setUint32(o + 4, hi, true);
  v.setUint16(o + 8, se, true);
}

function genCase(r: Rng, insn: number, kind: string): RefCase {
  const env = new Uint8Array(108);
  const v = new DataView(env.buffer);
  const cw = controlWord(r);
  const flags = r.u32() & cw & 0x3f;
  const sw = flags | (r.below(4) === 0 ? 0x40 : 0) | (r.u32() & 0x4700) | (r.below(8) << 11);
  let tw = 0;
  for (let p = 0; p < 8; p++) if (r.below(3) === 0) tw |= 3 << (2 * p);
  if (r.below(8) === 0) tw = 0; // a full stack: pushes overflow
  v.setUint32(0, (0xffff0000 | cw) >>> 0, true);
  v.setUint32(4, (0xffff0000 | sw) >>> 0, true);
  v.setUint32(8, (0xffff0000 | tw) >>> 0, true);
  const st0 = ext80(r);
  put80(env, 28, st0);
  for (let k = 1; k < 8; k++) put80(env, 28 + 10 * k, ext80(r, st0[0] & 0x7fff));
  const mem = new Uint8Array(16);
  const m = new DataView(mem.buffer);
  switch (kind) {
    case 'f32':
      m.setUint32(0, f32(r), true);
      break;
    case 'f64': {
      const [hi, lo] = f64(r);
      m.setUint32(0, lo, true);
      m.setUint32(4, hi, true);
      break;
    }
    case 'f80':
      put80(mem, 0, ext80(r, st0[0] & 0x7fff));
      break;
    case 'i16':
    case 'i32':
    case 'i64':
      m.setUint32(0, word(r), true);
      m.setUint32(4, word(r), true);
      break;
    case 'bcd':
      for (let k = 0; k < 9; k++) mem[k] = r.below(16) === 0 ? r.below(256) : r.below(10) * 16 + r.below(10);
      mem[9] = r.below(2) << 7;
      break;
    case 'cw':
      m.setUint16(0, controlWord(r), true);
      break;
    default:
      for (let k = 0; k < 16; k++) mem[k] = 0xa5;
  }
  const rflags = 0x2 | (r.u32() & 0x8d5);
  return { insn, rflags, env, mem };
}

/** x86emu, in 64-bit mode at CPL 0, running the same bytes for every case. */
function emulator(texts: readonly string[]) {
  const m = longMode('hlt', { captureExceptions: true });
  const code = asm(texts.map((t) => `.balign ${SLOT}\n${snippet(t)}; hlt`).join('\n'), {
    bits: 64,
    origin: L.CODE,
  });
  m.mem.bytes.set(code, L.CODE);
  m.cpu.flushCodeCache();
  const s = m.cpu.state;
  s.cr[0] |= Cr0.NE;
  return (c: RefCase): { env: Uint8Array; mem: Uint8Array } => {
    m.mem.bytes.set(c.env, ENV);
    m.mem.bytes.set(c.mem, MEM);
    m.mem.bytes.fill(0, MEM + 16, MEM + 32);
    s.gpr.fill(0);
    s.gprHigh.fill(0);
    s.gpr[7] = ENV;
    s.gpr[6] = MEM;
    s.gpr[2] = c.rflags;
    s.gpr[0] = 0x11111111;
    s.gprHigh[0] = 0x11111111;
    s.gpr[4] = 0x8000;
    s.rflags[0] = 2;
    s.rip[0] = L.CODE + c.insn * SLOT;
    s.rip[1] = 0;
    s.halted = false;
    m.cpu.stateChanged();
    const why = m.cpu.run(100);
    if (why !== StopReason.Hlt)
      throw new Error(`stopped with ${why}: ${JSON.stringify(m.exceptions.splice(0))}`);
    return { env: m.mem.bytes.slice(ENV, ENV + 108), mem: m.mem.bytes.slice(MEM, MEM + 32) };
  };
}

const hex = (b: Uint8Array, from: number, to: number): string =>
  Buffer.from(b.subarray(from, to)).toString('hex');

/** The compared parts: CW/SW/TW dwords, the registers; operand, RFLAGS arithmetic bits, RAX. */
function view(r: { env: Uint8Array; mem: Uint8Array }): string {
  const fl = new DataView(r.mem.buffer, r.mem.byteOffset).getUint32(16, true) & 0x8d5;
  return `cw/sw/tw ${hex(r.env, 0, 12)} st ${hex(r.env, 28, 108)} mem ${hex(r.mem, 0, 16)} fl ${fl.toString(16)} rax ${hex(r.mem, 24, 32)}`;
}

describe.skipIf(X87_REFEREE_MISSING !== null)(
  `x87 instructions against the host CPU${X87_REFEREE_MISSING ? ` (skipped: ${X87_REFEREE_MISSING})` : ''}`,
  () => {
    const texts = X87_INSNS.map(([t]) => t);
    it(`every form, ${CASES} cases each, bit for bit`, () => {
      const r = new Rng(0x87f00d);
      const cases: RefCase[] = [];
      X87_INSNS.forEach(([, kind], k) => {
        for (let n = 0; n < CASES; n++) cases.push(genCase(r, k, kind));
      });
      const native = runNative(texts, cases);
      const run = emulator(texts);
      const bad: string[] = [];
      const perInsn = new Map<string, number>();
      cases.forEach((c, n) => {
        const want = view(native[n]);
        const got = view(run(c));
        if (want !== got) {
          const t = texts[c.insn];
          perInsn.set(t, (perInsn.get(t) ?? 0) + 1);
          if (perInsn.get(t) === 1 && bad.length < 40)
            bad.push(
              `${t}\n  in  ${hex(c.env, 0, 12)} ${hex(c.env, 28, 108)} mem ${hex(c.mem, 0, 16)} fl ${c.rflags.toString(16)}\n  cpu ${want}\n  emu ${got}`,
            );
        }
      });
      expect({ mismatches: Object.fromEntries(perInsn), first: bad }).toEqual({ mismatches: {}, first: [] });
    }, 120_000);
  },
);

/**
 * Register images within one unit in the last place of the larger magnitude: values as ordered
 * integers (exponent, then the fraction without the integer bit), so neighbours differ by one
 * and a step across a power of two by at most two units of the smaller binade.
 */
function withinUlp(a: Uint8Array, b: Uint8Array): boolean {
  const key = (x: Uint8Array, o: number): [bigint, number] => {
    const d = new DataView(x.buffer, x.byteOffset + o);
    const e = d.getUint16(8, true) & 0x7fff;
    return [(BigInt(e) << 63n) | (d.getBigUint64(0, true) & ((1n << 63n) - 1n)), e];
  };
  for (let k = 0; k < 8; k++) {
    const o = 28 + 10 * k;
    if ((a[o + 9] & 0x80) !== (b[o + 9] & 0x80)) return false;
    const [ka, ea] = key(a, o);
    const [kb, eb] = key(b, o);
    const d = ka > kb ? ka - kb : kb - ka;
    if (d > (ea === eb ? 1n : 2n)) return false;
  }
  return true;
}

describe.skipIf(X87_REFEREE_MISSING !== null)(
  `x87 transcendentals against the host CPU, within 1 ulp${X87_REFEREE_MISSING ? ` (skipped: ${X87_REFEREE_MISSING})` : ''}`,
  () => {
    it(`${X87_TRANS.join(', ')}: flags, C0/C2/C3, tags, stack exactly; results within 1 ulp`, () => {
      const r = new Rng(0x7a45);
      const cases: RefCase[] = [];
      const n = Math.max(20, Math.floor(CASES / 3));
      X87_TRANS.forEach((_, k) => {
        for (let i = 0; i < n; i++) cases.push(genCase(r, k, 'none'));
      });
      const native = runNative(X87_TRANS, cases);
      const run = emulator(X87_TRANS);
      const bad: string[] = [];
      cases.forEach((c, i) => {
        const want = native[i];
        const got = run(c);
        // C1 says how the CPU rounded its own internal value: not compared (src/fpu/README.md).
        const noRegs = (x: { env: Uint8Array; mem: Uint8Array }) =>
          view({
            env: Uint8Array.from([...x.env.subarray(0, 5), x.env[5] & ~2, ...x.env.subarray(6, 28)]),
            mem: x.mem,
          });
        // FYL2XP1 is documented for |x| < 1 − √2/2 only; beyond |x| = 1 the core's log1p series
        // loses accuracy for large x and the CPU's results follow no rule we found (README:
        // quirks), so those cases are not compared.
        const x = new DataView(c.env.buffer).getUint16(28 + 8, true) & 0x7fff;
        const outside = X87_TRANS[c.insn] === 'fyl2xp1' && x >= 0x3fff;
        const same = outside || (noRegs(want) === noRegs(got) && withinUlp(want.env, got.env));
        if (!same && bad.length < 10)
          bad.push(
            `${X87_TRANS[c.insn]}\n  in  ${hex(c.env, 0, 108)}\n  cpu ${view(want)}\n  emu ${view(got)}`,
          );
      });
      expect(bad).toEqual([]);
    }, 120_000);
  },
);
