export { createCudaBackend, type CudaBackend, type CudaDeviceOps } from './cuda-backend.js';
export { CudaTiming, type TimingOptions } from './timing.js';
export { CudaTensor } from './device-tensor.js';
export { cudaReasons } from './check-problem.js';
export { loadAddon, ADDON_FILE } from './addon-loader.js';
export type { PoolStats } from './addon-types.js';
