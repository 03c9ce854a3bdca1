// Backward launch template per head-dim bucket: the dq kernel and the dkdv kernel (one pass, or a dV pass plus a
// dK pass for head dims > 128, to stay within 255 registers without spills).
#pragma once
#include "flash_bwd_kernel.cuh"
#include "launch.h"

namespace flash {

// v5: two m16 tiles per warp (MT = 2) wherever the accumulators fit in 255 registers: the dq kernel for D <= 128
// (BN 32 at D 96/128 so S and dP fit next to 2 x D/8 x 4 accumulators), the dkdv kernel for D <= 64 (dK and dV
// accumulators for 32 key rows). Each K/V (dq) or Q/dO (dkdv) fragment then feeds two MMAs instead of one: the
// ldmatrix traffic per MMA, which bounds the MT = 1 kernels, drops by 1.4-1.8x.
template <int D> struct BwdConfig {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_MT = D <= 128 ? 2 : 1, DQ_BN = D <= 64 ? 64 : 32, DQ_NW = 4;
  static constexpr int KV_MT = D <= 64 ? 2 : 1, KV_BMQ = D > 128 || D <= 64 ? 32 : 64,
                       KV_NW = D > 128 || D <= 64 ? 4 : 8;
};
// v4 configuration (one m16 tile per warp everywhere); compiled only for A/B builds (-DFLASH_BWD_AB).
template <int D> struct BwdConfigV4 {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_MT = 1, DQ_BN = D > 128 ? 32 : 64, DQ_NW = 4;
  static constexpr int KV_MT = 1, KV_BMQ = D > 128 ? 32 : 64, KV_NW = D > 128 ? 4 : 8;
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
  // A/B tuning build: deterministic = 1 runs the v4 configuration, deterministic = 0 the current one (both race-free).
  if (p.deterministic) return run_bwd_cfg<T, D, BwdConfigV4<D>>(p, dsum, dq_accum, stream);
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
      if ((e = launch_dkdv<T, D, true, true, true, C>(p, dsum, dq_accum, stream)) != cudaSuccess) return e;
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
