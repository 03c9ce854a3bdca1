// sm90 wgmma backward instantiations, kernel head dim 128 (f16 and bf16).
#include "flash_bwd_sm90_launch.cuh"

namespace flash {
template cudaError_t run_bwd_sm90<__half, 128>(const FlashBwdParams&, const float*, float*, cudaStream_t);
template cudaError_t run_bwd_sm90<__nv_bfloat16, 128>(const FlashBwdParams&, const float*, float*, cudaStream_t);
}  // namespace flash
