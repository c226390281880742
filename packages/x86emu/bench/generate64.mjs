// The wasm backend's code generation for 64-bit regions (src/jit/wasm/compile64.ts `generate64`)
// timed alone on the regions a real boot compiled: deterministic input, so that a change to the
// emitters is an A/B of the same work (issue 18: a compile's largest part was our own generation,
// ~57 µs a region, src/jit/README.md "What a compile costs V8").
//
//   node bench/generate64.mjs --record FILE [--max-insns N]
//       boots Debian's kernel on a bare Cpu (tools/linux/bare, the wasm backend, guest RAM in wasm
//       memory; X86EMU_JIT_HOT the threshold) and writes every 64-bit region it compiled, module by
//       module, to FILE (JSON: each instruction's decode fields);
//   node bench/generate64.mjs FILE [--passes N] [--rounds N] [--module] [--hash]
//       generates those modules' functions N times a round and prints the µs a region of each
//       round, the functions' code bytes (locals not counted) and the handler sites; `--module`
//       also encodes each module and compiles it with `new WebAssembly.Module` (V8's validation,
//       lazy: no function compiled), timed apart; `--hash` prints a hash of all the modules' bytes
//       (a change meant to emit the same code keeps it).
// Run it in one build against another (the same FILE) for an A/B of the generator.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Insn, wasmBackend } from '../dist/index.js';
import { generateModule64 } from '../dist/testing.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const k = args.indexOf(name);
  return k >= 0 ? args[k + 1] : dflt;
};

// The decode's own fields (src/decoder/insn.ts): what the emitters read of it.
const FIELDS = ['pfx', 'mrm', 'disp', 'imm', 'imm2', 'row', 'length', 'rep', 'modeKey'];

async function record(file) {
  process.env.X86EMU_WASM_MEMORY = '1';
  process.env.X86EMU_JIT_BACKEND = 'wasm';
  const root = join(here, '..', '..', '..');
  const linux = await import(join(root, 'tools/linux/boot-marker.mjs'));
  const { bootOnBareCpu } = await import(join(root, 'tools/linux/bare/run.mjs'));
  const ql = await import(join(root, 'apps/qemu-lite/dist/index.js'));
  const modules = [];
  let ramPages = 0;
  const r = await bootOnBareCpu(ql, new Uint8Array(readFileSync(linux.kernelPath)), {
    initrd: new Uint8Array(readFileSync(linux.initramfsPath)),
    cmdline: linux.BARE_CMDLINE,
    load: linux.bareLoader(ql, 'kernel'),
    maxInstructions: Number(opt('--max-insns', 'Infinity')),
    stopOn: linux.POWEROFF_RE,
    onStart: (cpu) => {
      const be = wasmBackend(cpu);
      ramPages = be.ramPages;
      be.onModule = (_bytes, regions) => {
        const long = regions.filter((g) => g.long);
        if (long.length === 0) return;
        modules.push(
          long.map((g) => ({
            hi: g.hi,
            blocks: g.blocks.map((b) => ({
              eip: b.eip,
              off: b.off,
              insns: b.insns.map((i) => FIELDS.map((k) => i[k])),
            })),
          })),
        );
      };
    },
  });
  writeFileSync(file, JSON.stringify({ ramPages, instructions: r.instructions, modules }));
  const regions = modules.reduce((n, m) => n + m.length, 0);
  console.log(
    `${file}: ${modules.length} modules, ${regions} regions, ${r.instructions} instructions (${r.ending})`,
  );
}

function load(file) {
  const d = JSON.parse(readFileSync(file, 'utf8'));
  const modules = d.modules.map((m) =>
    m.map((g) => ({
      hi: g.hi,
      blocks: g.blocks.map((b) => ({
        eip: b.eip,
        off: b.off,
        insns: b.insns.map((v) => {
          const i = new Insn();
          FIELDS.forEach((k, n) => {
            i[k] = v[n];
          });
          return i;
        }),
      })),
    })),
  );
  return { ramPages: d.ramPages, modules };
}

function replay(file) {
  const { ramPages, modules } = load(file);
  const passes = Number(opt('--passes', '3'));
  const rounds = Number(opt('--rounds', '5'));
  const withModule = args.includes('--module');
  const regions = modules.reduce((n, m) => n + m.length, 0);
  let codeBytes = 0;
  let sites = 0;
  for (const m of modules) {
    const g = generateModule64(m, ramPages, false);
    codeBytes += g.codeBytes;
    sites += g.sites;
  }
  console.log(
    `${modules.length} modules, ${regions} regions; code ${codeBytes} bytes (${(codeBytes / regions).toFixed(0)} a region), ${sites} handler sites`,
  );
  const gen = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let p = 0; p < passes; p++) for (const m of modules) generateModule64(m, ramPages, false);
    gen.push(((performance.now() - t0) * 1000) / (passes * regions));
  }
  console.log(`generate64: ${gen.map((x) => x.toFixed(1)).join(' ')} µs a region`);
  if (args.includes('--hash')) {
    // The modules' bytes, all of them: a change meant to make the same code must keep this.
    const h = createHash('sha256');
    for (const m of modules) h.update(generateModule64(m, ramPages, true).bytes);
    console.log(`modules' sha256 ${h.digest('hex').slice(0, 16)}`);
  }
  if (!withModule) return;
  let bytes = 0;
  let tEnc = 0;
  let tMod = 0;
  for (const m of modules) {
    const t0 = performance.now();
    const g = generateModule64(m, ramPages, true);
    const t1 = performance.now();
    new WebAssembly.Module(g.bytes);
    tMod += performance.now() - t1;
    tEnc += t1 - t0;
    bytes += g.bytes.length;
  }
  console.log(
    `modules: ${bytes} bytes (${(bytes / regions).toFixed(0)} a region); generate+encode ${tEnc.toFixed(0)} ms, new WebAssembly.Module ${tMod.toFixed(0)} ms (${((tMod * 1000) / regions).toFixed(1)} µs a region)`,
  );
}

if (args[0] === '--record' && args[1] !== undefined) await record(args[1]);
else if (args[0] !== undefined && !args[0].startsWith('--')) replay(args[0]);
else {
  // Without a file there is nothing to replay: say how to make one (the header above, shortly).
  console.error(
    'usage: node bench/generate64.mjs --record FILE [--max-insns N]   (boot Debian, write its regions)\n' +
      '       node bench/generate64.mjs FILE [--passes N] [--rounds N] [--module] [--hash]',
  );
  process.exitCode = 2;
}
