/**
 * The HIP module API and its CUDA driver API twin, symbol by symbol. The backend is written against the HIP
 * names; with FLASHATTN_ROCM_DRIVER=cuda the same calls go to libcuda's cu* functions (identical argument order
 * except where `cuda` says otherwise, e.g. the extra flags argument of cuStreamCreate/cuEventCreate).
 */
import type { Signature } from '../ffi/native-library.js';

export type DriverKind = 'hip' | 'cuda';

export type ApiName =
  | 'init' | 'driverGetVersion' | 'getDeviceCount' | 'deviceGet' | 'deviceGetName' | 'deviceGetAttribute'
  | 'getDeviceProperties' | 'ctxRetain' | 'ctxSetCurrent' | 'setDevice'
  | 'moduleLoadData' | 'moduleGetFunction' | 'moduleUnload' | 'launchKernel'
  | 'malloc' | 'free' | 'memcpyHtoD' | 'memcpyDtoH' | 'memsetD8'
  | 'streamCreate' | 'streamSynchronize' | 'streamDestroy'
  | 'eventCreate' | 'eventRecord' | 'eventSynchronize' | 'eventElapsedTime' | 'eventDestroy'
  | 'getErrorName' | 'memGetInfo';

interface Binding {
  readonly symbol: string;
  readonly sig: Signature;
  /** Bound separately, when present: its absence (another HIP ABI version) must not fail the whole library. */
  readonly optional?: boolean;
}

interface Entry {
  readonly hip?: Binding;
  readonly cuda?: Binding;
}

const i = (...args: Signature['args']): Signature => ({ args, result: 'i32' });

