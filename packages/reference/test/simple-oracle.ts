import { keyRange, lseIndex, roundTo, type DType, type Problem } from '@flashattn/core';

/**
 * The first, plainest oracle: standard attention one query row and one key at a time, in float64. Kept in the
 * tests as an independent check of the blocked oracle in src/oracle.ts (same maths, different code).
 */

/** Iterate (b, h, kv head, i, global row, key range) for every query row. */
function forEachRow(
  p: Problem,
  fn: (b: number, h: number, hk: number, i: number, row: number, kRow0: number, lo: number, hi: number, sq: number) => void,
): void {
  const group = p.nheadsQ / p.nheadsKV;
  for (let b = 0; b < p.batch; b++) {
    const qRow0 = p.cuSeqlensQ[b]!;
    const kRow0 = p.cuSeqlensK[b]!;
    const sq = p.cuSeqlensQ[b + 1]! - qRow0;
    const sk = p.cuSeqlensK[b + 1]! - kRow0;
    for (let h = 0; h < p.nheadsQ; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < sq; i++) {
        const [lo, hi] = keyRange(p, i, sq, sk);
        fn(b, h, hk, i, qRow0 + i, kRow0, lo, hi, sq);
      }
    }
  }
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  const n4 = n & ~3;
  for (; d < n4; d += 4) {
    s0 += a[ao + d]! * b[bo + d]!;
    s1 += a[ao + d + 1]! * b[bo + d + 1]!;
    s2 += a[ao + d + 2]! * b[bo + d + 2]!;
    s3 += a[ao + d + 3]! * b[bo + d + 3]!;
  }
  for (; d < n; d++) s0 += a[ao + d]! * b[bo + d]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Scores of one row into s[lo..hi) and their softmax into pr[lo..hi), in float64; returns the LSE.
 * capT receives tanh(raw / softcap) when softcap > 0 (for the backward).
 */
function rowSoftmax(
  p: Problem, q: Float64Array, k: Float64Array, qo: number, kRow0: number, hk: number, lo: number, hi: number,
  pr: Float64Array, capT: Float64Array,
): number {
  const D = p.headDim;
  let mx = -Infinity;
  for (let j = lo; j < hi; j++) {
    let s = p.scale * dot(q, qo, k, ((kRow0 + j) * p.nheadsKV + hk) * D, D);
    if (p.softcap > 0) {
      const t = Math.tanh(s / p.softcap);
      capT[j] = t;
      s = p.softcap * t;
    }
    pr[j] = s;
    if (s > mx) mx = s;
  }
  let sum = 0;
  for (let j = lo; j < hi; j++) {
    const e = Math.exp(pr[j]! - mx);
    pr[j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = lo; j < hi; j++) pr[j]! *= inv;
  return mx + Math.log(sum);
}

export function oracleForward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): { out: Float64Array; lse: Float64Array } {
  const Dv = p.headDimV;
  const out = new Float64Array(p.totalQ * p.nheadsQ * Dv);
  const lse = new Float64Array(p.totalQ * p.nheadsQ);
  const pr = new Float64Array(p.seqlenK);
  const capT = new Float64Array(p.seqlenK);
  forEachRow(p, (b, h, hk, i, row, kRow0, lo, hi) => {
    const li = lseIndex(p, b, h, i);
    if (lo >= hi) {
      lse[li] = -Infinity; // out stays zero
      return;
    }
    lse[li] = rowSoftmax(p, q, k, (row * p.nheadsQ + h) * p.headDim, kRow0, hk, lo, hi, pr, capT);
    const oo = (row * p.nheadsQ + h) * Dv;
    for (let j = lo; j < hi; j++) {
      const pj = pr[j]!;
      const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
      for (let d = 0; d < Dv; d++) out[oo + d]! += pj * v[vo + d]!;
    }
  });
  return { out, lse };
}

