import type { DType } from './dtype.js';

/**
 * What a caller describes. Tensors are row-major:
 *   dense:  q [batch, seqlenQ, nheadsQ, headDim], k [batch, seqlenK, nheadsKV, headDim], v [.., headDimV]
 *   varlen: q [totalQ, nheadsQ, headDim] with sequence b at rows cuSeqlensQ[b] .. cuSeqlensQ[b+1]
 *           (same for k/v with cuSeqlensK); seqlenQ/seqlenK are then the maximum lengths (as flash_attn_varlen_func).
 */
export interface ProblemSpec {
  batch: number;
  seqlenQ: number;
  seqlenK: number;
  nheadsQ: number;
  nheadsKV?: number;
  headDim: number;
  headDimV?: number;
  dtype?: DType;
  /** Softmax scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Causal mask aligned bottom-right (flash-attn >= 2.1): query i sees key j iff j <= i + seqlenK - seqlenQ. */
  causal?: boolean;
  /** Sliding window [left, right], -1 = unbounded: query i sees j in [i + sk - sq - left, i + sk - sq + right]. */
  window?: readonly [number, number];
  /** Tanh capping of scores: s -> softcap * tanh(s / softcap); 0 = off. */
  softcap?: number;
  /** Varlen: cumulative offsets, length batch+1, starting at 0, non-decreasing. Both or neither. */
  cuSeqlensQ?: Int32Array | readonly number[];
  cuSeqlensK?: Int32Array | readonly number[];
  /** Return the log-sum-exp (natural log, of the scaled and capped scores). */
  returnLse?: boolean;
}

/** A validated, normalized problem: every field present. Build it with `makeProblem`. */
export interface Problem {
  readonly batch: number;
  readonly seqlenQ: number;
  readonly seqlenK: number;
  readonly nheadsQ: number;
  readonly nheadsKV: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly dtype: DType;
  readonly scale: number;
  readonly causal: boolean;
  /** Normalized: causal folds into window right = 0; -1 = unbounded. */
  readonly window: readonly [number, number];
  readonly softcap: number;
  readonly varlen: boolean;
  /** Always present: for dense problems, [0, s, 2s, ...]. Kernels index rows as cu[b] + i. */
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  readonly totalQ: number;
  readonly totalK: number;
  readonly returnLse: boolean;
}

/** Element counts of each tensor of a problem. */
export function tensorSizes(p: Problem): { q: number; k: number; v: number; out: number; lse: number } {
  return {
    q: p.totalQ * p.nheadsQ * p.headDim,
    k: p.totalK * p.nheadsKV * p.headDim,
    v: p.totalK * p.nheadsKV * p.headDimV,
    out: p.totalQ * p.nheadsQ * p.headDimV,
    lse: p.totalQ * p.nheadsQ,
  };
}

/** Logical shapes, as flash-attn reports them. */
export function tensorShapes(p: Problem): { q: number[]; k: number[]; v: number[]; out: number[]; lse: number[] } {
  if (p.varlen) {
    return {
      q: [p.totalQ, p.nheadsQ, p.headDim],
      k: [p.totalK, p.nheadsKV, p.headDim],
      v: [p.totalK, p.nheadsKV, p.headDimV],
      out: [p.totalQ, p.nheadsQ, p.headDimV],
      lse: [p.nheadsQ, p.totalQ],
    };
  }
  return {
    q: [p.batch, p.seqlenQ, p.nheadsQ, p.headDim],
    k: [p.batch, p.seqlenK, p.nheadsKV, p.headDim],
    v: [p.batch, p.seqlenK, p.nheadsKV, p.headDimV],
    out: [p.batch, p.seqlenQ, p.nheadsQ, p.headDimV],
    lse: [p.batch, p.nheadsQ, p.seqlenQ],
  };
}

/**
 * LSE layout as flash-attn returns it: dense [batch, nheadsQ, seqlenQ]; varlen [nheadsQ, totalQ].
 * Element (b, h, i) lives at b*batchStride + h*headStride + rowOffset(b) + i, where rowOffset(b) is
 * cuSeqlensQ[b] for varlen and 0 for dense.
 */
export function lseLayout(p: Problem): { batchStride: number; headStride: number; varlenRows: boolean } {
  return p.varlen
    ? { batchStride: 0, headStride: p.totalQ, varlenRows: true }
    : { batchStride: p.nheadsQ * p.seqlenQ, headStride: p.seqlenQ, varlenRows: false };
}

export function lseIndex(p: Problem, b: number, h: number, i: number): number {
  const l = lseLayout(p);
  return b * l.batchStride + h * l.headStride + (l.varlenRows ? p.cuSeqlensQ[b]! : 0) + i;
}

/**
 * The key range [lo, hi) that query row i (0-based, in a sequence of lengths sq, sk) may see, after the
 * normalized window (which includes causal). An empty range (lo >= hi) means the row outputs zeros and LSE = -inf.
 */
export function keyRange(p: Problem, i: number, sq: number, sk: number): [number, number] {
  const [left, right] = p.window;
  const diag = i + sk - sq;
  const lo = left < 0 ? 0 : Math.max(0, diag - left);
  const hi = right < 0 ? sk : Math.min(sk, diag + right + 1);
  return [lo, hi];
}

/** FLOPs by flash-attn's convention (forward). Causal halves it; backward is 2.5x, forward+backward 3.5x. */
export function forwardFlops(p: Problem): number {
  let f = 0;
  for (let b = 0; b < p.batch; b++) {
    const sq = p.cuSeqlensQ[b + 1]! - p.cuSeqlensQ[b]!;
    const sk = p.cuSeqlensK[b + 1]! - p.cuSeqlensK[b]!;
    f += 2 * sq * sk * p.nheadsQ * (p.headDim + p.headDimV);
  }
  return p.causal ? f / 2 : f;
}
