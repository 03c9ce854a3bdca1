// sm90 (Hopper, wgmma) backward: entry points for flash_api.cu and the run-time gate.
// The path serves the non-deterministic mode (FlashBwdParams.deterministic == 0) for f16/bf16 and head-dim buckets
// <= 128 (kernel buckets 64 and 128), on a compute-capability 9.0 device. FLASHATTN_CUDA_SM90=0 (read per call)
// turns it off; the deterministic mode always runs the race-free mma.sync kernels.
#pragma once
#include "../../flash_params.h"
#include <cstdlib>
#include <cstring>

namespace flash {

template <typename T, int D>
cudaError_t run_bwd_sm90(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream);

// Compute capability 9.0 of the current device (cached per device ordinal).
inline bool bwd_sm90_device() {
  static int cache[64] = {0};  // 0 unknown, 1 yes, 2 no
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) { cudaGetLastError(); return false; }
  if (dev < 0 || dev >= 64) return false;
  if (cache[dev] == 0) {
    int major = 0, minor = 0;
    const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess;
    if (!ok) cudaGetLastError();
    cache[dev] = ok && major == 9 && minor == 0 ? 1 : 2;
  }
  return cache[dev] == 1;
}

// FLASHATTN_CUDA_SM90=0 disables the sm90 paths (read on every call, so one process can A/B).
inline bool sm90_env_enabled() {
  const char* v = getenv("FLASHATTN_CUDA_SM90");
  return !(v && strcmp(v, "0") == 0);
}

// Whether flash_bwd may take the sm90 path for these parameters, ignoring the environment switch (the workspace
// size must not depend on it). bucket: max(d_qk, d_v) rounded up to the mma.sync buckets.
inline bool bwd_sm90_eligible(const FlashBwdParams& p, int bucket) {
  return !p.deterministic && (p.fwd.dtype == FLASH_F16 || p.fwd.dtype == FLASH_BF16) && bucket <= 128 &&
         bwd_sm90_device();
}
inline int bwd_sm90_kernel_dim(int bucket) { return bucket <= 64 ? 64 : 128; }

}  // namespace flash
