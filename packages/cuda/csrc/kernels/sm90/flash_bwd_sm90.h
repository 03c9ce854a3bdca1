// sm90 (Hopper, wgmma) backward: entry points for flash_api.cu and the run-time gate.
// The path serves the non-deterministic mode (FlashBwdParams.deterministic == 0) for f16/bf16 and head-dim buckets
// <= 128 (kernel buckets 64 and 128) and 256 (v8 kernel, flash_bwd_sm90_d256_kernel.cuh; run only while
// bwd_sm90_d256_enabled()), on a compute-capability 9.0 device. FLASHATTN_CUDA_SM90=0 (read per call)
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
// size must not depend on it). bucket: max(d_qk, d_v) rounded up to the mma.sync buckets. Bucket 256 is eligible
// (so the workspace holds the f32 dQ accumulator) whether or not bwd_sm90_d256_enabled() lets flash_bwd run it.
inline bool bwd_sm90_eligible(const FlashBwdParams& p, int bucket) {
  return !p.deterministic && (p.fwd.dtype == FLASH_F16 || p.fwd.dtype == FLASH_BF16) &&
         (bucket <= 128 || bucket == 256) && bwd_sm90_device();
}
inline int bwd_sm90_kernel_dim(int bucket) { return bucket <= 64 ? 64 : bucket <= 128 ? 128 : 256; }

// v8 d256 sm90 backward (flash_bwd_sm90_d256_kernel.cuh). FLASHATTN_SM90_BWD_D256=1 / 0 overrides; else
// FLASHATTN_CUDA_SM90=6 (A/B value of the bench's --sm90 option; sm90 stays on) turns it on; else the build default
// FLASH_SM90_BWD_D256 (1 since the v8 device run: kernel_test d256 16/16, memcheck clean, fwd+bwd 1.03-1.16x of
// FLASH on the H200; with 0 or FLASHATTN_SM90_BWD_D256=0, bucket 256 runs the race-free mma.sync kernels).
#ifndef FLASH_SM90_BWD_D256
#define FLASH_SM90_BWD_D256 1
#endif
inline bool bwd_sm90_d256_enabled() {
  const char* w = getenv("FLASHATTN_SM90_BWD_D256");
  if (w && (strcmp(w, "1") == 0 || strcmp(w, "0") == 0)) return strcmp(w, "1") == 0;
  const char* v = getenv("FLASHATTN_CUDA_SM90");
  if (v && strcmp(v, "6") == 0) return true;
  return FLASH_SM90_BWD_D256 != 0;
}

}  // namespace flash
