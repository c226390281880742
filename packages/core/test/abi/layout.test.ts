/**
 * The layout referee: every struct size, field offset and field size, ioctl number, capability
 * and exit reason that @kvm/core defines, checked against the machine's own <linux/kvm.h> by a
 * C program generated from `kvm-layout.c` and compiled with `cc`. The header is the authority;
 * nothing here is copied from it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KVM_API_VERSION,
  KVM_CAP,
  KVM_COALESCED_MMIO_PAGE_OFFSET,
  KVM_EXIT,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_INTERNAL_ERROR,
  KVM_IOCTL_TABLE,
  KVM_IRQCHIP,
  KVM_MP_STATE,
  KVM_PIO_PAGE_OFFSET,
  KVM_RUN_LAYOUT,
  KVM_STRUCT_CODECS,
  KVM_SYSTEM_EVENT,
  KVMIO,
  kvmIrqLevelStatus,
  type StructLayout,
} from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Why the referee cannot run here, or null. */
function whyUnavailable(): string | null {
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return 'no C compiler (`cc`) on PATH';
  const probe = spawnSync('cc', ['-E', '-x', 'c', '-'], {
    input: '#include <linux/kvm.h>\n',
    encoding: 'utf8',
  });
  if (probe.status !== 0) return 'no <linux/kvm.h> (Debian: linux-libc-dev)';
  return null;
}

const layouts: StructLayout[] = [
  ...Object.values(KVM_STRUCT_CODECS).map((c) => c.layout),
  kvmIrqLevelStatus.layout,
  KVM_RUN_LAYOUT,
];

/** Every macro and the value we give it. */
const values = new Map<string, number>([
  ['KVM_API_VERSION', KVM_API_VERSION],
  ['KVMIO', KVMIO],
  ['KVM_PIO_PAGE_OFFSET', KVM_PIO_PAGE_OFFSET],
  ['KVM_COALESCED_MMIO_PAGE_OFFSET', KVM_COALESCED_MMIO_PAGE_OFFSET],
  ['KVM_EXIT_IO_IN', KVM_EXIT_IO_IN],
  ['KVM_EXIT_IO_OUT', KVM_EXIT_IO_OUT],
  ...KVM_IOCTL_TABLE.map((d): [string, number] => [d.name, d.request]),
  ...Object.entries(KVM_CAP).map(([n, v]): [string, number] => [`KVM_CAP_${n}`, v]),
  ...Object.entries(KVM_EXIT).map(([n, v]): [string, number] => [`KVM_EXIT_${n}`, v]),
  ...Object.entries(KVM_INTERNAL_ERROR).map(([n, v]): [string, number] => [`KVM_INTERNAL_ERROR_${n}`, v]),
  ...Object.entries(KVM_SYSTEM_EVENT).map(([n, v]): [string, number] => [`KVM_SYSTEM_EVENT_${n}`, v]),
  ...Object.entries(KVM_IRQCHIP).map(([n, v]): [string, number] => [`KVM_IRQCHIP_${n}`, v]),
  ...Object.entries(KVM_MP_STATE).map(([n, v]): [string, number] => [`KVM_MP_STATE_${n}`, v]),
]);

function generateChecks(): string {
  const lines: string[] = [];
  const sized = new Set<string>();
  for (const l of layouts) {
    if (!sized.has(l.c)) lines.push(`SIZE(${l.c});`);
    sized.add(l.c);
    for (const f of l.fields) lines.push(`FIELD(${l.c}, ${f.c});`);
  }
  // Argument sizes as the header spells them.
  for (const d of KVM_IOCTL_TABLE) {
    if (d.arg) lines.push(`printf("argsize ${d.name} %zu\\n", sizeof(${d.arg.c}));`);
  }
  for (const name of values.keys()) {
    lines.push(`#ifdef ${name}`, `  VALUE(${name});`, '#else', `  MISSING(${name});`, '#endif');
  }
  return lines.join('\n');
}

interface Referee {
  sizes: Map<string, number>;
  fields: Map<string, { offset: number; size: number }>;
  argSizes: Map<string, number>;
  values: Map<string, number>;
  missing: Set<string>;
}

