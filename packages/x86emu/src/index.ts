export * from './api/cpu-options.js';
export * from './api/emulate.js';
export * from './api/intercepts.js';
export * from './api/physical-memory.js';
export * from './api/platform.js';
export * from './api/stop-reason.js';
export * from './state.js';
