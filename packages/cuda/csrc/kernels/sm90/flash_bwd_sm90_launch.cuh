// Launch of the sm90 wgmma backward (flash_bwd_sm90_kernel.cuh): zero the f32 dQ accumulator, run the dK/dV/dQ
// kernel, convert dQ (scale folded in) to the dtype. Tiles: 128 keys per CTA (2 warpgroups x 64); Q tiles of 64
// rows at D = 128, 128 rows at D = 64.
#include <cstdlib>
#include <cstring>
#pragma once
#include "../flash_bwd_kernel.cuh"  // bwd_convert_dq_kernel
#include "flash_bwd_sm90.h"
#include "flash_bwd_sm90_kernel.cuh"

namespace flash {

template <int D> struct BwdSm90Config {
  static constexpr int BMQ = D <= 64 ? 128 : 64;
};

template <typename T, int D, bool BULK>
cudaError_t run_bwd_sm90_v(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  constexpr int BMQ = BwdSm90Config<D>::BMQ;
  using Tr = sm90bwd::Traits<D, BMQ, BULK>;
  auto kernel = sm90bwd::flash_bwd_sm90_kernel<T, D, BMQ, BULK>;
  static int state = 0;  // 0 unknown, 1 usable, -1 not in this binary
  if (state == 0) {
    cudaFuncAttributes a{};
    if (cudaFuncGetAttributes(&a, kernel) != cudaSuccess || a.ptxVersion < 90 || a.binaryVersion < 90) {
      cudaGetLastError();
      state = -1;
    } else if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmem) != cudaSuccess) {
      cudaGetLastError();
      state = -1;
    } else {
      state = 1;
    }
  }
  if (state < 0) return cudaErrorNotSupported;
  cudaError_t e;
  const int64_t acc_bytes = (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q * p.fwd.d_qk * 4;
  if (p.fwd.max_seqlen_q > 0 && (e = cudaMemsetAsync(dq_accum, 0, acc_bytes, stream)) != cudaSuccess) return e;
  if (p.fwd.max_seqlen_k > 0) {
    dim3 grid((p.fwd.max_seqlen_k + Tr::BN - 1) / Tr::BN, p.fwd.h_kv, p.fwd.batch);
    kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p, dsum, dq_accum);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  if (p.fwd.max_seqlen_q > 0) {
    dim3 grid((p.fwd.max_seqlen_q * (p.fwd.d_qk / 2) + 255) / 256, p.fwd.h_q, p.fwd.batch);
    if (grid.x > 1024) grid.x = 1024;
    bwd_convert_dq_kernel<T><<<grid, 256, 0, stream>>>(p, dq_accum);
    return cudaGetLastError();
  }
  return cudaSuccess;
}

// Returns cudaErrorNotSupported (nothing launched) when this binary has no sm_90a image of the kernel (e.g. a build
// without the compute_90a target, where the body would be empty): the caller then runs the mma.sync kernels.
// dQ accumulation: bulk reductions from shared memory at D = 128 (measured 3-15% faster fwd+bwd than RED there),
// per-thread RED.ADD.v2 at D = 64 (1-5% faster there: the bulk variant spills 72 bytes at BMQ = 128).
// FLASHATTN_SM90_BWD_RED=1 / 0 (tuning A/B) forces RED / bulk.
template <typename T, int D>
cudaError_t run_bwd_sm90(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  const char* v = getenv("FLASHATTN_SM90_BWD_RED");
  const bool red = v && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0) ? strcmp(v, "1") == 0 : D <= 64;
  return red ? run_bwd_sm90_v<T, D, false>(p, dsum, dq_accum, stream)
             : run_bwd_sm90_v<T, D, true>(p, dsum, dq_accum, stream);
}

}  // namespace flash
