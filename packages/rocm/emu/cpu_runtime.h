// A CPU stand-in for the GPU programming model, enough to run the portable kernels unchanged in CI (no GPU):
// a block is FA_THREADS std::threads meeting at a std::barrier for __syncthreads(); blocks run one after another,
// so one process-wide array serves as the block's shared memory. Speed is not the point, logic is.
#pragma once
#include <barrier>
#include <math.h>
#include <cmath>
#include <cstring>
#include <algorithm>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
// Blocks run one at a time, so a function-static array is the block's shared memory.
#define __shared__ static

struct dim3 { unsigned x = 1, y = 1, z = 1; };
extern thread_local dim3 threadIdx;
extern thread_local dim3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
extern std::barrier<>* g_block_barrier;
// The portable kernels' dynamic shared memory (FA_SHARED_BASE names this array).
extern double fa_smem[];

inline void __syncthreads() { g_block_barrier->arrive_and_wait(); }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
using std::min;
using std::max;

#if defined(FA_EMU_MFMA)
// The CDNA matrix instruction v_mfma_f32_32x32x8f16 emulated across the 64 lane-threads of a wavefront, with
// the operand layout flash_fwd_mfma.h assumes (AMD's matrix instruction calculator):
//   A (32x8):  lane l holds A[l%32][4*(l/32) + t]; B (8x32): lane l holds B[4*(l/32) + t][l%32]
//   C (32x32): lane l, register r holds C[8*(r/4) + 4*(l/32) + r%4][l%32]
// This checks the kernel's logic under that assumption; it cannot check the assumption itself.
#define FA_HAS_MFMA 1
typedef _Float16 emu_half4 __attribute__((ext_vector_type(4)));
typedef float emu_float16 __attribute__((ext_vector_type(16)));
inline emu_half4 g_mfma_a[64], g_mfma_b[64];
inline emu_float16 emu_mfma_f32_32x32x8f16(emu_half4 a, emu_half4 b, emu_float16 c, int, int, int) {
  const unsigned l = threadIdx.x;
  g_mfma_a[l] = a;
  g_mfma_b[l] = b;
  __syncthreads();
  for (int r = 0; r < 16; r++) {
    const int row = 8 * (r / 4) + 4 * (int)(l / 32) + r % 4, col = (int)(l % 32);
    float acc = c[r];
    for (int k = 0; k < 8; k++) acc += (float)g_mfma_a[row + 32 * (k / 4)][k % 4] * (float)g_mfma_b[col + 32 * (k / 4)][k % 4];
    c[r] = acc;
  }
  __syncthreads();
  return c;
}
#define __builtin_amdgcn_mfma_f32_32x32x8f16 emu_mfma_f32_32x32x8f16
#endif
