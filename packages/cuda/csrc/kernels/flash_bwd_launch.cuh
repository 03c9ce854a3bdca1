// Backward launch template per head-dim bucket: the dq kernel and the dkdv kernel (one pass, or a dV pass plus a
// dK pass for head dims > 128, to stay within 255 registers without spills).
#pragma once
#include "flash_bwd_kernel.cuh"
#include "launch.h"
#ifdef FLASH_BWD_AB
#include <cstdlib>
#endif

namespace flash {

// v5: two m16 tiles per warp (MT = 2) at D = 64 in both kernels (dK and dV accumulators for 32 key rows fit; the
// dkdv tile is 128 keys x 32 queries, 4 warps). Each K/V (dq) or Q/dO (dkdv) fragment read from shared memory feeds
// two MMAs instead of one. Measured 1.03-1.05x fwd+bwd at d64 (BENCHMARKS.md, v5). MT = 2 in the dq kernel at
// D = 96/128 (BN 32) passed the tests but measured 0.92-1.04x (slower at 1k), so it is not used there; D = 32 is
// not measured (kept at v4). BwdConfigMT2 below is that tested configuration (A/B builds only).
template <int D> struct BwdConfig {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_MT = D == 64 ? 2 : 1, DQ_BN = D > 128 ? 32 : 64, DQ_NW = 4;
  static constexpr int KV_MT = D == 64 ? 2 : 1, KV_BMQ = D > 128 || D == 64 ? 32 : 64,
                       KV_NW = D > 128 || D == 64 ? 4 : 8;
};
// v4 configuration (one m16 tile per warp everywhere): A/B builds (-DFLASH_BWD_AB) and the atomic-dQ variant.
template <int D> struct BwdConfigV4 {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_MT = 1, DQ_BN = D > 128 ? 32 : 64, DQ_NW = 4;
  static constexpr int KV_MT = 1, KV_BMQ = D > 128 ? 32 : 64, KV_NW = D > 128 ? 4 : 8;
};
// The configuration measured as "v5 candidate" (MT = 2 in the dq kernel for D <= 128 with BN 32 at D 96/128, in the
// dkdv kernel for D <= 64 with 32-query tiles): all 90 kernel_test cases passed with it; A/B builds only.
template <int D> struct BwdConfigMT2 {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_MT = D <= 128 ? 2 : 1, DQ_BN = D <= 64 ? 64 : 32, DQ_NW = 4;
  static constexpr int KV_MT = D <= 64 ? 2 : 1, KV_BMQ = D > 128 || D <= 64 ? 32 : 64,
                       KV_NW = D > 128 || D <= 64 ? 4 : 8;
};

template <typename Kernel>
cudaError_t set_smem(Kernel kernel, int bytes, bool& configured) {
  if (configured) return cudaSuccess;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) configured = true;
  return e;
}

template <typename T, int D, bool DK, bool DV, bool DQA, typename C = BwdConfig<D>>
cudaError_t launch_dkdv(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  constexpr int MT = DQA ? 1 : C::KV_MT;
  using Tr = DkdvTraits<T, D, C::KV_BMQ, C::KV_NW, MT>;
  constexpr int smem = DQA ? Tr::kSmemAtomic : Tr::kSmemBase;
  auto kernel = flash_bwd_dkdv_kernel<T, D, C::KV_BMQ, C::KV_NW, DK, DV, DQA, MT>;
  static bool configured = false;
  cudaError_t e = set_smem(kernel, smem, configured);
  if (e != cudaSuccess) return e;
  dim3 grid((p.fwd.max_seqlen_k + Tr::BN - 1) / Tr::BN, p.fwd.h_kv, p.fwd.batch);
  kernel<<<grid, Tr::kThreads, smem, stream>>>(p, dsum, dq_accum);
  return cudaGetLastError();
}

// Bytes of f32 dQ accumulator the non-deterministic path needs (0 where it is not used).
template <int D>
int64_t dq_accum_bytes(const FlashBwdParams& p) {
  return BwdConfig<D>::kSplit ? 0 : (int64_t)p.fwd.batch * p.fwd.max_seqlen_q * p.fwd.h_q * p.fwd.d_qk * 4;
}

template <typename T, int D, typename C>
cudaError_t run_bwd_cfg(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream);

template <typename T, int D>
cudaError_t run_bwd(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
#ifdef FLASH_BWD_AB
  // A/B tuning build (both race-free): deterministic = 1 runs the v4 configuration, deterministic = 0 the one
  // FLASH_BWD_AB_CFG names (0: BwdConfig, 1: BwdConfigMT2).
  if (p.deterministic) return run_bwd_cfg<T, D, BwdConfigV4<D>>(p, dsum, dq_accum, stream);
  if (const char* v = getenv("FLASH_BWD_AB_CFG"); v && atoi(v) == 1)
    return run_bwd_cfg<T, D, BwdConfigMT2<D>>(p, dsum, dq_accum, stream);
#endif
  return run_bwd_cfg<T, D, BwdConfig<D>>(p, dsum, dq_accum, stream);
}

template <typename T, int D, typename C>
cudaError_t run_bwd_cfg(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream) {
  cudaError_t e = cudaSuccess;
#ifdef FLASH_ATOMIC_DQ
  // FA2's atomic-dQ scheme (non-deterministic mode). Verified correct on the H100, but measured no faster than the
  // deterministic dq + dkdv kernels once those stopped spilling (BENCHMARKS.md, v4), so it is compiled only on request.
  if constexpr (!C::kSplit) {
    if (!p.deterministic && p.fwd.max_seqlen_q > 0 && p.fwd.max_seqlen_k > 0) {
      if ((e = cudaMemsetAsync(dq_accum, 0, dq_accum_bytes<D>(p), stream)) != cudaSuccess) return e;
      // the atomic variant's 2-D dQ tiling needs the v4 dkdv tile (8 warps x 16 keys, 64 queries)
      if ((e = launch_dkdv<T, D, true, true, true, BwdConfigV4<D>>(p, dsum, dq_accum, stream)) != cudaSuccess) return e;
      dim3 grid((p.fwd.max_seqlen_q * (p.fwd.d_qk / 2) + 255) / 256, p.fwd.h_q, p.fwd.batch);
      if (grid.x > 1024) grid.x = 1024;
      bwd_convert_dq_kernel<T><<<grid, 256, 0, stream>>>(p, dq_accum);
      return cudaGetLastError();
    }
  }
#else
  (void)dq_accum;
#endif
  if (p.fwd.max_seqlen_q > 0) {
    using Tr = DqTraits<T, D, C::DQ_BN, C::DQ_NW, C::DQ_MT>;
    auto kernel = flash_bwd_dq_kernel<T, D, C::DQ_BN, C::DQ_NW, C::DQ_MT>;
    static bool configured = false;
    e = set_smem(kernel, Tr::kSmem, configured);
    if (e != cudaSuccess) return e;
    dim3 grid((p.fwd.max_seqlen_q + Tr::BM - 1) / Tr::BM, p.fwd.h_q, p.fwd.batch);
    kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p, dsum);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  if (p.fwd.max_seqlen_k > 0) {
    if constexpr (C::kSplit) {
      if ((e = launch_dkdv<T, D, false, true, false, C>(p, dsum, nullptr, stream)) != cudaSuccess) return e;
      return launch_dkdv<T, D, true, false, false, C>(p, dsum, nullptr, stream);
    } else {
      return launch_dkdv<T, D, true, true, false, C>(p, dsum, nullptr, stream);
    }
  }
  return e;
}

}  // namespace flash
