// The one translation unit compiled into every code object: hipcc --genco per AMD architecture, and nvcc
// -fatbin for NVIDIA (same source; see portability.h). Exported names are what the host looks up.
#include "flash_fwd.h"
#include "flash_bwd.h"
#include "flash_fwd_mfma.h"

#define FA_FWD_ARGS(T)                                                                                          \
  const T *q, const T *k, const T *v, T *out, float *lse, const int *cu_q, const int *cu_k, int nheads_q,      \
      int nheads_kv, int d, int dv, float scale, float softcap, int win_left, int win_right,                    \
      int lse_batch_stride, int lse_head_stride, int lse_varlen, int BM, int BN
#define FA_FWD_CALL \
  q, k, v, out, lse, cu_q, cu_k, nheads_q, nheads_kv, d, dv, scale, softcap, win_left, win_right, \
      lse_batch_stride, lse_head_stride, lse_varlen, BM, BN

#define FA_BWD_ARGS(T)                                                                                          \
  const T *q, const T *k, const T *v, const T *dout, const typename AccOf<T>::type *lse_acc,                    \
      const typename AccOf<T>::type *dvec, int total_q, int nheads_q, int nheads_kv, int d, int dv, float scale, \
      float softcap, int win_left, int win_right, int BM, int BN, const int *cu_q, const int *cu_k
#define FA_BWD_TAIL \
  cu_q, cu_k, total_q, nheads_q, nheads_kv, d, dv, scale, softcap, win_left, win_right, BM, BN

#define FA_DEFINE(SUFFIX, T)                                                                                   \
  FA_KERNEL flash_fwd_##SUFFIX(FA_FWD_ARGS(T)) { flash_fwd<T>(FA_FWD_CALL); }                                  \
  FA_KERNEL flash_bwd_dot_##SUFFIX(const T *out, const T *dout, typename AccOf<T>::type *dvec,                  \
                                   typename AccOf<T>::type *lse_acc, const T *q, const T *k, const float *lse,  \
                                   const int *cu_q, const int *cu_k, int batch, int total_q, int nheads_q,     \
                                   int nheads_kv, int d, int dv, float scale, float softcap, int win_left,     \
                                   int win_right, int lse_batch_stride, int lse_head_stride, int lse_varlen,   \
                                   int recompute) {                                                            \
    flash_bwd_dot<T>(out, dout, dvec, lse_acc, q, k, lse, cu_q, cu_k, batch, total_q, nheads_q, nheads_kv, d,  \
                     dv, scale, softcap, win_left, win_right, lse_batch_stride, lse_head_stride, lse_varlen,   \
                     recompute);                                                                               \
  }                                                                                                            \
  FA_KERNEL flash_bwd_dq_##SUFFIX(T *dq, FA_BWD_ARGS(T)) {                                                     \
    flash_bwd_dq<T>(q, k, v, dout, lse_acc, dvec, dq, FA_BWD_TAIL);                                                \
  }                                                                                                            \
  FA_KERNEL flash_bwd_dkv_##SUFFIX(T *dk, T *dv_out, FA_BWD_ARGS(T)) {                                         \
    flash_bwd_dkv<T>(q, k, v, dout, lse_acc, dvec, dk, dv_out, FA_BWD_TAIL);                                       \
  }

FA_DEFINE(f32, float)
FA_DEFINE(f16, f16_t)
FA_DEFINE(bf16, bf16_t)

#if defined(FA_HAS_MFMA)
extern "C" __global__ void __launch_bounds__(64)
    flash_fwd_mfma_f16(FA_FWD_ARGS(f16_t)) {
  (void)BM;
  (void)BN;
  flash_fwd_mfma_f16_impl(q, k, v, out, lse, cu_q, cu_k, nheads_q, nheads_kv, d, dv, scale, softcap, win_left, win_right,
                     lse_batch_stride, lse_head_stride, lse_varlen);
}
#endif
