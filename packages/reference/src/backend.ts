import {
  DTYPES, MAX_HEAD_DIM, UnsupportedProblemError, ValidationError, f16BitsToF32, bf16BitsToF32, forwardFlops, fromFloat,
  lseIndex, lseLayout, tensorSizes, validateBackwardInputs, validateInputs,
  type AttentionInputs, type Availability, type Backend, type BackwardInputs, type BackwardResult, type Capabilities,
  type DType, type DeviceTensorOps, type ForwardResult, type HostArray, type Problem,
} from '@flashattn/core';
import { hostDeviceOps } from './device.js';
import { makeKernels, type BackwardJob, type ForwardJob } from './kernels.js';
import { WorkerPool, type Job } from './worker-pool.js';
import { cpuCount } from './worker-runtime.js';

export interface ReferenceBackendOptions {
  /** Worker threads for large problems; default: the machine's logical CPUs. 0 or 1 = always inline. */
  workers?: number;
}

export interface ReferenceStats {
  /** Calls (forward or backward) computed on the calling thread. */
  inlineRuns: number;
  /** Calls split over the worker pool. */
  workerRuns: number;
  /** Workers started so far (a pool terminated when idle on Deno restarts them). */
  workersStarted: number;
  /** Why the workers were given up (the backend then computes inline), if they were. */
  workerFailure?: string;
}

/** The registered `reference` backend, with a window on how it scheduled its work. */
export interface ReferenceBackend extends Backend {
  stats(): ReferenceStats;
  /** Host memory behind the device-tensor interface. */
  readonly device: DeviceTensorOps;
  /** Terminate the worker pool now (idle workers never keep a process alive anyway). */
  dispose(): Promise<void>;
}

/**
 * Below these flop counts a call runs inline: spinning workers up (tens of ms) or even messaging warm ones costs
 * more than the work. Forward flops by flash-attn's convention; a backward counts 2.5x.
 */
const INLINE_FLOPS_COLD = 4e7;
const INLINE_FLOPS_WARM = 4e6;

const kernels = makeKernels();

/** Float32 storage of n elements, shared with workers when they will be used. */
function f32(n: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
}

/** Decode a host tensor to float32 (exact for f16/bf16); copies into shared memory for workers. */
function decode(dtype: DType, a: HostArray, shared: boolean): Float32Array {
  if (dtype === 'f32' && !shared) return a as Float32Array;
  const out = f32(a.length, shared);
  if (dtype === 'f32') out.set(a as Float32Array);
  else if (dtype === 'f16') for (let i = 0; i < a.length; i++) out[i] = f16BitsToF32(a[i]!);
  else for (let i = 0; i < a.length; i++) out[i] = bf16BitsToF32(a[i]!);
  return out;
}

/** Round float32 results to the problem's dtype, in plain (unshared) memory. */
function encode(dtype: DType, a: Float32Array): HostArray {
  if (dtype === 'f32') return a.buffer instanceof SharedArrayBuffer ? a.slice() : a;
  return fromFloat(dtype, a);
}

function poisoned(n: number, shared: boolean): Float32Array {
  return f32(n, shared).fill(NaN); // an element a kernel fails to write shows up as NaN
}

function geometry(p: Problem, b: number) {
  const qRow0 = p.cuSeqlensQ[b]!;
  const kRow0 = p.cuSeqlensK[b]!;
  return {
    nh: p.nheadsQ, nhk: p.nheadsKV, D: p.headDim, Dv: p.headDimV, scale: p.scale, softcap: p.softcap,
    left: p.window[0], right: p.window[1],
    sq: p.cuSeqlensQ[b + 1]! - qRow0, sk: p.cuSeqlensK[b + 1]! - kRow0, qRow0, kRow0,
  };
}

