// Portable backward, deterministic (no atomics): three kernels.
//   flash_bwd_dot: dvec[h, row] = sum_x dout*out (FlashAttention-2's "D") and the row's LSE as used below.
//   flash_bwd_dq:  one block per BM query rows of a (batch, q head); walks key tiles; dq = scale * dS K.
//   flash_bwd_dkv: one block per BN keys of a (batch, kv head); walks every q head of its GQA group and the
//                  query rows that can see its keys; dv = P^T dout, dk = scale * dS^T q. Summing the group's
//                  heads inside the block is what makes GQA/MQA gradients deterministic.
// P is recomputed from the forward's LSE: P = exp(s - lse); dS = P * (dP - D) * dcap (softcap's chain rule).
#pragma once
#include "attention_common.h"

// Per (row, q head): dvec = sum_x dout*out, and the row's LSE in the accumulation type. For f32 problems
// (Acc = double) the LSE is recomputed here over the row's keys in double: the float LSE handed in would bias
// every P of the row by up to half an ulp of the LSE, which flash-attn's f32 criterion notices. For f16/bf16 the
// given LSE is exact enough and is copied.
template <typename T>
__device__ void flash_bwd_dot(const T* __restrict__ out, const T* __restrict__ dout,
                              typename AccOf<T>::type* __restrict__ dvec, typename AccOf<T>::type* __restrict__ lse_acc,
                              const T* __restrict__ q, const T* __restrict__ k, const float* __restrict__ lse,
                              const int* __restrict__ cu_q, const int* __restrict__ cu_k, int batch, int total_q,
                              int nheads_q, int nheads_kv, int d, int dv, float scale, float softcap, int win_left,
                              int win_right, int lse_batch_stride, int lse_head_stride, int lse_varlen, int recompute) {
  typedef typename AccOf<T>::type Acc;
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long long)total_q * nheads_q) return;
  const int row = (int)(idx / nheads_q);
  const int h = (int)(idx % nheads_q);
  const long long base = ((long long)row * nheads_q + h) * dv;
  Acc acc = 0;
  for (int x = 0; x < dv; x++) acc += (Acc)to_float(out[base + x]) * (Acc)to_float(dout[base + x]);
  dvec[(long long)h * total_q + row] = acc;
  int b = 0;  // the sequence holding this row: last b with cu_q[b] <= row (skips empty sequences)
  for (int lo = 0, hi = batch - 1; lo <= hi;) {
    const int mid = (lo + hi) >> 1;
    if (cu_q[mid] <= row) { b = mid; lo = mid + 1; } else hi = mid - 1;
  }
  const int q_start = cu_q[b], sq = cu_q[b + 1] - q_start, i = row - q_start;
  const int k_start = cu_k[b], sk = cu_k[b + 1] - k_start;
  const float given = lse[lse_index(b, h, i, q_start, lse_batch_stride, lse_head_stride, lse_varlen)];
  Acc result = (Acc)given;
  if (recompute && given != FA_NEG_INF) {
    int lo, hi;
    key_range(i, sq, sk, win_left, win_right, &lo, &hi);
    const int hk = h / (nheads_q / nheads_kv);
    const T* qr = q + ((long long)row * nheads_q + h) * d;
    Acc m = neg_inf<Acc>(), l = 0;
    for (int j = lo; j < hi; j++) {
      const T* kr = k + ((long long)(k_start + j) * nheads_kv + hk) * d;
      Acc dot = 0;
      for (int x = 0; x < d; x++) dot += (Acc)to_float(qr[x]) * (Acc)to_float(kr[x]);
      Acc dcap;
      const Acc s = cap_score(dot, scale, softcap, &dcap);
      if (s > m) { l = l * fa_exp(m - s) + (Acc)1; m = s; } else l += fa_exp(s - m);
    }
    if (l > (Acc)0) result = m + fa_log(l);
  }
  lse_acc[(long long)h * total_q + row] = result;
}

// P and dS for one (BM query rows) x (BN keys) tile, from shared-memory q, k, v, dout. Rows with
// r >= rows or keys c >= cols or masked pairs get P = dS = 0.
template <typename Acc>
FA_INLINE void bwd_tile_ds(const Acc* sQ, const Acc* sK, const Acc* sV, const Acc* sdO, const Acc* sLse,
                           const Acc* sDv, Acc* sP, Acc* sdS, int BM, int BN, int rows, int cols, int i0,
                           int j0, int sq, int sk, int d, int dv, int kd, int vd, float scale, float softcap,
                           int win_left, int win_right) {
  const int tid = threadIdx.x, nt = blockDim.x;
  for (int e = tid; e < BM * BN; e += nt) {
    const int r = e / BN, c = e % BN;
    Acc p = 0, ds = 0;
    if (r < rows && c < cols) {
      int lo, hi;
      key_range(i0 + r, sq, sk, win_left, win_right, &lo, &hi);
      const int j = j0 + c;
      if (j >= lo && j < hi) {
        Acc acc = 0;
        const Acc* qr = sQ + r * d;
        const Acc* kc = sK + c * kd;
        for (int x = 0; x < d; x++) acc += qr[x] * kc[x];
        Acc dcap;
        const Acc s = cap_score(acc, scale, softcap, &dcap);
        p = fa_exp(s - sLse[r]);
        Acc dp = 0;
        const Acc* dor = sdO + r * dv;
        const Acc* vc = sV + c * vd;
        for (int x = 0; x < dv; x++) dp += dor[x] * vc[x];
        ds = p * (dp - sDv[r]) * dcap;
      }
    }
    sP[e] = p;
    sdS[e] = ds;
  }
}

