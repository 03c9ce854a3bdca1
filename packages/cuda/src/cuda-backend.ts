import {
  BackendUnavailableError, UnsupportedProblemError, ValidationError, allocHost, bytesPerElement, fromFloat, tensorSizes,
  validateBackwardInputs, validateInputs,
  type AttentionInputs, type Availability, type Backend, type BackwardInputs, type BackwardResult, type Capabilities,
  type DType, type DeviceBackwardResult, type DeviceForwardResult, type DeviceTensor, type DeviceTensorOps,
  type ForwardResult, type HostArray, type Problem, type RunOptions,
} from '@flashattn/core';
import { loadAddon } from './addon-loader.js';
import { MODE_WAIT, type CudaAddon, type PoolStats } from './addon-types.js';
import { cudaReasons, CUDA_MAX_HEAD_DIM } from './check-problem.js';
import { mapped, mappedSync } from './cuda-errors.js';
import { CudaTensor, liveTensor } from './device-tensor.js';
import { launchParams } from './launch-params.js';
import { availabilityFrom } from './probe-reason.js';
import { CudaTiming } from './timing.js';

/** The cuda backend, plus what benchmarks and leak checks need beyond the Backend interface. */
export interface CudaBackend extends Backend {
  readonly device: CudaDeviceOps;
  /** GPU-side timing with CUDA events (for `flashattn bench`). Throws BackendUnavailableError when unavailable. */
  timing(): CudaTiming;
  /** cudaMemGetInfo, in bytes. */
  memInfo(): { free: number; total: number };
  /** Device memory held by tensors, the cache and internals (bytes); tensorBytes returns to 0 when all are disposed. */
  stats(): PoolStats;
  resetPeaks(): void;
}

export interface CudaDeviceOps extends DeviceTensorOps {
  /** An uninitialized device tensor (e.g. to test allocation limits). Throws DeviceOutOfMemoryError. */
  empty(dtype: DType, length: number): CudaTensor;
}

const hostArrayOf = (dtype: DType | 'f32', n: number): HostArray => allocHost(dtype === 'f32' ? 'f32' : dtype, n);

