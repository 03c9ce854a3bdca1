import { keyRange, lseIndex, roundTo, type DType, type Oracle, type Problem } from '@flashattn/core';

/**
 * Standard attention in float64: the oracle every backend is judged against, and the dtype-rounding naive
 * baseline of flash-attn's criterion. Both materialize full score rows for a block of BR query rows
 * (BR x seqlenK scores; summation order is free in float64) so the products can be register-blocked: the oracle
 * runs on the CLI's main thread for every conformance case and must not dominate the grid's time.
 */
const BR = 32;

/** T[r*ts + c] = sum_d A[a0 + r*as + d] * B[b0 + c*bs + d] for r < nr, c < nc. */
function dotBlock(
  A: Float64Array, a0: number, as: number, B: Float64Array, b0: number, bs: number,
  nr: number, nc: number, n: number, T: Float64Array, ts: number,
): void {
  let r = 0;
  for (; r + 1 < nr; r += 2) {
    const x0 = a0 + r * as;
    const x1 = x0 + as;
    const t0 = r * ts;
    const t1 = t0 + ts;
    let c = 0;
    for (; c + 3 < nc; c += 4) {
      const y0 = b0 + c * bs;
      const y1 = y0 + bs;
      const y2 = y1 + bs;
      const y3 = y2 + bs;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let d = 0; d < n; d++) {
        const a = A[x0 + d]!, b = A[x1 + d]!;
        const e = B[y0 + d]!, f = B[y1 + d]!, g = B[y2 + d]!, hh = B[y3 + d]!;
        s00 += a * e;
        s01 += a * f;
        s02 += a * g;
        s03 += a * hh;
        s10 += b * e;
        s11 += b * f;
        s12 += b * g;
        s13 += b * hh;
      }
      T[t0 + c] = s00;
      T[t0 + c + 1] = s01;
      T[t0 + c + 2] = s02;
      T[t0 + c + 3] = s03;
      T[t1 + c] = s10;
      T[t1 + c + 1] = s11;
      T[t1 + c + 2] = s12;
      T[t1 + c + 3] = s13;
    }
    for (; c < nc; c++) {
      const y0 = b0 + c * bs;
      let s0 = 0, s1 = 0;
      for (let d = 0; d < n; d++) {
        s0 += A[x0 + d]! * B[y0 + d]!;
        s1 += A[x1 + d]! * B[y0 + d]!;
      }
      T[t0 + c] = s0;
      T[t1 + c] = s1;
    }
  }
  if (r < nr) {
    const x0 = a0 + r * as;
    for (let c = 0; c < nc; c++) {
      const y0 = b0 + c * bs;
      let s0 = 0;
      for (let d = 0; d < n; d++) s0 += A[x0 + d]! * B[y0 + d]!;
      T[r * ts + c] = s0;
    }
  }
}

/** Acc[acc0 + r*accs + d] += sum_c P[r*ps + c] * Y[y0 + c*ys + d]. */
function addPY(
  P: Float64Array, ps: number, nr: number, nc: number, Y: Float64Array, y0: number, ys: number, n: number,
  Acc: Float64Array, acc0: number, accs: number,
): void {
  for (let r = 0; r < nr; r++) {
    const ao = acc0 + r * accs;
    const pr = r * ps;
    let c = 0;
    for (; c + 3 < nc; c += 4) {
      const p0 = P[pr + c]!, p1 = P[pr + c + 1]!, p2 = P[pr + c + 2]!, p3 = P[pr + c + 3]!;
      if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0) continue;
      const v0 = y0 + c * ys, v1 = v0 + ys, v2 = v1 + ys, v3 = v2 + ys;
      for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * Y[v0 + d]! + p1 * Y[v1 + d]! + p2 * Y[v2 + d]! + p3 * Y[v3 + d]!;
    }
    for (; c < nc; c++) {
      const p0 = P[pr + c]!;
      if (p0 === 0) continue;
      const v0 = y0 + c * ys;
      for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * Y[v0 + d]!;
    }
  }
}

