import {
  BackendUnavailableError, UnsupportedProblemError, ValidationError, tensorSizes, validateBackwardInputs, validateInputs,
  type Availability, type Backend, type Capabilities, type DType, type DeviceTensor, type DeviceTensorOps, type HostArray, type Problem,
} from '@flashattn/core';
import { own, WebGPUTensor } from './device-tensor.js';
import { Engine } from './engine.js';
import { BACKEND, envVar, openContext, tensorCoresMode, type GpuContext, type GpuLimits, type TensorCoresMode } from './gpu-context.js';
import { checkTileOptions, type TileOverride } from './tiles.js';

export interface WebGPUBackendOptions {
  /** Force tile shapes (for tuning); ignored where they do not fit. Also read from FLASHATTN_WEBGPU_TILES (JSON). */
  readonly tiles?: TileOverride;
  /** Use at most this many bytes per storage binding (below the adapter's limit): exercises the splitting. */
  readonly maxBindingBytes?: number;
  /**
   * Size of the caching buffer pool in MiB (default 2048; 0 turns it off). Also read from FLASHATTN_WEBGPU_POOL_MB.
   * Not a number >= 0 is a ValidationError naming the option or the variable.
   */
  readonly poolMB?: number;
  /**
   * The tensor-core forward (f16 subgroup matrices, f32 through hi/lo splits): 'auto' (the default; also
   * FLASHATTN_WEBGPU_TENSOR_CORES unset or 'auto') on NVIDIA adapters that have the features, except f32 forwards
   * that return the LSE; true wherever the adapter has them, for every forward; false never (also '0').
   * The backward is the SIMT one either way. After a tensor-core f32 forward it recomputes the row statistics, which
   * the SIMT forward would have saved for it: that costs more than the tensor cores save (H100 4k f32 forward+backward
   * 3-7% slower; forward alone 1.6-1.8x faster), hence 'auto''s exception (tensorCoresMode).
   */
  readonly tensorCores?: boolean | 'auto';
}

const DEFAULT_POOL_MB = 2048;

/** The pool size in bytes from the option or the environment; a typed error for anything but a size >= 0. */
function poolBytes(opt: number | undefined): number {
  const env = envVar('FLASHATTN_WEBGPU_POOL_MB');
  const raw: unknown = opt ?? env;
  const mb = raw === undefined ? DEFAULT_POOL_MB : typeof raw === 'number' ? raw : String(raw).trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(mb) || mb < 0)
    throw new ValidationError(opt !== undefined ? 'poolMB' : 'FLASHATTN_WEBGPU_POOL_MB', 'a size in MiB >= 0 (0 turns the buffer pool off)', raw);
  return Math.floor(mb * 2 ** 20);
}

/** The limits WebGPU guarantees everywhere: used by check() before probe() has opened a device. */
const DEFAULT_LIMITS: GpuLimits = {
  maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456, maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupsPerDimension: 65535,
  minStorageBufferOffsetAlignment: 256, minUniformBufferOffsetAlignment: 256,
};

export class WebGPUBackend implements Backend {
  readonly name = BACKEND;
  #opened: Promise<{ engine: Engine } | { reason: string }> | undefined;
  #engine: Engine | undefined;
  readonly #override: TileOverride | undefined;
  readonly #maxBinding: number | undefined;
  readonly #poolBytes: number;
  readonly #tc: TensorCoresMode;

