// Launch entry points per (dtype, head-dim bucket), instantiated in flash_hdim<D>.cu; dispatched by flash_api.cu.
#pragma once
#include "../flash_params.h"

namespace flash {
// Head-dim buckets with a compiled kernel; a problem uses the smallest bucket >= max(d_qk, d_v) (predicated).
constexpr int kBuckets[] = {32, 64, 96, 128, 160, 192, 224, 256};

template <typename T, int D> cudaError_t run_fwd(const FlashFwdParams& p, cudaStream_t stream);
// dsum: f32 [total_q, h_q] rowsum(dO * O), computed by the caller (bwd_preprocess).
// dq_accum: f32 [total_q, h_q, d_qk] for the non-deterministic atomic-dQ path (buckets <= 128), else unused.
template <typename T, int D>
cudaError_t run_bwd(const FlashBwdParams& p, const float* dsum, float* dq_accum, cudaStream_t stream);

// f32 inputs: SIMT kernels (flash_f32.cu).
cudaError_t run_fwd_f32(const FlashFwdParams& p, cudaStream_t stream);
cudaError_t run_bwd_f32(const FlashBwdParams& p, cudaStream_t stream);  // no preprocess; own workspace layout
int64_t bwd_f32_workspace_bytes(const FlashBwdParams& p);
}  // namespace flash
