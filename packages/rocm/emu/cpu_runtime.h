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
#define __shared__

struct dim3 { unsigned x = 1, y = 1, z = 1; };
extern thread_local dim3 threadIdx;
extern thread_local dim3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
extern std::barrier<>* g_block_barrier;
// The kernels declare `extern __shared__ double fa_smem[];`, which names this array here.
extern double fa_smem[];

inline void __syncthreads() { g_block_barrier->arrive_and_wait(); }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
using std::min;
using std::max;