/** Acc[acc0 + c*accs + d] += sum_r P[r*ps + c] * X[x0 + r*xs + d]. */
function addPtX(
  P: Float64Array, ps: number, nr: number, nc: number, X: Float64Array, x0: number, xs: number, n: number,
  Acc: Float64Array, acc0: number, accs: number,
): void {
  for (let c = 0; c < nc; c++) {
    const ao = acc0 + c * accs;
    let r = 0;
    for (; r + 3 < nr; r += 4) {
      const p0 = P[r * ps + c]!, p1 = P[(r + 1) * ps + c]!, p2 = P[(r + 2) * ps + c]!, p3 = P[(r + 3) * ps + c]!;
      if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0) continue;
      const u0 = x0 + r * xs, u1 = u0 + xs, u2 = u1 + xs, u3 = u2 + xs;
      for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * X[u0 + d]! + p1 * X[u1 + d]! + p2 * X[u2 + d]! + p3 * X[u3 + d]!;
    }
    for (; r < nr; r++) {
      const p0 = P[r * ps + c]!;
      if (p0 === 0) continue;
      const u0 = x0 + r * xs;
      for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * X[u0 + d]!;
    }
  }
}

/**
 * The three block products again, accumulating in float32 (each add rounded, as an FMA-based f32 GEMM does): the
 * naive baseline of an f32 problem is standard attention as PyTorch computes it in f32, whose matmuls accumulate in
 * f32. (Accumulating wide and rounding once would make the f32 bound about half an ulp, which no f32 kernel meets.)
 * f16/bf16 keep the wide accumulation: there the rounding of each stage's result to dtype dominates.
 */
const fr = Math.fround;

function dotBlock32(
  A: Float64Array, a0: number, as: number, B: Float64Array, b0: number, bs: number,
  nr: number, nc: number, n: number, T: Float64Array, ts: number,
): void {
  for (let r = 0; r < nr; r++) {
    const x0 = a0 + r * as;
    for (let c = 0; c < nc; c++) {
      const y0 = b0 + c * bs;
      let s = 0;
      for (let d = 0; d < n; d++) s = fr(s + A[x0 + d]! * B[y0 + d]!);
      T[r * ts + c] = s;
    }
  }
}

function addPY32(
  P: Float64Array, ps: number, nr: number, nc: number, Y: Float64Array, y0: number, ys: number, n: number,
  Acc: Float64Array, acc0: number, accs: number,
): void {
  for (let r = 0; r < nr; r++) {
    const ao = acc0 + r * accs;
    for (let c = 0; c < nc; c++) {
      const p0 = P[r * ps + c]!;
      if (p0 === 0) continue;
      const v0 = y0 + c * ys;
      for (let d = 0; d < n; d++) Acc[ao + d] = fr(Acc[ao + d]! + p0 * Y[v0 + d]!);
    }
  }
}

function addPtX32(
  P: Float64Array, ps: number, nr: number, nc: number, X: Float64Array, x0: number, xs: number, n: number,
  Acc: Float64Array, acc0: number, accs: number,
): void {
  for (let c = 0; c < nc; c++) {
    const ao = acc0 + c * accs;
    for (let r = 0; r < nr; r++) {
      const p0 = P[r * ps + c]!;
      if (p0 === 0) continue;
      const u0 = x0 + r * xs;
      for (let d = 0; d < n; d++) Acc[ao + d] = fr(Acc[ao + d]! + p0 * X[u0 + d]!);
    }
  }
}

/** The block products the naive baseline of a dtype uses (see dotBlock32). */
function naiveProducts(dtype: DType): { dot: typeof dotBlock; addPY: typeof addPY; addPtX: typeof addPtX } {
  return dtype === 'f32' ? { dot: dotBlock32, addPY: addPY32, addPtX: addPtX32 } : { dot: dotBlock, addPY, addPtX };
}

/** One block of query rows of one (sequence, head): where its tensors live and which keys its rows see. */
interface Block {
  b: number;
  h: number;
  hk: number;
  /** Rows t0 .. t0+nr of the sequence (lengths sq, sk; global rows from qRow0, kRow0). */
  t0: number;
  nr: number;
  sq: number;
  sk: number;
  qRow0: number;
  kRow0: number;
  /** Union of the rows' key ranges (ranges are monotone in the row), and its width. */
  lo: number;
  w: number;
}

