// CDNA matrix-core forward (f16 in, f32 accumulate), one wavefront of 64 lanes per 32 query rows, 32-key tiles.
// Uses __builtin_amdgcn_mfma_f32_32x32x8f16 for S = Q K^T and O += P V. Compiled only for gfx908/gfx90a/gfx940.
// NOT verified on AMD silicon (none is available to this project): the backend uses it only when
// FLASHATTN_ROCM_MFMA=1. Operand layout assumed (AMD matrix instruction calculator, 32x32x8 f16, 1 block):
//   A (32x8):  lane l holds A[l%32][4*(l/32) + t], t = 0..3
//   B (8x32):  lane l holds B[4*(l/32) + t][l%32]
//   C (32x32): lane l, register r holds C[8*(r/4) + 4*(l/32) + r%4][l%32]
#pragma once
#include "attention_common.h"

#if defined(FA_HAS_MFMA)
typedef _Float16 fa_half4 __attribute__((ext_vector_type(4)));
typedef float fa_float16 __attribute__((ext_vector_type(16)));

#define MFMA_ROWS 32
#define MFMA_KEYS 32
#define MFMA_MAXD 256
#define MFMA_MAXOB (MFMA_MAXD / 32)

FA_INLINE _Float16 half_from_bits(unsigned short b) { return __builtin_bit_cast(_Float16, b); }
FA_INLINE _Float16 half_from_float(float f) { return half_from_bits(from_float<f16_t>(f).bits); }

