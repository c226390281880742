#!/usr/bin/env node
// VM exits per second for a guest that loops on OUT: through @kvm/host from Node, and through
// tools/cvmm (a C VMM compiled here with `cc -O2`) doing exactly the same per exit — the same
// guest bytes, the same iteration count. The C figure is the ceiling; the ratio is what crossing
// into JavaScript and back costs.
//
//   pnpm --filter @kvm/host bench            (BENCH_ITERATIONS=N to change the count)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KVM_EXIT, KVM_IOCTL } from '@kvm/core';
import { hostKvmAvailability, openHostKvm } from '@kvm/host';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100_000);
// Rounds alternate C and Node so that load from elsewhere on the machine hits both alike.
const ROUNDS = 5;
const LOAD_GPA = 0x1000;
const RAM_SIZE = 1 << 20;
const cvmmSource = fileURLToPath(new URL('../../../tools/cvmm/cvmm.c', import.meta.url));

/** mov ecx, n; spin: out 0x80, al; dec ecx; jnz spin; hlt — real mode, loaded at LOAD_GPA. */
function guest(n) {
  const bytes = new Uint8Array([0x66, 0xb9, 0, 0, 0, 0, 0xe6, 0x80, 0x66, 0x49, 0x75, 0xfa, 0xf4]);
  new DataView(bytes.buffer).setUint32(2, n, true);
  return bytes;
}

function setUp(kvm, code) {
  const vm = kvm.createVm();
  const memory = vm.allocateMemory(RAM_SIZE);
  new Uint8Array(memory.buffer).set(code, LOAD_GPA);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(RAM_SIZE),
    userspaceAddr: memory.userspaceAddr,
  });
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  vcpu.setSregs(sregs);
  const regs = vcpu.getRegs();
  regs.rip = BigInt(LOAD_GPA);
  regs.rflags = 2n;
  vcpu.setRegs(regs);
  return { vm, vcpu };
}

/** Through the typed front end: Vcpu.run() and its exit reason, as a VMM's loop does it. */
function viaVcpu(kvm, code) {
  const { vm, vcpu } = setUp(kvm, code);
  let exits = 0;
  const userStart = process.cpuUsage().user;
  const start = process.hrtime.bigint();
  for (;;) {
    const reason = vcpu.run();
    exits++;
    if (reason === KVM_EXIT.IO) continue;
    if (reason === KVM_EXIT.HLT) break;
    throw new Error(`unexpected exit ${reason}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const userSeconds = (process.cpuUsage().user - userStart) / 1e6;
  vm.close();
  return { exits, seconds, userSeconds };
}

/** Through the raw KvmDevice: ioctl(KVM_RUN) and a byte read of exit_reason, nothing else. */
function viaDevice(kvm, code) {
  const { vm, vcpu } = setUp(kvm, code);
  const device = kvm.device;
  const fd = vcpu.fd;
  const run = new DataView(vcpu.kvmRun.bytes.buffer);
  const KVM_RUN = KVM_IOCTL.KVM_RUN;
  let exits = 0;
  const userStart = process.cpuUsage().user;
  const start = process.hrtime.bigint();
  for (;;) {
    device.ioctl(fd, KVM_RUN, 0);
    exits++;
    const reason = run.getUint32(8, true); // kvm_run.exit_reason
    if (reason === KVM_EXIT.IO) continue;
    if (reason === KVM_EXIT.HLT) break;
    throw new Error(`unexpected exit ${reason}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const userSeconds = (process.cpuUsage().user - userStart) / 1e6;
  vm.close();
  return { exits, seconds, userSeconds };
}

function viaC(binary, guestFile) {
  return JSON.parse(execFileSync(binary, [guestFile, String(LOAD_GPA)], { encoding: 'utf8' }));
}

function best(runs) {
  return runs.reduce((a, b) => (b.exits / b.seconds > a.exits / a.seconds ? b : a));
}

const availability = hostKvmAvailability();
if (!availability.available) {
  console.log(`@kvm/host bench skipped: ${availability.reason}`);
  process.exit(0);
}

const code = guest(ITERATIONS);
const dir = mkdtempSync(join(tmpdir(), 'kvm-host-bench-'));
try {
  const guestFile = join(dir, 'guest.bin');
  const cvmm = join(dir, 'cvmm');
  writeFileSync(guestFile, code);
  let haveC = true;
  try {
    execFileSync('cc', ['-O2', '-o', cvmm, cvmmSource], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    haveC = false;
    console.log('(no C compiler: the C baseline is left out)');
  }

  const kvm = openHostKvm();
  viaVcpu(kvm, guest(20_000)); // warm up the JIT on the same path
  viaDevice(kvm, guest(20_000));
  const node = [];
  const raw = [];
  const c = [];
  const runners = [() => node.push(viaVcpu(kvm, code)), () => raw.push(viaDevice(kvm, code))];
  if (haveC) runners.push(() => c.push(viaC(cvmm, guestFile)));
  for (let round = 0; round < ROUNDS; round++) {
    // Each round starts with a different runner, so none is always the one after another.
    for (let i = 0; i < runners.length; i++) runners[(round + i) % runners.length]();
  }
  kvm.close();

  const rows = [];
  if (c.length > 0) rows.push(['C, tools/cvmm (cc -O2)', best(c)]);
  rows.push(['@kvm/host, Vcpu.run()', best(node)]);
  rows.push(['@kvm/host, raw KvmDevice.ioctl', best(raw)]);
  const ceiling = c.length > 0 ? best(c).exits / best(c).seconds : undefined;
  console.log(
    "Exit rate is wall-clock (the kernel and the guest dominate it); user CPU per exit is the VMM's own cost.",
  );
  console.log(
    `VM exits per second, real-mode guest looping on OUT to port 0x80 (${ITERATIONS} iterations, ` +
      `same ${code.length} guest bytes for all; best of ${ROUNDS})`,
  );
  for (const [name, r] of rows) {
    const rate = r.exits / r.seconds;
    const ratio = ceiling ? `${(rate / ceiling).toFixed(2)}× C` : '';
    console.log(
      `  ${name.padEnd(34)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} exits/s  ` +
        `${((r.seconds / r.exits) * 1e6).toFixed(2).padStart(7)} µs/exit  ${ratio.padEnd(9)}` +
        `user CPU ${((r.userSeconds / r.exits) * 1e6).toFixed(3).padStart(6)} µs/exit`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
