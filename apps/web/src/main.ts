/**
 * The page: a terminal on the guest's serial port (xterm.js), the machine in a module Web Worker
 * (src/machine/worker.ts) driven by a MachineController, and the controls around them.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { MachineController, type MachineSettings, type RunState } from './machine/controller.js';
import { type Accel, MAX_RAM, type WorkerEvent } from './machine/protocol.js';
import {
  cmdlineFor,
  fetchImage,
  type GuestEntry,
  loadGuestIndex,
  type NamedImage,
  sortDropped,
} from './ui/guests.js';
import { StatsView } from './ui/stats-view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const guestSelect = $<HTMLSelectElement>('guest');
const accelSelect = $<HTMLSelectElement>('accel');
const jitBox = $<HTMLInputElement>('jit');
const memorySelect = $<HTMLSelectElement>('memory');
const cmdlineInput = $<HTMLInputElement>('cmdline');
const startButton = $<HTMLButtonElement>('start');
const pauseButton = $<HTMLButtonElement>('pause');
const resetButton = $<HTMLButtonElement>('reset');
const stopButton = $<HTMLButtonElement>('stop');
const statusLine = $('status');
const errorBox = $('error');
const drop = $('drop');
const droppedLabel = $('dropped');
const stats = new StatsView($('mips-value'), $('exits'));
const base = import.meta.env.BASE_URL;

const terminal = new Terminal({ convertEol: true, fontSize: 13, scrollback: 5000 });
const fit = new FitAddon();
terminal.loadAddon(fit);
terminal.open($('terminal'));
fit.fit();
window.addEventListener('resize', () => fit.fit());

let guests: GuestEntry[] = [];
let dropped: { kernel: NamedImage; initrd?: NamedImage } | undefined;
let description = '';
/** The last figures the machine sent (window.kvmTs.lastStats: the benchmark reads them). */
let lastStats: unknown;

function showError(text: string): void {
  errorBox.hidden = false;
  errorBox.textContent = text;
}

function onState(state: RunState): void {
  const live = state === 'running' || state === 'paused' || state === 'starting';
  pauseButton.disabled = !(state === 'running' || state === 'paused');
  pauseButton.textContent = state === 'paused' ? 'Resume' : 'Pause';
  stopButton.disabled = !live;
  resetButton.disabled = state === 'idle';
  if (state !== 'ended') statusLine.textContent = `${state}${description ? `: ${description}` : ''}`;
}

function onEvent(e: WorkerEvent | { type: 'state'; state: RunState }): void {
  switch (e.type) {
    case 'state':
      onState(e.state);
      break;
    case 'started':
      description = e.description;
      statusLine.textContent = `running: ${description}`;
      break;
    case 'serial':
      terminal.write(e.data);
      break;
    case 'stats':
      lastStats = e.stats;
      stats.sample(e.stats);
      break;
    case 'done': {
      lastStats = e.stats;
      stats.final(e.stats);
      const stop = e.stop;
      const how =
        stop.kind === 'debug-exit'
          ? `the guest wrote ${(stop.status - 1) / 2} to isa-debug-exit (status ${stop.status})`
          : stop.kind === 'quit'
            ? 'stopped'
            : stop.kind === 'failure'
              ? 'engine failure'
              : stop.kind;
      statusLine.textContent = `ended: ${how}`;
      if (stop.kind === 'failure')
        showError(`engine failure: ${JSON.stringify(stop)}\n\n${e.registers ?? ''}`);
      break;
    }
    case 'error':
      statusLine.textContent = 'ended: error';
      showError(`${e.name}: ${e.message}${e.registers ? `\n\n${e.registers}` : ''}`);
      break;
  }
}