  constructor(opts: WebGPUBackendOptions = {}) {
    const mb = opts.maxBindingBytes;
    if (mb !== undefined && !(Number.isInteger(mb) && mb > 0 && mb % 4 === 0))
      throw new ValidationError('maxBindingBytes', 'a positive whole number of bytes, a multiple of 4', mb);
    this.#maxBinding = mb;
    this.#poolBytes = poolBytes(opts.poolMB);
    this.#tc = tensorCoresMode(opts.tensorCores); // a bad option or FLASHATTN_WEBGPU_TENSOR_CORES fails here, typed
    let ov = opts.tiles;
    const env = envVar('FLASHATTN_WEBGPU_TILES');
    if (!ov && env) {
      try {
        ov = JSON.parse(env) as TileOverride;
      } catch {
        throw new ValidationError('FLASHATTN_WEBGPU_TILES', 'JSON of a tile override, e.g. {"fwd":[48,32,3,2,false]}', env);
      }
    }
    if (ov) checkTileOptions(ov, opts.tiles ? 'tiles' : 'FLASHATTN_WEBGPU_TILES');
    this.#override = ov;
  }

  #open(): Promise<{ engine: Engine } | { reason: string }> {
    this.#opened ??= openContext(this.#tc)
      .then((r) => {
        if ('reason' in r) return r;
        const ctx = this.#maxBinding === undefined ? r.ctx
          : Object.assign(r.ctx, { limits: { ...r.ctx.limits, maxStorageBufferBindingSize: Math.min(r.ctx.limits.maxStorageBufferBindingSize, this.#maxBinding) } });
        this.#engine = new Engine(ctx, this.#override, this.#poolBytes);
        return { engine: this.#engine };
      })
      .catch((e: unknown) => ({ reason: `WebGPU failed to start: ${(e as Error)?.message ?? e}` }));
    return this.#opened;
  }

  async probe(): Promise<Availability> {
    const r = await this.#open();
    if ('reason' in r) return { available: false, reason: r.reason };
    const c: GpuContext = r.engine.ctx;
    if (c.lost !== undefined) return { available: false, reason: `the WebGPU device was lost: ${c.lost}` };
    return {
      available: true,
      device: c.description,
      details: { ...c.limits, subgroups: c.subgroupMinSize > 0 ? `min size ${c.subgroupMinSize}` : 'none', timestampQuery: c.timestamps, tensorCores: c.tensorCores ? `f16 subgroup matrices (tensor-core forward${c.tensorCoresAuto ? '; auto: not for f32 forwards that return the LSE' : ''})` : `off: ${c.tensorCoresReason}` },
    };
  }

  capabilities(): Capabilities {
    return {
      dtypes: ['f32', 'f16', 'bf16'],
      features: ['causal', 'window', 'softcap', 'gqa', 'varlen', 'lse', 'backward', 'headDimV', 'deviceTensors'],
      maxHeadDim: 256,
      notes: [
        'f32 accumulation; f16/bf16 converted at load from packed 16-bit storage (no shader-f16 needed)',
        'subgroup shuffles for row reductions where the adapter offers subgroups',
        'problems split across maxStorageBufferBindingSize by whole sequences',
      ],
    };
  }

  check(p: Problem): string[] {
    const e = this.#engine;
    if (!e) {
      // Not probed yet: judge with the limits every WebGPU device has; forward() re-checks with the real ones.
      const eng = new Engine({ limits: DEFAULT_LIMITS, subgroupMinSize: 0, timestamps: false, tensorCores: false, description: '', device: undefined as unknown as GPUDevice }, this.#override);
      const plan = eng.forwardPlan(p);
      return Array.isArray(plan) ? plan.map((s) => `${s} (with WebGPU's default limits; probe() first for this adapter's)`) : [];
    }
    const plan = e.forwardPlan(p);
    return Array.isArray(plan) ? plan : [];
  }

  async #ready(): Promise<Engine> {
    const r = await this.#open();
    if ('reason' in r) throw new BackendUnavailableError(BACKEND, r.reason);
    return r.engine;
  }

  /** The engine (for benchmarks: profiling with timestamp queries, last GPU time). */
  async engine(): Promise<Engine> {
    return this.#ready();
  }

  async forward(p: Problem, inputs: { q: HostArray; k: HostArray; v: HostArray }) {
    validateInputs(p, inputs);
    const e = await this.#ready();
    const plan = e.forwardPlan(p);
    if (Array.isArray(plan)) throw new UnsupportedProblemError(BACKEND, plan);
    const held: WebGPUTensor[] = [];
    try {
      const q = await e.upload(inputs.q, p.dtype); held.push(q);
      const k = await e.upload(inputs.k, p.dtype); held.push(k);
      const v = await e.upload(inputs.v, p.dtype); held.push(v);
      const r = await e.forward(p, plan, q, k, v);
      held.push(r.out, r.lse);
      const out = await e.download(r.out);
      if (!p.returnLse) return { out };
      return { out, lse: (await e.download(r.lse)) as Float32Array };
    } finally {
      for (const t of held) t.dispose();
    }
  }

  async backward(p: Problem, inputs: { q: HostArray; k: HostArray; v: HostArray; out: HostArray; dout: HostArray; lse: Float32Array }) {
    validateBackwardInputs(p, inputs);
    const e = await this.#ready();
    const plan = e.backwardPlan(p);
    if (Array.isArray(plan)) throw new UnsupportedProblemError(BACKEND, plan);
    const held: WebGPUTensor[] = [];
    try {
      const up = async (a: HostArray, dt: DType) => { const t = await e.upload(a, dt); held.push(t); return t; };
      const t = {
        q: await up(inputs.q, p.dtype), k: await up(inputs.k, p.dtype), v: await up(inputs.v, p.dtype),
        out: await up(inputs.out, p.dtype), dout: await up(inputs.dout, p.dtype), lse: await up(inputs.lse, 'f32'),
      };
      const g = await e.backward(p, plan, t);
      held.push(g.dq, g.dk, g.dv);
      return { dq: await e.download(g.dq), dk: await e.download(g.dk), dv: await e.download(g.dv) };
    } finally {
      for (const t of held) t.dispose();
    }
  }

  readonly device: DeviceTensorOps = {
    upload: async (data, dtype) => {
      const e = await this.#ready();
      const want = dtype === 'f32' ? Float32Array : Uint16Array;
      if (!(data instanceof want)) {
        throw new ValidationError('data', `a ${want.name} (dtype ${dtype})`, data);
      }
      return e.upload(data, dtype);
    },
    download: async (t: DeviceTensor) => {
      const e = await this.#ready();
      return e.download(own(t, 'tensor', t.dtype, t.length));
    },
    forwardDevice: async (p, q, k, v) => {
      const e = await this.#ready();
      const n = tensorSizes(p);
      const tq = own(q, 'q', p.dtype, n.q), tk = own(k, 'k', p.dtype, n.k), tv = own(v, 'v', p.dtype, n.v);
      const plan = e.forwardPlan(p);
      if (Array.isArray(plan)) throw new UnsupportedProblemError(BACKEND, plan);
      const r = await e.forward(p, plan, tq, tk, tv);
      if (p.returnLse) return r;
      r.lse.dispose();
      return { out: r.out };
    },
    backwardDevice: async (p, t) => {
      const e = await this.#ready();
      const n = tensorSizes(p);
      const x = {
        q: own(t.q, 'q', p.dtype, n.q), k: own(t.k, 'k', p.dtype, n.k), v: own(t.v, 'v', p.dtype, n.v),
        out: own(t.out, 'out', p.dtype, n.out), dout: own(t.dout, 'dout', p.dtype, n.out), lse: own(t.lse, 'lse', 'f32', n.lse),
      };
      const plan = e.backwardPlan(p);
      if (Array.isArray(plan)) throw new UnsupportedProblemError(BACKEND, plan);
      return e.backward(p, plan, x);
    },
  };

  async dispose(): Promise<void> {
    const r = this.#opened ? await this.#opened : undefined;
    if (r && 'engine' in r) {
      r.engine.pool.trim();
      r.engine.ctx.device.destroy();
    }
    this.#opened = undefined;
    this.#engine = undefined;
  }
}

export function createWebGPUBackend(opts?: WebGPUBackendOptions): WebGPUBackend {
  return new WebGPUBackend(opts);
}
