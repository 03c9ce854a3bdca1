import { TensorStateError, ValidationError, type DType, type DeviceTensor } from '@flashattn/core';
import { BACKEND } from './gpu-context.js';

/** Safety net only: a tensor that was never disposed frees its buffer when collected. */
const finalizer = new FinalizationRegistry<GPUBuffer>((b) => {
  try { b.destroy(); } catch { /* device already gone */ }
});

/** A tensor resident in a GPUBuffer: f32 as floats, f16/bf16 packed two to a u32 word. */
export class WebGPUTensor implements DeviceTensor {
  readonly backend = BACKEND;
  #buffer: GPUBuffer | null;
  /** Where dispose() returns the buffer (the engine's pool); destroyed when absent. */
  readonly #release?: (b: GPUBuffer) => void;
  constructor(buffer: GPUBuffer, readonly dtype: DType | 'f32', readonly length: number, release?: (b: GPUBuffer) => void) {
    this.#buffer = buffer;
    this.#release = release;
    finalizer.register(this, buffer, this);
  }
  get disposed(): boolean {
    return this.#buffer === null;
  }
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new TensorStateError(`webgpu tensor (${this.dtype}, ${this.length} elements) used after dispose()`);
    return this.#buffer;
  }
  dispose(): void {
    if (!this.#buffer) return;
    finalizer.unregister(this);
    if (this.#release) this.#release(this.#buffer);
    else this.#buffer.destroy();
    this.#buffer = null;
  }
}

/** The tensor as ours, alive, of the wanted dtype and length — or a TensorStateError naming the argument. */
export function own(t: DeviceTensor, name: string, dtype: DType | 'f32', length: number): WebGPUTensor {
  if (!(t instanceof WebGPUTensor)) throw new TensorStateError(`${name}: a tensor of backend ${(t as DeviceTensor)?.backend ?? typeof t}, not webgpu`);
  if (t.disposed) throw new TensorStateError(`${name}: used after dispose()`);
  if (t.dtype !== dtype) throw new ValidationError(`${name}.dtype`, dtype, t.dtype);
  if (t.length !== length) throw new ValidationError(`${name}.length`, `${length} elements`, t.length);
  return t;
}