__device__ void flash_fwd_mfma_f16_impl(const f16_t* __restrict__ q, const f16_t* __restrict__ k,
                                   const f16_t* __restrict__ v, f16_t* __restrict__ out, float* __restrict__ lse,
                                   const int* __restrict__ cu_q, const int* __restrict__ cu_k, int nheads_q,
                                   int nheads_kv, int d, int dv, float scale, float softcap, int win_left,
                                   int win_right, int lse_batch_stride, int lse_head_stride, int lse_varlen) {
  __shared__ _Float16 sQ[MFMA_ROWS][MFMA_MAXD];
  __shared__ _Float16 sK[MFMA_KEYS][MFMA_MAXD];
  __shared__ _Float16 sV[MFMA_KEYS][MFMA_MAXD];
  __shared__ float sS[MFMA_ROWS][MFMA_KEYS + 1];
  __shared__ _Float16 sP[MFMA_ROWS][MFMA_KEYS];
  __shared__ float sM[MFMA_ROWS], sL[MFMA_ROWS], sA[MFMA_ROWS];
  __shared__ int sLo[MFMA_ROWS], sHi[MFMA_ROWS];

  const int lane = threadIdx.x;  // blockDim.x == 64: one CDNA wavefront
  const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * MFMA_ROWS;
  const int q_start = cu_q[b], sq = cu_q[b + 1] - q_start;
  const int k_start = cu_k[b], sk = cu_k[b + 1] - k_start;
  if (i0 >= sq) return;
  const int rows = min(MFMA_ROWS, sq - i0);
  const int hk = h / (nheads_q / nheads_kv);
  const int dp = (d + 7) & ~7;        // K dimension padded to the instruction's 8
  const int nob = (dv + 31) >> 5;     // output column blocks of 32
  const int dvp = nob * 32;
  const int half_id = lane >> 5, col = lane & 31;

  for (int e = lane; e < MFMA_ROWS * dp; e += 64) {
    const int r = e / dp, x = e % dp;
    sQ[r][x] = (r < rows && x < d) ? half_from_bits(q[((long long)(q_start + i0 + r) * nheads_q + h) * d + x].bits)
                                   : (_Float16)0;
  }
  if (lane < MFMA_ROWS) {
    sM[lane] = FA_NEG_INF;
    sL[lane] = 0.f;
    int lo = 0, hi = 0;
    if (lane < rows) key_range(i0 + lane, sq, sk, win_left, win_right, &lo, &hi);
    sLo[lane] = lo;
    sHi[lane] = hi;
  }
  __syncthreads();
  int j_begin = sk, j_end = 0;
  for (int r = 0; r < rows; r++)
    if (sLo[r] < sHi[r]) { j_begin = min(j_begin, sLo[r]); j_end = max(j_end, sHi[r]); }

  fa_float16 o[MFMA_MAXOB];
#pragma unroll
  for (int ob = 0; ob < MFMA_MAXOB; ob++)
    for (int r = 0; r < 16; r++) o[ob][r] = 0.f;

  for (int j0 = j_begin; j0 < j_end; j0 += MFMA_KEYS) {
    const int cols = min(MFMA_KEYS, j_end - j0);
    for (int e = lane; e < MFMA_KEYS * dp; e += 64) {
      const int c = e / dp, x = e % dp;
      sK[c][x] = (c < cols && x < d) ? half_from_bits(k[((long long)(k_start + j0 + c) * nheads_kv + hk) * d + x].bits)
                                     : (_Float16)0;
    }
    for (int e = lane; e < MFMA_KEYS * dvp; e += 64) {
      const int c = e / dvp, x = e % dvp;
      sV[c][x] = (c < cols && x < dv) ? half_from_bits(v[((long long)(k_start + j0 + c) * nheads_kv + hk) * dv + x].bits)
                                      : (_Float16)0;
    }
    __syncthreads();
    fa_float16 s;
    for (int r = 0; r < 16; r++) s[r] = 0.f;
    for (int kc = 0; kc < dp; kc += 8) {
      fa_half4 a, bb;
      for (int t = 0; t < 4; t++) {
        a[t] = sQ[col][kc + 4 * half_id + t];
        bb[t] = sK[col][kc + 4 * half_id + t];
      }
      s = __builtin_amdgcn_mfma_f32_32x32x8f16(a, bb, s, 0, 0, 0);
    }
    for (int r = 0; r < 16; r++) {
      const int row = 8 * (r >> 2) + 4 * half_id + (r & 3);
      const int j = j0 + col;
      float val = FA_NEG_INF;
      if (row < rows && col < cols && j >= sLo[row] && j < sHi[row]) {
        float dcap;
        val = cap_score(s[r], scale, softcap, &dcap);
      }
      sS[row][col] = val;
    }
    __syncthreads();
    if (lane < MFMA_ROWS) {
      const float m_old = sM[lane];
      float m = m_old;
      for (int c = 0; c < MFMA_KEYS; c++) m = fmaxf(m, sS[lane][c]);
      if (m == FA_NEG_INF) {
        for (int c = 0; c < MFMA_KEYS; c++) sP[lane][c] = (_Float16)0;
        sA[lane] = 1.f;
      } else {
        const float alpha = expf(m_old - m);
        float sum = 0.f;
        for (int c = 0; c < MFMA_KEYS; c++) {
          const float p = expf(sS[lane][c] - m);
          sum += p;
          sP[lane][c] = half_from_float(p);
        }
        sL[lane] = sL[lane] * alpha + sum;
        sM[lane] = m;
        sA[lane] = alpha;
      }
    }
    __syncthreads();
#pragma unroll
    for (int ob = 0; ob < MFMA_MAXOB; ob++) {
      if (ob < nob) {
        for (int r = 0; r < 16; r++) o[ob][r] *= sA[8 * (r >> 2) + 4 * half_id + (r & 3)];
        for (int kc = 0; kc < MFMA_KEYS; kc += 8) {
          fa_half4 a, bb;
          for (int t = 0; t < 4; t++) {
            a[t] = sP[col][kc + 4 * half_id + t];
            bb[t] = sV[kc + 4 * half_id + t][ob * 32 + col];
          }
          o[ob] = __builtin_amdgcn_mfma_f32_32x32x8f16(a, bb, o[ob], 0, 0, 0);
        }
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int ob = 0; ob < MFMA_MAXOB; ob++) {
    if (ob < nob) {
      for (int r = 0; r < 16; r++) {
        const int row = 8 * (r >> 2) + 4 * half_id + (r & 3);
        const int x = ob * 32 + col;
        if (row < rows && x < dv) {
          const float l = sL[row];
          out[((long long)(q_start + i0 + row) * nheads_q + h) * dv + x] = from_float<f16_t>(l > 0.f ? o[ob][r] / l : 0.f);
        }
      }
    }
  }
  if (lane < rows) {
    const float l = sL[lane];
    lse[lse_index(b, h, i0 + lane, q_start, lse_batch_stride, lse_head_stride, lse_varlen)] =
        l > 0.f ? sM[lane] + logf(l) : FA_NEG_INF;
  }
}
#endif