template <typename T>
__device__ void flash_bwd_dq(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                             const T* __restrict__ dout, const typename AccOf<T>::type* __restrict__ lse_acc,
                             const typename AccOf<T>::type* __restrict__ dvec, T* __restrict__ dq, const int* __restrict__ cu_q,
                             const int* __restrict__ cu_k, int total_q, int nheads_q, int nheads_kv, int d, int dv,
                             float scale, float softcap, int win_left, int win_right, int BM, int BN) {
  typedef typename AccOf<T>::type Acc;
  FA_SHARED_BASE(Acc);
  const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * BM;
  const int q_start = cu_q[b], sq = cu_q[b + 1] - q_start;
  const int k_start = cu_k[b], sk = cu_k[b + 1] - k_start;
  if (i0 >= sq) return;
  const int rows = min(BM, sq - i0);
  const int hk = h / (nheads_q / nheads_kv);
  const int kd = d + 1, vd = dv + 1;
  Acc* sQ = smem_base;             // BM x d
  Acc* sdO = sQ + BM * d;     // BM x dv
  Acc* sdQ = sdO + BM * dv;   // BM x d
  Acc* sK = sdQ + BM * d;     // BN x kd
  Acc* sV = sK + BN * kd;     // BN x vd
  Acc* sP = sV + BN * vd;     // BM x BN
  Acc* sdS = sP + BM * BN;    // BM x BN
  Acc* sLse = sdS + BM * BN;  // BM
  Acc* sDv = sLse + BM;       // BM
  const int tid = threadIdx.x, nt = blockDim.x;

  for (int e = tid; e < BM * d; e += nt) {
    const int r = e / d, x = e % d;
    sQ[e] = r < rows ? (Acc)to_float(q[((long long)(q_start + i0 + r) * nheads_q + h) * d + x]) : (Acc)0;
    sdQ[e] = (Acc)0;
  }
  for (int e = tid; e < BM * dv; e += nt) {
    const int r = e / dv, x = e % dv;
    sdO[e] = r < rows ? (Acc)to_float(dout[((long long)(q_start + i0 + r) * nheads_q + h) * dv + x]) : (Acc)0;
  }
  for (int r = tid; r < BM; r += nt) {
    sLse[r] = r < rows ? lse_acc[(long long)h * total_q + q_start + i0 + r] : (Acc)0;
    sDv[r] = r < rows ? dvec[(long long)h * total_q + q_start + i0 + r] : (Acc)0;
  }
  int j_begin = sk, j_end = 0;
  for (int r = 0; r < rows; r++) {
    int lo, hi;
    key_range(i0 + r, sq, sk, win_left, win_right, &lo, &hi);
    if (lo < hi) { j_begin = min(j_begin, lo); j_end = max(j_end, hi); }
  }
  __syncthreads();

  for (int j0 = j_begin; j0 < j_end; j0 += BN) {
    const int cols = min(BN, j_end - j0);
    for (int e = tid; e < BN * d; e += nt) {
      const int c = e / d, x = e % d;
      sK[c * kd + x] = c < cols ? (Acc)to_float(k[((long long)(k_start + j0 + c) * nheads_kv + hk) * d + x]) : (Acc)0;
    }
    for (int e = tid; e < BN * dv; e += nt) {
      const int c = e / dv, x = e % dv;
      sV[c * vd + x] = c < cols ? (Acc)to_float(v[((long long)(k_start + j0 + c) * nheads_kv + hk) * dv + x]) : (Acc)0;
    }
    __syncthreads();
    bwd_tile_ds(sQ, sK, sV, sdO, sLse, sDv, sP, sdS, BM, BN, rows, cols, i0, j0, sq, sk, d, dv, kd, vd, scale,
                softcap, win_left, win_right);
    __syncthreads();
    for (int e = tid; e < BM * d; e += nt) {
      const int r = e / d, x = e % d;
      Acc acc = 0;
      for (int c = 0; c < cols; c++) acc += sdS[r * BN + c] * sK[c * kd + x];
      sdQ[e] += (Acc)scale * acc;
    }
    __syncthreads();
  }
  for (int e = tid; e < rows * d; e += nt) {
    const int r = e / d, x = e % d;
    dq[((long long)(q_start + i0 + r) * nheads_q + h) * d + x] = from_float<T>((float)sdQ[e]);
  }
}

