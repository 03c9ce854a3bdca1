// f32 inputs: exact-precision SIMT path (no tensor cores).
// Why not convert to f16/bf16 and reuse the tensor-core kernels: the acceptance criterion compares against a naive
// f32 computation (max err <= 2x its error + atol), which a half-precision round trip fails by orders of magnitude.
// TF32 (10-bit mantissa) fails it as well. Even f32 accumulation can exceed 2x the naive error (the naive
// baseline rounds each intermediate once), so f32 runs warp-per-row kernels that compute internally in float64
// (H100 FP64 is half the FP32 rate) and round once on output:
// forward: one warp per query row, lanes split 32 keys at a time (dot products), then the 32 probabilities are
// broadcast and each lane accumulates O for dims lane, lane+32, ...; backward: a dQ kernel (warp per query row)
// and a dK/dV kernel (warp per key row, looping over the GQA group and the visible queries) — no atomics, so f32
// gradients are deterministic. Speed is not the goal here; correctness is.
#include "block_info.cuh"
#include "launch.h"

namespace flash {
namespace {

constexpr int kWarps = 8;     // rows per block
constexpr int kMaxC = 8;      // 256 / 32 dims per lane

__device__ __forceinline__ double warp_max(double x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ double warp_sum(double x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ double dot_row(const double* __restrict__ a_smem, const float* __restrict__ g, int d) {
  double acc = 0.0;
  for (int c = 0; c < d; c += 4) {
    const float4 y = *reinterpret_cast<const float4*>(g + c);
    acc = fma(a_smem[c], (double)y.x, acc); acc = fma(a_smem[c + 1], (double)y.y, acc);
    acc = fma(a_smem[c + 2], (double)y.z, acc); acc = fma(a_smem[c + 3], (double)y.w, acc);
  }
  return acc;
}
// Natural-unit logit z from raw q.k, and dz/draw / scale (1 - tanh^2 with softcap, else 1).
__device__ __forceinline__ double logit(double raw, double scale, double cap, double& dfac) {
  if (cap > 0.0) {
    const double th = tanh(raw * scale / cap);
    dfac = 1.0 - th * th;
    return cap * th;
  }
  dfac = 1.0;
  return raw * scale;
}

__global__ void __launch_bounds__(kWarps * 32) fwd_f32_kernel(const FlashFwdParams p) {
  __shared__ __align__(16) double sq[kWarps][256];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int h = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int i = blockIdx.x * kWarps + warp;
  if (i >= bi.sq) return;
  const int hk = h / (p.h_q / p.h_kv);
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const float* Q = static_cast<const float*>(p.q);
  const float* K = static_cast<const float*>(p.k);
  const float* V = static_cast<const float*>(p.v);
  const float* qrow = Q + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_qk;
  for (int c = lane; c < p.d_qk; c += 32) sq[warp][c] = qrow[c];
  __syncwarp();
  int klo, khi;
  mask.key_range(i, i, klo, khi);
  double m = -INFINITY, l = 0.0, o[kMaxC];
#pragma unroll
  for (int c = 0; c < kMaxC; ++c) o[c] = 0.0;
  for (int j0 = klo; j0 < khi; j0 += 32) {
    const int j = j0 + lane;
    double z = -INFINITY, dfac;
    if (j < khi && mask.visible(i, j)) {
      const float* krow = K + ((int64_t)(bi.k_start + j) * p.h_kv + hk) * p.d_qk;
      z = logit(dot_row(sq[warp], krow, p.d_qk), p.scale, p.softcap, dfac);
    }
    const double mnew = fmax(m, warp_max(z));
    if (mnew == -INFINITY) continue;  // nothing visible yet
    const double corr = exp(m - mnew);
    const double pj = exp(z - mnew);
    l = l * corr + warp_sum(pj);
    m = mnew;
#pragma unroll
    for (int c = 0; c < kMaxC; ++c) o[c] *= corr;
    const int cnt = min(32, khi - j0);
    for (int t = 0; t < cnt; ++t) {
      const double pt = __shfl_sync(0xffffffffu, pj, t);
      if (pt == 0.0) continue;  // warp-uniform
      const float* vrow = V + ((int64_t)(bi.k_start + j0 + t) * p.h_kv + hk) * p.d_v;
#pragma unroll
      for (int c = 0; c < kMaxC; ++c)
        if (lane + 32 * c < p.d_v) o[c] = fma(pt, (double)vrow[lane + 32 * c], o[c]);
    }
  }
  float* orow = static_cast<float*>(p.out) + ((int64_t)(bi.q_start + i) * p.h_q + h) * p.d_v;
  const double inv = l > 0.0 ? 1.0 / l : 0.0;
#pragma unroll
  for (int c = 0; c < kMaxC; ++c)
    if (lane + 32 * c < p.d_v) orow[lane + 32 * c] = (float)(o[c] * inv);
  if (p.lse != nullptr && lane == 0)
    p.lse[(int64_t)b * p.lse_batch_stride + (int64_t)h * p.lse_head_stride + (p.lse_varlen_rows ? bi.q_start : 0) +
          i] = l > 0.0 ? (float)(m + log(l)) : -INFINITY;
}


// Also writes the row's float64 LSE and D = dO.O (recomputed from q, k, v, out rather than read from the f32
// LSE, whose rounding alone would exceed the criterion) to the workspace for the dkdv kernel.
__global__ void __launch_bounds__(kWarps * 32)
    dq_f32_kernel(const FlashBwdParams bp, double* __restrict__ lse64, double* __restrict__ d64) {
  const FlashFwdParams& p = bp.fwd;
  __shared__ __align__(16) double sq[kWarps][256];
  __shared__ __align__(16) double sdo[kWarps][256];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int h = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int i = blockIdx.x * kWarps + warp;
  if (i >= bi.sq) return;
  const int hk = h / (p.h_q / p.h_kv);
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int64_t row = bi.q_start + i;
  const float* qrow = static_cast<const float*>(p.q) + (row * p.h_q + h) * p.d_qk;
  const float* dorow = static_cast<const float*>(bp.dout) + (row * p.h_q + h) * p.d_v;
  const float* orow = static_cast<const float*>(p.out) + (row * p.h_q + h) * p.d_v;
  double dd = 0.0;
  for (int c = lane; c < p.d_qk; c += 32) sq[warp][c] = qrow[c];
  for (int c = lane; c < p.d_v; c += 32) {
    sdo[warp][c] = dorow[c];
    dd = fma((double)dorow[c], (double)orow[c], dd);
  }
  __syncwarp();
  const double D = warp_sum(dd);
  const float* K = static_cast<const float*>(p.k);
  const float* V = static_cast<const float*>(p.v);
  int klo, khi;
  mask.key_range(i, i, klo, khi);
  // Pass 1: float64 row max and sum -> LSE.
  double m = -INFINITY, l = 0.0;
  for (int j0 = klo; j0 < khi; j0 += 32) {
    const int j = j0 + lane;
    double z = -INFINITY, dfac;
    if (j < khi && mask.visible(i, j))
      z = logit(dot_row(sq[warp], K + ((int64_t)(bi.k_start + j) * p.h_kv + hk) * p.d_qk, p.d_qk), p.scale,
                p.softcap, dfac);
    const double mnew = fmax(m, warp_max(z));
    if (mnew == -INFINITY) continue;
    l = l * exp(m - mnew) + warp_sum(exp(z - mnew));
    m = mnew;
  }
  const double lse = l > 0.0 ? m + log(l) : -INFINITY;
  if (lane == 0) {
    lse64[row * p.h_q + h] = lse;
    d64[row * p.h_q + h] = D;
  }
  double dq[kMaxC];
#pragma unroll
  for (int c = 0; c < kMaxC; ++c) dq[c] = 0.0;
  if (lse == -INFINITY) khi = klo;  // row saw no key: zero gradient
  for (int j0 = klo; j0 < khi; j0 += 32) {
    const int j = j0 + lane;
    double ds = 0.0;
    if (j < khi && mask.visible(i, j)) {
      const float* krow = K + ((int64_t)(bi.k_start + j) * p.h_kv + hk) * p.d_qk;
      const float* vrow = V + ((int64_t)(bi.k_start + j) * p.h_kv + hk) * p.d_v;
      double dfac;
      const double z = logit(dot_row(sq[warp], krow, p.d_qk), p.scale, p.softcap, dfac);
      const double pr = exp(z - lse);
      ds = pr * (dot_row(sdo[warp], vrow, p.d_v) - D) * dfac;
    }
    const int cnt = min(32, khi - j0);
    for (int t = 0; t < cnt; ++t) {
      const double dst = __shfl_sync(0xffffffffu, ds, t);
      const float* krow = K + ((int64_t)(bi.k_start + j0 + t) * p.h_kv + hk) * p.d_qk;
#pragma unroll
      for (int c = 0; c < kMaxC; ++c)
        if (lane + 32 * c < p.d_qk) dq[c] = fma(dst, (double)krow[lane + 32 * c], dq[c]);
    }
  }
  float* dqrow = static_cast<float*>(bp.dq) + (row * p.h_q + h) * p.d_qk;
#pragma unroll
  for (int c = 0; c < kMaxC; ++c)
    if (lane + 32 * c < p.d_qk) dqrow[lane + 32 * c] = (float)(dq[c] * p.scale);
}

__global__ void __launch_bounds__(kWarps * 32) dkdv_f32_kernel(const FlashBwdParams bp, const double* __restrict__ lse64, const double* __restrict__ d64) {
  const FlashFwdParams& p = bp.fwd;
  __shared__ __align__(16) double sk[kWarps][256];
  __shared__ __align__(16) double sv[kWarps][256];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int hk = blockIdx.y, b = blockIdx.z;
  const BlockInfo bi(p.cu_seqlens_q, p.cu_seqlens_k, b);
  const int j = blockIdx.x * kWarps + warp;
  if (j >= bi.sk) return;
  const Mask mask(bi.sq, bi.sk, p.window_left, p.window_right);
  const int64_t krowi = bi.k_start + j;
  const float* krow = static_cast<const float*>(p.k) + (krowi * p.h_kv + hk) * p.d_qk;
  const float* vrow = static_cast<const float*>(p.v) + (krowi * p.h_kv + hk) * p.d_v;
  for (int c = lane; c < p.d_qk; c += 32) sk[warp][c] = krow[c];
  for (int c = lane; c < p.d_v; c += 32) sv[warp][c] = vrow[c];
  __syncwarp();
  const float* Q = static_cast<const float*>(p.q);
  const float* dO = static_cast<const float*>(bp.dout);
  double dk[kMaxC], dv[kMaxC];
#pragma unroll
  for (int c = 0; c < kMaxC; ++c) dk[c] = dv[c] = 0.0;
  int qlo, qhi;
  mask.query_range(j, j, bi.sq, qlo, qhi);
  const int group = p.h_q / p.h_kv;
  for (int g = 0; g < group; ++g) {
    const int h = hk * group + g;
    for (int i0 = qlo; i0 < qhi; i0 += 32) {
      const int i = i0 + lane;
      double pr = 0.0, ds = 0.0;
      if (i < qhi && mask.visible(i, j)) {
        const int64_t row = bi.q_start + i;
        const double lse = lse64[row * p.h_q + h];
        if (lse != -INFINITY) {
          double dfac;
          const double z = logit(dot_row(sk[warp], Q + (row * p.h_q + h) * p.d_qk, p.d_qk), p.scale, p.softcap, dfac);
          pr = exp(z - lse);
          ds = pr * (dot_row(sv[warp], dO + (row * p.h_q + h) * p.d_v, p.d_v) - d64[row * p.h_q + h]) * dfac;
        }
      }
      const int cnt = min(32, qhi - i0);
      for (int t = 0; t < cnt; ++t) {
        const double pt = __shfl_sync(0xffffffffu, pr, t);
        const double dst = __shfl_sync(0xffffffffu, ds, t);
        const int64_t row = bi.q_start + i0 + t;
        const float* qr = Q + (row * p.h_q + h) * p.d_qk;
        const float* dor = dO + (row * p.h_q + h) * p.d_v;
#pragma unroll
        for (int c = 0; c < kMaxC; ++c) {
          if (lane + 32 * c < p.d_v) dv[c] = fma(pt, (double)dor[lane + 32 * c], dv[c]);
          if (lane + 32 * c < p.d_qk) dk[c] = fma(dst, (double)qr[lane + 32 * c], dk[c]);
        }
      }
    }
  }
  float* dkrow = static_cast<float*>(bp.dk) + (krowi * p.h_kv + hk) * p.d_qk;
  float* dvrow = static_cast<float*>(bp.dv) + (krowi * p.h_kv + hk) * p.d_v;
#pragma unroll
  for (int c = 0; c < kMaxC; ++c) {
    if (lane + 32 * c < p.d_qk) dkrow[lane + 32 * c] = (float)(dk[c] * p.scale);
    if (lane + 32 * c < p.d_v) dvrow[lane + 32 * c] = (float)dv[c];
  }
}

}  // namespace

cudaError_t run_fwd_f32(const FlashFwdParams& p, cudaStream_t stream) {
  dim3 grid((p.max_seqlen_q + kWarps - 1) / kWarps, p.h_q, p.batch);
  fwd_f32_kernel<<<grid, kWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

int64_t bwd_f32_workspace_bytes(const FlashBwdParams& p) {
  return (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q * 2 * (int64_t)sizeof(double);
}

cudaError_t run_bwd_f32(const FlashBwdParams& p, cudaStream_t stream) {
  const int64_t n = (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q;
  double* lse64 = static_cast<double*>(p.scratch);
  double* d64 = lse64 + n;
  cudaError_t e = cudaSuccess;
  if (p.fwd.max_seqlen_q > 0) {
    dim3 gq((p.fwd.max_seqlen_q + kWarps - 1) / kWarps, p.fwd.h_q, p.fwd.batch);
    dq_f32_kernel<<<gq, kWarps * 32, 0, stream>>>(p, lse64, d64);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  if (p.fwd.max_seqlen_k == 0) return e;
  dim3 gk((p.fwd.max_seqlen_k + kWarps - 1) / kWarps, p.fwd.h_kv, p.fwd.batch);
  dkdv_f32_kernel<<<gk, kWarps * 32, 0, stream>>>(p, lse64, d64);
  return cudaGetLastError();
}

}  // namespace flash
