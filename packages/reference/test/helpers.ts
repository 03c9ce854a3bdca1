import { generateCase, toFloat64, type CaseSpec, type GeneratedCase, type HostArray, type Problem } from '@flashattn/core';

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
    if (x === y) continue;
    const d = Math.abs(x - y);
    if (d > m) m = d;
  }
  return m;
}

export function maxAbsOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function f64(p: Problem, a: HostArray): Float64Array {
  return toFloat64(p.dtype, a);
}

export function gen(spec: Partial<CaseSpec>): GeneratedCase {
  return generateCase({
    batch: 1, seqlenQ: 37, seqlenK: 53, nheadsQ: 2, nheadsKV: 2, headDim: 16, dtype: 'f32', seed: 1234, backward: true,
    ...spec,
  } as CaseSpec);
}