function forEachBlock(p: Problem, fn: (blk: Block) => void): void {
  const group = p.nheadsQ / p.nheadsKV;
  for (let b = 0; b < p.batch; b++) {
    const qRow0 = p.cuSeqlensQ[b]!;
    const kRow0 = p.cuSeqlensK[b]!;
    const sq = p.cuSeqlensQ[b + 1]! - qRow0;
    const sk = p.cuSeqlensK[b + 1]! - kRow0;
    for (let h = 0; h < p.nheadsQ; h++) {
      for (let t0 = 0; t0 < sq; t0 += BR) {
        const nr = Math.min(BR, sq - t0);
        const lo = keyRange(p, t0, sq, sk)[0];
        const hi = keyRange(p, t0 + nr - 1, sq, sk)[1];
        fn({ b, h, hk: Math.floor(h / group), t0, nr, sq, sk, qRow0, kRow0, lo, w: Math.max(0, hi - lo) });
      }
    }
  }
}

/** Each row's visible keys within the block's [lo, lo + w), as [from, to) relative to lo; empty if none. */
function rowSpan(p: Problem, blk: Block, r: number): [number, number] {
  const [lo, hi] = keyRange(p, blk.t0 + r, blk.sq, blk.sk);
  return lo < hi ? [lo - blk.lo, hi - blk.lo] : [0, 0];
}

/**
 * Softmax of a block's scores (in S, stride w) in place, in float64, masked entries 0; capT gets tanh(raw/cap).
 * Returns nothing; writes each row's LSE (-Infinity for a row seeing no key) to lseOut[r].
 */
function softmaxBlock(p: Problem, blk: Block, S: Float64Array, capT: Float64Array, lseOut: Float64Array): void {
  const w = blk.w;
  for (let r = 0; r < blk.nr; r++) {
    const [from, to] = rowSpan(p, blk, r);
    const o = r * w;
    for (let c = 0; c < from; c++) S[o + c] = 0;
    for (let c = to; c < w; c++) S[o + c] = 0;
    if (from >= to) {
      lseOut[r] = -Infinity;
      continue;
    }
    let mx = -Infinity;
    for (let c = from; c < to; c++) {
      let s = p.scale * S[o + c]!;
      if (p.softcap > 0) {
        const t = Math.tanh(s / p.softcap);
        capT[o + c] = t;
        s = p.softcap * t;
      }
      S[o + c] = s;
      if (s > mx) mx = s;
    }
    let sum = 0;
    for (let c = from; c < to; c++) {
      const e = Math.exp(S[o + c]! - mx);
      S[o + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = from; c < to; c++) S[o + c]! *= inv;
    lseOut[r] = mx + Math.log(sum);
  }
}

function offsets(p: Problem, blk: Block) {
  const { qRow0, kRow0, t0, h, hk, lo } = blk;
  return {
    q: ((qRow0 + t0) * p.nheadsQ + h) * p.headDim, qs: p.nheadsQ * p.headDim,
    o: ((qRow0 + t0) * p.nheadsQ + h) * p.headDimV, os: p.nheadsQ * p.headDimV,
    k: ((kRow0 + lo) * p.nheadsKV + hk) * p.headDim, ks: p.nheadsKV * p.headDim,
    v: ((kRow0 + lo) * p.nheadsKV + hk) * p.headDimV, vs: p.nheadsKV * p.headDimV,
  };
}

export function oracleForward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(p.totalQ * p.nheadsQ * p.headDimV);
  const lse = new Float64Array(p.totalQ * p.nheadsQ);
  const S = new Float64Array(BR * p.seqlenK);
  const capT = new Float64Array(BR * p.seqlenK);
  const rowLse = new Float64Array(BR);
  forEachBlock(p, (blk) => {
    const x = offsets(p, blk);
    dotBlock(q, x.q, x.qs, k, x.k, x.ks, blk.nr, blk.w, p.headDim, S, blk.w);
    softmaxBlock(p, blk, S, capT, rowLse);
    for (let r = 0; r < blk.nr; r++) lse[lseIndex(p, blk.b, blk.h, blk.t0 + r)] = rowLse[r]!;
    addPY(S, blk.w, blk.nr, blk.w, v, x.v, x.vs, p.headDimV, out, x.o, x.os); // rows seeing no key stay zero
  });
  return { out, lse };
}

