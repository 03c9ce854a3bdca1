/**
 * Packs kernel arguments into the parameter block the compiler expects (C layout: each argument at the next
 * offset aligned to its own size). Same layout for AMDGPU kernargs and CUDA parameter buffers, so one packer
 * serves hipModuleLaunchKernel and cuLaunchKernel.
 */
export class KernelArgs {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #size = 0;
  readonly layout: { kind: 'ptr' | 'i32' | 'f32'; offset: number }[] = [];

  #reserve(align: number, size: number): number {
    const off = Math.ceil(this.#size / align) * align;
    if (off + size > this.#bytes.length) {
      const b = new Uint8Array(Math.max(this.#bytes.length * 2, off + size));
      b.set(this.#bytes);
      this.#bytes = b;
      this.#view = new DataView(b.buffer);
    }
    this.#size = off + size;
    return off;
  }

  /** A device pointer (64-bit). */
  ptr(p: bigint): this {
    const o = this.#reserve(8, 8);
    this.#view.setBigUint64(o, BigInt.asUintN(64, p), true);
    this.layout.push({ kind: 'ptr', offset: o });
    return this;
  }

  i32(x: number): this {
    if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff) throw new RangeError(`kernel argument ${x} is not a 32-bit integer`);
    const o = this.#reserve(4, 4);
    this.#view.setInt32(o, x, true);
    this.layout.push({ kind: 'i32', offset: o });
    return this;
  }

  f32(x: number): this {
    const o = this.#reserve(4, 4);
    this.#view.setFloat32(o, x, true);
    this.layout.push({ kind: 'f32', offset: o });
    return this;
  }

  get size(): number {
    return this.#size;
  }

  bytes(): Uint8Array {
    return this.#bytes.slice(0, this.#size);
  }
}
