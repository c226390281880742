export * from './abi/index.js';
export * from './api/errors.js';
export type * from './api/structs.js';
export type * from './api/types.js';
export * from './front/index.js';
export * from './soft/index.js';