export function oracleBackward(
  p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const P = new Float64Array(BR * p.seqlenK);
  const dS = new Float64Array(BR * p.seqlenK);
  const capT = new Float64Array(BR * p.seqlenK);
  const rowLse = new Float64Array(BR);
  forEachBlock(p, (blk) => {
    const x = offsets(p, blk);
    const w = blk.w;
    dotBlock(q, x.q, x.qs, k, x.k, x.ks, blk.nr, w, p.headDim, P, w);
    softmaxBlock(p, blk, P, capT, rowLse);
    dotBlock(dout, x.o, x.os, v, x.v, x.vs, blk.nr, w, p.headDimV, dS, w); // dP = dO V^T
    for (let r = 0; r < blk.nr; r++) {
      const o = r * w;
      let rowD = 0; // sum_j P_j dP_j (= dO . O)
      for (let c = 0; c < w; c++) rowD += P[o + c]! * dS[o + c]!;
      for (let c = 0; c < w; c++) {
        let ds = P[o + c]! * (dS[o + c]! - rowD);
        if (p.softcap > 0 && ds !== 0) ds *= 1 - capT[o + c]! * capT[o + c]!;
        dS[o + c] = ds * p.scale;
      }
    }
    addPtX(P, w, blk.nr, w, dout, x.o, x.os, p.headDimV, dv, x.v, x.vs); // dV += P^T dO
    addPtX(dS, w, blk.nr, w, q, x.q, x.qs, p.headDim, dk, x.k, x.ks); // dK += dS^T Q
    addPY(dS, w, blk.nr, w, k, x.k, x.ks, p.headDim, dq, x.q, x.qs); // dQ += dS K
  });
  return { dq, dk, dv };
}

/** Round every element of a to dtype in place. */
function roundAll(dtype: DType, a: Float64Array, from = 0, to = a.length): Float64Array {
  if (dtype === 'f32') for (let i = from; i < to; i++) a[i] = Math.fround(a[i]!);
  else for (let i = from; i < to; i++) a[i] = roundTo(dtype, a[i]!);
  return a;
}

function rounder(dtype: DType): (x: number) => number {
  return dtype === 'f32' ? Math.fround : (x: number) => roundTo(dtype, x);
}

/**
 * A block's scores, capping and softmax as PyTorch computes them in dtype (flash-attn's attention_ref with
 * upcast=False, reorder_ops=True): S holds q . round(k*scale) on entry; scores are rounded; capping rounds after
 * each op (/cap, tanh, *cap); softmax is computed in float and rounded. capT gets the rounded tanh.
 */
function naiveSoftmaxBlock(p: Problem, r: (x: number) => number, blk: Block, S: Float64Array, capT: Float64Array): void {
  const w = blk.w;
  for (let row = 0; row < blk.nr; row++) {
    const [from, to] = rowSpan(p, blk, row);
    const o = row * w;
    for (let c = 0; c < from; c++) S[o + c] = 0;
    for (let c = to; c < w; c++) S[o + c] = 0;
    if (from >= to) continue; // fully masked row: P = 0, output zeros
    let mx = -Infinity;
    for (let c = from; c < to; c++) {
      let s = r(S[o + c]!);
      if (p.softcap > 0) {
        const t = r(Math.tanh(r(s / p.softcap)));
        capT[o + c] = t;
        s = r(t * p.softcap);
      }
      S[o + c] = s;
      if (s > mx) mx = s;
    }
    let sum = 0;
    for (let c = from; c < to; c++) {
      const e = Math.exp(S[o + c]! - mx);
      S[o + c] = e;
      sum += e;
    }
    for (let c = from; c < to; c++) S[o + c] = r(S[o + c]! / sum);
  }
}

function scaledK(p: Problem, k: Float64Array): Float64Array {
  const ks = new Float64Array(k.length);
  const r = rounder(p.dtype);
  for (let i = 0; i < k.length; i++) ks[i] = r(k[i]! * p.scale);
  return ks;
}

