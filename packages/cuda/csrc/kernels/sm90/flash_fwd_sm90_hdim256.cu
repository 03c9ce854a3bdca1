// sm90 (wgmma) forward instantiations for head-dim bucket 256 (f16 and bf16). Kernel bodies are empty outside the
// sm_90a device pass (FLASH_SM90_ARCH); flash_api.cu dispatches here only on compute capability 9.x.
#include "flash_fwd_sm90_launch.cuh"

namespace flash {
template cudaError_t run_fwd_sm90<__half, 256>(const FlashFwdParams&, cudaStream_t);
template cudaError_t run_fwd_sm90<__nv_bfloat16, 256>(const FlashFwdParams&, cudaStream_t);
}  // namespace flash
