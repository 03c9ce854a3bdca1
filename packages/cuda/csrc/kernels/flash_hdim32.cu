// Instantiations for head-dim bucket 32 (f16 and bf16, forward and backward).
#include "flash_fwd_launch.cuh"
#include "flash_bwd_launch.cuh"

namespace flash {
template cudaError_t run_fwd<__half, 32>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd<__nv_bfloat16, 32>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_bwd<__half, 32>(const FlashBwdParams&, const float*, float*, cudaStream_t);
template cudaError_t run_bwd<__nv_bfloat16, 32>(const FlashBwdParams&, const float*, float*, cudaStream_t);
}  // namespace flash