template <typename T>
__device__ void flash_bwd_dkv(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                              const T* __restrict__ dout, const typename AccOf<T>::type* __restrict__ lse_acc,
                              const typename AccOf<T>::type* __restrict__ dvec, T* __restrict__ dk, T* __restrict__ dvout,
                              const int* __restrict__ cu_q, const int* __restrict__ cu_k, int total_q, int nheads_q,
                              int nheads_kv, int d, int dv, float scale, float softcap, int win_left, int win_right,
                              int BM, int BN) {
  typedef typename AccOf<T>::type Acc;
  FA_SHARED_BASE(Acc);
  const int b = blockIdx.z, hk = blockIdx.y, j0 = blockIdx.x * BN;
  const int q_start = cu_q[b], sq = cu_q[b + 1] - q_start;
  const int k_start = cu_k[b], sk = cu_k[b + 1] - k_start;
  if (j0 >= sk) return;
  const int cols = min(BN, sk - j0);
  const int group = nheads_q / nheads_kv;
  const int kd = d + 1, vd = dv + 1;
  Acc* sK = smem_base;             // BN x kd
  Acc* sV = sK + BN * kd;     // BN x vd
  Acc* sdK = sV + BN * vd;    // BN x d
  Acc* sdV = sdK + BN * d;    // BN x dv
  Acc* sQ = sdV + BN * dv;    // BM x d
  Acc* sdO = sQ + BM * d;     // BM x dv
  Acc* sP = sdO + BM * dv;    // BM x BN
  Acc* sdS = sP + BM * BN;    // BM x BN
  Acc* sLse = sdS + BM * BN;  // BM
  Acc* sDv = sLse + BM;       // BM
  const int tid = threadIdx.x, nt = blockDim.x;

  for (int e = tid; e < BN * d; e += nt) {
    const int c = e / d, x = e % d;
    sK[c * kd + x] = c < cols ? (Acc)to_float(k[((long long)(k_start + j0 + c) * nheads_kv + hk) * d + x]) : (Acc)0;
    sdK[e] = (Acc)0;
  }
  for (int e = tid; e < BN * dv; e += nt) {
    const int c = e / dv, x = e % dv;
    sV[c * vd + x] = c < cols ? (Acc)to_float(v[((long long)(k_start + j0 + c) * nheads_kv + hk) * dv + x]) : (Acc)0;
    sdV[e] = (Acc)0;
  }
  // Query rows that can see any of keys j0 .. j0+cols-1: query i sees j iff diag-left <= j <= diag+right,
  // diag = i + sk - sq.
  const int shift = sk - sq;
  const int i_begin = win_right < 0 ? 0 : max(0, j0 - win_right - shift);
  const int i_end = win_left < 0 ? sq : min(sq, j0 + cols - 1 + win_left - shift + 1);
  __syncthreads();

  for (int g = 0; g < group; g++) {
    const int h = hk * group + g;
    for (int i0 = i_begin; i0 < i_end; i0 += BM) {
      const int rows = min(BM, i_end - i0);
      for (int e = tid; e < BM * d; e += nt) {
        const int r = e / d, x = e % d;
        sQ[e] = r < rows ? (Acc)to_float(q[((long long)(q_start + i0 + r) * nheads_q + h) * d + x]) : (Acc)0;
      }
      for (int e = tid; e < BM * dv; e += nt) {
        const int r = e / dv, x = e % dv;
        sdO[e] = r < rows ? (Acc)to_float(dout[((long long)(q_start + i0 + r) * nheads_q + h) * dv + x]) : (Acc)0;
      }
      for (int r = tid; r < BM; r += nt) {
        sLse[r] = r < rows ? lse_acc[(long long)h * total_q + q_start + i0 + r] : (Acc)0;
        sDv[r] = r < rows ? dvec[(long long)h * total_q + q_start + i0 + r] : (Acc)0;
      }
      __syncthreads();
      bwd_tile_ds(sQ, sK, sV, sdO, sLse, sDv, sP, sdS, BM, BN, rows, cols, i0, j0, sq, sk, d, dv, kd, vd, scale,
                  softcap, win_left, win_right);
      __syncthreads();
      for (int e = tid; e < BN * dv; e += nt) {
        const int c = e / dv, x = e % dv;
        Acc acc = 0;
        for (int r = 0; r < rows; r++) acc += sP[r * BN + c] * sdO[r * dv + x];
        sdV[e] += acc;
      }
      for (int e = tid; e < BN * d; e += nt) {
        const int c = e / d, x = e % d;
        Acc acc = 0;
        for (int r = 0; r < rows; r++) acc += sdS[r * BN + c] * sQ[r * d + x];
        sdK[e] += (Acc)scale * acc;
      }
      __syncthreads();
    }
  }
  for (int e = tid; e < cols * d; e += nt) {
    const int c = e / d, x = e % d;
    dk[((long long)(k_start + j0 + c) * nheads_kv + hk) * d + x] = from_float<T>((float)sdK[e]);
  }
  for (int e = tid; e < cols * dv; e += nt) {
    const int c = e / dv, x = e % dv;
    dvout[((long long)(k_start + j0 + c) * nheads_kv + hk) * dv + x] = from_float<T>((float)sdV[e]);
  }
}
