// Element types of the problem's tensors and their float conversions, written with integer bit operations so
// they mean the same on every compiler (no hip_fp16.h / cuda_fp16.h dependency). Rounding: to nearest even,
// as the host side (packages/core/src/dtype.ts) does.
#pragma once
#include "portability.h"

struct f16_t { unsigned short bits; };
struct bf16_t { unsigned short bits; };

FA_INLINE float to_float(float x) { return x; }

FA_INLINE float to_float(f16_t h) {
  const unsigned sign = (unsigned)(h.bits & 0x8000u) << 16;
  const unsigned e = (h.bits >> 10) & 0x1fu;
  const unsigned m = h.bits & 0x3ffu;
  if (e == 0) {
    const float f = (float)m * 5.9604644775390625e-8f;  // m * 2^-24 (zero or subnormal)
    return sign ? -f : f;
  }
  if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));
  return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

FA_INLINE float to_float(bf16_t h) { return __uint_as_float((unsigned)h.bits << 16); }

template <typename T> FA_INLINE T from_float(float x);

template <> FA_INLINE float from_float<float>(float x) { return x; }

template <> FA_INLINE f16_t from_float<f16_t>(float f) {
  const unsigned x = __float_as_uint(f);
  const unsigned sign = (x >> 16) & 0x8000u;
  const unsigned ax = x & 0x7fffffffu;
  f16_t h;
  if (ax >= 0x7f800000u) { h.bits = (unsigned short)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u)); return h; }
  if (ax >= 0x477ff000u) { h.bits = (unsigned short)(sign | 0x7c00u); return h; }  // rounds past 65504
  if (ax < 0x38800000u) {  // below 2^-14: half subnormal (units of 2^-24) or zero
    if (ax <= 0x33000000u) { h.bits = (unsigned short)sign; return h; }  // <= 2^-25 rounds (to even) to 0
    const unsigned e = ax >> 23;
    const unsigned m = (ax & 0x7fffffu) | 0x800000u;
    const unsigned shift = 126u - e;
    unsigned r = m >> shift;
    const unsigned rem = m & ((1u << shift) - 1u);
    const unsigned half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    h.bits = (unsigned short)(sign | r);
    return h;
  }
  unsigned r = (ax - 0x38000000u) >> 13;  // rebias exponent 127 -> 15
  const unsigned rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
  h.bits = (unsigned short)(sign | r);
  return h;
}

template <> FA_INLINE bf16_t from_float<bf16_t>(float f) {
  const unsigned x = __float_as_uint(f);
  bf16_t h;
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) { h.bits = (unsigned short)((x >> 16) | 0x40u); return h; }
  h.bits = (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
  return h;
}
