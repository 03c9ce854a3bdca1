import { TensorStateError, ValidationError, type DType, type DeviceTensor } from '@flashattn/core';
import { BACKEND } from './gpu-context.js';

/** Safety net only: a tensor that was never disposed frees its buffer when collected. */
const finalizer = new FinalizationRegistry<GPUBuffer>((b) => {
  try { b.destroy(); } catch { /* device already gone */ }
});

/**
 * Each row's max (log2 units) and 1/sum as the forward computed them (f32 only), stored in the LSE tensor's own
 * buffer after the LSE (at byte `offset`, 256-aligned, two floats per row): the backward then skips its stats pass,
 * which would recompute exactly these values. `key` names the forward kernel (tiles and options) and problem that
 * wrote them; the backward uses them only where its own stats kernel and problem would be those.
 */
export interface RowStats {
  readonly offset: number;
  readonly key: string;
}

/** A tensor resident in a GPUBuffer: f32 as floats, f16/bf16 packed two to a u32 word. */
export class WebGPUTensor implements DeviceTensor {
  readonly backend = BACKEND;
  #buffer: GPUBuffer | null;
  #rowStats: RowStats | undefined;
  /** Where dispose() returns the buffer (the engine's pool); destroyed when absent. */
  readonly #release?: (b: GPUBuffer) => void;
  constructor(buffer: GPUBuffer, readonly dtype: DType | 'f32', readonly length: number, release?: (b: GPUBuffer) => void, rowStats?: RowStats) {
    this.#buffer = buffer;
    this.#release = release;
    this.#rowStats = rowStats;
    finalizer.register(this, buffer, this);
  }
  /** The forward's row statistics (an LSE tensor from an f32 forward), while the tensor is alive. */
  get rowStats(): RowStats | undefined {
    return this.#buffer ? this.#rowStats : undefined;
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
    this.#rowStats = undefined;
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
