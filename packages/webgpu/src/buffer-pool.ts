/**
 * A caching allocator for storage buffers, as PyTorch's CUDA allocator is: a buffer (keyed by size and usage) released by a finished call or a
 * disposed tensor is kept for the next request of the same size instead of destroyed. Creating a large GPUBuffer is
 * slow (allocation plus Dawn's lazy zero-fill: ~110 ms for 128 MiB on lavapipe, measured), and a call that allocates
 * its outputs afresh pays it every time. Reuse is safe without waiting: WebGPU orders a later submission's use of a
 * buffer after every earlier one, and every output is poisoned (NaN fill) before a kernel writes it.
 * Only buffers of calls that succeeded come back here (a failed call's may be invalid, e.g. after out-of-memory).
 */
export class BufferPool {
  readonly #free = new Map<string, GPUBuffer[]>();
  /** Oldest first, for eviction past the cap. */
  readonly #order: GPUBuffer[] = [];
  #cached = 0;

  constructor(readonly device: GPUDevice, readonly capBytes: number) {}

  /** Bytes held for reuse (not in use by any tensor or call). */
  get cachedBytes(): number {
    return this.#cached;
  }

  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const b = this.#free.get(`${usage}:${bytes}`)?.pop();
    if (b) {
      this.#order.splice(this.#order.indexOf(b), 1);
      this.#cached -= bytes;
      b.label = label;
      return b;
    }
    return this.device.createBuffer({ size: bytes, usage, label });
  }

  /** Keep `b` for reuse (or destroy it when it alone exceeds the cap); evicts the oldest past the cap. */
  release(b: GPUBuffer): void {
    if (b.size > this.capBytes) {
      b.destroy();
      return;
    }
    const key = `${b.usage}:${b.size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, (list = []));
    list.push(b);
    this.#order.push(b);
    this.#cached += b.size;
    while (this.#cached > this.capBytes) {
      const old = this.#order.shift()!;
      const l = this.#free.get(`${old.usage}:${old.size}`)!;
      l.splice(l.indexOf(old), 1);
      this.#cached -= old.size;
      old.destroy();
    }
  }

  /** Destroy every cached buffer (on out-of-memory, so that a retry has the memory; and on dispose). */
  trim(): void {
    for (const b of this.#order) b.destroy();
    this.#order.length = 0;
    this.#free.clear();
    this.#cached = 0;
  }
}