function runReferee(dir: string): Referee {
  const template = readFileSync(join(here, 'kvm-layout.c'), 'utf8');
  const src = join(dir, 'kvm-layout.c');
  const exe = join(dir, 'kvm-layout');
  writeFileSync(src, template.replace('/*@CHECKS@*/', generateChecks()));
  execFileSync('cc', ['-std=gnu11', '-Wall', '-Werror', '-o', exe, src], { stdio: 'pipe' });
  const out = execFileSync(exe, { encoding: 'utf8' });
  const r: Referee = {
    sizes: new Map(),
    fields: new Map(),
    argSizes: new Map(),
    values: new Map(),
    missing: new Set(),
  };
  for (const line of out.trim().split('\n')) {
    const [kind, a, b, c, d] = line.split(' ');
    if (kind === 'size') r.sizes.set(a, Number(b));
    else if (kind === 'field') r.fields.set(`${a}.${b}`, { offset: Number(c), size: Number(d) });
    else if (kind === 'argsize') r.argSizes.set(a, Number(b));
    else if (kind === 'value') r.values.set(a, Number(b));
    else if (kind === 'missing') r.missing.add(a);
  }
  return r;
}

const why = whyUnavailable();
if (why) console.warn(`[layout.test] skipped: ${why}`);

describe.skipIf(why !== null)(
  `@kvm/core ABI against the machine's <linux/kvm.h>${why ? ` (skipped: ${why})` : ''}`,
  () => {
    let dir: string;
    let ref: Referee;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'kvm-layout-'));
      ref = runReferee(dir);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('gives every struct the size sizeof gives it', () => {
      const wrong: string[] = [];
      for (const l of layouts) {
        if (ref.sizes.get(l.c) !== l.size)
          wrong.push(`struct ${l.c}: ours ${l.size}, header ${ref.sizes.get(l.c)}`);
      }
      expect(ref.sizes.size).toBeGreaterThan(15);
      expect(wrong).toEqual([]);
    });

    it('puts every field, padding included, at the header offset with the header size', () => {
      const wrong: string[] = [];
      let checked = 0;
      for (const l of layouts) {
        for (const f of l.fields) {
          const h = ref.fields.get(`${l.c}.${f.c}`);
          checked++;
          if (!h || h.offset !== f.offset || h.size !== f.type.size) {
            wrong.push(`${l.c}.${f.c}: ours @${f.offset}/${f.type.size}, header @${h?.offset}/${h?.size}`);
          }
        }
      }
      expect(checked).toBeGreaterThan(150);
      expect(wrong).toEqual([]);
    });

    it('derives every ioctl number the header derives, from argument sizes the header agrees with', () => {
      const wrong: string[] = [];
      for (const d of KVM_IOCTL_TABLE) {
        const h = ref.values.get(d.name);
        if (h !== d.request)
          wrong.push(`${d.name}: ours 0x${d.request.toString(16)}, header 0x${h?.toString(16)}`);
        if (d.arg && ref.argSizes.get(d.name) !== d.arg.size) {
          wrong.push(`${d.name} argument ${d.arg.c}: ours ${d.arg.size}, header ${ref.argSizes.get(d.name)}`);
        }
      }
      expect(KVM_IOCTL_TABLE.length).toBeGreaterThan(30);
      expect(wrong).toEqual([]);
    });

    it('gives every capability, exit reason and constant the header value', () => {
      const wrong: string[] = [];
      for (const [name, ours] of values) {
        if (ref.missing.has(name)) continue;
        if (ref.values.get(name) !== ours)
          wrong.push(`${name}: ours ${ours}, header ${ref.values.get(name)}`);
      }
      expect(wrong).toEqual([]);
    });

    it('finds every ioctl, exit reason and non-capability constant in the header', () => {
      // Capabilities newer than an old header may be missing from it; everything else is old ABI.
      const missing = [...ref.missing].filter((n) => !n.startsWith('KVM_CAP_'));
      const missingCaps = [...ref.missing].filter((n) => n.startsWith('KVM_CAP_'));
      if (missingCaps.length) console.warn(`[layout.test] header lacks ${missingCaps.join(', ')}`);
      expect(missing).toEqual([]);
    });
  },
);
