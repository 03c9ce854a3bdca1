// Portable forward: tiled online-softmax attention (FlashAttention-2's loop order) with every tile in shared
// memory in the accumulation type (float; double for f32 problems). One block of FA_THREADS threads owns BM query rows of one (batch, head); it walks the key
// tiles of BN keys that any of its rows can see. Per-row softmax bookkeeping is done by one thread per row, in
// shared memory, so the code is correct for any wavefront size (32 on NVIDIA/RDNA, 64 on CDNA).
#pragma once
#include "attention_common.h"

template <typename T>
__device__ void flash_fwd(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                          T* __restrict__ out, float* __restrict__ lse, const int* __restrict__ cu_q,
                          const int* __restrict__ cu_k, int nheads_q, int nheads_kv, int d, int dv, float scale,
                          float softcap, int win_left, int win_right, int lse_batch_stride, int lse_head_stride,
                          int lse_varlen, int BM, int BN) {
  typedef typename AccOf<T>::type Acc;
  FA_SHARED_BASE(Acc);
  const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * BM;
  const int q_start = cu_q[b], sq = cu_q[b + 1] - q_start;
  const int k_start = cu_k[b], sk = cu_k[b + 1] - k_start;
  if (i0 >= sq) return;  // uniform over the block
  const int rows = min(BM, sq - i0);
  const int hk = h / (nheads_q / nheads_kv);
  const int kd = d + 1, vd = dv + 1;  // padded strides: conflict-free column walks
  Acc* sQ = smem_base;           // BM x d
  Acc* sK = sQ + BM * d;         // BN x kd
  Acc* sV = sK + BN * kd;        // BN x vd
  Acc* sO = sV + BN * vd;        // BM x dv (unnormalized output accumulator)
  Acc* sS = sO + BM * dv;        // BM x BN scores, then probabilities
  Acc* sM = sS + BM * BN;        // running max per row
  Acc* sL = sM + BM;             // running sum per row
  Acc* sA = sL + BM;             // rescale factor of this tile per row
  int* sLo = (int*)(sA + BM);
  int* sHi = sLo + BM;
  const int tid = threadIdx.x, nt = blockDim.x;

  for (int e = tid; e < BM * d; e += nt) {
    const int r = e / d, c = e % d;
    sQ[e] = r < rows ? (Acc)to_float(q[((long long)(q_start + i0 + r) * nheads_q + h) * d + c]) : (Acc)0;
  }
  for (int e = tid; e < BM * dv; e += nt) sO[e] = (Acc)0;
  for (int r = tid; r < BM; r += nt) {
    sM[r] = neg_inf<Acc>();
    sL[r] = (Acc)0;
    int lo = 0, hi = 0;
    if (r < rows) key_range(i0 + r, sq, sk, win_left, win_right, &lo, &hi);
    sLo[r] = lo;
    sHi[r] = hi;
  }
  __syncthreads();
  int j_begin = sk, j_end = 0;
  for (int r = 0; r < rows; r++)
    if (sLo[r] < sHi[r]) { j_begin = min(j_begin, sLo[r]); j_end = max(j_end, sHi[r]); }

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
    for (int e = tid; e < BM * BN; e += nt) {
      const int r = e / BN, c = e % BN, j = j0 + c;
      Acc s = neg_inf<Acc>();
      if (r < rows && c < cols && j >= sLo[r] && j < sHi[r]) {
        Acc acc = 0;
        const Acc* qr = sQ + r * d;
        const Acc* kc = sK + c * kd;
        for (int x = 0; x < d; x++) acc += qr[x] * kc[x];
        Acc dcap;
        s = cap_score(acc, scale, softcap, &dcap);
      }
      sS[e] = s;
    }
    __syncthreads();
    for (int r = tid; r < BM; r += nt) {
      Acc* sr = sS + r * BN;
      const Acc m_old = sM[r];
      Acc m = m_old;
      for (int c = 0; c < BN; c++) m = fa_max(m, sr[c]);
      if (m == neg_inf<Acc>()) {  // this row sees nothing here (yet): contributes nothing
        for (int c = 0; c < BN; c++) sr[c] = (Acc)0;
        sA[r] = (Acc)1;
        continue;
      }
      const Acc alpha = fa_exp(m_old - m);  // m_old = -inf -> 0
      Acc sum = 0;
      for (int c = 0; c < BN; c++) {
        const Acc p = fa_exp(sr[c] - m);  // masked (-inf) -> 0
        sr[c] = p;
        sum += p;
      }
      sL[r] = sL[r] * alpha + sum;
      sM[r] = m;
      sA[r] = alpha;
    }
    __syncthreads();
    for (int e = tid; e < BM * dv; e += nt) {
      const int r = e / dv, x = e % dv;
      Acc acc = sO[e] * sA[r];
      const Acc* pr = sS + r * BN;
      for (int c = 0; c < cols; c++) acc += pr[c] * sV[c * vd + x];
      sO[e] = acc;
    }
    __syncthreads();
  }

  for (int e = tid; e < rows * dv; e += nt) {
    const int r = e / dv, x = e % dv;
    const Acc l = sL[r];
    out[((long long)(q_start + i0 + r) * nheads_q + h) * dv + x] = from_float<T>(l > (Acc)0 ? (float)(sO[e] / l) : 0.f);
  }
  for (int r = tid; r < rows; r += nt) {
    const Acc l = sL[r];
    lse[lse_index(b, h, i0 + r, q_start, lse_batch_stride, lse_head_stride, lse_varlen)] =
        l > (Acc)0 ? (float)(sM[r] + fa_log(l)) : FA_NEG_INF;
  }
}
