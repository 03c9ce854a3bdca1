import type { Backend, ForwardResult } from './backend.js';
import { roundTo, toFloat64, type DType, type HostArray } from './dtype.js';
import type { GeneratedCase } from './conformance-case.js';
import { UnsupportedProblemError } from './errors.js';
import type { Problem } from './problem.js';

/** Standard attention, supplied by the reference package (core knows no backend). */
export interface Oracle {
  /** float64 standard attention on the given (already dtype-rounded) inputs; lse is -Infinity for rows seeing no key. */
  forward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): { out: Float64Array; lse: Float64Array };
  backward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array): { dq: Float64Array; dk: Float64Array; dv: Float64Array };
  /** Standard attention with every stage's result rounded to p.dtype, as PyTorch computes it in that dtype. */
  naiveForward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): Float64Array;
  naiveBackward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array): { dq: Float64Array; dk: Float64Array; dv: Float64Array };
}

export interface TensorError {
  /** max |backend - oracle| */
  readonly err: number;
  /** max |naive_dtype - oracle| */
  readonly baseline: number;
  readonly atol: number;
  /** err must be <= bound = multiplier * baseline + atol */
  readonly bound: number;
  /** err / baseline */
  readonly ratio: number;
  readonly ok: boolean;
  /** First problem found (NaN, an unwritten element, -inf mismatch), if any. */
  readonly note?: string;
}

export type CheckStatus = 'pass' | 'fail' | 'unsupported' | 'error';

export interface CheckResult {
  readonly backend: string;
  readonly status: CheckStatus;
  readonly reason?: string;
  /** Worst err/baseline over the checked tensors. */
  readonly ratio?: number;
  readonly errors?: Readonly<Record<string, TensorError>>;
  readonly ms?: number;
}

/** Oracle answers for a case, computed once and shared by every backend checked against it. */
export interface OracleAnswers {
  readonly out: Float64Array;
  readonly lse: Float64Array;
  readonly naiveOut: Float64Array;
  readonly grads?: { dq: Float64Array; dk: Float64Array; dv: Float64Array };
  readonly naiveGrads?: { dq: Float64Array; dk: Float64Array; dv: Float64Array };
}

export function computeOracle(c: GeneratedCase, oracle: Oracle): OracleAnswers {
  const p = c.problem;
  const q = toFloat64(p.dtype, c.q);
  const k = toFloat64(p.dtype, c.k);
  const v = toFloat64(p.dtype, c.v);
  const f = oracle.forward(p, q, k, v);
  const naiveOut = oracle.naiveForward(p, q, k, v);
  if (!c.dout) return { out: f.out, lse: f.lse, naiveOut };
  const dout = toFloat64(p.dtype, c.dout);
  return {
    out: f.out, lse: f.lse, naiveOut,
    grads: oracle.backward(p, q, k, v, dout),
    naiveGrads: oracle.naiveBackward(p, q, k, v, dout),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; note?: string } {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x)) return { max: NaN, note: `element ${i} is NaN (unwritten or invalid)` };
    if (x === y) continue; // covers matching infinities
    const d = Math.abs(x - y);
    if (!Number.isFinite(d)) return { max: Infinity, note: `element ${i}: got ${x}, want ${y}` };
    if (d > m) m = d;
  }
  return { max: m };
}

/** flash-attn's atol: twice the rounding error of (ref + 0.3 - 0.3) in the dtype. */
function dtypeAtol(dtype: DType, ref: Float64Array): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    if (!Number.isFinite(r)) continue;
    const d = Math.abs(roundTo(dtype, roundTo(dtype, r + 0.3) - 0.3) - r);
    if (d > m) m = d;
  }
  return 2 * m;
}

export function judgeTensor(dtype: DType, got: Float64Array | Float32Array, ref: Float64Array, naive: Float64Array, multiplier: number): TensorError {
  if (got.length !== ref.length) {
    return { err: NaN, baseline: NaN, atol: 0, bound: 0, ratio: NaN, ok: false, note: `length ${got.length}, want ${ref.length}` };
  }
  const e = maxAbsDiff(got, ref);
  const baseline = maxAbsDiff(naive, ref).max;
  const atol = dtypeAtol(dtype, ref);
  const bound = multiplier * baseline + atol;
  const ok = !e.note && e.max <= bound;
  return { err: e.max, baseline, atol, bound, ratio: baseline > 0 ? e.max / baseline : e.max === 0 ? 0 : Infinity, ok, note: e.note };
}

