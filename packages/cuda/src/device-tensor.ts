import { TensorStateError, ValidationError, type DType, type DeviceTensor } from '@flashattn/core';
import type { AddonBuffer } from './addon-types.js';

/** A tensor in CUDA device memory. dispose() frees at once; the addon's finalizer frees if it is forgotten. */
export class CudaTensor implements DeviceTensor {
  readonly backend = 'cuda';
  constructor(
    readonly buffer: AddonBuffer,
    readonly dtype: DType | 'f32',
    readonly length: number,
  ) {}

  get disposed(): boolean {
    return this.buffer.disposed;
  }

  dispose(): void {
    this.buffer.dispose();
  }
}

/** The live CudaTensor behind a DeviceTensor argument, or a typed error naming the argument. */
export function liveTensor(name: string, t: DeviceTensor, dtype: DType | 'f32', length: number): CudaTensor {
  if (!(t instanceof CudaTensor)) {
    const from = (t as DeviceTensor | undefined)?.backend;
    throw new TensorStateError(`${name}: a device tensor of backend ${from ?? '(none)'} cannot be used by backend cuda`);
  }
  if (t.disposed) throw new TensorStateError(`${name}: device tensor was disposed`);
  if (t.dtype !== dtype) throw new ValidationError(`${name}.dtype`, dtype, t.dtype);
  if (t.length !== length) throw new ValidationError(`${name}.length`, `${length} elements`, t.length);
  return t;
}
