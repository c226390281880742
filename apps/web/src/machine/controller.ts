/**
 * The page's side of a machine (no DOM: Node's tests drive it too): makes the shared memory,
 * starts a worker with a `StartRequest`, types into the guest's serial port, pauses, resumes,
 * stops and resets, and kicks the vCPU when a device timer falls due (qemu-lite's timer service,
 * on setTimeout: a page's main thread may not Atomics.wait).
 */
import type { VcpuKickHandle } from '@kvm/core';
import {
  createSharedControl,
  QUIT,
  QUIT_USER,
  ringWrite,
  type SharedControl,
  STATE,
  STATE_DONE,
  STATE_HALTED,
  sharedClock,
  wakeMachine,
} from 'qemu-lite/portable';
import { kickVcpu } from './engines.js';
import { PAGE_CELLS, PAGE_PAUSE, type StartRequest, type WorkerEvent } from './protocol.js';

/** A started worker, whatever kind: a Web Worker, or a worker_threads Worker in Node's tests. */
export interface WorkerLink {
  postMessage(message: unknown): void;
  terminate(): void;
}

/** Starts a worker whose events go to `onEvent`; `onCrash` when it dies without a last event. */
export type SpawnWorker = (
  onEvent: (e: WorkerEvent) => void,
  onCrash: (message: string) => void,
) => WorkerLink;

export type MachineSettings = Omit<StartRequest, 'type' | 'control' | 'epochMs' | 'page' | 'statsIntervalMs'>;

export type RunState = 'idle' | 'starting' | 'running' | 'paused' | 'ended';

export class MachineController {
  private worker: WorkerLink | undefined;
  private control: SharedControl | undefined;
  private page: Int32Array | undefined;
  private kickHandle: VcpuKickHandle | undefined;
  private settings: MachineSettings | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  state: RunState = 'idle';

  constructor(
    private readonly spawn: SpawnWorker,
    /** Every worker event of the current machine, and state changes. */
    private readonly listener: (e: WorkerEvent | { type: 'state'; state: RunState }) => void,
    private readonly statsIntervalMs = 500,
  ) {}

  /** Boots `settings` in a new worker (ending any machine that runs). */
  start(settings: MachineSettings): void {
    this.end();
    this.settings = settings;
    const generation = ++this.generation;
    const control = createSharedControl();
    const page = new Int32Array(new SharedArrayBuffer(PAGE_CELLS * 4));
    this.control = control;
    this.page = page;
    // Events from a worker this controller has moved on from (reset, a new start) are dropped.
    const current = () => generation === this.generation;
    this.worker = this.spawn(
      (e) => {
        if (current()) this.onEvent(e);
      },
      (message) => {
        if (!current()) return;
        this.setState('ended');
        this.listener({ type: 'error', name: 'WorkerError', message });
        this.end();
      },
    );
    this.setState('starting');
    const request: StartRequest = {
      type: 'start',
      ...settings,
      control: control.sab,
      epochMs: control.epochMs,
      page: page.buffer as SharedArrayBuffer,
      statsIntervalMs: this.statsIntervalMs,
    };
    this.worker.postMessage(request);
    this.serviceTimers(generation);
  }

  /** Bytes typed on the terminal: into qemu-lite's input ring (4 KiB; more waits its turn). */
  input(bytes: Uint8Array): void {
    const control = this.control;
    if (!control || this.state === 'ended') return;
    const generation = this.generation;
    let offset = 0;
    const push = () => {
      if (generation !== this.generation) return;
      offset += ringWrite(control, bytes.subarray(offset));
      wakeMachine(control);
      kickVcpu(this.kickHandle);
      if (offset < bytes.length) setTimeout(push, 5);
    };
    push();
  }

  pause(): void {
    if (this.state !== 'running' || !this.page) return;
    Atomics.store(this.page, PAGE_PAUSE, 1);
    kickVcpu(this.kickHandle);
    this.setState('paused');
  }

  resume(): void {
    if (this.state !== 'paused' || !this.page) return;
    Atomics.store(this.page, PAGE_PAUSE, 0);
    Atomics.notify(this.page, PAGE_PAUSE);
    this.setState('running');
  }

  /** Asks the machine to stop (it answers `done` with the exit table); the worker then ends. */
  stop(): void {
    const control = this.control;
    if (!control || this.state === 'ended' || this.state === 'idle') return;
    Atomics.compareExchange(control.cells, QUIT, 0, QUIT_USER);
    if (this.page) {
      Atomics.store(this.page, PAGE_PAUSE, 0);
      Atomics.notify(this.page, PAGE_PAUSE);
    }
    wakeMachine(control);
    kickVcpu(this.kickHandle);
  }

  /** A cold boot of the same settings in a fresh worker (the old one is terminated). */
  reset(): void {
    if (this.settings) this.start(this.settings);
  }

  /** Terminates the worker, whatever it is doing. */
  end(): void {
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.worker?.terminate();
    this.worker = undefined;
    this.kickHandle = undefined;
  }

  private onEvent(e: WorkerEvent): void {
    if (e.type === 'started') {
      this.kickHandle = e.kickHandle as VcpuKickHandle;
      if (this.state === 'starting') this.setState('running');
    }
    this.listener(e);
    if (e.type === 'done' || e.type === 'error') {
      this.setState('ended');
      this.end();
    }
  }

  private setState(state: RunState): void {
    this.state = state;
    this.listener({ type: 'state', state });
  }

  /** Kicks a running vCPU when the deadline it published passes (a halted one waits by itself). */
  private serviceTimers(generation: number): void {
    const control = this.control!;
    const clock = sharedClock(control.epochMs);
    let kickedFor = Number.NaN;
    const tick = () => {
      if (generation !== this.generation) return;
      const cells = control.cells;
      const deadline = control.deadline[0]!;
      const now = clock();
      let waitMs = 20;
      if (deadline <= now) {
        const state = Atomics.load(cells, STATE);
        if (deadline !== kickedFor && state !== STATE_HALTED && state !== STATE_DONE) {
          kickedFor = deadline;
          kickVcpu(this.kickHandle);
        }
      } else {
        waitMs = Math.min(20, Math.max(1, (deadline - now) / 1e6));
      }
      this.timer = setTimeout(tick, waitMs);
    };
    tick();
  }
}