export function oracleBackward(
  p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const D = p.headDim;
  const Dv = p.headDimV;
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const pr = new Float64Array(p.seqlenK);
  const dp = new Float64Array(p.seqlenK);
  const capT = new Float64Array(p.seqlenK);
  forEachRow(p, (_b, h, hk, _i, row, kRow0, lo, hi) => {
    if (lo >= hi) return;
    const qo = (row * p.nheadsQ + h) * D;
    const oo = (row * p.nheadsQ + h) * Dv;
    rowSoftmax(p, q, k, qo, kRow0, hk, lo, hi, pr, capT);
    let rowD = 0; // sum_j P_j dP_j (= dO . O)
    for (let j = lo; j < hi; j++) {
      const x = dot(dout, oo, v, ((kRow0 + j) * p.nheadsKV + hk) * Dv, Dv);
      dp[j] = x;
      rowD += pr[j]! * x;
    }
    for (let j = lo; j < hi; j++) {
      const pj = pr[j]!;
      let ds = pj * (dp[j]! - rowD);
      if (p.softcap > 0) ds *= 1 - capT[j]! * capT[j]!;
      ds *= p.scale;
      const ko = ((kRow0 + j) * p.nheadsKV + hk) * D;
      const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
      for (let d = 0; d < Dv; d++) dv[vo + d]! += pj * dout[oo + d]!;
      for (let d = 0; d < D; d++) {
        dk[ko + d]! += ds * q[qo + d]!;
        dq[qo + d]! += ds * k[ko + d]!;
      }
    }
  });
  return { dq, dk, dv };
}

/** Round every element of a to dtype in place. */
function roundAll(dtype: DType, a: Float64Array): Float64Array {
  if (dtype === 'f32') for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]!);
  else for (let i = 0; i < a.length; i++) a[i] = roundTo(dtype, a[i]!);
  return a;
}

function rounder(dtype: DType): (x: number) => number {
  return dtype === 'f32' ? Math.fround : (x: number) => roundTo(dtype, x);
}

/** f32 problems: the naive matmuls accumulate in float32, each add rounded (as src/oracle.ts's dotBlock32). */
function dot32(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s = Math.fround(s + a[ao + d]! * b[bo + d]!);
  return s;
}

function naiveDot(dtype: DType): typeof dot {
  return dtype === 'f32' ? dot32 : dot;
}

/** acc + x, in float32 for f32 problems, wide otherwise. */
function naiveAdd(dtype: DType): (acc: number, x: number) => number {
  return dtype === 'f32' ? (acc, x) => Math.fround(acc + x) : (acc, x) => acc + x;
}

/**
 * Scores, capping and softmax of one row as PyTorch computes them in dtype (flash-attn's attention_ref with
 * upcast=False, reorder_ops=True): scores = round(q . round(k*scale)); capping rounds after each op
 * (/cap, tanh, *cap); softmax is computed in float and rounded. Writes P to pr, the rounded tanh to capT.
 */
function naiveRowSoftmax(
  p: Problem, r: (x: number) => number, q: Float64Array, ks: Float64Array, qo: number, kRow0: number, hk: number,
  lo: number, hi: number, pr: Float64Array, capT: Float64Array,
): void {
  const D = p.headDim;
  let mx = -Infinity;
  for (let j = lo; j < hi; j++) {
    let s = r(naiveDot(p.dtype)(q, qo, ks, ((kRow0 + j) * p.nheadsKV + hk) * D, D));
    if (p.softcap > 0) {
      const t = r(Math.tanh(r(s / p.softcap)));
      capT[j] = t;
      s = r(t * p.softcap);
    }
    pr[j] = s;
    if (s > mx) mx = s;
  }
  let sum = 0;
  for (let j = lo; j < hi; j++) {
    const e = Math.exp(pr[j]! - mx);
    pr[j] = e;
    sum += e;
  }
  for (let j = lo; j < hi; j++) pr[j] = r(pr[j]! / sum);
}

function scaledK(p: Problem, k: Float64Array): Float64Array {
  const ks = new Float64Array(k.length);
  const r = rounder(p.dtype);
  for (let i = 0; i < k.length; i++) ks[i] = r(k[i]! * p.scale);
  return ks;
}

export function naiveForward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): Float64Array {
  const Dv = p.headDimV;
  const r = rounder(p.dtype);
  const ks = scaledK(p, k);
  const out = new Float64Array(p.totalQ * p.nheadsQ * Dv);
  const pr = new Float64Array(p.seqlenK);
  const capT = new Float64Array(p.seqlenK);
  const add = naiveAdd(p.dtype);
  forEachRow(p, (_b, h, hk, _i, row, kRow0, lo, hi) => {
    if (lo >= hi) return; // fully masked row: zeros
    naiveRowSoftmax(p, r, q, ks, (row * p.nheadsQ + h) * p.headDim, kRow0, hk, lo, hi, pr, capT);
    const oo = (row * p.nheadsQ + h) * Dv;
    for (let j = lo; j < hi; j++) {
      const pj = pr[j]!;
      const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
      for (let d = 0; d < Dv; d++) out[oo + d] = add(out[oo + d]!, pj * v[vo + d]!);
    }
  });
  return roundAll(p.dtype, out); // matmul: accumulate wide, round the result
}

