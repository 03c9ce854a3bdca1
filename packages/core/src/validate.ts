import { DTYPES, type DType, type HostArray } from './dtype.js';
import { ValidationError } from './errors.js';
import { tensorSizes, type Problem, type ProblemSpec } from './problem.js';
import type { AttentionInputs, BackwardInputs } from './backend.js';

export const MAX_HEAD_DIM = 256;

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x);
}

function needInt(field: string, x: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!isInt(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new ValidationError(field, range, x);
  }
  return x;
}

function needBool(field: string, x: unknown): boolean {
  if (x === undefined) return false;
  if (typeof x !== 'boolean') throw new ValidationError(field, 'a boolean', x);
  return x;
}

function cumulative(field: string, x: unknown, batch: number): Int32Array {
  if (!(x instanceof Int32Array) && !Array.isArray(x)) throw new ValidationError(field, 'an Int32Array or array of integers', x);
  const a = x as ArrayLike<number>;
  if (a.length !== batch + 1) throw new ValidationError(`${field}.length`, `batch + 1 = ${batch + 1}`, a.length);
  if (a[0] !== 0) throw new ValidationError(`${field}[0]`, '0', a[0]);
  for (let i = 0; i < a.length; i++) {
    if (!isInt(a[i]) || a[i]! < 0 || a[i]! > 0x7fffffff) throw new ValidationError(`${field}[${i}]`, 'a non-negative 32-bit integer', a[i]);
    if (i > 0 && a[i]! < a[i - 1]!)
      throw new ValidationError(`${field}[${i}]`, `non-decreasing offsets (>= ${field}[${i - 1}] = ${a[i - 1]})`, a[i]);
  }
  return Int32Array.from(a);
}

function dense(batch: number, s: number): Int32Array {
  const cu = new Int32Array(batch + 1);
  for (let b = 0; b <= batch; b++) cu[b] = b * s;
  return cu;
}

/** Validate and normalize a ProblemSpec. Throws ValidationError naming the field, what was expected and got. */
export function makeProblem(spec: ProblemSpec): Problem {
  if (spec === null || typeof spec !== 'object') throw new ValidationError('problem', 'an object', spec);
  const batch = needInt('batch', spec.batch, 1);
  const seqlenQ = needInt('seqlenQ', spec.seqlenQ, 0);
  const seqlenK = needInt('seqlenK', spec.seqlenK, 0);
  const nheadsQ = needInt('nheadsQ', spec.nheadsQ, 1);
  const nheadsKV = needInt('nheadsKV', spec.nheadsKV ?? nheadsQ, 1);
  if (nheadsQ % nheadsKV !== 0)
    throw new ValidationError('nheadsKV', `a divisor of nheadsQ = ${nheadsQ} (GQA/MQA)`, nheadsKV);
  const headDim = needInt('headDim', spec.headDim, 1, MAX_HEAD_DIM);
  const headDimV = needInt('headDimV', spec.headDimV ?? headDim, 1, MAX_HEAD_DIM);
  const dtype = (spec.dtype ?? 'f32') as DType;
  if (!DTYPES.includes(dtype)) throw new ValidationError('dtype', `one of ${DTYPES.join(', ')}`, spec.dtype);
  const scale = spec.scale ?? 1 / Math.sqrt(headDim);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0)
    throw new ValidationError('scale', 'a finite number > 0', spec.scale);
  const causal = needBool('causal', spec.causal);
  let left = -1;
  let right = -1;
  if (spec.window !== undefined) {
    const w = spec.window as unknown;
    if (!Array.isArray(w) || w.length !== 2) throw new ValidationError('window', '[left, right]', w);
    left = needInt('window[0]', w[0], -1);
    right = needInt('window[1]', w[1], -1);
  }
  if (causal) right = 0; // causal is the window (left, 0), as in flash-attn
  const softcap = spec.softcap ?? 0;
  if (typeof softcap !== 'number' || !Number.isFinite(softcap) || softcap < 0)
    throw new ValidationError('softcap', 'a finite number >= 0 (0 = off)', spec.softcap);
  const returnLse = needBool('returnLse', spec.returnLse);

  const hasQ = spec.cuSeqlensQ !== undefined;
  const hasK = spec.cuSeqlensK !== undefined;
  if (hasQ !== hasK) throw new ValidationError(hasQ ? 'cuSeqlensK' : 'cuSeqlensQ', 'present when the other offsets are (varlen needs both)', undefined);
  let cuQ: Int32Array;
  let cuK: Int32Array;
  if (hasQ) {
    cuQ = cumulative('cuSeqlensQ', spec.cuSeqlensQ, batch);
    cuK = cumulative('cuSeqlensK', spec.cuSeqlensK, batch);
    for (let b = 0; b < batch; b++) {
      const lq = cuQ[b + 1]! - cuQ[b]!;
      const lk = cuK[b + 1]! - cuK[b]!;
      if (lq > seqlenQ) throw new ValidationError(`cuSeqlensQ[${b + 1}]`, `a sequence length <= seqlenQ = ${seqlenQ}`, lq);
      if (lk > seqlenK) throw new ValidationError(`cuSeqlensK[${b + 1}]`, `a sequence length <= seqlenK = ${seqlenK}`, lk);
    }
  } else {
    cuQ = dense(batch, seqlenQ);
    cuK = dense(batch, seqlenK);
  }
  return Object.freeze({
    batch, seqlenQ, seqlenK, nheadsQ, nheadsKV, headDim, headDimV, dtype, scale, causal,
    window: Object.freeze([left, right]) as readonly [number, number],
    softcap, varlen: hasQ, cuSeqlensQ: cuQ, cuSeqlensK: cuK,
    totalQ: cuQ[batch]!, totalK: cuK[batch]!, returnLse,
  });
}

export function checkHostArray(field: string, a: unknown, dtype: DType, length: number): asserts a is HostArray {
  const want = dtype === 'f32' ? Float32Array : Uint16Array;
  if (!(a instanceof want)) {
    throw new ValidationError(field, `a ${want.name} (dtype ${dtype})`, ArrayBuffer.isView(a) || a == null ? a : typeof a);
  }
  if (a.length !== length) throw new ValidationError(`${field}.length`, `${length} elements`, a.length);
}

export function validateInputs(p: Problem, x: AttentionInputs): void {
  if (x === null || typeof x !== 'object') throw new ValidationError('inputs', 'an object {q, k, v}', x);
  const n = tensorSizes(p);
  checkHostArray('q', x.q, p.dtype, n.q);
  checkHostArray('k', x.k, p.dtype, n.k);
  checkHostArray('v', x.v, p.dtype, n.v);
}

export function validateBackwardInputs(p: Problem, x: BackwardInputs): void {
  validateInputs(p, x);
  const n = tensorSizes(p);
  checkHostArray('out', x.out, p.dtype, n.out);
  checkHostArray('dout', x.dout, p.dtype, n.out);
  checkHostArray('lse', x.lse, 'f32', n.lse);
}
