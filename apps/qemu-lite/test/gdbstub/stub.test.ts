/**
 * The stub's protocol over a small in-memory target: what gdb's packets get back (qSupported,
 * the target description, registers, memory, breakpoints, stop replies, threads, no-ack mode).
 */
import type { KvmFpu, KvmRegs, KvmSegment, KvmSregs } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { checksum, encodePacket } from '../../src/gdbstub/packet.js';
import { G_PACKET_BYTES, REGISTERS, type RegisterFile } from '../../src/gdbstub/registers.js';
import { type DebugTarget, GDB_SIGINT, GdbStub } from '../../src/gdbstub/stub.js';

const seg = (selector: number): KvmSegment => ({
  base: 0n,
  limit: 0xffffffff,
  selector,
  type: 11,
  present: 1,
  dpl: 0,
  db: 0,
  s: 1,
  l: 1,
  g: 1,
  avl: 0,
  unusable: 0,
});

function registerFile(): RegisterFile {
  const regs = {
    rax: 0x1122334455667788n,
    rip: 0x102fc0n,
    rflags: 0x246n,
  } as Partial<KvmRegs>;
  for (const k of [
    'rbx',
    'rcx',
    'rdx',
    'rsi',
    'rdi',
    'rsp',
    'rbp',
    'r8',
    'r9',
    'r10',
    'r11',
    'r12',
    'r13',
    'r14',
    'r15',
  ])
    (regs as Record<string, bigint>)[k] = 0n;
  const sregs = {
    cs: seg(0x10),
    ds: seg(0x18),
    es: seg(0x18),
    fs: { ...seg(0x18), base: 0x7000n },
    gs: seg(0x18),
    ss: seg(0x18),
    cr0: 0x80000011n,
    cr2: 0n,
    cr3: 0x104000n,
    cr4: 0x20n,
    cr8: 0n,
    efer: 0x500n,
  } as unknown as KvmSregs;
  const fpu: KvmFpu = {
    fpr: new Uint8Array(128),
    fcw: 0x37f,
    fsw: 0,
    ftwx: 0,
    lastOpcode: 0,
    lastIp: 0n,
    lastDp: 0n,
    xmm: new Uint8Array(256),
    mxcsr: 0x1f80,
  };
  fpu.xmm[16] = 0xaa; // xmm1's low byte
  return { regs: regs as KvmRegs, sregs, fpu };
}

class FakeTarget implements DebugTarget {
  readonly vcpus = 4;
  /** vCPU i's registers: vCPU 0 the file above, the others their RIP moved on by i × 0x100. */
  files = [0, 1, 2, 3].map((i) => {
    const f = registerFile();
    f.regs.rip += BigInt(i * 0x100);
    return f;
  });
  halted = [false, true, false, false];
  memory = new Uint8Array(0x1000);
  points: string[] = [];
  resumed: string[] = [];
  get file(): RegisterFile {
    return this.files[0];
  }
  readRegisters(v: number): RegisterFile {
    return structuredClone(this.files[v]);
  }
  writeRegisters(v: number, file: RegisterFile): void {
    this.files[v] = structuredClone(file);
  }
  isHalted(v: number): boolean {
    return this.halted[v];
  }
  readMemory(_v: number, gva: bigint, length: number): Uint8Array | null {
    const at = Number(gva) - 0x100000;
    return at < 0 || at + length > this.memory.length ? null : this.memory.slice(at, at + length);
  }
  writeMemory(_v: number, gva: bigint, data: Uint8Array): boolean {
    const at = Number(gva) - 0x100000;
    if (at < 0 || at + data.length > this.memory.length) return false;
    this.memory.set(data, at);
    return true;
  }
  insertPoint(vcpu: number, type: number, gva: bigint, kind: number): boolean | null {
    if (type > 2) return null;
    this.points.push(`${type}@${gva.toString(16)}/${kind}${vcpu > 0 ? ` via ${vcpu}` : ''}`);
    return true;
  }
  removePoint(_vcpu: number, type: number, gva: bigint): boolean | null {
    const i = this.points.findIndex((p) => p.startsWith(`${type}@${gva.toString(16)}/`));
    if (i < 0) return false;
    this.points.splice(i, 1);
    return true;
  }
  /** Each resume as one letter per vCPU: h(old), c(ontinue), s(tep). */
  resume(actions: Uint8Array): void {
    this.resumed.push([...actions].map((a) => 'hcs'[a]).join(''));
  }
  interrupt(): void {
    this.resumed.push('interrupt');
  }
  kill(): void {}
  detach(): void {
    this.points = [];
  }
  monitor(line: string): string {
    return line === 'stop' ? '' : `ran ${line}\n`;
  }
}

