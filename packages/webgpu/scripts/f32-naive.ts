import { keyRange, type Oracle, type Problem } from '@flashattn/core';

/**
 * The reference oracle with, for f32 problems only, a naive baseline that accumulates in f32 — as PyTorch's f32
 * math path (cuBLAS SGEMM, f32 softmax) does. The reference package's naive accumulates every matmul in float64
 * and rounds once, which for f32 puts the baseline at half an ulp of the result: a bound that no kernel
 * accumulating in f32 (any GPU kernel without f64) meets on long dot products. f16/bf16 are unchanged.
 */
export function withF32AccumulatingNaive(base: Oracle): Oracle {
  return {
    forward: (p, q, k, v) => base.forward(p, q, k, v),
    backward: (p, q, k, v, d) => base.backward(p, q, k, v, d),
    naiveForward: (p, q, k, v) => (p.dtype === 'f32' ? naive(p, q, k, v).out : base.naiveForward(p, q, k, v)),
    naiveBackward: (p, q, k, v, d) => (p.dtype === 'f32' ? naive(p, q, k, v, d).grads! : base.naiveBackward(p, q, k, v, d)),
  };
}

const f = Math.fround;

function naive(p: Problem, q: Float64Array, k: Float64Array, v: Float64Array, dout?: Float64Array) {
  const { headDim: D, headDimV: DV, nheadsQ: HQ, nheadsKV: HK } = p;
  const grp = HQ / HK;
  const out = new Float64Array(p.totalQ * HQ * DV);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  for (let b = 0; b < p.batch; b++) {
    const q0 = p.cuSeqlensQ[b]!, k0 = p.cuSeqlensK[b]!;
    const sq = p.cuSeqlensQ[b + 1]! - q0, sk = p.cuSeqlensK[b + 1]! - k0;
    for (let h = 0; h < HQ; h++) {
      const hk = Math.floor(h / grp);
      for (let i = 0; i < sq; i++) {
        const [lo, hi] = keyRange(p, i, sq, sk);
        if (lo >= hi) continue;
        const qi = ((q0 + i) * HQ + h) * D;
        const S = new Float64Array(hi - lo), T = new Float64Array(hi - lo);
        let mx = -Infinity;
        for (let j = lo; j < hi; j++) {
          const kj = ((k0 + j) * HK + hk) * D;
          let acc = 0;
          for (let d = 0; d < D; d++) acc = f(acc + f(q[qi + d]! * k[kj + d]!));
          let s = f(acc * f(p.scale));
          if (p.softcap > 0) { T[j - lo] = f(Math.tanh(f(s / p.softcap))); s = f(T[j - lo]! * p.softcap); }
          S[j - lo] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let j = 0; j < S.length; j++) { S[j] = f(Math.exp(f(S[j]! - mx))); sum = f(sum + S[j]!); }
        for (let j = 0; j < S.length; j++) S[j] = f(S[j]! / sum);
        const oi = ((q0 + i) * HQ + h) * DV;
        for (let c = 0; c < DV; c++) {
          let acc = 0;
          for (let j = lo; j < hi; j++) acc = f(acc + f(S[j - lo]! * v[((k0 + j) * HK + hk) * DV + c]!));
          out[oi + c] = acc;
        }
        if (!dout) continue;
        let Dd = 0;
        for (let c = 0; c < DV; c++) Dd = f(Dd + f(dout[oi + c]! * out[oi + c]!));
        for (let j = lo; j < hi; j++) {
          const vj = ((k0 + j) * HK + hk) * DV, kj = ((k0 + j) * HK + hk) * D;
          let dp = 0;
          for (let c = 0; c < DV; c++) dp = f(dp + f(dout[oi + c]! * v[vj + c]!));
          const pj = S[j - lo]!;
          let ds = f(pj * f(dp - Dd));
          if (p.softcap > 0) ds = f(ds * f(1 - f(T[j - lo]! * T[j - lo]!)));
          const dss = f(ds * f(p.scale));
          for (let c = 0; c < DV; c++) dv[vj + c] = f(dv[vj + c]! + f(pj * dout[oi + c]!));
          for (let d = 0; d < D; d++) {
            dq[qi + d] = f(dq[qi + d]! + f(dss * k[kj + d]!));
            dk[kj + d] = f(dk[kj + d]! + f(dss * q[qi + d]!));
          }
        }
      }
    }
  }
  return { out, grads: dout ? { dq, dk, dv } : undefined };
}
