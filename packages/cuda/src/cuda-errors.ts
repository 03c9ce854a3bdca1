import { DeviceError, DeviceOutOfMemoryError, FlashAttnError, TensorStateError, UnsupportedProblemError } from '@flashattn/core';

/** Addon errors carry `code`: a CUDA error name ("cudaErrorMemoryAllocation") or one of the addon's ERR_* codes. */
export function toFlashAttnError(e: unknown): Error {
  if (e instanceof FlashAttnError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = (e as Error)?.message ?? String(e);
  if (typeof code !== 'string') return e instanceof Error ? e : new DeviceError('cuda', 'ERR_UNKNOWN', message);
  switch (code) {
    case 'cudaErrorMemoryAllocation':
      return new DeviceOutOfMemoryError('cuda', code, message);
    case 'ERR_UNSUPPORTED':
      return new UnsupportedProblemError('cuda', [`${message} (cuda kernels)`]);
    case 'ERR_DISPOSED':
      return new TensorStateError(message);
    default:
      return new DeviceError('cuda', code, message);
  }
}

/** Runs an addon call, rethrowing its errors as the library's typed errors. */
export async function mapped<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw toFlashAttnError(e);
  }
}

export function mappedSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toFlashAttnError(e);
  }
}
