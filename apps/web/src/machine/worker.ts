/// <reference lib="webworker" />
/**
 * The page's machine worker (a module Web Worker): one start request in, the machine's events out
 * (see `run.ts`). Terminated by the page on reset or when a new guest is chosen.
 */
import type { WorkerEvent } from './protocol.js';
import { runWebMachine } from './run.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = (e: MessageEvent) => {
  runWebMachine(e.data, (event: WorkerEvent) => scope.postMessage(event));
};
