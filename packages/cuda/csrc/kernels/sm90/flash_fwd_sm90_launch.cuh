// sm90 forward launch: tile configuration per head-dim bucket. Instantiated in flash_fwd_sm90_hdim{64,128,256}.cu,
// dispatched by flash_api.cu (flash_fwd) only on compute capability 9.x for f16 / bf16, unless FLASHATTN_CUDA_SM90=0.
#pragma once
#include "flash_fwd_sm90_kernel.cuh"
#include <cstdlib>
#include <cstring>

namespace flash {

template <int D> struct FwdSm90Config;
//                          NWG (consumer warpgroups, BM = 64 NWG)   BN (keys per tile)   STAGES (K/V smem stages)
template <> struct FwdSm90Config<64>  { static constexpr int NWG = 2, BN = 128, STAGES = 2; };
template <> struct FwdSm90Config<128> { static constexpr int NWG = 2, BN = 128, STAGES = 2; };
template <> struct FwdSm90Config<256> { static constexpr int NWG = 2, BN = 64, STAGES = 2; };

template <typename T, int D, int NWG, int BN, int STAGES, bool PP>
cudaError_t run_fwd_sm90_cfg(const FlashFwdParams& p, cudaStream_t stream) {
  using Tr = sm90::FwdSm90Traits<T, D, NWG, BN, STAGES>;
  auto kernel = sm90::flash_fwd_sm90_kernel<T, D, NWG, BN, STAGES, PP>;
  // 0 = not checked, 1 = ready, -1 = this binary has no sm_90a image of the kernel (e.g. an sm_80-only build run on
  // an H100: the body would be empty) -> cudaErrorNotSupported, nothing launched, the caller falls back.
  static int state = 0;  // benign race: idempotent
  if (state == 0) {
    cudaFuncAttributes a;
    if (cudaFuncGetAttributes(&a, kernel) != cudaSuccess || a.ptxVersion < 90 || a.binaryVersion < 90) {
      cudaGetLastError();
      state = -1;
    } else {
      cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmem);
      if (e != cudaSuccess) return e;
      state = 1;
    }
  }
  if (state < 0) return cudaErrorNotSupported;
  dim3 grid((p.max_seqlen_q + Tr::BM - 1) / Tr::BM, p.h_q, p.batch);
  kernel<<<grid, Tr::kThreads, Tr::kSmem, stream>>>(p);
  return cudaGetLastError();
}

// FLASHATTN_CUDA_SM90=np (read per call; A/B only): the consumer warpgroups issue without the pingpong barriers.
template <typename T, int D>
cudaError_t run_fwd_sm90(const FlashFwdParams& p, cudaStream_t stream) {
  using C = FwdSm90Config<D>;
  const char* v = getenv("FLASHATTN_CUDA_SM90");
  if (v && strcmp(v, "np") == 0) return run_fwd_sm90_cfg<T, D, C::NWG, C::BN, C::STAGES, false>(p, stream);
  return run_fwd_sm90_cfg<T, D, C::NWG, C::BN, C::STAGES, true>(p, stream);
}

}  // namespace flash