export function createReferenceBackend(opts: ReferenceBackendOptions = {}): ReferenceBackend {
  if (opts === null || typeof opts !== 'object') throw new ValidationError('options', 'an object { workers? }', opts);
  if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 0))
    throw new ValidationError('workers', 'a non-negative integer', opts.workers);
  const name = 'reference';
  let pool: WorkerPool | undefined;
  let poolSize: Promise<number> | undefined;
  const stats = { inlineRuns: 0, workerRuns: 0 };
  let startedBefore = 0;
  let workerFailure: string | undefined;

  const workerCount = (): Promise<number> => (poolSize ??= opts.workers !== undefined ? Promise.resolve(opts.workers) : cpuCount());

  /** The pool to use for a call of this cost and unit count, or undefined to run inline. */
  async function poolFor(flops: number, units: number): Promise<WorkerPool | undefined> {
    const n = await workerCount();
    if (n < 2 || units < 2 || workerFailure !== undefined) return undefined;
    if (flops < (pool?.warm ? INLINE_FLOPS_WARM : INLINE_FLOPS_COLD)) return undefined;
    return (pool ??= new WorkerPool(n));
  }

  async function execute(jobs: Job[], shared: WorkerPool | undefined): Promise<void> {
    if (shared) {
      try {
        await shared.run(jobs);
        stats.workerRuns++;
        return;
      } catch (e) {
        // Workers are only a speed-up: remember why they failed (stats, probe) and compute inline from here on.
        // Every job rewrites all of its outputs, so partial results of the failed run are overwritten.
        workerFailure = (e as Error)?.message ?? String(e);
        shared.terminate();
        if (pool === shared) {
          startedBefore += pool.started;
          pool = undefined;
        }
      }
    }
    stats.inlineRuns++;
    for (const j of jobs) {
      if (j.op === 'fwd') kernels.forwardRows(j.args);
      else kernels.backwardGroup(j.args);
    }
  }

  const capabilities: Capabilities = {
    dtypes: DTYPES,
    features: ['causal', 'window', 'softcap', 'gqa', 'varlen', 'lse', 'backward', 'headDimV', 'deviceTensors'],
    maxHeadDim: MAX_HEAD_DIM,
    notes: [
      'tiled online-softmax (FlashAttention Algorithm 1 forward, FA2 recomputing backward) on the CPU',
      'float32 inputs and outputs, float64 tiles and accumulators, float32 LSE; O(seqlen) extra memory',
      'device tensors are host memory (for testing device code paths)',
    ],
  };

  function check(p: Problem): string[] {
    const reasons: string[] = [];
    if (!capabilities.dtypes.includes(p.dtype)) reasons.push(`dtype ${p.dtype} not supported by ${name}`);
    if (p.headDim > capabilities.maxHeadDim) reasons.push(`headDim ${p.headDim} > ${capabilities.maxHeadDim} supported by ${name}`);
    if (p.headDimV > capabilities.maxHeadDim) reasons.push(`headDimV ${p.headDimV} > ${capabilities.maxHeadDim} supported by ${name}`);
    return reasons;
  }

  function assertAccepted(p: Problem): void {
    const reasons = check(p);
    if (reasons.length) throw new UnsupportedProblemError(name, reasons);
  }

  async function forward(p: Problem, inputs: AttentionInputs): Promise<ForwardResult> {
    validateInputs(p, inputs);
    assertAccepted(p);
    const n = tensorSizes(p);
    // Split each (sequence, head) into row chunks when there are fewer of them than a few per worker.
    const workersWanted = await workerCount();
    const units = p.batch * p.nheadsQ;
    const piecesPerUnit = Math.max(1, Math.ceil((4 * workersWanted) / units));
    const parallel = await poolFor(forwardFlops(p), units * piecesPerUnit);
    const sh = parallel !== undefined;
    const q = decode(p.dtype, inputs.q, sh);
    const k = decode(p.dtype, inputs.k, sh);
    const v = decode(p.dtype, inputs.v, sh);
    const out = poisoned(n.out, sh);
    const lse = poisoned(n.lse, sh);
    const group = p.nheadsQ / p.nheadsKV;
    const jobs: Job[] = [];
    for (let b = 0; b < p.batch; b++) {
      const g = geometry(p, b);
      if (g.sq === 0) continue;
      const chunk = sh ? Math.max(64, Math.ceil(g.sq / piecesPerUnit / 64) * 64) : g.sq;
      for (let h = 0; h < p.nheadsQ; h++) {
        for (let i0 = 0; i0 < g.sq; i0 += chunk) {
          const args: ForwardJob = {
            ...g, q, k, v, out, lse, h, hk: Math.floor(h / group), i0, i1: Math.min(g.sq, i0 + chunk),
            lseBase: lseIndex(p, b, h, 0),
          };
          jobs.push({ op: 'fwd', args });
        }
      }
    }
    await execute(jobs, parallel);
    const o = encode(p.dtype, out);
    if (!p.returnLse) return { out: o };
    return { out: o, lse: sh ? lse.slice() : lse };
  }

  async function backward(p: Problem, inputs: BackwardInputs): Promise<BackwardResult> {
    validateBackwardInputs(p, inputs);
    assertAccepted(p);
    const n = tensorSizes(p);
    const group = p.nheadsQ / p.nheadsKV;
    const groups = p.batch * p.nheadsKV;
    const workersWanted = await workerCount();
    // Few (sequence, kv head) units but GQA groups: split each group's query heads over jobs that return partial
    // dK, dV (summed here), so every worker has work.
    const splits = Math.min(group, Math.max(1, Math.ceil((2 * workersWanted) / groups)));
    const parallel = await poolFor(2.5 * forwardFlops(p), groups * splits);
    const sh = parallel !== undefined;
    const share = sh ? splits : 1;
    const dt = p.dtype;
    const q = decode(dt, inputs.q, sh);
    const k = decode(dt, inputs.k, sh);
    const v = decode(dt, inputs.v, sh);
    const out = decode(dt, inputs.out, sh);
    const dout = decode(dt, inputs.dout, sh);
    const lse = decode('f32', inputs.lse, sh);
    const dq = poisoned(n.q, sh);
    const dk = poisoned(n.k, sh);
    const dv = poisoned(n.v, sh);
    const lseHeadStride = lseLayout(p).headStride;
    const D = p.headDim;
    const Dv = p.headDimV;
    // Partial dK, dV of split groups: per (sequence, kv head, share), sk x (D + Dv) float64.
    const part = share > 1 ? new Float64Array(new SharedArrayBuffer(share * p.totalK * p.nheadsKV * (D + Dv) * 8)) : undefined;
    const partAt = (b: number, hk: number, s: number) => ((p.cuSeqlensK[b]! * p.nheadsKV + hk * (p.cuSeqlensK[b + 1]! - p.cuSeqlensK[b]!)) * share + s * (p.cuSeqlensK[b + 1]! - p.cuSeqlensK[b]!)) * (D + Dv);
    const jobs: Job[] = [];
    for (let b = 0; b < p.batch; b++) {
      const g = geometry(p, b);
      if (g.sq === 0 && g.sk === 0) continue;
      for (let hk = 0; hk < p.nheadsKV; hk++) {
        for (let s = 0; s < share; s++) {
          const args: BackwardJob = {
            ...g, q, k, v, out, dout, lse, dq, dk, dv, hk, lseBase: lseIndex(p, b, 0, 0), lseHeadStride,
            refineLse: dt === 'f32',
            g0: Math.floor((s * group) / share), g1: Math.floor(((s + 1) * group) / share),
            part, partOffset: part ? partAt(b, hk, s) : 0,
          };
          jobs.push({ op: 'bwd', args });
        }
      }
    }
    await execute(jobs, parallel);
    if (part) {
      for (let b = 0; b < p.batch; b++) {
        const kRow0 = p.cuSeqlensK[b]!;
        const sk = p.cuSeqlensK[b + 1]! - kRow0;
        for (let hk = 0; hk < p.nheadsKV; hk++) {
          for (let j = 0; j < sk; j++) {
            const ko = ((kRow0 + j) * p.nheadsKV + hk) * D;
            const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
            for (let d = 0; d < D; d++) {
              let x = 0;
              for (let s = 0; s < share; s++) x += part[partAt(b, hk, s) + j * D + d]!;
              dk[ko + d] = x;
            }
            for (let d = 0; d < Dv; d++) {
              let x = 0;
              for (let s = 0; s < share; s++) x += part[partAt(b, hk, s) + sk * D + j * Dv + d]!;
              dv[vo + d] = x;
            }
          }
        }
      }
    }
    return { dq: encode(dt, dq), dk: encode(dt, dk), dv: encode(dt, dv) };
  }

  const backend: ReferenceBackend = {
    name,
    async probe(): Promise<Availability> {
      const n = await workerCount();
      const threads = n >= 2 && workerFailure === undefined ? `${n} worker threads` : 'inline';
      return {
        available: true,
        device: `CPU (JavaScript, ${threads})`,
        details: { workers: n, ...(workerFailure !== undefined ? { workerFailure } : {}) },
      };
    },
    capabilities: () => capabilities,
    check,
    forward,
    backward,
    device: undefined as unknown as DeviceTensorOps, // set below: the ops call back into this backend
    async dispose(): Promise<void> {
      if (pool) {
        pool.terminate();
        startedBefore += pool.started;
        pool = undefined;
      }
    },
    stats: () => ({
      ...stats,
      workersStarted: startedBefore + (pool?.started ?? 0),
      ...(workerFailure !== undefined ? { workerFailure } : {}),
    }),
  };
  (backend as { device: DeviceTensorOps }).device = hostDeviceOps(backend);
  return backend;
}
