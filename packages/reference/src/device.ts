import {
  TensorStateError, ValidationError, fromFloat,
  type AttentionInputs, type Backend, type BackwardInputs, type DType, type DeviceBackwardResult,
  type DeviceForwardResult, type DeviceTensor, type DeviceTensorOps, type HostArray, type Problem, type RunOptions,
} from '@flashattn/core';

/**
 * "Device" tensors of the reference backend: host memory behind the DeviceTensor interface, so code written for
 * device-resident tensors (upload once, run many, download, dispose) can be tested without a GPU.
 */
export class HostDeviceTensor implements DeviceTensor {
  readonly backend: string;
  readonly dtype: DType | 'f32';
  readonly length: number;
  #data: HostArray | undefined;

  constructor(backend: string, dtype: DType | 'f32', data: HostArray) {
    this.backend = backend;
    this.dtype = dtype;
    this.length = data.length;
    this.#data = data;
  }

  get disposed(): boolean {
    return this.#data === undefined;
  }

  dispose(): void {
    this.#data = undefined;
  }

  /** The storage; throws TensorStateError after dispose(). */
  data(what: string): HostArray {
    if (this.#data === undefined) throw new TensorStateError(`${what}: tensor used after dispose()`);
    return this.#data;
  }
}

type HostOps = Pick<Backend, 'name' | 'forward' | 'backward'>;

function own(backend: string, t: DeviceTensor, what: string, dtype?: DType | 'f32'): HostArray {
  if (!(t instanceof HostDeviceTensor) || t.backend !== backend)
    throw new TensorStateError(`${what}: tensor belongs to backend ${JSON.stringify(t?.backend)}, not ${JSON.stringify(backend)}`);
  const data = t.data(what);
  if (dtype !== undefined && t.dtype !== dtype) throw new ValidationError(`${what}.dtype`, dtype, t.dtype);
  return data;
}

export function hostDeviceOps(b: HostOps): DeviceTensorOps {
  const wrap = (dtype: DType | 'f32', a: HostArray) => new HostDeviceTensor(b.name, dtype, a);
  return {
    async upload(data: HostArray | Float32Array, dtype: DType): Promise<DeviceTensor> {
      if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new ValidationError('dtype', 'one of f32, f16, bf16', dtype);
      if (data instanceof Float32Array) return wrap(dtype, dtype === 'f32' ? data.slice() : fromFloat(dtype, data));
      if (data instanceof Uint16Array && dtype !== 'f32') return wrap(dtype, data.slice());
      const got = ArrayBuffer.isView(data) ? (data as object).constructor.name : typeof data;
      throw new ValidationError('data', dtype === 'f32' ? 'a Float32Array' : `a Float32Array or Uint16Array (dtype ${dtype})`, got);
    },
    async download(t: DeviceTensor): Promise<HostArray> {
      return own(b.name, t, 'download').slice();
    },
    async forwardDevice(p: Problem, q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, opts?: RunOptions): Promise<DeviceForwardResult> {
      const inputs: AttentionInputs = { q: own(b.name, q, 'q', p.dtype), k: own(b.name, k, 'k', p.dtype), v: own(b.name, v, 'v', p.dtype) };
      const r = await b.forward(p, inputs, opts);
      return { out: wrap(p.dtype, r.out), ...(r.lse ? { lse: wrap('f32', r.lse) } : {}) };
    },
    async backwardDevice(p, t, opts?: RunOptions): Promise<DeviceBackwardResult> {
      const lse = own(b.name, t.lse, 'lse', 'f32') as Float32Array;
      const dt = p.dtype;
      const inputs: BackwardInputs = {
        q: own(b.name, t.q, 'q', dt), k: own(b.name, t.k, 'k', dt), v: own(b.name, t.v, 'v', dt),
        out: own(b.name, t.out, 'out', dt), dout: own(b.name, t.dout, 'dout', dt), lse,
      };
      const r = await b.backward(p, inputs, opts);
      return { dq: wrap(p.dtype, r.dq), dk: wrap(p.dtype, r.dk), dv: wrap(p.dtype, r.dv) };
    },
  };
}
