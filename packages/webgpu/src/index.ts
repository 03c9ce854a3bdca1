export { createWebGPUBackend, WebGPUBackend, type WebGPUBackendOptions } from './backend.js';
export { WebGPUTensor } from './device-tensor.js';
export type { TileOverride } from './tiles.js';
