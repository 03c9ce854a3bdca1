// Backward elementwise pieces shared by the key-row-layout kernels (flash_bwd_kernel.cuh's dkdv kernel and the sm90
// backward kernels): the per-key-row visible query columns, and P^T / dS^T from S^T / dP^T in the accumulator
// fragment layout (m16n8 C fragment per 8 columns: e = 0..3 -> row (lane >> 2) + 8 (e >> 1), column
// (lane & 3) * 2 + (e & 1)).
#pragma once
#include "block_info.cuh"
#include "utils.cuh"

namespace flash {

// Visible query columns of this lane's key rows row0 and row0 + 8, relative to `base` (the lane's first column).
// No mask: [INT_MIN, INT_MAX]. The sentinels are kept as they are (shifting them would wrap).
__device__ __forceinline__ void key_row_col_bounds(const Mask& mask, bool need_mask, int row0, int base, int (&lo)[2],
                                                   int (&hi)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    lo[r] = INT_MIN; hi[r] = INT_MAX;
    if (need_mask) {
      mask.col_bounds(row0 + r * 8, lo[r], hi[r]);
      lo[r] = lo[r] == INT_MIN ? INT_MIN : lo[r] - base;
      hi[r] = hi[r] == INT_MAX ? INT_MAX : hi[r] == INT_MIN ? INT_MIN : hi[r] - base;
    }
  }
}

// P^T = exp2(S^T mult - LSE log2e) (0 outside [lo, hi]), dS^T = P^T (dP^T - D) (x (1 - tanh^2) with softcap), in
// place over N query columns; sL / sD = LSE / D of those columns. `fast` (no mask, no score transform) takes the
// select-free copy: same arithmetic and order, so the results are bit-identical to the general loop.
template <int N>
__device__ __forceinline__ void bwd_p_ds(float (&s)[N / 2], float (&dp)[N / 2], const float* sL, const float* sD,
                                         const int (&lo)[2], const int (&hi)[2], const ScoreXform& sx, bool fast,
                                         int lane) {
  // The fragment's two columns: -LSE log2e (LSE -inf, a row that saw no key, stays -inf so P = 0 whatever the mask
  // says) and D.
  const auto cols = [&](int jn, float& nl0, float& nl1, float2& d2) {
    const float2 l2 = *reinterpret_cast<const float2*>(sL + jn * 8 + (lane & 3) * 2);
    d2 = *reinterpret_cast<const float2*>(sD + jn * 8 + (lane & 3) * 2);
    nl0 = l2.x == -INFINITY ? -INFINITY : -l2.x * kLog2e;
    nl1 = l2.y == -INFINITY ? -INFINITY : -l2.y * kLog2e;
  };
  if (fast) {
#pragma unroll
    for (int jn = 0; jn < N / 8; ++jn) {
      float nl0, nl1;
      float2 d2;
      cols(jn, nl0, nl1, d2);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float pr = fast_exp2(fmaf(s[4 * jn + e], sx.mult, (e & 1) ? nl1 : nl0));
        dp[4 * jn + e] = pr * (dp[4 * jn + e] - ((e & 1) ? d2.y : d2.x));
        s[4 * jn + e] = pr;
      }
    }
  } else
#pragma unroll
    for (int jn = 0; jn < N / 8; ++jn) {
      float nl0, nl1;
      float2 d2;
      cols(jn, nl0, nl1, d2);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float t = s[4 * jn + e], th = 0.f;
        if (sx.transform) t = sx.apply(t, th);
        const int ii = jn * 8 + (e & 1);
        const bool vis = ii >= lo[e >> 1] && ii <= hi[e >> 1];
        const float pr = vis ? fast_exp2(fmaf(t, sx.mult, (e & 1) ? nl1 : nl0)) : 0.f;
        float ds = pr * (dp[4 * jn + e] - ((e & 1) ? d2.y : d2.x));
        if (sx.cap > 0.f) ds *= 1.f - th * th;
        s[4 * jn + e] = pr;
        dp[4 * jn + e] = ds;
      }
    }
}

}  // namespace flash
