// qemu-lite's cost per exit: a guest that does N port writes (one KVM_EXIT_IO each), run
//  1. baseline: the same Machine driven by a bare loop in this thread (KVM_RUN, look at the
//     port, run again), no devices consulted, no timers, no worker;
//  2. qemu-lite: runGuest (worker thread, full vCPU state machine, I/O bus, PIT poll,
//     interrupt checks, exit statistics).
// Both in the same run, on the host engine. Prints exits/s and µs per exit for each.
import { KVM_EXIT } from '@kvm/core';
import { hostKvmAvailability, openHostKvm } from '@kvm/host';
import { DEFAULT_DEBUG_EXIT, Machine, runGuest } from '../dist/index.js';

const N = Number(process.env.EXITS ?? 200_000);
const availability = hostKvmAvailability();
if (!availability.available) {
  console.log(`skipped: ${availability.reason}`);
  process.exit(0);
}

// mov ecx, N; 1: out 0x80, al; dec ecx; jnz 1b; xor eax, eax; out 0xf4, eax
const image = new Uint8Array([
  0xb9,
  N & 0xff,
  (N >> 8) & 0xff,
  (N >> 16) & 0xff,
  N >>> 24,
  0xe6,
  0x80,
  0x49,
  0x75,
  0xfb,
  0x31,
  0xc0,
  0xe7,
  0xf4,
]);
const config = {
  engine: 'host',
  ramSize: 16 << 20,
  cpus: 1,
  modules: [],
  cmdline: '',
  debugExit: DEFAULT_DEBUG_EXIT,
  noReboot: true,
  kernelIrqchip: false,
  serialToStdout: false,
  serialToCaller: false,
  log: [],
  flat: { name: 'bench', image, loadAddr: 0x100000, mode: 'protected32' },
};

function baseline() {
  const kvm = openHostKvm();
  const machine = new Machine(kvm, config, () => 0, { serialOut() {}, log() {} });
  const { vcpu, run } = machine;
  let exits = 0;
  const t0 = performance.now();
  for (;;) {
    const reason = vcpu.run();
    exits++;
    if (reason !== KVM_EXIT.IO || run.io.port === 0xf4) break;
  }
  const ms = performance.now() - t0;
  machine.close();
  kvm.close();
  return { exits, ms };
}

async function qemuLite() {
  const t0 = performance.now();
  const r = await runGuest({ flat: { image, loadAddr: 0x100000 }, accel: 'kvm', captureSerial: false });
  const ms = performance.now() - t0;
  if (r.status !== 1) throw new Error(`bench guest ended with ${JSON.stringify(r.exitReason)}`);
  return { exits: r.stats.totalExits, ms, guestMs: r.stats.guestNs / 1e6 };
}

const print = (name, { exits, ms }) =>
  console.log(
    `${name.padEnd(34)} ${String(exits).padStart(8)} exits ${ms.toFixed(0).padStart(6)} ms ${((exits / ms) * 1000).toFixed(0).padStart(8)} exits/s ${((ms * 1000) / exits).toFixed(2).padStart(7)} µs/exit`,
  );

baseline(); // warm up
print('baseline: bare KVM_RUN loop', baseline());
print('qemu-lite: runGuest (worker, devices)', await qemuLite());
