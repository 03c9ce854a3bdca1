export { createReferenceBackend, type ReferenceBackend, type ReferenceBackendOptions, type ReferenceStats } from './backend.js';
export { referenceOracle, oracleForward, oracleBackward, naiveForward, naiveBackward } from './oracle.js';
export { HostDeviceTensor } from './device.js';
export { cpuCount } from './worker-runtime.js';