export function naiveForward(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array): Float64Array {
  const r = rounder(p.dtype);
  const ks = scaledK(p, k);
  const out = new Float64Array(p.totalQ * p.nheadsQ * p.headDimV);
  const S = new Float64Array(BR * p.seqlenK);
  const capT = new Float64Array(BR * p.seqlenK);
  const mm = naiveProducts(p.dtype);
  forEachBlock(p, (blk) => {
    const x = offsets(p, blk);
    mm.dot(q, x.q, x.qs, ks, x.k, x.ks, blk.nr, blk.w, p.headDim, S, blk.w);
    naiveSoftmaxBlock(p, r, blk, S, capT);
    mm.addPY(S, blk.w, blk.nr, blk.w, v, x.v, x.vs, p.headDimV, out, x.o, x.os);
  });
  return roundAll(p.dtype, out); // matmul: accumulate (f32, or wide for 16-bit dtypes), round the result
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
  const P = new Float64Array(BR * p.seqlenK);
  const dS = new Float64Array(BR * p.seqlenK);
  const capT = new Float64Array(BR * p.seqlenK);
  // Per-query-head gradients of (scaled) K and V of the current sequence, accumulated wide, rounded per head.
  const dksH = new Float64Array(p.seqlenK * D);
  const dvH = new Float64Array(p.seqlenK * Dv);
  const mm = naiveProducts(p.dtype);
  let current = -1;
  const flushHead = (b: number, h: number) => {
    const kRow0 = p.cuSeqlensK[b]!;
    const sk = p.cuSeqlensK[b + 1]! - kRow0;
    const hk = Math.floor(h / group);
    for (let j = 0; j < sk; j++) {
      const ko = ((kRow0 + j) * p.nheadsKV + hk) * D;
      const vo = ((kRow0 + j) * p.nheadsKV + hk) * Dv;
      for (let d = 0; d < D; d++) dk[ko + d]! += r(r(dksH[j * D + d]!) * p.scale);
      for (let d = 0; d < Dv; d++) dv[vo + d]! += r(dvH[j * Dv + d]!);
    }
    dksH.fill(0);
    dvH.fill(0);
  };
  forEachBlock(p, (blk) => {
    const unit = blk.b * p.nheadsQ + blk.h;
    if (unit !== current) {
      if (current >= 0) flushHead(Math.floor(current / p.nheadsQ), current % p.nheadsQ);
      current = unit;
    }
    const x = offsets(p, blk);
    const w = blk.w;
    mm.dot(q, x.q, x.qs, ks, x.k, x.ks, blk.nr, w, D, P, w);
    naiveSoftmaxBlock(p, r, blk, P, capT);
    mm.dot(dout, x.o, x.os, v, x.v, x.vs, blk.nr, w, Dv, dS, w);
    for (let row = 0; row < blk.nr; row++) {
      const o = row * w;
      let rowD = 0;
      for (let c = 0; c < w; c++) {
        const dp = r(dS[o + c]!); // dP = dO V^T, rounded
        dS[o + c] = dp;
        rowD += P[o + c]! * dp;
      }
      for (let c = 0; c < w; c++) {
        const pj = P[o + c]!;
        if (pj === 0) {
          dS[o + c] = 0;
          continue;
        }
        let ds = r(pj * (dS[o + c]! - rowD)); // softmax backward, in float, rounded
        if (p.softcap > 0) {
          const t = capT[o + c]!;
          ds = r(ds * p.softcap); // grad of t (s = t * cap)
          ds = r(ds * (1 - t * t)); // tanh backward
          ds = r(ds / p.softcap); // grad of the raw score
        }
        dS[o + c] = ds;
      }
    }
    const lo = blk.lo;
    mm.addPtX(P, w, blk.nr, w, dout, x.o, x.os, Dv, dvH, lo * Dv, Dv);
    mm.addPtX(dS, w, blk.nr, w, q, x.q, x.qs, D, dksH, lo * D, D);
    mm.addPY(dS, w, blk.nr, w, ks, x.k, x.ks, D, dq, x.q, x.qs);
    for (let row = 0; row < blk.nr; row++) roundAll(p.dtype, dq, x.q + row * x.qs, x.q + row * x.qs + D); // rows complete
  });
  if (current >= 0) flushHead(Math.floor(current / p.nheadsQ), current % p.nheadsQ);
  if (group > 1) {
    roundAll(p.dtype, dk);
    roundAll(p.dtype, dv);
  }
  return { dq, dk, dv };
}

/** The float64 oracle and dtype-rounding naive baseline, as core's cross-check harness wants them. */
export const referenceOracle: Oracle = {
  forward: oracleForward,
  backward: oracleBackward,
  naiveForward,
  naiveBackward,
};
