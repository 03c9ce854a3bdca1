// Launch of the sm90 wgmma backward (flash_bwd_sm90_kernel.cuh): zero the f32 dQ accumulator, run the dK/dV/dQ
// kernel, convert dQ (scale folded in) to the dtype. Tiles: 128 keys per CTA (2 warpgroups x 64); Q tiles of 64
// rows at D = 128, 128 rows at D = 64. D = 256 (v8): run_bwd_sm90_d256 (flash_bwd_sm90_d256_kernel.cuh, 64 keys per CTA).
#include <cstdlib>
#include <cstring>
#pragma once
#include "../flash_bwd_kernel.cuh"  // bwd_convert_dq_kernel
#include "flash_bwd_sm90.h"
#include "flash_bwd_sm90_kernel.cuh"
#include "flash_bwd_sm90_d256_kernel.cuh"

namespace flash {

template <int D> struct BwdSm90Config {
  static constexpr int BMQ = D <= 64 ? 128 : 64;
};

// One sm90 backward run: zero the f32 dQ accumulator, the dK/dV/dQ kernel (grid: key tiles of Tr::BN x kv heads x
// batch; Tr::kThreads threads, Tr::kSmem bytes of dynamic shared memory), then dQ converted to the dtype (scale
// folded in). `state` is the caller's per-kernel cache: 0 unknown, 1 usable, -1 not in this binary (no sm_90a image,
// or the shared-memory opt-in failed): then cudaErrorNotSupported, nothing launched, and the caller falls back.
template <typename T, typename Tr, typename Kernel>
cudaError_t launch_bwd_sm90(Kernel kernel, int& state, const FlashBwdParams& p, const float* dsum, float* dq_accum,
                            cudaStream_t stream) {
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

template <typename T, int D, bool BULK, bool V7>
cudaError_t run_bwd_sm90_v(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  constexpr int BMQ = BwdSm90Config<D>::BMQ;
  static int state = 0;  // one per kernel instantiation
  return launch_bwd_sm90<T, sm90bwd::Traits<D, BMQ, BULK, V7>>(sm90bwd::flash_bwd_sm90_kernel<T, D, BMQ, BULK, V7>,
                                                                 state, p, dsum, dq_accum, stream);
}

// v7 features of flash_bwd_sm90_kernel (Traits::V7: fast elementwise path for tiles without mask / softcap; the
// deferred dQ RED is compiled out, see Traits). Measured fwd+bwd 1.17-1.39x of v6 at D = 64, 1.00-1.23x at D = 128
// (H100, BENCHMARKS.md v7). FLASHATTN_SM90_BWD_V7=1 / 0 overrides; FLASHATTN_CUDA_SM90=4 (A/B value, sm90 stays on)
// selects the v6 kernels; default per head dim: FLASH_SM90_BWD_V7_D64 / _D128.
#ifndef FLASH_SM90_BWD_V7_D64
#define FLASH_SM90_BWD_V7_D64 1
#endif
#ifndef FLASH_SM90_BWD_V7_D128
#define FLASH_SM90_BWD_V7_D128 1
#endif
inline bool bwd_sm90_v7_enabled(int d) {
  const char* w = getenv("FLASHATTN_SM90_BWD_V7");
  if (w && (strcmp(w, "1") == 0 || strcmp(w, "0") == 0)) return strcmp(w, "1") == 0;
  const char* v = getenv("FLASHATTN_CUDA_SM90");
  if (v && strcmp(v, "4") == 0) return false;
  return (d <= 64 ? FLASH_SM90_BWD_V7_D64 : FLASH_SM90_BWD_V7_D128) != 0;
}

// v8 head-dim-256 kernel (flash_bwd_sm90_d256_kernel.cuh): 64 keys per CTA, Q tiles of 64, RED.ADD.v2 dQ.
template <typename T, bool V7>
cudaError_t run_bwd_sm90_d256(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  static int state = 0;  // one per kernel instantiation
  return launch_bwd_sm90<T, sm90bwd::TraitsD256>(sm90bwd::flash_bwd_sm90_d256_kernel<T, V7>, state, p, dsum, dq_accum,
                                                 stream);
}

// Returns cudaErrorNotSupported (nothing launched) when this binary has no sm_90a image of the kernel (e.g. a build
// without the compute_90a target, where the body would be empty): the caller then runs the mma.sync kernels.
// dQ accumulation: bulk reductions from shared memory at D = 128 (measured 3-15% faster fwd+bwd than RED there),
// per-thread RED.ADD.v2 at D = 64 (1-5% faster there: the bulk variant spills 72 bytes at BMQ = 128).
// FLASHATTN_SM90_BWD_RED=1 / 0 (tuning A/B) forces RED / bulk.
template <typename T, int D>
cudaError_t run_bwd_sm90(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  if constexpr (D == 256) {
    if (!bwd_sm90_d256_enabled()) return cudaErrorNotSupported;  // -> race-free mma.sync kernels
    return bwd_sm90_v7_enabled(D) ? run_bwd_sm90_d256<T, true>(p, dsum, dq_accum, stream)
                                  : run_bwd_sm90_d256<T, false>(p, dsum, dq_accum, stream);
  } else {
  const char* v = getenv("FLASHATTN_SM90_BWD_RED");
  const char* sv = getenv("FLASHATTN_CUDA_SM90");  // A/B value 5: bulk dQ reductions at D = 64 too
  const bool red = v && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0) ? strcmp(v, "1") == 0
                                                                      : D <= 64 && !(sv && strcmp(sv, "5") == 0);
  const bool v7 = bwd_sm90_v7_enabled(D);
  return red ? (v7 ? run_bwd_sm90_v<T, D, false, true>(p, dsum, dq_accum, stream)
                   : run_bwd_sm90_v<T, D, false, false>(p, dsum, dq_accum, stream))
             : (v7 ? run_bwd_sm90_v<T, D, true, true>(p, dsum, dq_accum, stream)
                   : run_bwd_sm90_v<T, D, true, false>(p, dsum, dq_accum, stream));
  }
}

}  // namespace flash
