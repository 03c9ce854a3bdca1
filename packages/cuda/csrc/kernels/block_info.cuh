// Per-block sequence geometry (varlen via cu_seqlens; dense problems use cu = [0, s, 2s, ...]) and the
// causal / sliding-window mask as @flashattn/core defines it: query i (0-based in its sequence) sees key j iff
//   i + sk - sq - left <= j <= i + sk - sq + right   (a bound of -1 is dropped), and 0 <= j < sk.
#pragma once
#include "../flash_params.h"
#include <cmath>
#include <climits>

namespace flash {

struct BlockInfo {
  int q_start, k_start;  // first token row of this batch entry
  int sq, sk;            // sequence lengths
  __device__ BlockInfo(const int32_t* cu_q, const int32_t* cu_k, int b) {
    q_start = cu_q[b];
    sq = cu_q[b + 1] - q_start;
    k_start = cu_k[b];
    sk = cu_k[b + 1] - k_start;
  }
};

struct Mask {
  int off, left, right, sk;  // off = sk - sq
  __device__ Mask(int sq_, int sk_, int left_, int right_) : off(sk_ - sq_), left(left_), right(right_), sk(sk_) {}
  // Keys [lo, hi) that any query in [i0, i1] (inclusive, valid rows) may see.
  __device__ void key_range(int i0, int i1, int& lo, int& hi) const {
    lo = left >= 0 ? max(0, i0 + off - left) : 0;
    hi = right >= 0 ? min(sk, i1 + off + right + 1) : sk;
  }
  // Queries [lo, hi) (within [0, sq)) that may see any key in [j0, j1] (inclusive).
  __device__ void query_range(int j0, int j1, int sq, int& lo, int& hi) const {
    lo = right >= 0 ? max(0, j0 - off - right) : 0;
    hi = left >= 0 ? min(sq, j1 - off + left + 1) : sq;
  }
  // Key tiles [first, end) of `tile` keys that queries [i0, i1] may see (first == end when none).
  __device__ void key_tiles(int i0, int i1, int tile, int& first, int& end) const {
    int lo, hi;
    key_range(i0, i1, lo, hi);
    first = lo / tile;
    end = hi > lo ? (hi + tile - 1) / tile : first;
  }
  // Query tiles of `tile` rows that may see keys [j0, j1]: the first one and how many (0 when none).
  __device__ void query_tiles(int j0, int j1, int sq, int tile, int& first, int& count) const {
    int lo, hi;
    query_range(j0, j1, sq, lo, hi);
    first = lo / tile;
    count = hi > lo ? (hi + tile - 1) / tile - first : 0;
  }
  // Visible keys of query i are exactly [lo, hi] (hi < lo when none): two compares per element, no branches.
  __device__ __forceinline__ void row_bounds(int i, int& lo, int& hi) const {
    lo = left >= 0 ? i + off - left : INT_MIN;
    hi = right >= 0 ? min(sk - 1, i + off + right) : sk - 1;
  }
  // Queries that see key j are exactly [lo, hi] (rows >= sq are excluded by the caller's LSE = +inf).
  __device__ __forceinline__ void col_bounds(int j, int& lo, int& hi) const {
    lo = right >= 0 ? j - off - right : INT_MIN;
    hi = j < sk ? (left >= 0 ? j - off + left : INT_MAX) : INT_MIN;
  }
  __device__ bool visible(int i, int j) const {
    return j < sk && (left < 0 || j >= i + off - left) && (right < 0 || j <= i + off + right);
  }
  // True if every (query in [i0, i1], key in [j0, j1]) pair is visible, so the tile needs no masking.
  __device__ bool tile_full(int i0, int i1, int j0, int j1) const {
    return j1 < sk && (left < 0 || j0 >= i1 + off - left) && (right < 0 || j1 <= i0 + off + right);
  }
};

// Score transform: raw = q.k (f32 accumulator). Result t is in "natural" units such that the softmax exponent in
// log2 domain is t * mult. Without softcap and with scale > 0 the scale is folded into mult (one FFMA per element).
struct ScoreXform {
  float mult;      // multiplier into log2 domain
  float pre;       // raw * pre before tanh / as-is (only when `transform`)
  float cap;       // softcap (0 = off)
  bool transform;  // true when raw must be rewritten (softcap, or a non-positive scale)
  __device__ ScoreXform(float scale, float softcap) {
    cap = softcap;
    if (softcap > 0.f) {
      transform = true; pre = scale / softcap; mult = kLog2eF();
    } else if (scale > 0.f) {
      transform = false; pre = 1.f; mult = scale * kLog2eF();
    } else {
      transform = true; pre = scale; mult = kLog2eF();
    }
  }
  static __device__ __forceinline__ float kLog2eF() { return 1.4426950408889634f; }
  // Returns t; for softcap also returns tanh value (for the backward derivative 1 - tanh^2).
  __device__ __forceinline__ float apply(float raw, float& th) const {
    if (cap > 0.f) { th = tanhf(raw * pre); return th * cap; }
    th = 0.f;
    return raw * pre;
  }
};

}  // namespace flash