/**
 * Autograd of naiveForward in dtype: every op's gradient is rounded to dtype (dP = dO V^T, dV = P^T dO, softmax
 * backward in float, tanh backward, dQ = dS Ks, dKs = dS^T Q, dK = dKs * scale). GQA: per-query-head dK/dV are
 * rounded, then summed over the group and rounded again (the backward of repeat_interleave).
 */
export function naiveBackward(
  p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const D = p.headDim;
  const Dv = p.headDimV;
  const r = rounder(p.dtype);
  const ks = scaledK(p, k);
  const group = p.nheadsQ / p.nheadsKV;
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const pr = new Float64Array(p.seqlenK);
  const dp = new Float64Array(p.seqlenK);
  const capT = new Float64Array(p.seqlenK);
  const add = naiveAdd(p.dtype);
  const ndot = naiveDot(p.dtype);
  for (let b = 0; b < p.batch; b++) {
    const qRow0 = p.cuSeqlensQ[b]!;
    const kRow0 = p.cuSeqlensK[b]!;
    const sq = p.cuSeqlensQ[b + 1]! - qRow0;
    const sk = p.cuSeqlensK[b + 1]! - kRow0;
    // Per-query-head gradients of (scaled) K and V for this sequence, accumulated wide then rounded.
    const dksH = new Float64Array(sk * D);
    const dvH = new Float64Array(sk * Dv);
    for (let h = 0; h < p.nheadsQ; h++) {
      const hk = Math.floor(h / group);
      dksH.fill(0);
      dvH.fill(0);
      for (let i = 0; i < sq; i++) {
        const [lo, hi] = keyRange(p, i, sq, sk);
        if (lo >= hi) continue;
        const row = qRow0 + i;
        const qo = (row * p.nheadsQ + h) * D;
        const oo = (row * p.nheadsQ + h) * Dv;
        naiveRowSoftmax(p, r, q, ks, qo, kRow0, hk, lo, hi, pr, capT);
        let rowD = 0;
        for (let j = lo; j < hi; j++) {
          const x = r(ndot(dout, oo, v, ((kRow0 + j) * p.nheadsKV + hk) * Dv, Dv));
          dp[j] = x;
          rowD += pr[j]! * x;
        }
        for (let j = lo; j < hi; j++) {
          const pj = pr[j]!;
          let ds = r(pj * (dp[j]! - rowD)); // softmax backward, in float, rounded
          if (p.softcap > 0) {
            const t = capT[j]!;
            ds = r(ds * p.softcap); // grad of t (s = t * cap)
            ds = r(ds * (1 - t * t)); // tanh backward
            ds = r(ds / p.softcap); // grad of the raw score
          }
          const ko = ((kRow0 + j) * p.nheadsKV + hk) * D;
          const jo = j * D;
          for (let d = 0; d < D; d++) {
            dq[qo + d] = add(dq[qo + d]!, ds * ks[ko + d]!);
            dksH[jo + d] = add(dksH[jo + d]!, ds * q[qo + d]!);
          }
          const vo = j * Dv;
          for (let d = 0; d < Dv; d++) dvH[vo + d] = add(dvH[vo + d]!, pj * dout[oo + d]!);
        }
        for (let d = 0; d < D; d++) dq[qo + d] = r(dq[qo + d]!);
      }
      for (let j = 0; j < sk; j++) {
        const ko = ((kRow0 + j) * p.nheadsKV + hk) * D;
        const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
        for (let d = 0; d < D; d++) dk[ko + d]! += r(r(dksH[j * D + d]!) * p.scale);
        for (let d = 0; d < Dv; d++) dv[vo + d]! += r(dvH[j * Dv + d]!);
      }
    }
  }
  if (group > 1) {
    roundAll(p.dtype, dk);
    roundAll(p.dtype, dv);
  }
  return { dq, dk, dv };
}