/** LSE is computed in float32 by every kernel; judge it at float32 accumulation accuracy, and -inf exactly. */
export function judgeLse(got: Float32Array, ref: Float64Array): TensorError {
  let worst = 0;
  let note: string | undefined;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (Number.isNaN(g)) { note = `lse element ${i} is NaN (unwritten or invalid)`; break; }
    if (r === -Infinity || g === -Infinity) {
      if (r !== g) { note = `lse element ${i}: got ${g}, want ${r}`; break; }
      continue;
    }
    const rel = Math.abs(g - r) / Math.max(1, Math.abs(r));
    if (rel > worst) worst = rel;
  }
  const bound = 1e-4;
  return { err: worst, baseline: bound, atol: 0, bound, ratio: worst / bound, ok: !note && worst <= bound, note };
}

function decode(dtype: DType, a: HostArray): Float64Array {
  return toFloat64(dtype, a);
}

function summarize(backend: string, errors: Record<string, TensorError>, ms: number): CheckResult {
  const bad = Object.entries(errors).filter(([, e]) => !e.ok);
  const ratio = Math.max(...Object.entries(errors).filter(([n]) => n !== 'lse').map(([, e]) => e.ratio));
  if (bad.length === 0) return { backend, status: 'pass', ratio, errors, ms };
  const reason = bad
    .map(([n, e]) => (e.note ? `${n}: ${e.note}` : `${n}: error ${e.err.toExponential(2)} > bound ${e.bound.toExponential(2)} (baseline ${e.baseline.toExponential(2)})`))
    .join('; ');
  return { backend, status: 'fail', reason, ratio, errors, ms };
}

/**
 * Run one generated case on one backend and judge it against the oracle answers, by flash-attn's criterion:
 * max|out - oracle| <= 2 * max|naive_dtype - oracle| + atol (3x for dq, dk, dv).
 */
export async function checkBackend(c: GeneratedCase, answers: OracleAnswers, backend: Backend): Promise<CheckResult> {
  const p = c.problem;
  const name = backend.name;
  const avail = await backend.probe();
  if (!avail.available) return { backend: name, status: 'unsupported', reason: `unavailable: ${avail.reason}` };
  const reasons = backend.check(p);
  if (c.dout && !backend.capabilities().features.includes('backward')) reasons.push(`backward not supported by ${name}`);
  if (reasons.length) return { backend: name, status: 'unsupported', reason: reasons.join('; ') };
  const t0 = performance.now();
  try {
    const errors: Record<string, TensorError> = {};
    const f: ForwardResult = await backend.forward(p, { q: c.q, k: c.k, v: c.v });
    errors.out = judgeTensor(p.dtype, decode(p.dtype, f.out), answers.out, answers.naiveOut, 2);
    if (!f.lse) errors.lse = { err: NaN, baseline: NaN, atol: 0, bound: 0, ratio: NaN, ok: false, note: 'no lse returned though requested' };
    else errors.lse = judgeLse(f.lse, answers.lse);
    if (c.dout && answers.grads && answers.naiveGrads && f.lse) {
      const g = await backend.backward(p, { q: c.q, k: c.k, v: c.v, out: f.out, dout: c.dout, lse: f.lse });
      for (const n of ['dq', 'dk', 'dv'] as const)
        errors[n] = judgeTensor(p.dtype, decode(p.dtype, g[n]), answers.grads[n], answers.naiveGrads[n], 3);
    }
    return summarize(name, errors, performance.now() - t0);
  } catch (e) {
    if (e instanceof UnsupportedProblemError) return { backend: name, status: 'unsupported', reason: e.reasons.join('; ') };
    return { backend: name, status: 'error', reason: (e as Error)?.message ?? String(e), ms: performance.now() - t0 };
  }
}

/** Run a case on every given backend with identical inputs; the oracle is computed once. */
export async function crossCheck(c: GeneratedCase, backends: readonly Backend[], oracle: Oracle): Promise<CheckResult[]> {
  const answers = computeOracle(c, oracle);
  const out: CheckResult[] = [];
  for (const b of backends) out.push(await checkBackend(c, answers, b));
  return out;
}
