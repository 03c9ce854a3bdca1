/**
 * The tiled online-softmax kernels (FlashAttention Algorithm 1 forward, FA2-style recomputing backward) for one
 * unit of work. Everything lives inside ONE function with no free variables: the worker pool ships this function's
 * source text (Function.prototype.toString) to its workers, which therefore run the very code the inline path
 * runs, bundled or not. Do not reference imports or module-level names in here.
 *
 * Arithmetic: inputs and outputs are float32 (f16/bf16 decoded exactly, outputs rounded by the caller); tiles
 * and accumulators are float64 (JavaScript numbers). Tile products are register-blocked (2x4 for dot-product
 * tiles, 4-wide for the rank updates) so each loaded element feeds several multiply-adds.
 * Extra memory per unit: O(BR*BC + BR*Dv) forward, O((seqlenQ + seqlenK) * headDim) backward — never
 * seqlenQ * seqlenK.
 */
export function makeKernels() {
  /** Query rows per tile (Br) and keys per tile (Bc). */
  const BR = 64;
  const BC = 64;

  // Helpers are methods of one object literal, not nested function declarations: a bundler's keepNames would
  // wrap nested declarations in a module-level helper (__name) that does not exist inside a worker.
  const K = {
    /** T[r*BC + c] = sum_d A[a0 + r*as + d] * B[b0 + c*bs + d] for r < nr, c < nc (a tile of A B^T). */
    dotTile(
      A: Float32Array, a0: number, as: number, B: Float32Array, b0: number, bs: number,
      nr: number, nc: number, n: number, T: Float64Array,
    ): void {
      let r = 0;
      for (; r + 1 < nr; r += 2) {
        const x0 = a0 + r * as;
        const x1 = x0 + as;
        const t0 = r * BC;
        const t1 = t0 + BC;
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
            const e = B[y0 + d]!;
            s0 += A[x0 + d]! * e;
            s1 += A[x1 + d]! * e;
          }
          T[t0 + c] = s0;
          T[t1 + c] = s1;
        }
      }
      if (r < nr) {
        const x0 = a0 + r * as;
        const t0 = r * BC;
        for (let c = 0; c < nc; c++) {
          const y0 = b0 + c * bs;
          let s0 = 0;
          for (let d = 0; d < n; d++) s0 += A[x0 + d]! * B[y0 + d]!;
          T[t0 + c] = s0;
        }
      }
    },

    /** Acc[acc0 + r*n + d] += sum_c P[r*BC + c] * Y[y0 + c*ys + d]: the rank update P Y (O += P V, dQ += dS K). */
    addPY(
      P: Float64Array, nr: number, nc: number, Y: Float32Array, y0: number, ys: number, n: number,
      Acc: Float64Array, acc0: number,
    ): void {
      for (let r = 0; r < nr; r++) {
        const ao = acc0 + r * n;
        const pr = r * BC;
        let c = 0;
        for (; c + 3 < nc; c += 4) {
          const p0 = P[pr + c]!, p1 = P[pr + c + 1]!, p2 = P[pr + c + 2]!, p3 = P[pr + c + 3]!;
          if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0) continue; // masked
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
    },

    /** Acc[acc0 + c*n + d] += sum_r P[r*BC + c] * X[x0 + r*xs + d]: the rank update P^T X (dV += P^T dO, dK += dS^T Q). */
    addPtX(
      P: Float64Array, nr: number, nc: number, X: Float32Array, x0: number, xs: number, n: number,
      Acc: Float64Array, acc0: number,
    ): void {
      for (let c = 0; c < nc; c++) {
        const ao = acc0 + c * n;
        let r = 0;
        for (; r + 3 < nr; r += 4) {
          const p0 = P[r * BC + c]!, p1 = P[(r + 1) * BC + c]!, p2 = P[(r + 2) * BC + c]!, p3 = P[(r + 3) * BC + c]!;
          if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0) continue;
          const u0 = x0 + r * xs, u1 = u0 + xs, u2 = u1 + xs, u3 = u2 + xs;
          for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * X[u0 + d]! + p1 * X[u1 + d]! + p2 * X[u2 + d]! + p3 * X[u3 + d]!;
        }
        for (; r < nr; r++) {
          const p0 = P[r * BC + c]!;
          if (p0 === 0) continue;
          const u0 = x0 + r * xs;
          for (let d = 0; d < n; d++) Acc[ao + d]! += p0 * X[u0 + d]!;
        }
      }
    },

    /** Forward over query rows [i0, i1) of one (sequence, query head); writes out rows and lse entries once. */
    forwardRows(a: ForwardJob): void {
      const q = a.q, k = a.k, v = a.v, out = a.out, lse = a.lse;
      const nh = a.nh, nhk = a.nhk, D = a.D, Dv = a.Dv, scale = a.scale, softcap = a.softcap;
      const left = a.left, right = a.right, sq = a.sq, sk = a.sk, h = a.h, hk = a.hk;
      const qRow0 = a.qRow0, kRow0 = a.kRow0, i0 = a.i0, i1 = a.i1, lseBase = a.lseBase;
      const capInv = softcap > 0 ? 1 / softcap : 0;
      const shift = sk - sq;
      const qs = nh * D, ks = nhk * D, vs = nhk * Dv;
      const S = new Float64Array(BR * BC); // scores, then probabilities, of one tile
      const O = new Float64Array(BR * Dv);
      const M = new Float64Array(BR);
      const L = new Float64Array(BR);
      for (let t0 = i0; t0 < i1; t0 += BR) {
        const t1 = Math.min(i1, t0 + BR);
        const nr = t1 - t0;
        O.fill(0, 0, nr * Dv);
        M.fill(-Infinity, 0, nr);
        L.fill(0, 0, nr);
        // Keys seen by any row of the tile: key ranges are monotone in the row index.
        const lo = left < 0 ? 0 : Math.max(0, t0 + shift - left);
        const hi = right < 0 ? sk : Math.min(sk, t1 - 1 + shift + right + 1);
        for (let c0 = lo; c0 < hi; c0 += BC) {
          const c1 = Math.min(hi, c0 + BC);
          const nc = c1 - c0;
          K.dotTile(q, ((qRow0 + t0) * nh + h) * D, qs, k, ((kRow0 + c0) * nhk + hk) * D, ks, nr, nc, D, S);
          for (let r = 0; r < nr; r++) {
            const i = t0 + r;
            const rlo = left < 0 ? 0 : i + shift - left;
            const rhi = right < 0 ? sk : i + shift + right + 1;
            const jlo = (rlo > c0 ? rlo : c0) - c0;
            const jhi = (rhi < c1 ? rhi : c1) - c0;
            const sr = r * BC;
            if (jlo >= jhi) {
              S.fill(0, sr, sr + nc); // the row sees no key of this tile: P = 0
              continue;
            }
            let mx = -Infinity;
            for (let c = jlo; c < jhi; c++) {
              let s = scale * S[sr + c]!;
              if (softcap > 0) s = softcap * Math.tanh(s * capInv);
              S[sr + c] = s;
              if (s > mx) mx = s;
            }
            // Online softmax: rescale the running output and sum by exp(m_old - m_new).
            const mOld = M[r]!;
            const mNew = mx > mOld ? mx : mOld;
            const alpha = Math.exp(mOld - mNew);
            if (alpha !== 1) {
              const oo = r * Dv;
              for (let d = 0; d < Dv; d++) O[oo + d]! *= alpha;
            }
            let rowsum = 0;
            for (let c = 0; c < jlo; c++) S[sr + c] = 0;
            for (let c = jlo; c < jhi; c++) {
              const pv = Math.exp(S[sr + c]! - mNew);
              S[sr + c] = pv;
              rowsum += pv;
            }
            for (let c = jhi; c < nc; c++) S[sr + c] = 0;
            L[r] = L[r]! * alpha + rowsum;
            M[r] = mNew;
          }
          K.addPY(S, nr, nc, v, ((kRow0 + c0) * nhk + hk) * Dv, vs, Dv, O, 0);
        }
        for (let r = 0; r < nr; r++) {
          const i = t0 + r;
          const oo = ((qRow0 + i) * nh + h) * Dv;
          const l = L[r]!;
          if (l === 0) {
            // The row sees no key: zeros and LSE = -inf (flash-attn's convention).
            for (let d = 0; d < Dv; d++) out[oo + d] = 0;
            lse[lseBase + i] = -Infinity;
          } else {
            const inv = 1 / l;
            for (let d = 0; d < Dv; d++) out[oo + d] = O[r * Dv + d]! * inv;
            lse[lseBase + i] = M[r]! + Math.log(l);
          }
        }
      }
    },

    /** Re-derive each row's LSE in float64 from the scores (one Q.K pass), into L[0..sq). */
    exactLse(a: BackwardJob, h: number, S: Float64Array, L: Float64Array): void {
      const q = a.q, k = a.k, nh = a.nh, nhk = a.nhk, D = a.D, scale = a.scale, softcap = a.softcap;
      const left = a.left, right = a.right, sq = a.sq, sk = a.sk, hk = a.hk, qRow0 = a.qRow0, kRow0 = a.kRow0;
      const capInv = softcap > 0 ? 1 / softcap : 0;
      const shift = sk - sq;
      const M = new Float64Array(BR);
      const Z = new Float64Array(BR);
      for (let t0 = 0; t0 < sq; t0 += BR) {
        const t1 = Math.min(sq, t0 + BR);
        const nr = t1 - t0;
        M.fill(-Infinity);
        Z.fill(0);
        const lo = left < 0 ? 0 : Math.max(0, t0 + shift - left);
        const hi = right < 0 ? sk : Math.min(sk, t1 - 1 + shift + right + 1);
        for (let c0 = lo; c0 < hi; c0 += BC) {
          const c1 = Math.min(hi, c0 + BC);
          K.dotTile(q, ((qRow0 + t0) * nh + h) * D, nh * D, k, ((kRow0 + c0) * nhk + hk) * D, nhk * D, nr, c1 - c0, D, S);
          for (let r = 0; r < nr; r++) {
            const i = t0 + r;
            const rlo = left < 0 ? 0 : i + shift - left;
            const rhi = right < 0 ? sk : i + shift + right + 1;
            const jlo = (rlo > c0 ? rlo : c0) - c0;
            const jhi = (rhi < c1 ? rhi : c1) - c0;
            let mx = M[r]!;
            let z = Z[r]!;
            for (let c = jlo; c < jhi; c++) {
              let s = scale * S[r * BC + c]!;
              if (softcap > 0) s = softcap * Math.tanh(s * capInv);
              if (s > mx) {
                z *= Math.exp(mx - s);
                mx = s;
              }
              z += Math.exp(s - mx);
            }
            M[r] = mx;
            Z[r] = z;
          }
        }
        for (let r = 0; r < nr; r++) L[t0 + r] = Z[r]! > 0 ? M[r]! + Math.log(Z[r]!) : -Infinity;
      }
    },

    /**
     * Backward for one (sequence, kv head): the query heads [g0, g1) of its GQA group (all of them unless the caller
   * split the group over several jobs, which then return partial dK, dV). FA2 order: outer loop over K tiles,
     * inner over Q tiles; P is recomputed from Q, K and LSE; dV, dK accumulate per K tile (summed over the group's
     * query heads), dQ per query row.
     */
    backwardGroup(a: BackwardJob): void {
      const q = a.q, k = a.k, v = a.v, out = a.out, dout = a.dout, lse = a.lse, dq = a.dq, dk = a.dk, dv = a.dv;
      const nh = a.nh, nhk = a.nhk, D = a.D, Dv = a.Dv, scale = a.scale, softcap = a.softcap;
      const left = a.left, right = a.right, sq = a.sq, sk = a.sk, hk = a.hk;
      const qRow0 = a.qRow0, kRow0 = a.kRow0;
      const capInv = softcap > 0 ? 1 / softcap : 0;
      const shift = sk - sq;
      const group = nh / nhk;
      const qs = nh * D, ks = nhk * D, vs = nhk * Dv, os = nh * Dv;
      const dK = new Float64Array(sk * D);
      const dV = new Float64Array(sk * Dv);
      const dQ = new Float64Array(sq * D);
      const Di = new Float64Array(sq);
      const L = new Float64Array(sq); // the LSE per row
      const P = new Float64Array(BR * BC);
      const dS = new Float64Array(BR * BC);
      for (let g = a.g0; g < a.g1; g++) {
        const h = hk * group + g;
        const lseBase = a.lseBase + h * a.lseHeadStride;
        dQ.fill(0);
        // D_i = rowsum(dO * O)
        for (let i = 0; i < sq; i++) {
          const oo = ((qRow0 + i) * nh + h) * Dv;
          let s = 0;
          for (let d = 0; d < Dv; d++) s += dout[oo + d]! * out[oo + d]!;
          Di[i] = s;
        }
        if (a.refineLse) {
          // The float32 LSE carries a relative error of ~2^-24 * |lse| into every P of its row, which alone is as
          // large as a float32 criterion's whole baseline: re-derive it in float64.
          K.exactLse(a, h, P, L);
        } else {
          for (let i = 0; i < sq; i++) L[i] = lse[lseBase + i]!;
        }
        for (let c0 = 0; c0 < sk; c0 += BC) {
          const c1 = Math.min(sk, c0 + BC);
          const nc = c1 - c0;
          // Query rows whose key range meets [c0, c1): lo_i < c1 and hi_i > c0, both monotone in i.
          let rFirst = 0;
          let rEnd = sq;
          if (right >= 0) rFirst = Math.max(0, c0 - shift - right); // hi_i = i + shift + right + 1 > c0
          if (left >= 0) rEnd = Math.min(sq, c1 - shift + left); // lo_i = i + shift - left <= c1 - 1
          const kOff = ((kRow0 + c0) * nhk + hk) * D;
          const vOff = ((kRow0 + c0) * nhk + hk) * Dv;
          for (let t0 = rFirst; t0 < rEnd; t0 += BR) {
            const t1 = Math.min(rEnd, t0 + BR);
            const nr = t1 - t0;
            const qOff = ((qRow0 + t0) * nh + h) * D;
            const oOff = ((qRow0 + t0) * nh + h) * Dv;
            K.dotTile(q, qOff, qs, k, kOff, ks, nr, nc, D, P); // scores
            K.dotTile(dout, oOff, os, v, vOff, vs, nr, nc, Dv, dS); // dP = dO V^T
            for (let r = 0; r < nr; r++) {
              const i = t0 + r;
              const m = L[i]!;
              const rlo = left < 0 ? 0 : i + shift - left;
              const rhi = right < 0 ? sk : i + shift + right + 1;
              const jlo = m === -Infinity ? nc : (rlo > c0 ? rlo : c0) - c0; // a row seeing no key has P = 0
              const jhi = (rhi < c1 ? rhi : c1) - c0;
              const sr = r * BC;
              const di = Di[i]!;
              for (let c = 0; c < nc; c++) {
                if (c < jlo || c >= jhi) {
                  P[sr + c] = 0;
                  dS[sr + c] = 0;
                  continue;
                }
                let s = scale * P[sr + c]!;
                let t = 0;
                if (softcap > 0) {
                  t = Math.tanh(s * capInv);
                  s = softcap * t;
                }
                const p = Math.exp(s - m);
                let ds = p * (dS[sr + c]! - di);
                if (softcap > 0) ds *= 1 - t * t; // d(cap*tanh(x/cap))/dx
                P[sr + c] = p;
                dS[sr + c] = ds * scale;
              }
            }
            K.addPtX(P, nr, nc, dout, oOff, os, Dv, dV, c0 * Dv); // dV += P^T dO
            K.addPtX(dS, nr, nc, q, qOff, qs, D, dK, c0 * D); // dK += dS^T Q
            K.addPY(dS, nr, nc, k, kOff, ks, D, dQ, t0 * D); // dQ += dS K
          }
        }
        for (let i = 0; i < sq; i++) {
          const o = ((qRow0 + i) * nh + h) * D;
          for (let d = 0; d < D; d++) dq[o + d] = dQ[i * D + d]!;
        }
      }
      const part = a.part;
      if (part) {
        // A share of a split group: partial dK, dV (float64) for the caller to sum over the shares.
        part.set(dK, a.partOffset);
        part.set(dV, a.partOffset + sk * D);
      } else {
        for (let j = 0; j < sk; j++) {
          const ko = ((kRow0 + j) * nhk + hk) * D;
          const vo = ((kRow0 + j) * nhk + hk) * Dv;
          for (let d = 0; d < D; d++) dk[ko + d] = dK[j * D + d]!;
          for (let d = 0; d < Dv; d++) dv[vo + d] = dV[j * Dv + d]!;
        }
      }
    },
  };
  return K;
}
/** Shared geometry of a job (one sequence b of a problem). Row r of sequence b is global row qRow0 + r. */
interface JobGeometry {
  nh: number;
  nhk: number;
  D: number;
  Dv: number;
  scale: number;
  softcap: number;
  /** Normalized window (causal folded in); -1 = unbounded. */
  left: number;
  right: number;
  sq: number;
  sk: number;
  qRow0: number;
  kRow0: number;
}

export interface ForwardJob extends JobGeometry {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  out: Float32Array;
  lse: Float32Array;
  h: number;
  hk: number;
  i0: number;
  i1: number;
  /** lse index of (b, h, row 0). */
  lseBase: number;
}

export interface BackwardJob extends JobGeometry {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  out: Float32Array;
  dout: Float32Array;
  lse: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
  hk: number;
  /** lse index of (b, head 0, row 0) and the stride between heads. */
  lseBase: number;
  lseHeadStride: number;
  /** Re-derive the LSE in float64 instead of trusting the float32 one (for f32 problems). */
  refineLse: boolean;
  /** The query heads of the group this job handles: hk*group + [g0, g1). */
  g0: number;
  g1: number;
  /** When the group is split over several jobs: where this job's partial dK (sk x D) then dV (sk x Dv) go. */
  part?: Float64Array;
  partOffset: number;
}

export type Kernels = ReturnType<typeof makeKernels>;