const controller = new MachineController((deliver, crash) => {
  const worker = new Worker(new URL('./machine/worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (m: MessageEvent<WorkerEvent>) => deliver(m.data);
  worker.onerror = (e) => crash(`the machine's worker failed: ${e.message || 'see the console'}`);
  return worker;
}, onEvent);

terminal.onData((data) => {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  controller.input(bytes);
});

async function settings(): Promise<MachineSettings> {
  const ramSize = Math.min(Number(memorySelect.value), MAX_RAM);
  const accel = accelSelect.value as Accel;
  const jit = jitBox.checked;
  const cmdline = cmdlineInput.value;
  // Every machine has isa-debug-exit at 0xf4 (4 bytes), as qemu-lite runs our guests: they end
  // through it, and a dropped test kernel may too (Linux leaves the port alone).
  const debugExit = { iobase: 0xf4, iosize: 4 };
  if (guestSelect.value === 'dropped') {
    if (!dropped) throw new Error('drop a kernel on the page first');
    return { accel, jit, ramSize, kernel: dropped.kernel, initrd: dropped.initrd, cmdline, debugExit };
  }
  const g = guests.find((x) => x.name === guestSelect.value);
  if (!g) throw new Error('choose a guest');
  const image = await fetchImage(base, g);
  return { accel, jit, ramSize, kernel: { name: g.file, image }, cmdline, debugExit };
}

startButton.onclick = async () => {
  errorBox.hidden = true;
  description = '';
  stats.reset();
  terminal.reset();
  try {
    controller.start(await settings());
  } catch (error) {
    showError((error as Error).message);
  }
  terminal.focus();
};
pauseButton.onclick = () => (controller.state === 'paused' ? controller.resume() : controller.pause());
stopButton.onclick = () => controller.stop();
resetButton.onclick = () => {
  errorBox.hidden = true;
  stats.reset();
  terminal.reset();
  controller.reset();
  terminal.focus();
};
guestSelect.onchange = () => {
  const g = guests.find((x) => x.name === guestSelect.value);
  if (g) memorySelect.value = String(Number.parseInt(g.memory, 10) * 1024 * 1024);
};

async function takeFiles(files: File[]): Promise<void> {
  const images = await Promise.all(
    files.map(async (f) => ({ name: f.name, image: new Uint8Array(await f.arrayBuffer()) })),
  );
  const sorted = sortDropped(images);
  if (typeof sorted === 'string') {
    showError(sorted);
    return;
  }
  dropped = sorted;
  droppedLabel.textContent = `kernel ${sorted.kernel.name}${sorted.initrd ? `, initrd ${sorted.initrd.name}` : ''}`;
  let option = guestSelect.querySelector<HTMLOptionElement>('option[value="dropped"]');
  if (!option) {
    option = new Option('', 'dropped');
    guestSelect.prepend(option);
  }
  option.textContent = `dropped: ${sorted.kernel.name}`;
  guestSelect.value = 'dropped';
  memorySelect.value = String(256 * 1024 * 1024);
  cmdlineInput.value = cmdlineFor(sorted.kernel.image, cmdlineInput.value);
}

drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  void takeFiles([...(e.dataTransfer?.files ?? [])]);
});
const kernelFile = $<HTMLInputElement>('kernel-file');
const initrdFile = $<HTMLInputElement>('initrd-file');
const chosen = () => void takeFiles([...(kernelFile.files ?? []), ...(initrdFile.files ?? [])]);
kernelFile.onchange = chosen;
initrdFile.onchange = chosen;

async function init(): Promise<void> {
  if (!globalThis.crossOriginIsolated) {
    showError(
      'This page is not cross-origin isolated, so it has no SharedArrayBuffer: serve it with the headers\n' +
        'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (see apps/web/README.md).',
    );
    startButton.disabled = true;
    return;
  }
  try {
    guests = await loadGuestIndex(base);
  } catch (error) {
    showError(`no guest list: ${(error as Error).message}`);
  }
  for (const g of guests) {
    const option = new Option(`${g.name} (${g.kind}, ${g.bits}-bit)`, g.name);
    option.title = g.description;
    guestSelect.append(option);
  }
  if (guests.length === 0) guestSelect.append(new Option('(no guest images: build tools/guests)', ''));
  guestSelect.dispatchEvent(new Event('change'));
  statusLine.textContent = 'idle: choose a guest and press Start';
  // For tests and the benchmark (bench/page-mips.bench.test.ts).
  Object.defineProperty(window, 'kvmTs', {
    value: {
      controller,
      terminal,
      get lastStats() {
        return lastStats;
      },
    },
  });
}

void init();
