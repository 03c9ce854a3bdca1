// Backward launch template per head-dim bucket: the dq kernel and the dkdv kernel (one pass, or a dV pass plus a
// dK pass for head dims > 128, to stay within 255 registers without spills).
#pragma once
#include "flash_bwd_kernel.cuh"
#include "launch.h"

namespace flash {

template <int D> struct BwdConfig {
  static constexpr bool kSplit = D > 128;
  static constexpr int DQ_BN = D > 128 ? 32 : 64, DQ_NW = 4;
  static constexpr int KV_BMQ = D > 128 ? 32 : 64, KV_NW = D > 128 ? 4 : 8;
};

template <typename Kernel>
cudaError_t set_smem(Kernel kernel, int bytes, bool& configured) {
  if (configured) return cudaSuccess;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) configured = true;
  return e;
}

template <typename T, int D, bool DK, bool DV>
cudaError_t launch_dkdv(const FlashBwdParams& p, const float* dsum, cudaStream_t stream) {
  using C = BwdConfig<D>;
  using Tr = DkdvTraits<T, D, C::KV_BMQ, C::KV_NW>;
  auto kernel = flash_bwd_dkdv_kernel<T, D, C::KV_BMQ, C::KV_NW, DK, DV>;
  static bool configured = false;
  cudaError_t e = set_smem(kernel, Tr::kSmem, configured);
  if (e != cudaSuccess) return e;
  dim3 grid((p.fwd.max_seqlen_k + Tr::BN - 1) / Tr::BN, p.fwd.h_kv, p.fwd.batch);
  kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p, dsum);
  return cudaGetLastError();
}

template <typename T, int D>
cudaError_t run_bwd(const FlashBwdParams& p, const float* dsum, cudaStream_t stream) {
  using C = BwdConfig<D>;
  cudaError_t e = cudaSuccess;
  if (p.fwd.max_seqlen_q > 0) {
    using Tr = DqTraits<T, D, C::DQ_BN, C::DQ_NW>;
    auto kernel = flash_bwd_dq_kernel<T, D, C::DQ_BN, C::DQ_NW>;
    static bool configured = false;
    e = set_smem(kernel, Tr::kSmem, configured);
    if (e != cudaSuccess) return e;
    dim3 grid((p.fwd.max_seqlen_q + Tr::BM - 1) / Tr::BM, p.fwd.h_q, p.fwd.batch);
    kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p, dsum);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  if (p.fwd.max_seqlen_k > 0) {
    if constexpr (C::kSplit) {
      if ((e = launch_dkdv<T, D, false, true>(p, dsum, stream)) != cudaSuccess) return e;
      return launch_dkdv<T, D, true, false>(p, dsum, stream);
    } else {
      return launch_dkdv<T, D, true, true>(p, dsum, stream);
    }
  }
  return e;
}

}  // namespace flash
