import { expect } from 'vitest';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  type KvmMmu,
  kvmMmuCreate,
  type MmuOptions,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from '../src/index.js';
import { FakeHost, GuestPageTables, type GuestPagingMode } from '../src/testing/index.js';

export const CR0_PE = 1;
export const PF_W = 2;
export const PF_U = 4;
export const PF_F = 16;

export interface Rig {
  host: FakeHost;
  gt: GuestPageTables;
}

/** A fake host with guest tables for `mode` allocated from gpa 1 MiB up, paging state set (MMU not yet created). */
export function rig(
  mode: GuestPagingMode,
  opts: { wp?: boolean; nxe?: boolean; pse?: boolean; ramBytes?: number } = {},
): Rig {
  const host = new FakeHost({ ramBytes: opts.ramBytes ?? 16 << 20 });
  const gt = new GuestPageTables(host, mode, 0x100000);
  host.paging.cr0 = X86_CR0_PG | CR0_PE | (opts.wp === false ? 0 : X86_CR0_WP);
  host.paging.cr4 = mode === 'paging32' ? (opts.pse === false ? 0 : X86_CR4_PSE) : X86_CR4_PAE;
  host.paging.efer = (opts.nxe ? EFER_NX : 0) | (mode === 'paging64' ? EFER_LME | EFER_LMA : 0);
  host.paging.cr3 = gt.cr3;
  return { host, gt };
}

/**
 * Creates and sets up the MMU (audit mode on unless told otherwise). Unsync pages are off unless
 * asked for: most tests pin what a write to a shadowed guest table does without them (emulated,
 * as in 2007); `test/unsync.test.ts` and the fuzz and equivalence runs turn them on.
 */
export function start(host: FakeHost, options: Partial<MmuOptions> = {}): KvmMmu {
  const mmu = kvmMmuCreate(host, { audit: true, unsync: false, ...options });
  if (mmu === null) throw new Error('kvmMmuCreate failed');
  expect(mmu.kvmMmuSetup()).toBe(true);
  return mmu;
}

/** Audit now and in audit mode so far: nothing wrong. */
export function expectSound(mmu: KvmMmu): void {
  expect(mmu.audit()).toEqual([]);
  expect(mmu.auditLog).toEqual([]);
}

export interface ShadowTranslation {
  hpa: number;
  w: boolean;
  u: boolean;
  nx: boolean;
  /** The raw leaf spte's low half. */
  leafLo: number;
}

/**
 * An independent, deliberately simple walk of the shadow tables, reading host-physical memory
 * as the silicon would: PAE (4 root entries, then 2 levels) or 4-level, 8-byte entries.
 */
export function shadowTranslate(host: FakeHost, mmu: KvmMmu, gva: number): ShadowTranslation | null {
  let table = mmu.rootHpa;
  if (table < 0) return null;
  let level = mmu.shadowRootLevel;
  let w = true;
  let u = true;
  let nx = false;
  if (level === 3) {
    const e = host.readHost64(table + (Math.floor(gva / 2 ** 30) % 4) * 8);
    if (e === null || !(e.lo & 1)) return null;
    table = (e.hi & 0xfffff) * 2 ** 32 + (e.lo & 0xfffff000);
    level = 2;
  }
  for (; level >= 1; level--) {
    const index = Math.floor(gva / 2 ** (12 + 9 * (level - 1))) % 512;
    const e = host.readHost64(table + index * 8);
    if (e === null || !(e.lo & 1)) return null;
    w &&= (e.lo & 2) !== 0;
    u &&= (e.lo & 4) !== 0;
    nx ||= (e.hi & 0x80000000) !== 0;
    const next = (e.hi & 0xfffff) * 2 ** 32 + (e.lo & 0xfffff000);
    if (level === 1) return { hpa: next + (gva % 4096), w, u, nx, leafLo: e.lo };
    table = next;
  }
  return null;
}

/** The host-physical address of guest-physical `gpa` in a FakeHost. */
export function hpaOf(host: FakeHost, gpa: number): number {
  return (host.ramHpfnBase + Math.floor(gpa / 4096)) * 4096 + (gpa % 4096);
}
