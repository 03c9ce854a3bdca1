/** Device memory owned by the rocm backend; a FinalizationRegistry frees forgotten tensors as a safety net. */
import { TensorStateError, type DeviceTensor, type DType } from '@flashattn/core';
import type { KernelDriver } from './gpu/driver.js';

const finalizer = new FinalizationRegistry<{ driver: KernelDriver; ptr: bigint }>((h) => {
  try { h.driver.free(h.ptr); } catch { /* the device may be gone at exit */ }
});

let liveBytes = 0;
let liveCount = 0;

/** Device memory held by rocm tensors in this process right now (what a leak check compares). */
export function liveDeviceMemory(): { bytes: number; tensors: number } {
  return { bytes: liveBytes, tensors: liveCount };
}

export class RocmTensor implements DeviceTensor {
  readonly backend = 'rocm';
  #ptr: bigint;
  #disposed = false;

  constructor(
    private readonly driver: KernelDriver,
    readonly dtype: DType | 'f32',
    readonly length: number,
    readonly bytes: number,
  ) {
    this.#ptr = bytes > 0 ? driver.malloc(bytes) : 0n;
    if (this.#ptr) finalizer.register(this, { driver, ptr: this.#ptr }, this);
    liveBytes += bytes;
    liveCount++;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The device address; throws TensorStateError after dispose(). */
  get ptr(): bigint {
    if (this.#disposed) throw new TensorStateError(`rocm tensor (${this.dtype}, ${this.length} elements) used after dispose()`);
    return this.#ptr;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    liveBytes -= this.bytes;
    liveCount--;
    if (this.#ptr) {
      finalizer.unregister(this);
      this.driver.free(this.#ptr);
    }
  }
}
