// Guest instructions per second of the x86emu interpreter on a CPU-bound integer loop, with
// paging on (4 KiB pages), beside baselines measured in the same run: the same loop with
// paging off, the same loop in 64-bit mode under 4-level paging (32-bit and 64-bit operands),
// and a plain JavaScript loop doing the equivalent work.
//   pnpm --filter @kvm/x86emu bench        (after building)
import { StopReason } from '../dist/index.js';
import { cpuSeconds, DATA, ITER, LOOP64, LOOP64W, machine32, machine64 } from './loops.mjs';

// Copy loops in 64-bit mode over a 16 KiB window (rsi → rdi), one summing as it goes:
//   SSE2:    movdqu xmm0,[rsi+rdx]; movdqu [rdi+rdx],xmm0; paddd xmm1,xmm0; add edx,16;
//            and edx,0x3ff0; dec ecx; jnz                    (16 bytes per iteration)
//   integer: mov rax,[rsi+rdx]; mov [rdi+rdx],rax; add rbx,rax; add edx,8;
//            and edx,0x3ff8; dec ecx; jnz                    (8 bytes per iteration)
const COPY_SSE2 = [
  0xf3, 0x0f, 0x6f, 0x04, 0x16, 0xf3, 0x0f, 0x7f, 0x04, 0x17, 0x66, 0x0f, 0xfe, 0xc8, 0x83, 0xc2, 0x10, 0x81,
  0xe2, 0xf0, 0x3f, 0, 0, 0xff, 0xc9, 0x75, 0xe5, 0xf4,
];
const COPY_INT = [
  0x48, 0x8b, 0x04, 0x16, 0x48, 0x89, 0x04, 0x17, 0x48, 0x01, 0xc3, 0x83, 0xc2, 0x08, 0x81, 0xe2, 0xf8, 0x3f,
  0, 0, 0xff, 0xc9, 0x75, 0xe8, 0xf4,
];

// Six packed-integer instructions per iteration against six 32-bit ALU instructions:
//   paddb xmm0,xmm1; pmaddwd xmm2,xmm3; pshufb xmm4,xmm5; pcmpeqb xmm6,xmm7; pminub xmm0,xmm2;
//   punpcklbw xmm1,xmm3; dec ecx; jnz        /  add eax,ebx; imul edx,esi; xor edi,eax;
//   cmp eax,edi; sub ebx,edx; or esi,ebp; dec ecx; jnz
const MIX_SIMD = [
  0x66, 0x0f, 0xfc, 0xc1, 0x66, 0x0f, 0xf5, 0xd3, 0x66, 0x0f, 0x38, 0x00, 0xe5, 0x66, 0x0f, 0x74, 0xf7, 0x66,
  0x0f, 0xda, 0xc2, 0x66, 0x0f, 0x60, 0xcb, 0xff, 0xc9, 0x75, 0xe3, 0xf4,
];
const MIX_INT = [
  0x01, 0xd8, 0x0f, 0xaf, 0xd6, 0x31, 0xc7, 0x39, 0xf8, 0x29, 0xd3, 0x09, 0xee, 0xff, 0xc9, 0x75, 0xef, 0xf4,
];

// An x87 loop, four x87 and four integer instructions per iteration (after fninit; fld1; fldz):
//   fld qword [rsi+rdx]; fmul st,st(2); fadd st(1),st; fstp qword [rdi+rdx]; add edx,8;
//   and edx,0x3ff8; dec ecx; jnz
const MIX_X87 = [
  0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0xdd, 0x04, 0x16, 0xd8, 0xca, 0xdc, 0xc1, 0xdd, 0x1c, 0x17, 0x83, 0xc2,
  0x08, 0x81, 0xe2, 0xf8, 0x3f, 0, 0, 0xff, 0xc9, 0x75, 0xe9, 0xf4,
];