export function createCudaBackend(): CudaBackend {
  let probed: Promise<Availability> | undefined;
  let ready: CudaAddon | undefined;

  function probeNow(): Availability {
    const l = loadAddon();
    if (!('addon' in l)) return { available: false, reason: l.reason };
    let a: Availability;
    try {
      a = availabilityFrom(l.addon.probe());
    } catch (e) {
      return { available: false, reason: `probe failed: ${(e as Error)?.message ?? e}` };
    }
    if (a.available) {
      ready = l.addon;
      return { ...a, details: { ...a.details, addon: l.path } };
    }
    return a;
  }

  async function addon(): Promise<CudaAddon> {
    if (ready) return ready; // the per-call fast path: probed and available
    const a = await backend.probe();
    if (!a.available) throw new BackendUnavailableError('cuda', a.reason);
    return ready!;
  }

  function requireAccepted(p: Problem): void {
    const r = cudaReasons(p);
    if (r.length) throw new UnsupportedProblemError('cuda', r);
  }

  function alloc(a: CudaAddon, dtype: DType | 'f32', length: number): CudaTensor {
    const bytes = length * (dtype === 'f32' ? 4 : bytesPerElement(dtype));
    return new CudaTensor(mappedSync(() => new a.DeviceBuffer(bytes)), dtype, length);
  }

  /** Disposes tensors made for a call that failed (or for a host-array call that is done with them). */
  function disposeAll(ts: (DeviceTensor | undefined)[]): void {
    for (const t of ts) if (t && !t.disposed) t.dispose();
  }

  const device: CudaDeviceOps = {
    empty(dtype, length) {
      if (!ready) throw new BackendUnavailableError('cuda', 'call probe() first (or the backend is unavailable)');
      if (!Number.isSafeInteger(length) || length < 0) throw new ValidationError('length', 'a non-negative integer', length);
      return alloc(ready, dtype, length);
    },

    async upload(data, dtype) {
      const a = await addon();
      let host: HostArray;
      if (dtype === 'f32') {
        if (!(data instanceof Float32Array)) throw new ValidationError('data', 'a Float32Array (dtype f32)', data?.constructor?.name ?? data);
        host = data;
      } else if (dtype === 'f16' || dtype === 'bf16') {
        if (data instanceof Uint16Array) host = data;
        else if (data instanceof Float32Array) host = fromFloat(dtype, data);
        else throw new ValidationError('data', `a Uint16Array of ${dtype} bits or a Float32Array`, (data as object)?.constructor?.name ?? data);
      } else {
        throw new ValidationError('dtype', 'one of f32, f16, bf16', dtype);
      }
      const t = alloc(a, dtype, host.length);
      try {
        await mapped(() => t.buffer.upload(host));
      } catch (e) {
        t.dispose();
        throw e;
      }
      return t;
    },

    async download(t) {
      await addon();
      const ct = liveTensor('tensor', t, t?.dtype, t?.length);
      const host = hostArrayOf(ct.dtype, ct.length);
      await mapped(() => ct.buffer.download(host));
      return host;
    },

    async forwardDevice(p, q, k, v, opts?: RunOptions): Promise<DeviceForwardResult> {
      const a = await addon();
      requireAccepted(p);
      const n = tensorSizes(p);
      const tq = liveTensor('q', q, p.dtype, n.q);
      const tk = liveTensor('k', k, p.dtype, n.k);
      const tv = liveTensor('v', v, p.dtype, n.v);
      void opts; // forward has no nondeterminism to control
      const out = alloc(a, p.dtype, n.out);
      let lse: CudaTensor | undefined;
      try {
        lse = p.returnLse ? alloc(a, 'f32', n.lse) : undefined;
        if (p.totalQ > 0) {
          await mapped(() => a.forward(launchParams(p), tq.buffer, tk.buffer, tv.buffer, out.buffer, lse?.buffer ?? null, MODE_WAIT));
        }
      } catch (e) {
        disposeAll([out, lse]);
        throw e;
      }
      return lse ? { out, lse } : { out };
    },

    async backwardDevice(p, t, opts?: RunOptions): Promise<DeviceBackwardResult> {
      const a = await addon();
      requireAccepted(p);
      const n = tensorSizes(p);
      const q = liveTensor('q', t?.q, p.dtype, n.q);
      const k = liveTensor('k', t?.k, p.dtype, n.k);
      const v = liveTensor('v', t?.v, p.dtype, n.v);
      const out = liveTensor('out', t?.out, p.dtype, n.out);
      const dout = liveTensor('dout', t?.dout, p.dtype, n.out);
      const lse = liveTensor('lse', t?.lse, 'f32', n.lse);
      const made: CudaTensor[] = [];
      try {
        const dq = alloc(a, p.dtype, n.q);
        made.push(dq);
        const dk = alloc(a, p.dtype, n.k);
        made.push(dk);
        const dv = alloc(a, p.dtype, n.v);
        made.push(dv);
        if (p.totalQ > 0 || p.totalK > 0) {
          await mapped(() =>
            a.backward(launchParams(p), q.buffer, k.buffer, v.buffer, out.buffer, dout.buffer, lse.buffer, dq.buffer, dk.buffer, dv.buffer,
              opts?.deterministic === true, MODE_WAIT),
          );
        }
        return { dq, dk, dv };
      } catch (e) {
        disposeAll(made);
        throw e;
      }
    },
  };

  const backend: CudaBackend = {
    name: 'cuda',
    device,

    probe() {
      probed ??= Promise.resolve().then(probeNow);
      return probed;
    },

    capabilities(): Capabilities {
      return {
        dtypes: ['f16', 'bf16', 'f32'],
        features: ['causal', 'window', 'softcap', 'gqa', 'varlen', 'lse', 'backward', 'headDimV', 'deviceTensors'],
        maxHeadDim: CUDA_MAX_HEAD_DIM,
        notes: [
          'kernels: machine code for sm_80 and sm_90a, PTX for newer GPUs',
          'Hopper (sm_90): wgmma kernels for f16/bf16 (forward head dims 64/128/256, backward <= 128 and 256); elsewhere, and with deterministic: true, FA2-class mma.sync kernels; FLASHATTN_CUDA_SM90=0 turns the wgmma path off',
          'f32 inputs run through separate SIMT kernels computing in float64 (exact to the f32 criterion, not fast; see csrc/kernels/README.md)',
          'head dims must be multiples of 8',
        ],
      };
    },

    check: cudaReasons,

    async forward(p: Problem, inputs: AttentionInputs, opts?: RunOptions): Promise<ForwardResult> {
      validateInputs(p, inputs);
      await addon();
      requireAccepted(p);
      const ts: (DeviceTensor | undefined)[] = [];
      try {
        const q = await device.upload(inputs.q, p.dtype);
        ts.push(q);
        const k = await device.upload(inputs.k, p.dtype);
        ts.push(k);
        const v = await device.upload(inputs.v, p.dtype);
        ts.push(v);
        const r = await device.forwardDevice(p, q, k, v, opts);
        ts.push(r.out, r.lse);
        const out = await device.download(r.out);
        if (!r.lse) return { out };
        return { out, lse: (await device.download(r.lse)) as Float32Array };
      } finally {
        disposeAll(ts);
      }
    },

    async backward(p: Problem, inputs: BackwardInputs, opts?: RunOptions): Promise<BackwardResult> {
      validateBackwardInputs(p, inputs);
      await addon();
      requireAccepted(p);
      const ts: (DeviceTensor | undefined)[] = [];
      try {
        const up = async (x: HostArray, dtype: DType) => {
          const t = await device.upload(x, dtype);
          ts.push(t);
          return t;
        };
        const q = await up(inputs.q, p.dtype);
        const k = await up(inputs.k, p.dtype);
        const v = await up(inputs.v, p.dtype);
        const out = await up(inputs.out, p.dtype);
        const dout = await up(inputs.dout, p.dtype);
        const lse = await up(inputs.lse, 'f32');
        const g = await device.backwardDevice(p, { q, k, v, out, dout, lse }, opts);
        ts.push(g.dq, g.dk, g.dv);
        return { dq: await device.download(g.dq), dk: await device.download(g.dk), dv: await device.download(g.dv) };
      } finally {
        disposeAll(ts);
      }
    },

    timing() {
      if (!ready) throw new BackendUnavailableError('cuda', 'call probe() first (or the backend is unavailable)');
      return new CudaTiming(ready);
    },

    memInfo() {
      if (!ready) throw new BackendUnavailableError('cuda', 'call probe() first (or the backend is unavailable)');
      const a = ready;
      return mappedSync(() => a.memInfo());
    },

    stats() {
      if (!ready) throw new BackendUnavailableError('cuda', 'call probe() first (or the backend is unavailable)');
      return ready.stats();
    },

    resetPeaks() {
      ready?.resetPeaks();
    },

    async dispose() {
      ready?.emptyCache();
    },
  };
  return backend;
}
