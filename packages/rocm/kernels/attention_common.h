// Shared pieces of the portable kernels: the mask (core's keyRange), the score (scale, softcap) and the
// LSE layout (core's lseIndex). Indexing follows packages/core/src/problem.ts exactly.
#pragma once
#include "dtype.h"

#define FA_NEG_INF (-__int_as_float(0x7f800000))
#define FA_THREADS 256

// Key range [lo, hi) that query i of a sequence (sq queries, sk keys) may see; empty when lo >= hi.
FA_INLINE void key_range(int i, int sq, int sk, int win_left, int win_right, int* lo, int* hi) {
  const int diag = i + sk - sq;
  int a = win_left < 0 ? 0 : diag - win_left;
  int b = win_right < 0 ? sk : diag + win_right + 1;
  if (a < 0) a = 0;
  if (b > sk) b = sk;
  *lo = a;
  *hi = b;
}

// Accumulation type: double for f32 problems (flash-attn's criterion compares against f32 standard attention,
// whose per-stage rounding a float online softmax cannot match), float for f16/bf16.
template <typename T> struct AccOf { typedef float type; };
template <> struct AccOf<float> { typedef double type; };

FA_INLINE float fa_exp(float x) { return expf(x); }
FA_INLINE double fa_exp(double x) { return exp(x); }
FA_INLINE float fa_log(float x) { return logf(x); }
FA_INLINE double fa_log(double x) { return log(x); }
FA_INLINE float fa_tanh(float x) { return tanhf(x); }
FA_INLINE double fa_tanh(double x) { return tanh(x); }
FA_INLINE float fa_max(float a, float b) { return fmaxf(a, b); }
FA_INLINE double fa_max(double a, double b) { return fmax(a, b); }
template <typename A> FA_INLINE A neg_inf() { return (A)FA_NEG_INF; }

// One dynamic shared-memory array for every kernel (8-byte aligned); each kernel carves it into its tiles.
#if defined(FA_PLATFORM_EMU)
#define FA_SHARED_BASE(Acc) extern double fa_smem[]; Acc* const smem_base = reinterpret_cast<Acc*>(fa_smem)
#else
#define FA_SHARED_BASE(Acc) extern __shared__ double fa_smem[]; Acc* const smem_base = reinterpret_cast<Acc*>(fa_smem)
#endif

// Scaled, optionally tanh-capped score. *dcap receives d(capped)/d(scaled) for the backward pass.
template <typename A>
FA_INLINE A cap_score(A dot, float scale, float softcap, A* dcap) {
  const A s = dot * (A)scale;
  if (softcap > 0.f) {
    const A t = fa_tanh(s / (A)softcap);
    *dcap = (A)1 - t * t;
    return (A)softcap * t;
  }
  *dcap = (A)1;
  return s;
}

FA_INLINE long long lse_index(int b, int h, int row_in_seq, int q_start, int lse_batch_stride, int lse_head_stride,
                              int lse_varlen) {
  return (long long)b * lse_batch_stride + (long long)h * lse_head_stride + (lse_varlen ? q_start : 0) + row_in_seq;
}
