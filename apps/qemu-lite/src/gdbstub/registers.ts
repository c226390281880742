/**
 * The register file gdb sees: the x86-64 layout whatever mode the guest is in (as
 * qemu-system-x86_64 reports it), described to gdb by `targetXml()` and packed for `g`/`p`
 * in the same order. Values come from KVM_GET_REGS, KVM_GET_SREGS and KVM_GET_FPU and go
 * back through the matching SET ioctls. Registers are numbered by their place in `REGISTERS`.
 */
import type { KvmFpu, KvmRegs, KvmSregs, Vcpu } from '@kvm/core';

export interface RegisterDef {
  name: string;
  /** Bits in the `g` packet. */
  bits: number;
  type: string;
  feature: 'core' | 'sse' | 'segments' | 'sys';
}

const GPR_NAMES = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp'] as const;
const GPR_KEYS: (keyof KvmRegs)[] = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rbp',
  'rsp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];
const SEGMENTS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
const FPU_CONTROL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'] as const;
const CONTROL_REGS = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const;

function build(): RegisterDef[] {
  const out: RegisterDef[] = [];
  for (const name of GPR_NAMES)
    out.push({
      name,
      bits: 64,
      type: name === 'rbp' || name === 'rsp' ? 'data_ptr' : 'int64',
      feature: 'core',
    });
  for (let i = 8; i < 16; i++) out.push({ name: `r${i}`, bits: 64, type: 'int64', feature: 'core' });
  out.push({ name: 'rip', bits: 64, type: 'code_ptr', feature: 'core' });
  out.push({ name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core' });
  for (const name of SEGMENTS) out.push({ name, bits: 32, type: 'int32', feature: 'core' });
  for (let i = 0; i < 8; i++) out.push({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core' });
  for (const name of FPU_CONTROL) out.push({ name, bits: 32, type: 'int', feature: 'core' });
  for (let i = 0; i < 16; i++) out.push({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse' });
  out.push({ name: 'mxcsr', bits: 32, type: 'i386_mxcsr', feature: 'sse' });
  out.push({ name: 'fs_base', bits: 64, type: 'int64', feature: 'segments' });
  out.push({ name: 'gs_base', bits: 64, type: 'int64', feature: 'segments' });
  for (const name of CONTROL_REGS) out.push({ name, bits: 64, type: 'int64', feature: 'sys' });
  return out;
}

export const REGISTERS: readonly RegisterDef[] = build();
export const REG_RIP = 16;
export const REG_EFLAGS = 17;
const REG_CS = 18;
const REG_ST0 = 24;
const REG_FCTRL = 32;
const REG_XMM0 = 40;
const REG_MXCSR = 56;
const REG_FS_BASE = 57;
const REG_CR0 = 59;

/** Byte offset of each register in the `g` packet, and the total. */
const OFFSETS: number[] = [];
export const G_PACKET_BYTES = REGISTERS.reduce((at, r) => {
  OFFSETS.push(at);
  return at + r.bits / 8;
}, 0);

/** One vCPU's registers as gdb sees them, read once per stop. */
export interface RegisterFile {
  regs: KvmRegs;
  sregs: KvmSregs;
  fpu: KvmFpu;
}

export function readRegisterFile(vcpu: Vcpu): RegisterFile {
  return { regs: vcpu.getRegs(), sregs: vcpu.getSregs(), fpu: vcpu.getFpu() };
}

export function writeRegisterFile(vcpu: Vcpu, file: RegisterFile): void {
  vcpu.setRegs(file.regs);
  vcpu.setSregs(file.sregs);
  vcpu.setFpu(file.fpu);
}

function putU64(out: Uint8Array, at: number, v: bigint, bytes = 8): void {
  for (let i = 0; i < bytes; i++) out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function getU64(bytes: Uint8Array, at: number, n = 8): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

/**
 * The full x87 tag word from FXSAVE's abridged one (SDM Vol. 1, 10.5.1.1): each valid register
 * is tagged by its contents (00 valid, 01 zero, 10 special); an empty one is 11. Physical
 * register i is ST((i - TOP) mod 8).
 */
function fullTagWord(fpu: KvmFpu): number {
  const top = (fpu.fsw >> 11) & 7;
  let tag = 0;
  for (let phys = 0; phys < 8; phys++) {
    let t = 3;
    if (fpu.ftwx & (1 << phys)) {
      const st = (phys - top + 8) & 7;
      const r = fpu.fpr.subarray(st * 16, st * 16 + 10);
      const exp = (r[8] | (r[9] << 8)) & 0x7fff;
      const integer = r[7] & 0x80;
      const mantissaZero = r.subarray(0, 8).every((b) => b === 0);
      if (exp === 0x7fff) t = 2;
      else if (exp === 0) t = mantissaZero ? 1 : 2;
      else t = integer ? 0 : 2;
    }
    tag |= t << (2 * phys);
  }
  return tag;
}

/** Register `n`'s bytes (little-endian, as the `g` packet carries them). */
export function registerBytes(file: RegisterFile, n: number): Uint8Array {
  const def = REGISTERS[n];
  const out = new Uint8Array(def.bits / 8);
  const { regs, sregs, fpu } = file;
  if (n < 16) putU64(out, 0, regs[GPR_KEYS[n]] as bigint);
  else if (n === REG_RIP) putU64(out, 0, regs.rip);
  else if (n === REG_EFLAGS) putU64(out, 0, regs.rflags, 4);
  else if (n < REG_ST0) putU64(out, 0, BigInt(sregs[SEGMENTS[n - REG_CS]].selector), 4);
  else if (n < REG_FCTRL) out.set(fpu.fpr.subarray((n - REG_ST0) * 16, (n - REG_ST0) * 16 + 10));
  else if (n < REG_XMM0) {
    // fiseg/foseg are 0: KVM_GET_FPU carries 64-bit last_ip/last_dp, not selectors.
    const values = [
      fpu.fcw,
      fpu.fsw,
      fullTagWord(fpu),
      0,
      Number(fpu.lastIp & 0xffffffffn),
      0,
      Number(fpu.lastDp & 0xffffffffn),
      fpu.lastOpcode,
    ];
    putU64(out, 0, BigInt(values[n - REG_FCTRL] >>> 0), 4);
  } else if (n < REG_MXCSR) out.set(fpu.xmm.subarray((n - REG_XMM0) * 16, (n - REG_XMM0) * 16 + 16));
  else if (n === REG_MXCSR) putU64(out, 0, BigInt(fpu.mxcsr >>> 0), 4);
  else if (n === REG_FS_BASE) putU64(out, 0, sregs.fs.base);
  else if (n === REG_FS_BASE + 1) putU64(out, 0, sregs.gs.base);
  else putU64(out, 0, sregs[CONTROL_REGS[n - REG_CR0]] as bigint);
  return out;
}

/**
 * Stores register `n` from its little-endian bytes. Returns false for a register gdb may not
 * write (the x87 control words gdb derives, selectors with their hidden parts): KVM_SET_SREGS
 * would need a descriptor load there, which the guest does, not the debugger.
 */
export function setRegisterBytes(file: RegisterFile, n: number, bytes: Uint8Array): boolean {
  const { regs, sregs, fpu } = file;
  if (n < 0 || n >= REGISTERS.length || bytes.length !== REGISTERS[n].bits / 8) return false;
  if (n < 16) (regs[GPR_KEYS[n]] as bigint) = getU64(bytes, 0);
  else if (n === REG_RIP) regs.rip = getU64(bytes, 0);
  else if (n === REG_EFLAGS) regs.rflags = getU64(bytes, 0, 4) | 2n;
  else if (n < REG_ST0) {
    // A selector write that changes nothing is accepted (gdb's G writes them all back).
    return Number(getU64(bytes, 0, 4)) === sregs[SEGMENTS[n - REG_CS]].selector;
  } else if (n < REG_FCTRL) fpu.fpr.set(bytes, (n - REG_ST0) * 16);
  else if (n < REG_XMM0) {
    const v = Number(getU64(bytes, 0, 4));
    if (n === REG_FCTRL) fpu.fcw = v & 0xffff;
    else if (n === REG_FCTRL + 1) fpu.fsw = v & 0xffff;
    else return true; // derived or not carried by kvm_fpu: ignored, as gdb's G writes them back unchanged
  } else if (n < REG_MXCSR) fpu.xmm.set(bytes, (n - REG_XMM0) * 16);
  else if (n === REG_MXCSR) fpu.mxcsr = Number(getU64(bytes, 0, 4));
  else if (n === REG_FS_BASE) sregs.fs.base = getU64(bytes, 0);
  else if (n === REG_FS_BASE + 1) sregs.gs.base = getU64(bytes, 0);
  else (sregs[CONTROL_REGS[n - REG_CR0]] as bigint) = getU64(bytes, 0);
  return true;
}

/** The `g` packet's bytes: every register in order. */
export function allRegisterBytes(file: RegisterFile): Uint8Array {
  const out = new Uint8Array(G_PACKET_BYTES);
  for (let n = 0; n < REGISTERS.length; n++) out.set(registerBytes(file, n), OFFSETS[n]);
  return out;
}

/** `G`: stores every register from a full packet; false if its length is wrong or a write is refused. */
export function setAllRegisterBytes(file: RegisterFile, bytes: Uint8Array): boolean {
  if (bytes.length !== G_PACKET_BYTES) return false;
  let ok = true;
  for (let n = 0; n < REGISTERS.length; n++) {
    if (!setRegisterBytes(file, n, bytes.subarray(OFFSETS[n], OFFSETS[n] + REGISTERS[n].bits / 8)))
      ok = false;
  }
  return ok;
}
