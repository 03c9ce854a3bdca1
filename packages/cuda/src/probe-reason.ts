import type { Availability } from '@flashattn/core';
import type { AddonProbe } from './addon-types.js';

/** 12080 -> "12.8" (CUDA's version encoding). */
export function cudaVersionString(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

export const MIN_COMPUTE_CAPABILITY = 80;

/** Turns what the addon's probe() found into an Availability with a reason a person can act on. */
export function availabilityFrom(p: AddonProbe): Availability {
  const runtime = cudaVersionString(p.runtimeVersion);
  if (!p.ok) {
    switch (p.code) {
      case 'cudaErrorInsufficientDriver':
        return p.driverVersion === 0
          ? { available: false, reason: 'no CUDA driver (libcuda.so.1 not found: install the NVIDIA driver)' }
          : { available: false, reason: `CUDA driver too old: it supports CUDA ${cudaVersionString(p.driverVersion)}, the addon needs CUDA ${runtime} (update the NVIDIA driver)` };
      case 'cudaErrorNoDevice':
        return { available: false, reason: `no CUDA device (driver for CUDA ${cudaVersionString(p.driverVersion)} found, but no GPU is visible; check CUDA_VISIBLE_DEVICES)` };
      default:
        return { available: false, reason: `CUDA initialization failed: ${p.code}: ${p.message}` };
    }
  }
  const cc = (p.major ?? 0) * 10 + (p.minor ?? 0);
  if (cc < MIN_COMPUTE_CAPABILITY)
    return { available: false, reason: `${p.name} has compute capability ${p.major}.${p.minor}; the cuda backend needs 8.0 or newer (Ampere+)` };
  if (!p.kernelsLinked)
    return { available: false, reason: 'addon built without the CUDA kernels (packages/cuda/csrc/kernels/sources.txt missing or empty at build time)' };
  return {
    available: true,
    device: `${p.name} (sm_${cc}), driver CUDA ${cudaVersionString(p.driverVersion)}, runtime ${runtime}`,
    details: {
      name: p.name, computeCapability: `${p.major}.${p.minor}`, driverVersion: cudaVersionString(p.driverVersion),
      runtimeVersion: runtime, totalMemory: p.totalMemory, multiProcessors: p.multiProcessors, deviceCount: p.deviceCount,
    },
  };
}
