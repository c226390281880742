// The cost the typed front end adds on the hot path, measured against its own baseline in the
// same run: KVM_RUN through `vcpu.run()` versus the raw `device.ioctl` it wraps, over an
// in-process device that does nothing (so only the front end is measured), and the kvm_run
// view's io reads versus DataView reads at the same offsets. Run after `pnpm build`.
import { KVM_EXIT, KVM_IOCTL, KvmRunView, openKvm } from '../dist/index.js';

const MMAP_SIZE = 3 * 4096;
const runPage = new ArrayBuffer(MMAP_SIZE);
const engineView = new KvmRunView(runPage);
const device = {
  engine: 'null',
  open: () => 3,
  close() {},
  ioctl(_fd, request) {
    switch (request) {
      case KVM_IOCTL.KVM_GET_API_VERSION:
        return 12;
      case KVM_IOCTL.KVM_GET_VCPU_MMAP_SIZE:
        return MMAP_SIZE;
      case KVM_IOCTL.KVM_CREATE_VM:
        return 4;
      case KVM_IOCTL.KVM_CREATE_VCPU:
        return 5;
      case KVM_IOCTL.KVM_RUN:
        engineView.exitReason = KVM_EXIT.IO;
        return 0;
      default:
        return 0;
    }
  },
  mmapRun: () => runPage,
  allocateMemory: (size) => ({ userspaceAddr: 0n, size, buffer: new ArrayBuffer(size) }),
  kickHandle: () => ({ engine: 'null' }),
  kick() {},
};

const vcpu = openKvm(device).createVm().createVcpu(0);
engineView.io.size = 1;
engineView.io.count = 1;
engineView.io.port = 0x3f8;
engineView.io.dataOffset = 4096;
const dv = new DataView(runPage);

function time(label, n, fn) {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    fn(n);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / n);
  }
  console.log(`${label.padEnd(44)} ${best.toFixed(1).padStart(8)} ns/op (best of 5)`);
  return best;
}

const N = 2_000_000;
let sink = 0;
const raw = time('baseline: device.ioctl(KVM_RUN) + exit_reason', N, (n) => {
  for (let i = 0; i < n; i++) {
    device.ioctl(5, KVM_IOCTL.KVM_RUN, 0);
    sink += dv.getUint32(8, true);
  }
});
const front = time('vcpu.run()', N, (n) => {
  for (let i = 0; i < n; i++) sink += vcpu.run();
});
const dvReads = time('baseline: DataView io reads (port, size, data)', N, (n) => {
  for (let i = 0; i < n; i++)
    sink += dv.getUint16(34, true) + dv.getUint8(33) + dv.getUint8(dv.getUint32(40, true));
});
const viewReads = time('kvmRun.io reads (port, size, value)', N, (n) => {
  const io = vcpu.kvmRun.io;
  for (let i = 0; i < n; i++) sink += io.port + io.size + io.value;
});
time('vcpu.getRegs() (ioctl + kvm_regs decode)', N / 20, (n) => {
  for (let i = 0; i < n; i++) sink += Number(vcpu.getRegs().rip);
});
console.log(
  `front-end overhead per run(): ${(front - raw).toFixed(1)} ns; io view vs DataView: ${(viewReads - dvReads).toFixed(1)} ns`,
);
if (sink === -1) console.log(sink);