function session() {
  const target = new FakeTarget();
  const sent: string[] = [];
  const stub = new GdbStub(target, (t) => sent.push(t));
  /** Sends one packet; returns the payload of the reply (acks dropped). */
  const ask = (payload: string): string | undefined => {
    sent.length = 0;
    stub.feed(Uint8Array.from(encodePacket(payload), (c) => c.charCodeAt(0)));
    const reply = sent.find((s) => s.startsWith('$'));
    if (!reply) return undefined;
    const m = /^\$(.*)#([0-9a-f]{2})$/s.exec(reply);
    expect(m).not.toBeNull();
    expect(Number.parseInt(m![2], 16)).toBe(checksum(m![1]));
    return m![1];
  };
  return { target, stub, sent, ask };
}

describe('the GDB stub', () => {
  it("runs gdb's `monitor` (qRcmd) on the monitor: its output as O packets, then OK", () => {
    const { stub, sent } = session();
    const hex = (t: string) => Buffer.from(t).toString('hex');
    const payloads = (cmd: string) => {
      sent.length = 0;
      stub.feed(Uint8Array.from(encodePacket(`qRcmd,${hex(cmd)}`), (c) => c.charCodeAt(0)));
      return sent.filter((t) => t.startsWith('$')).map((t) => t.slice(1, t.lastIndexOf('#')));
    };
    expect(payloads('info cpus')).toEqual([`O${hex('ran info cpus\n')}`, 'OK']);
    expect(payloads('stop')).toEqual(['OK']);
    sent.length = 0;
    stub.feed(Uint8Array.from(encodePacket('qRcmd,6'), (c) => c.charCodeAt(0)));
    expect(sent.filter((t) => t.startsWith('$')).map((t) => t.slice(1, 4))).toEqual(['E22']);
  });

  it('acknowledges each packet and advertises what gdb needs in qSupported', () => {
    const { ask, sent } = session();
    const reply = ask('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386');
    expect(sent[0]).toBe('+');
    expect(reply).toContain('PacketSize=4000');
    for (const f of ['qXfer:features:read+', 'swbreak+', 'hwbreak+', 'vContSupported+'])
      expect(reply).toContain(f);
  });

  it('serves the x86-64 target description in pieces, with core, sse, segments and sys features', () => {
    const { ask } = session();
    let xml = '';
    for (let offset = 0; ; offset += 0x200) {
      const r = ask(`qXfer:features:read:target.xml:${offset.toString(16)},200`) ?? '';
      xml += r.slice(1).replace(/\}(.)/gs, (_m, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20));
      if (r[0] === 'l') break;
      expect(r[0]).toBe('m');
    }
    expect(xml).toContain('<architecture>i386:x86-64</architecture>');
    for (const f of ['i386.core', 'i386.sse', 'i386.segments', 'i386.sys'])
      expect(xml).toContain(`org.gnu.gdb.${f}`);
    expect(xml).toContain('<reg name="fs_base" bitsize="64"');
    expect(xml).toContain('<reg name="cr3" bitsize="64"');
    expect(ask('qXfer:features:read:other.xml:0,100')).toBe('E00');
  });

  it('packs g in the description order: rax first, rip at 16, eflags, selectors, fs_base, cr3', () => {
    const { ask } = session();
    const g = ask('g') ?? '';
    expect(g.length).toBe(G_PACKET_BYTES * 2);
    expect(g.slice(0, 16)).toBe('8877665544332211');
    expect(ask('p10')).toBe('c02f100000000000'); // rip
    expect(ask('p11')).toBe('46020000'); // eflags
    expect(ask('p12')).toBe('10000000'); // cs
    const n = (name: string) => REGISTERS.findIndex((r) => r.name === name).toString(16);
    expect(ask(`p${n('fs_base')}`)).toBe('0070000000000000');
    expect(ask(`p${n('cr3')}`)).toBe('0040100000000000');
    expect(ask(`p${n('xmm1')}`)).toBe(`aa${'00'.repeat(15)}`);
    expect(ask(`p${n('fctrl')}`)).toBe('7f030000');
    expect(ask(`p${n('ftag')}`)).toBe('ffff0000'); // all registers empty
    expect(ask('p999')).toBe('E22');
  });

  it('writes a register with P and all of them with G', () => {
    const { ask, target } = session();
    expect(ask('P0=efbeadde00000000')).toBe('OK');
    expect(target.file.regs.rax).toBe(0xdeadbeefn);
    const g = ask('g') ?? '';
    expect(ask(`G${'01'.repeat(8)}${g.slice(16)}`)).toBe('OK');
    expect(target.file.regs.rax).toBe(0x0101010101010101n);
    expect(ask('G00')).toBe('E22');
  });

  it('reads and writes memory with m, M and X; unmapped memory is E14', () => {
    const { ask, target } = session();
    target.memory.set([1, 2, 3, 4], 0x10);
    expect(ask('m100010,4')).toBe('01020304');
    expect(ask('M100010,2:aabb')).toBe('OK');
    expect(Array.from(target.memory.subarray(0x10, 0x14))).toEqual([0xaa, 0xbb, 3, 4]);
    expect(ask('X100020,2:}\x03z')).toBe('OK');
    expect(Array.from(target.memory.subarray(0x20, 0x22))).toEqual([0x23, 0x7a]);
    expect(ask('X100020,0:')).toBe('OK');
    expect(ask('m0,4')).toBe('E14');
  });

  it('sets and clears breakpoints and watchpoints; unsupported kinds get an empty reply', () => {
    const { ask, target } = session();
    expect(ask('Z0,102fc0,1')).toBe('OK');
    expect(ask('Z2,1138a0,4')).toBe('OK');
    expect(target.points).toEqual(['0@102fc0/1', '2@1138a0/4']);
    expect(ask('Z3,1138a0,4')).toBe('');
    expect(ask('z0,102fc0,1')).toBe('OK');
    expect(ask('z0,102fc0,1')).toBe('E22');
    // The Hg thread's page tables place the point (QEMU passes gdbserver_state.g_cpu).
    expect(ask('Hg3')).toBe('OK');
    expect(ask('Z0,400000,1')).toBe('OK');
    expect(target.points).toEqual(['2@1138a0/4', '0@400000/1 via 2']);
  });

  it('resumes on c, s and vCont, and sends the stop reply the target reports later', () => {
    const { ask, stub, target, sent } = session();
    expect(ask('vCont?')).toBe('vCont;c;C;s;S');
    expect(ask('vCont;s:1;c')).toBeUndefined();
    expect(target.resumed).toEqual(['sccc']);
    stub.reportStop({ kind: 'signal', signal: 5 });
    expect(sent.at(-1)).toBe(encodePacket('T05thread:01;'));
    ask('c');
    stub.reportStop({ kind: 'breakpoint', type: 0 });
    expect(sent.at(-1)).toBe(encodePacket('T05thread:01;swbreak:;'));
    ask('c');
    stub.feed(Uint8Array.of(3));
    expect(target.resumed.at(-1)).toBe('interrupt');
    stub.reportStop({ kind: 'signal', signal: GDB_SIGINT });
    expect(sent.at(-1)).toBe(encodePacket('T02thread:01;'));
    ask('c');
    stub.reportStop({ kind: 'watchpoint', type: 2, address: 0x1138a0n });
    expect(sent.at(-1)).toBe(encodePacket('T05thread:01;watch:1138a0;'));
    expect(ask('?')).toBe('T05thread:01;watch:1138a0;');
  });

  it('lists one thread per vCPU and selects them with Hg/Hc', () => {
    const { ask } = session();
    expect(ask('qfThreadInfo')).toBe('m1,2,3,4');
    expect(ask('qsThreadInfo')).toBe('l');
    expect(ask('Hg2')).toBe('OK');
    expect(ask('qC')).toBe('QC2');
    expect(ask('T4')).toBe('OK');
    expect(ask('T5')).toBe('E22');
    expect(ask('T0')).toBe('E22');
    expect(ask('Tzz')).toBe('E22');
    expect(ask('Hg5')).toBe('E22');
    expect(ask('Hgx')).toBe('E22');
    expect(ask('Hc-1')).toBe('OK');
    expect(ask('qC')).toBe('QC2');
  });

  it('reads and writes the registers of the thread Hg selects', () => {
    const { ask, target } = session();
    expect(ask('p10')).toBe('c02f100000000000');
    expect(ask('Hg3')).toBe('OK');
    expect(ask('p10')).toBe('c031100000000000'); // vCPU 2: 0x102fc0 + 0x200
    expect(ask('P0=0700000000000000')).toBe('OK');
    expect(target.files[2].regs.rax).toBe(7n);
    expect(target.files[0].regs.rax).toBe(0x1122334455667788n);
  });

  it('names each thread after its vCPU and says whether it is halted, as QEMU', () => {
    const { ask } = session();
    const text = (hex: string | undefined) => Buffer.from(hex ?? '', 'hex').toString();
    expect(text(ask('qThreadExtraInfo,1'))).toBe('CPU#0 [running]');
    expect(text(ask('qThreadExtraInfo,2'))).toBe('CPU#1 [halted ]');
    expect(ask('qThreadExtraInfo,9')).toBe('E22');
  });

  it('gives each vCPU the leftmost vCont action that names it; the others stay stopped', () => {
    const { ask, stub, target } = session();
    const resumeAndStop = (packet: string) => {
      ask(packet);
      stub.reportStop({ kind: 'signal', signal: 5 }, 0);
    };
    resumeAndStop('vCont;s:2;c');
    resumeAndStop('vCont;c:3');
    resumeAndStop('vCont;s:4;c:1');
    resumeAndStop('vCont;c:2;s:2;s');
    ask('Hc3');
    resumeAndStop('s');
    resumeAndStop('c');
    expect(target.resumed).toEqual(['cscc', 'hhch', 'chhs', 'scss', 'ccsc', 'cccc']);
    expect(ask('vCont;c:9')).toBe('E22');
    expect(ask('vCont;x')).toBe('E22');
    expect(target.resumed).toHaveLength(6);
  });

  it('reports a stop on the vCPU that stopped, and makes it the current thread (QEMU: c_cpu, g_cpu)', () => {
    const { ask, stub, sent } = session();
    ask('c');
    stub.reportStop({ kind: 'breakpoint', type: 1 }, 2);
    expect(sent.at(-1)).toBe(encodePacket('T05thread:03;hwbreak:;'));
    expect(ask('qC')).toBe('QC3');
    expect(ask('p10')).toBe('c031100000000000');
    expect(ask('?')).toBe('T05thread:03;hwbreak:;');
  });

  it('stops acknowledging after QStartNoAckMode, and answers unknown packets with an empty reply', () => {
    const { ask, sent } = session();
    expect(ask('QStartNoAckMode')).toBe('OK');
    expect(ask('qTStatus')).toBe('');
    expect(sent.includes('+')).toBe(false);
  });
});

describe('the GDB stub when the engine refuses', () => {
  it('answers E05 instead of throwing when reading the registers fails', () => {
    const target = new FakeTarget();
    target.readRegisters = () => {
      throw new Error('KVM_GET_FPU: EINVAL');
    };
    const sent: string[] = [];
    const stub = new GdbStub(target, (t) => sent.push(t));
    stub.feed(Uint8Array.from(encodePacket('g'), (c) => c.charCodeAt(0)));
    expect(sent).toEqual(['+', encodePacket('E05')]);
  });
});