function guest(paging, make = machine32) {
  const cpu = make(paging, false);
  const c0 = process.cpuUsage();
  let n = 0;
  for (;;) {
    const before = cpu.instructionsRetired;
    const r = cpu.run(1_000_000);
    n += cpu.instructionsRetired - before;
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  return { ips: n / cpuSeconds(c0), eax: cpu.state.gpr[0], n };
}

/** A copy loop: instructions and bytes per CPU second; the copied window must equal the source. */
function copy(code, bytesPerIter) {
  const cpu = machine64(code, false);
  const s = cpu.state;
  s.cr[4] |= 0x200; // OSFXSR
  s.gpr[7] = DATA + 0x8000;
  cpu.stateChanged();
  const src = cpu.memory.bytes.subarray(DATA, DATA + 0x4000);
  for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
  const c0 = process.cpuUsage();
  let n = 0;
  for (;;) {
    const before = cpu.instructionsRetired;
    const r = cpu.run(1_000_000);
    n += cpu.instructionsRetired - before;
    if (r === StopReason.Hlt) break;
    if (r !== StopReason.Budget) throw new Error(`unexpected stop ${r}`);
  }
  const t = cpuSeconds(c0);
  const dst = cpu.memory.bytes.subarray(DATA + 0x8000, DATA + 0xc000);
  if (bytesPerIter > 0 && dst.some((b, i) => b !== src[i])) throw new Error('copy loop: destination differs');
  return { ips: n / t, bps: (ITER * bytesPerIter) / t };
}

function plainJs() {
  const data = new Uint32Array(1024);
  let eax = 0;
  const c0 = process.cpuUsage();
  for (let ecx = ITER; ecx !== 0; ecx--) {
    const edx = ecx & 0x3ff;
    eax = (eax + data[edx]) | 0;
    eax = Math.imul(eax, 33);
    eax ^= ecx;
    data[edx] = eax;
  }
  return { ips: (ITER * 8 + 1) / cpuSeconds(c0), eax: eax >>> 0 };
}

const fmt = (x) => `${(x / 1e6).toFixed(1)} M/s`;
// Warm every loop up once, then interleave ROUNDS measurements of each and report the means: on a
// shared machine a single run of one loop can land in another process's burst.
const ROUNDS = Number(process.env.X86EMU_BENCH_ROUNDS ?? 3);
guest(true);
guest(false);
guest(LOOP64, machine64);
guest(LOOP64W, machine64);
const mean = (runs) => ({ ...runs[0], ips: runs.reduce((a, r) => a + r.ips, 0) / runs.length });
const rounds = { on: [], off: [], l64: [], l64w: [] };
for (let r = 0; r < ROUNDS; r++) {
  rounds.on.push(guest(true));
  rounds.off.push(guest(false));
  rounds.l64.push(guest(LOOP64, machine64));
  rounds.l64w.push(guest(LOOP64W, machine64));
}
const on = mean(rounds.on);
const off = mean(rounds.off);
const l64 = mean(rounds.l64);
const l64w = mean(rounds.l64w);
const js = plainJs();
const copySse = copy(COPY_SSE2, 16);
const copyInt = copy(COPY_INT, 8);
const mixSimd = copy(MIX_SIMD, 0);
const mixInt = copy(MIX_INT, 0);
const mixX87 = copy(MIX_X87, 0);
if (on.eax !== js.eax || off.eax !== js.eax || l64.eax !== js.eax || l64w.eax !== js.eax)
  throw new Error(`results differ: ${on.eax} ${off.eax} ${l64.eax} ${l64w.eax} ${js.eax}`);
console.log(
  `x86emu interpreter, ${ITER} iterations × 8 instructions (integer loop, result checked against JS); rates per CPU second, means of ${ROUNDS} interleaved rounds`,
);
console.log(`  paging on (4 KiB pages)   ${fmt(on.ips)} guest instructions`);
console.log(`  paging off (baseline)     ${fmt(off.ips)} guest instructions`);
console.log(
  `  64-bit mode, 4-level      ${fmt(l64.ips)} guest instructions  (the same loop, 32-bit operands)`,
);
console.log(`  64-bit mode, REX.W        ${fmt(l64w.ips)} guest instructions  (64-bit operands)`);
console.log(
  `  64-bit per instruction vs 32-bit (paging on): ${((100 * l64.ips) / on.ips).toFixed(0)}% (32-bit operands), ${((100 * l64w.ips) / on.ips).toFixed(0)}% (REX.W)`,
);
console.log(
  `  plain JS loop (baseline)  ${fmt(js.ips)} equivalent instructions  (interpreter = ${(js.ips / on.ips).toFixed(0)}× slower)`,
);
console.log(
  `  64-bit copy loop, SSE2    ${fmt(copySse.ips)} guest instructions, ${(copySse.bps / 1e6).toFixed(0)} MB/s  (MOVDQU load/store, PADDD)`,
);
console.log(
  `  64-bit copy loop, integer ${fmt(copyInt.ips)} guest instructions, ${(copyInt.bps / 1e6).toFixed(0)} MB/s  (MOV r64 load/store, ADD)`,
);
console.log(
  `  64-bit packed-integer mix ${fmt(mixSimd.ips)} guest instructions  (PADDB, PMADDWD, PSHUFB, PCMPEQB, PMINUB, PUNPCKLBW)`,
);
console.log(
  `  64-bit ALU mix            ${fmt(mixInt.ips)} guest instructions  (ADD, IMUL, XOR, CMP, SUB, OR)`,
);
console.log(
  `  64-bit x87 loop           ${fmt(mixX87.ips)} guest instructions  (FLD m64, FMUL, FADD, FSTP m64 with the integer loop control)`,
);
