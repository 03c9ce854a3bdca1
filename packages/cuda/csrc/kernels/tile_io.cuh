// Shared-memory tile layout and global<->shared movement.
// Tiles are [rows][D + 8] elements: the 16-byte pad per row makes the 8 row addresses of every ldmatrix phase fall
// in distinct bank groups for every head-dim bucket (32..256, including 96/160/224 where an XOR swizzle over 8
// chunks would not fit), so ldmatrix and ldmatrix.trans are conflict-free.
#pragma once
#include "utils.cuh"

namespace flash {

template <int D>
struct SmemRow {
  static constexpr int kStride = D + 8;  // elements
};

// Async-copy a ROWS x D tile (16-byte chunks). Rows >= rows_valid and chunks >= chunks_valid are zero-filled
// without reading global memory. `g` points at row 0 of the tile; `fallback` is any valid address.
template <typename T, int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(T* s, const T* g, int64_t gstride, int rows_valid, int chunks_valid,
                                          int tid, const T* fallback) {
  constexpr int CH = D / 8;
  constexpr int TOTAL = ROWS * CH;
  if constexpr (THREADS % CH == 0 && TOTAL % THREADS == 0) {
    // Each thread owns one chunk column and rows r0, r0 + RSTEP, ...: one 64-bit pointer add per chunk and
    // immediate shared-memory offsets (the generic form below recomputes row/column per chunk).
    constexpr int RSTEP = THREADS / CH, ITERS = TOTAL / THREADS;
    const int r0 = tid / CH, c = tid % CH;
    const bool cok = c < chunks_valid;
    const T* src = g + r0 * gstride + c * 8;
    const int64_t step = RSTEP * gstride;
    const uint32_t dst = smem_u32(s + r0 * SmemRow<D>::kStride + c * 8);
#pragma unroll
    for (int it = 0; it < ITERS; ++it) {
      const bool ok = cok && r0 + it * RSTEP < rows_valid;
      cp_async16(dst + it * RSTEP * SmemRow<D>::kStride * (int)sizeof(T), ok ? src : fallback, ok ? 16 : 0);
      src += step;
    }
  } else {
    constexpr int ITERS = (TOTAL + THREADS - 1) / THREADS;
#pragma unroll
    for (int it = 0; it < ITERS; ++it) {
      const int idx = it * THREADS + tid;
      if (TOTAL % THREADS == 0 || idx < TOTAL) {
        const int r = idx / CH, c = idx % CH;
        const bool ok = r < rows_valid && c < chunks_valid;
        const T* src = ok ? g + r * gstride + c * 8 : fallback;
        cp_async16(smem_u32(s + r * SmemRow<D>::kStride + c * 8), src, ok ? 16 : 0);
      }
    }
  }
}

// ldmatrix lane addresses (element offsets into a padded tile) for the three operand patterns used.
// A operand (16 rows x 16 k), row-major tile [m][k]: matrices (r0-7,k0-7),(r8-15,k0-7),(r0-7,k8-15),(r8-15,k8-15).
template <int D>
__device__ __forceinline__ int a_frag_off(int row0, int k0, int lane) {
  return (row0 + (lane & 15)) * SmemRow<D>::kStride + k0 + (lane >> 4) * 8;
}
// B operand from a tile stored [n][k] (e.g. K for Q K^T): x4 gives b0,b1 of n-tile n0 and b0,b1 of n-tile n0+8.
template <int D>
__device__ __forceinline__ int b_frag_off(int n0, int k0, int lane) {
  return (n0 + (lane & 7) + (lane >> 4) * 8) * SmemRow<D>::kStride + k0 + ((lane >> 3) & 1) * 8;
}
// B operand from a tile stored [k][n] (e.g. V for P V), loaded with ldmatrix.trans: x4 gives b0,b1 of n-tile n0
// and b0,b1 of n-tile n0+8.
template <int D>
__device__ __forceinline__ int bt_frag_off(int k0, int n0, int lane) {
  return (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * SmemRow<D>::kStride + n0 + (lane >> 4) * 8;
}

}  // namespace flash
