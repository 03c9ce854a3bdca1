// Forward launch template: tile configuration per head-dim bucket (see README.md for the register budget).
#pragma once
#include "flash_fwd_kernel.cuh"
#include "launch.h"

namespace flash {

template <int D> struct FwdConfig;
//                      BM   BN  NW    (MT = BM / 16 / NW query m-tiles per warp)
template <> struct FwdConfig<32>  { static constexpr int BM = 128, BN = 128, NW = 4; };
template <> struct FwdConfig<64>  { static constexpr int BM = 128, BN = 64, NW = 4; };  // 128x128 measured slower
template <> struct FwdConfig<96>  { static constexpr int BM = 128, BN = 64, NW = 4; };
template <> struct FwdConfig<128> { static constexpr int BM = 128, BN = 64, NW = 4; };
template <> struct FwdConfig<160> { static constexpr int BM = 128, BN = 64, NW = 8; };
template <> struct FwdConfig<192> { static constexpr int BM = 128, BN = 64, NW = 8; };
template <> struct FwdConfig<224> { static constexpr int BM = 128, BN = 64, NW = 8; };
template <> struct FwdConfig<256> { static constexpr int BM = 128, BN = 64, NW = 8; };

template <typename T, int D, int BM, int BN, int NW>
cudaError_t run_fwd_cfg(const FlashFwdParams& p, cudaStream_t stream) {
  using Tr = FwdTraits<T, D, BM, BN, NW>;
  auto kernel = flash_fwd_kernel<T, D, BM, BN, NW>;
  static bool configured = false;  // benign race: idempotent attribute set
  if (!configured) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmem);
    if (e != cudaSuccess) return e;
    configured = true;
  }
  dim3 grid((p.max_seqlen_q + BM - 1) / BM, p.h_q, p.batch);
  kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p);
  return cudaGetLastError();
}

template <typename T, int D>
cudaError_t run_fwd(const FlashFwdParams& p, cudaStream_t stream) {
  using C = FwdConfig<D>;
  return run_fwd_cfg<T, D, C::BM, C::BN, C::NW>(p, stream);
}

}  // namespace flash
