// The contract between the addon (addon/*.cc, host side) and the kernels (kernels/*.cu).
// Plain C structs: the addon fills them from a validated @flashattn/core Problem and device pointers.
// Layout (row-major, as @flashattn/core defines it): token rows are indexed cu_seqlens[b] + i for both dense and
// varlen problems (dense problems get cu = [0, s, 2s, ...]); q row r, head h, dim d at ((r * h_q + h) * d_qk + d).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

enum FlashDtype : int32_t { FLASH_F32 = 0, FLASH_F16 = 1, FLASH_BF16 = 2 };

struct FlashFwdParams {
  const void* q;  // [total_q, h_q, d_qk]   dtype
  const void* k;  // [total_k, h_kv, d_qk]  dtype
  const void* v;  // [total_k, h_kv, d_v]   dtype
  void* out;      // [total_q, h_q, d_v]    dtype
  float* lse;     // lse(b, h, i) = lse[b * lse_batch_stride + h * lse_head_stride + (lse_varlen_rows ? cu_q[b] : 0) + i]; may be null
  const int32_t* cu_seqlens_q;  // device, batch + 1
  const int32_t* cu_seqlens_k;  // device, batch + 1
  int32_t batch, h_q, h_kv, d_qk, d_v;
  int32_t max_seqlen_q, max_seqlen_k;
  int64_t lse_batch_stride, lse_head_stride;
  int32_t lse_varlen_rows;
  float scale;        // softmax scale
  float softcap;      // 0 = off; else s -> softcap * tanh(s / softcap) applied to scale*qk
  int32_t window_left, window_right;  // -1 = unbounded; causal = (left, 0). Query i sees key j iff
                                      // i + sk - sq - left <= j <= i + sk - sq + right (bounds that are -1 dropped)
  FlashDtype dtype;
  // Scratch for the f32-input path (inputs converted to half precision on device), owned by the addon.
  void* scratch;
  int64_t scratch_bytes;
};

struct FlashBwdParams {
  FlashFwdParams fwd;  // q, k, v, out, lse (lse required), shapes, mask
  const void* dout;    // [total_q, h_q, d_v]
  void* dq;            // [total_q, h_q, d_qk]   dtype
  void* dk;            // [total_k, h_kv, d_qk]  dtype
  void* dv;            // [total_k, h_kv, d_v]   dtype
  int32_t deterministic;  // 1: bit-identical results run to run
  void* scratch;       // kernel workspace (dq accumulators, dot(dO, O) per row, ...), sized by flash_bwd_workspace_bytes
  int64_t scratch_bytes;
};

// Implemented by kernels/*.cu. Return cudaSuccess or the launch error; never synchronize.
// `unsupported` (if non-null) receives a static string when the configuration has no kernel instantiated.
extern "C" {
cudaError_t flash_fwd(const FlashFwdParams* p, cudaStream_t stream, const char** unsupported);
int64_t flash_bwd_workspace_bytes(const FlashBwdParams* p);
cudaError_t flash_bwd(const FlashBwdParams* p, cudaStream_t stream, const char** unsupported);
}
