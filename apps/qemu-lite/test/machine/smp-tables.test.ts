/**
 * What a `-smp` guest reads about its CPUs: the MADT's and MP table's processor entries (the
 * APIC IDs of the topology, absent CPUs disabled, the I/O APIC's ID after the highest) and each
 * vCPU's CPUID leaves 1, 4, 0xB and 0x80000008.
 */
import type { KvmCpuidEntry2 } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { writeFirmwareTables } from '../../src/acpi/build.js';
import { RTC_CENTURY } from '../../src/devices/cmos.js';
import { guestCpuid } from '../../src/machine/cpuid.js';
import { apicIds, resolveSmp } from '../../src/machine/smp.js';

function tables(cpus: number, ids: number[]) {
  const ram = new Uint8Array(2 << 20);
  const layout = writeFirmwareTables(ram, {
    cpus,
    apicIds: ids,
    apic: true,
    pm: {
      sciIrq: 9,
      pm1aEvtPort: 0x600,
      pm1aCntPort: 0x604,
      pmTmrPort: 0x608,
      pmTimerBits: 24,
      resetPort: 0xcf9,
      resetValue: 6,
      centuryIndex: RTC_CENTURY,
    },
    cpuSignature: 0x663,
    cpuFeatures: 0x1234,
  });
  return { ram, view: new DataView(ram.buffer), layout };
}

/** The MADT's entries: [type, bytes…] from offset 44 (ACPI 6.4 5.2.12). */
function madtEntries(ram: Uint8Array, view: DataView, at: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const end = at + view.getUint32(at + 4, true);
  for (let p = at + 44; p < end; p += ram[p + 1]) out.push(ram.slice(p, p + ram[p + 1]));
  return out;
}

describe('firmware tables for -smp', () => {
  it('the MADT lists every possible CPU by its APIC ID, those past cpus disabled, the I/O APIC after the highest', () => {
    const t = resolveSmp({ cpus: 4, sockets: 2, cores: 3, maxcpus: 6 });
    const { ram, view, layout } = tables(t.cpus, apicIds(t, t.maxcpus));
    const entries = madtEntries(ram, view, layout.madt!);
    const lapics = entries.filter((e) => e[0] === 0).map((e) => [e[2], e[3], e[4] & 1]);
    expect(lapics).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
      [3, 4, 1],
      [4, 5, 0],
      [5, 6, 0],
    ]);
    const ioapic = entries.find((e) => e[0] === 1)!;
    expect(ioapic[2]).toBe(7);
  });

  it('the MP table lists the present CPUs with their APIC IDs, vCPU 0 the BP', () => {
    const t = resolveSmp({ cpus: 3, sockets: 3, threads: 1, cores: 1 });
    const { ram, view, layout } = tables(t.cpus, apicIds(t, t.maxcpus));
    const cfg = layout.mpConfig!;
    const processors: number[][] = [];
    const count = view.getUint16(cfg + 34, true);
    let p = cfg + 44;
    for (let i = 0; i < count; i++) {
      const type = ram[p];
      if (type === 0) processors.push([ram[p + 1], ram[p + 3]]);
      p += type === 0 ? 20 : 8;
    }
    expect(processors).toEqual([
      [0, 0x03],
      [1, 0x01],
      [2, 0x01],
    ]);
  });
});

/** What KVM_GET_SUPPORTED_CPUID gives, in the leaves the topology touches. */
const supported: KvmCpuidEntry2[] = [
  { function: 1, index: 0, flags: 0, eax: 0x906ea, ebx: 0x0800, ecx: 0, edx: 1 << 9 },
  { function: 4, index: 0, flags: 1, eax: 0x121, ebx: 0, ecx: 0, edx: 0 },
  { function: 4, index: 1, flags: 1, eax: 0x163, ebx: 0, ecx: 0, edx: 0 },
  { function: 4, index: 2, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  { function: 0xb, index: 0, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  { function: 0xb, index: 1, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  { function: 0xb, index: 2, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  { function: 0x80000008, index: 0, flags: 0, eax: 0x3030, ebx: 0, ecx: 0, edx: 0 },
];

describe('CPUID topology per vCPU', () => {
  // 2 sockets × 2 cores × 2 threads: thread bits 1, core bits 1; vCPU 5 is socket 1, core 0, thread 1.
  const t = resolveSmp({ sockets: 2, cores: 2, threads: 2 });
  const apicId = apicIds(t)[5];
  const leaf = (f: number, i = 0) =>
    guestCpuid(supported, { localApic: true, topology: t, apicId }).find(
      (e) => e.function === f && e.index === i,
    )!;

  it('leaf 1: the initial APIC ID, logical CPUs per package and HTT', () => {
    expect(apicId).toBe(5);
    expect(leaf(1).ebx >>> 24).toBe(5);
    expect((leaf(1).ebx >>> 16) & 0xff).toBe(4);
    expect(leaf(1).ebx & 0xffff).toBe(0x0800);
    expect(leaf(1).edx & (1 << 28)).not.toBe(0);
  });

  it('leaf 4: cores per package − 1, and the CPUs sharing each cache level − 1', () => {
    expect(leaf(4, 0).eax >>> 26).toBe(1);
    expect((leaf(4, 0).eax >>> 14) & 0xfff).toBe(1); // L1: the core's two threads
    expect((leaf(4, 1).eax >>> 14) & 0xfff).toBe(3); // L3: the package's four
    expect(leaf(4, 0).eax & 0x3fff).toBe(0x121);
    expect(leaf(4, 2).eax).toBe(0); // the list's end stays empty
  });

  it('leaf 0xB: SMT and core levels with their shifts and the x2APIC ID, and no sub-leaf past them', () => {
    expect([leaf(0xb, 0).eax, leaf(0xb, 0).ebx, leaf(0xb, 0).ecx, leaf(0xb, 0).edx]).toEqual([
      1, 2, 0x100, 5,
    ]);
    expect([leaf(0xb, 1).eax, leaf(0xb, 1).ebx, leaf(0xb, 1).ecx, leaf(0xb, 1).edx]).toEqual([
      2, 4, 0x201, 5,
    ]);
    expect(leaf(0xb, 2)).toBeUndefined(); // past the levels: KVM answers zeros (type invalid)
  });

  it('leaf 0xB from an engine that lists one unindexed entry: index-significant sub-leaves 0 and 1 only, so the enumeration ends', () => {
    const soft = guestCpuid([{ function: 0xb, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }], {
      localApic: true,
      topology: resolveSmp({}),
      apicId: 0,
    });
    expect(soft.map((e) => [e.index, e.flags, e.ecx])).toEqual([
      [0, 1, 0x100],
      [1, 1, 0x201],
    ]);
  });

  it('0x80000008: NC and ApicIdSize', () => {
    expect(leaf(0x80000008).ecx).toBe(3 | (2 << 12));
  });

  it('one CPU: HTT clear and one logical processor', () => {
    const one = guestCpuid(supported, { localApic: true, topology: resolveSmp({}), apicId: 0 });
    const l1 = one.find((e) => e.function === 1)!;
    expect(l1.ebx >>> 16).toBe(0);
    expect(l1.edx & (1 << 28)).toBe(0);
  });
});
