// sm90 wgmma backward instantiations, kernel head dim 256 (f16 and bf16; v8 kernel flash_bwd_sm90_d256_kernel.cuh).
#include "flash_bwd_sm90_launch.cuh"

namespace flash {
template cudaError_t run_bwd_sm90<__half, 256>(const FlashBwdParams&, const float*, float*, cudaStream_t);
template cudaError_t run_bwd_sm90<__nv_bfloat16, 256>(const FlashBwdParams&, const float*, float*, cudaStream_t);
}  // namespace flash
