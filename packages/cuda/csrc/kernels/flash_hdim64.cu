// Instantiations for head-dim bucket 64 (f16 and bf16, forward and backward).
#include "flash_fwd_launch.cuh"
#include "flash_bwd_launch.cuh"

namespace flash {
template cudaError_t run_fwd<__half, 64>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd<__nv_bfloat16, 64>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_bwd<__half, 64>(const FlashBwdParams&, const float*, float*, cudaStream_t);
template cudaError_t run_bwd<__nv_bfloat16, 64>(const FlashBwdParams&, const float*, float*, cudaStream_t);
}  // namespace flash