/** hip* <-> cu* (absent on one side = that library does not need it: HIP has an implicit context). */
export const API_TABLE: Readonly<Record<ApiName, Entry>> = {
  init: { hip: { symbol: 'hipInit', sig: i('u32') }, cuda: { symbol: 'cuInit', sig: i('u32') } },
  driverGetVersion: { hip: { symbol: 'hipDriverGetVersion', sig: i('buffer') }, cuda: { symbol: 'cuDriverGetVersion', sig: i('buffer') } },
  getDeviceCount: { hip: { symbol: 'hipGetDeviceCount', sig: i('buffer') }, cuda: { symbol: 'cuDeviceGetCount', sig: i('buffer') } },
  deviceGet: { hip: { symbol: 'hipDeviceGet', sig: i('buffer', 'i32') }, cuda: { symbol: 'cuDeviceGet', sig: i('buffer', 'i32') } },
  deviceGetName: { hip: { symbol: 'hipDeviceGetName', sig: i('buffer', 'i32', 'i32') }, cuda: { symbol: 'cuDeviceGetName', sig: i('buffer', 'i32', 'i32') } },
  deviceGetAttribute: { hip: { symbol: 'hipDeviceGetAttribute', sig: i('buffer', 'i32', 'i32') }, cuda: { symbol: 'cuDeviceGetAttribute', sig: i('buffer', 'i32', 'i32') } },
  // HIP's architecture name (gcnArchName) lives only in hipDeviceProp_t; CUDA uses compute-capability attributes.
  getDeviceProperties: { hip: { symbol: 'hipGetDeviceProperties', sig: i('buffer', 'i32'), optional: true } },
  ctxRetain: { cuda: { symbol: 'cuDevicePrimaryCtxRetain', sig: i('buffer', 'i32') } },
  ctxSetCurrent: { cuda: { symbol: 'cuCtxSetCurrent', sig: i('u64') } },
  setDevice: { hip: { symbol: 'hipSetDevice', sig: i('i32') } },
  moduleLoadData: { hip: { symbol: 'hipModuleLoadData', sig: i('buffer', 'buffer') }, cuda: { symbol: 'cuModuleLoadData', sig: i('buffer', 'buffer') } },
  moduleGetFunction: { hip: { symbol: 'hipModuleGetFunction', sig: i('buffer', 'u64', 'buffer') }, cuda: { symbol: 'cuModuleGetFunction', sig: i('buffer', 'u64', 'buffer') } },
  moduleUnload: { hip: { symbol: 'hipModuleUnload', sig: i('u64') }, cuda: { symbol: 'cuModuleUnload', sig: i('u64') } },
  // f, grid xyz, block xyz, sharedMemBytes, stream, kernelParams (void**), extra (void**)
  launchKernel: {
    hip: { symbol: 'hipModuleLaunchKernel', sig: i('u64', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u64', 'u64', 'u64') },
    cuda: { symbol: 'cuLaunchKernel', sig: i('u64', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u64', 'u64', 'u64') },
  },
  malloc: { hip: { symbol: 'hipMalloc', sig: i('buffer', 'u64') }, cuda: { symbol: 'cuMemAlloc_v2', sig: i('buffer', 'u64') } },
  free: { hip: { symbol: 'hipFree', sig: i('u64') }, cuda: { symbol: 'cuMemFree_v2', sig: i('u64') } },
  memcpyHtoD: { hip: { symbol: 'hipMemcpyHtoD', sig: i('u64', 'buffer', 'u64') }, cuda: { symbol: 'cuMemcpyHtoD_v2', sig: i('u64', 'buffer', 'u64') } },
  memcpyDtoH: { hip: { symbol: 'hipMemcpyDtoH', sig: i('buffer', 'u64', 'u64') }, cuda: { symbol: 'cuMemcpyDtoH_v2', sig: i('buffer', 'u64', 'u64') } },
  memsetD8: { hip: { symbol: 'hipMemsetD8', sig: i('u64', 'u32', 'u64') }, cuda: { symbol: 'cuMemsetD8_v2', sig: i('u64', 'u32', 'u64') } },
  memGetInfo: { hip: { symbol: 'hipMemGetInfo', sig: i('buffer', 'buffer') }, cuda: { symbol: 'cuMemGetInfo_v2', sig: i('buffer', 'buffer') } },
  streamCreate: { hip: { symbol: 'hipStreamCreate', sig: i('buffer') }, cuda: { symbol: 'cuStreamCreate', sig: i('buffer', 'u32') } },
  streamSynchronize: { hip: { symbol: 'hipStreamSynchronize', sig: i('u64') }, cuda: { symbol: 'cuStreamSynchronize', sig: i('u64') } },
  streamDestroy: { hip: { symbol: 'hipStreamDestroy', sig: i('u64') }, cuda: { symbol: 'cuStreamDestroy_v2', sig: i('u64') } },
  eventCreate: { hip: { symbol: 'hipEventCreate', sig: i('buffer') }, cuda: { symbol: 'cuEventCreate', sig: i('buffer', 'u32') } },
  eventRecord: { hip: { symbol: 'hipEventRecord', sig: i('u64', 'u64') }, cuda: { symbol: 'cuEventRecord', sig: i('u64', 'u64') } },
  eventSynchronize: { hip: { symbol: 'hipEventSynchronize', sig: i('u64') }, cuda: { symbol: 'cuEventSynchronize', sig: i('u64') } },
  eventElapsedTime: { hip: { symbol: 'hipEventElapsedTime', sig: i('buffer', 'u64', 'u64') }, cuda: { symbol: 'cuEventElapsedTime', sig: i('buffer', 'u64', 'u64') } },
  eventDestroy: { hip: { symbol: 'hipEventDestroy', sig: i('u64') }, cuda: { symbol: 'cuEventDestroy_v2', sig: i('u64') } },
  getErrorName: {
    hip: { symbol: 'hipGetErrorName', sig: { args: ['i32'], result: 'cstr' } },
    cuda: { symbol: 'cuGetErrorName', sig: i('i32', 'buffer') },
  },
};

/** Launch-parameter markers of the packed-argument form of hipModuleLaunchKernel / cuLaunchKernel `extra`. */
export const LAUNCH_PARAM = {
  hip: { bufferPointer: 0x01n, bufferSize: 0x02n, end: 0x03n },
  cuda: { bufferPointer: 0x01n, bufferSize: 0x02n, end: 0x00n },
} as const;

/** Attribute ids used (hipDeviceAttribute_t differs from CUdevice_attribute, so each side names its own). */
export const ATTR = {
  cuda: { computeCapabilityMajor: 75, computeCapabilityMinor: 76, multiprocessorCount: 16 },
} as const;

/** Symbol table of one library, for FfiSeam.open: the required symbols, or the optional ones. */
export function symbolsOf(kind: DriverKind, optional = false): Record<string, Signature> {
  const out: Record<string, Signature> = {};
  for (const e of Object.values(API_TABLE)) {
    const s = e[kind];
    if (s && !!s.optional === optional) out[s.symbol] = s.sig;
  }
  return out;
}

export function symbolOf(kind: DriverKind, api: ApiName): string | undefined {
  return API_TABLE[api][kind]?.symbol;
}
