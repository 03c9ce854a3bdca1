import { fromFloat, type DType, type HostArray } from './dtype.js';
import { ValidationError } from './errors.js';
import { tensorSizes, type Problem, type ProblemSpec } from './problem.js';
import { Rng, freshSeed } from './random.js';
import { makeProblem } from './validate.js';

/** One conformance case, exactly the fields of `flashattn conformance --cases FILE`. */
export interface CaseSpec {
  batch: number;
  seqlenQ: number;
  seqlenK: number;
  nheadsQ: number;
  nheadsKV: number;
  headDim: number;
  headDimV?: number;
  dtype: DType;
  causal?: boolean;
  window?: [number, number];
  softcap?: number;
  scale?: number;
  /** Pack `batch` sequences of random lengths up to seqlenQ/seqlenK. */
  varlen?: boolean;
  /** Check dq, dk, dv too. */
  backward?: boolean;
  /**
   * Rows at spread magnitudes: Q's scaled by 1, 4 or 16 in runs of 8 rows (peaked softmax rows beside flat ones),
   * V's by 1, 8, 64 or 512 in runs of 16 (so 32-row blocks differ). Where a kernel keeps fewer bits than the dtype in
   * S or P·V, or scales a block by the wrong maximum, these inputs show it; plain randn can hide it.
   */
  spread?: boolean;
  /** Fixes the inputs; a fresh one is drawn when absent. */
  seed?: number;
}

const CASE_FIELDS = new Set([
  'batch', 'seqlenQ', 'seqlenK', 'nheadsQ', 'nheadsKV', 'headDim', 'headDimV', 'dtype',
  'causal', 'window', 'softcap', 'scale', 'varlen', 'backward', 'spread', 'seed',
]);

/** Check a parsed JSON case (field `where` prefixes error names, e.g. "cases[3]"). */
export function parseCase(x: unknown, where = 'case'): CaseSpec {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new ValidationError(where, 'an object', x);
  for (const k of Object.keys(x)) if (!CASE_FIELDS.has(k)) throw new ValidationError(`${where}.${k}`, `no such field (fields: ${[...CASE_FIELDS].join(', ')})`, k);
  const c = x as Record<string, unknown>;
  for (const k of ['batch', 'seqlenQ', 'seqlenK', 'nheadsQ', 'nheadsKV', 'headDim', 'dtype'])
    if (c[k] === undefined) throw new ValidationError(`${where}.${k}`, 'present (required field)', undefined);
  for (const k of ['varlen', 'backward', 'causal', 'spread'])
    if (c[k] !== undefined && typeof c[k] !== 'boolean') throw new ValidationError(`${where}.${k}`, 'a boolean', c[k]);
  if (c.seed !== undefined && (!Number.isInteger(c.seed) || (c.seed as number) < 0))
    throw new ValidationError(`${where}.seed`, 'a non-negative integer', c.seed);
  return c as unknown as CaseSpec;
}

export interface GeneratedCase {
  readonly spec: CaseSpec;
  readonly seed: number;
  readonly problem: Problem;
  readonly q: HostArray;
  readonly k: HostArray;
  readonly v: HostArray;
  /** Present when spec.backward. */
  readonly dout?: HostArray;
}

/** n standard normals rounded to dtype; with `rows`, the values of row r (rowElems each) times factor(r) first. */
function randn(rng: Rng, dtype: DType, n: number, rows?: { rowElems: number; factor: (r: number) => number }): HostArray {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  if (rows) for (let i = 0; i < n; i++) a[i] = a[i]! * rows.factor(Math.floor(i / rows.rowElems));
  return fromFloat(dtype, a);
}

/** Draw a case's problem and inputs (randn, rounded to dtype) from its seed. */
export function generateCase(spec: CaseSpec): GeneratedCase {
  const seed = spec.seed ?? freshSeed();
  const rng = new Rng(seed);
  const ps: ProblemSpec = {
    batch: spec.batch, seqlenQ: spec.seqlenQ, seqlenK: spec.seqlenK, nheadsQ: spec.nheadsQ, nheadsKV: spec.nheadsKV,
    headDim: spec.headDim, headDimV: spec.headDimV, dtype: spec.dtype, causal: spec.causal, window: spec.window,
    softcap: spec.softcap, scale: spec.scale, returnLse: true,
  };
  if (spec.varlen) {
    const cuQ = [0];
    const cuK = [0];
    for (let b = 0; b < spec.batch; b++) {
      // Lengths drawn up to the maximum; the first sequence is full length so the maximum is reached.
      const lq = b === 0 ? spec.seqlenQ : rng.int(0, spec.seqlenQ);
      const lk = b === 0 ? spec.seqlenK : rng.int(0, spec.seqlenK);
      cuQ.push(cuQ[b]! + lq);
      cuK.push(cuK[b]! + lk);
    }
    ps.cuSeqlensQ = cuQ;
    ps.cuSeqlensK = cuK;
  }
  const problem = makeProblem(ps);
  const n = tensorSizes(problem);
  const sp = spec.spread === true;
  const q = randn(rng, problem.dtype, n.q, sp ? { rowElems: problem.nheadsQ * problem.headDim, factor: (r) => 4 ** ((r >> 3) % 3) } : undefined);
  const k = randn(rng, problem.dtype, n.k);
  const v = randn(rng, problem.dtype, n.v, sp ? { rowElems: problem.nheadsKV * problem.headDimV, factor: (r) => 8 ** ((r >> 4) % 4) } : undefined);
  const dout = spec.backward ? randn(rng, problem.dtype, n.out) : undefined;
  return { spec, seed, problem, q, k, v, dout };
}

/** Short human label for a case, for matrices and logs. */
export function caseLabel(c: CaseSpec): string {
  const parts = [
    `b${c.batch}`, `${c.seqlenQ}x${c.seqlenK}`, `h${c.nheadsQ}/${c.nheadsKV}`,
    `d${c.headDim}${c.headDimV !== undefined && c.headDimV !== c.headDim ? `/${c.headDimV}` : ''}`, c.dtype,
  ];
  if (c.causal) parts.push('causal');
  if (c.window) parts.push(`win${c.window[0]},${c.window[1]}`);
  if (c.softcap) parts.push(`cap${c.softcap}`);
  if (c.varlen) parts.push('varlen');
  if (c.spread) parts.push('spread');
  if (c.backward) parts.push('bwd');
  return parts.join(' ');
}
