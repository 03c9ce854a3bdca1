// Tuning builds only (make VARIANTS=1): alternative forward tile shapes selectable with FLASH_FWD_VARIANT, so one
// GPU run can time them side by side. Not part of sources.txt.
#include "flash_fwd_launch.cuh"

namespace flash {
// Returns cudaErrorNotSupported when the variant does not apply to this problem.
cudaError_t run_fwd_variant(const FlashFwdParams& p, int bucket, int variant, cudaStream_t s) {
  if (p.dtype != FLASH_F16) return cudaErrorNotSupported;
  using T = __half;
  if (bucket == 64 && variant == 1) return run_fwd_cfg<T, 64, 128, 128, 4>(p, s);
  if (bucket == 64 && variant == 2) return run_fwd_cfg<T, 64, 128, 128, 8>(p, s);
  if (bucket == 128 && variant == 1) return run_fwd_cfg<T, 128, 128, 32, 4>(p, s);
  if (bucket == 128 && variant == 2) return run_fwd_cfg<T, 128, 128, 64, 8>(p, s);
  if (bucket == 256 && variant == 1) return run_fwd_cfg<T, 256, 64, 64, 4>(p, s);
  if (bucket == 256 && variant == 2) return run_fwd_cfg<T, 256, 128, 32, 8>(p, s);
  return cudaErrorNotSupported;
}
}  // namespace flash
